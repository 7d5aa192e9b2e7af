// Instance administration (instance admins): users (create, disable, grant admin, reset a password),
// invites and open sign-up, and the security audit log.
import { useMemo, useState } from "react";
import { auth } from "../api/client";
import { useResource } from "../data/hooks";
import { formatDate } from "../data/values";
import { useSession } from "../session";
import { ErrorBox, Loading } from "../components/States";
import { ConfirmButton, SettingsCard, ShownOnce, useAction } from "./common";

export function UsersAdmin() {
  const { viewer } = useSession();
  const [n, setN] = useState(0);
  const res = useResource((signal) => auth.get("/api/v1/admin/users", { signal }), [n]);
  const act = useAction();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [admin, setAdmin] = useState(false);
  const [q, setQ] = useState("");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const refresh = () => setN((x) => x + 1);
  const users = useMemo(() => (res.data?.users ?? []).filter((u) => u.username.includes(q.trim().toLowerCase())), [res.data, q]);
  const patch = (username: string, body: { disabled?: boolean; is_admin?: boolean }) =>
    act.run(async () => {
      await auth.patch("/api/v1/admin/users/{username}", { path: { username }, body });
      refresh();
    });
  return (
    <SettingsCard title="Users" testId="users-admin" actions={<input className="input input-sm" placeholder="Find a user" value={q} onChange={(e) => setQ(e.target.value)} />}>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const u = name.trim();
          if (!u) return;
          void act.run(async () => {
            const out = await auth.post("/api/v1/admin/users", { body: { username: u, email: email.trim() || null, is_admin: admin } });
            setSecret({ label: `API key of ${out.username} (no password: it signs in with a key, or give one with “Reset password”)`, value: out.api_key });
            setName("");
            setEmail("");
            setAdmin(false);
            refresh();
          });
        }}
      >
        <input className="input input-sm" placeholder="New username" value={name} onChange={(e) => setName(e.target.value)} data-testid="new-user-name" />
        <input className="input input-sm" placeholder="Email (for single sign-on)" value={email} onChange={(e) => setEmail(e.target.value)} />
        <label className="small">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> admin
        </label>
        <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="create-user">
          Create user
        </button>
      </form>
      {act.error && <div className="error-inline">{act.error}</div>}
      {secret && <ShownOnce label={secret.label} secret={secret.value} onDone={() => setSecret(null)} testId="user-secret" />}
      {res.error && !res.data ? (
        <ErrorBox error={res.error} />
      ) : !res.data ? (
        <Loading what="users" />
      ) : (
        <table className="table" data-testid="users-table">
          <thead>
            <tr>
              <th>User</th>
              <th>Email</th>
              <th>Kind</th>
              <th>Created</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => {
              const self = u.username === viewer.username;
              return (
                <tr key={u.username} data-user={u.username} className={u.disabled ? "row-disabled" : ""}>
                  <td>
                    <b>{u.username}</b> {u.is_admin && <span className="tag role-tag">admin</span>}
                  </td>
                  <td className="muted">{u.email ?? ""}</td>
                  <td className="muted small">{u.is_service ? `service account of ${u.service_team}` : "person"}</td>
                  <td>{formatDate(u.created_at)}</td>
                  <td>{u.disabled ? <span className="tag tag-off">disabled</span> : <span className="tag tag-on">active</span>}</td>
                  <td className="num actions-cell">
                    {!self && !u.is_service && (
                      <button className="btn btn-sm" onClick={() => void patch(u.username, { is_admin: !u.is_admin })} data-testid="toggle-admin">
                        {u.is_admin ? "Revoke admin" : "Make admin"}
                      </button>
                    )}
                    {!self &&
                      (u.disabled ? (
                        <button className="btn btn-sm" onClick={() => void patch(u.username, { disabled: false })} data-testid="enable-user">
                          Enable
                        </button>
                      ) : (
                        <ConfirmButton label="Disable" confirm="Its keys and sessions stop at once." testId="disable-user" onConfirm={() => void patch(u.username, { disabled: true })} />
                      ))}
                    {!u.is_service && (
                      <ConfirmButton
                        label="Reset password"
                        confirm="Sign it out everywhere?"
                        danger={false}
                        testId="reset-password"
                        onConfirm={() => void act.run(async () => {
                          const out = await auth.post("/api/v1/admin/users/{username}/password-reset", { path: { username: u.username } });
                          setSecret({ label: `New password of ${out.username}`, value: out.password });
                        })}
                      />
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </SettingsCard>
  );
}

export function InvitesAdmin() {
  const act = useAction();
  const [n, setN] = useState(0);
  const settings = useResource((signal) => auth.get("/api/v1/admin/settings", { signal }), [n]);
  const [team, setTeam] = useState("");
  const [role, setRole] = useState<"admin" | "member" | "viewer">("member");
  const [link, setLink] = useState<{ value: string; expires: string } | null>(null);
  return (
    <>
      <SettingsCard title="Invites" testId="invites-admin">
        <p className="muted small">An invite link lets one person create an account (single use, it expires). With a team, the new user joins it.</p>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              const inv = await auth.post("/api/v1/auth/invites", { body: { team: team.trim() || null, role: team.trim() ? role : null } });
              setLink({ value: `${window.location.origin}/signup?invite=${encodeURIComponent(inv.token)}`, expires: inv.expires_at });
            });
          }}
        >
          <input className="input input-sm" placeholder="Team (optional)" value={team} onChange={(e) => setTeam(e.target.value)} data-testid="invite-team" />
          <select className="input input-sm" value={role} onChange={(e) => setRole(e.target.value as typeof role)} disabled={!team.trim()}>
            <option>member</option>
            <option>viewer</option>
            <option>admin</option>
          </select>
          <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="create-invite">
            Create invite link
          </button>
        </form>
        {act.error && <div className="error-inline">{act.error}</div>}
        {link && <ShownOnce label="Invite link" secret={link.value} note={`single use, valid until ${formatDate(link.expires)}`} onDone={() => setLink(null)} testId="invite-link" />}
      </SettingsCard>
      <SettingsCard title="Sign-up" testId="signup-admin">
        {settings.data ? (
          <label className="small toggle-row">
            <input
              type="checkbox"
              checked={settings.data.open_signup}
              onChange={(e) => void act.run(async () => {
                await auth.patch("/api/v1/admin/settings", { body: { open_signup: e.target.checked } });
                setN((x) => x + 1);
              })}
              data-testid="open-signup"
            />
            Anyone who reaches this server may create an account (open sign-up). Off: only with an invite.
          </label>
        ) : settings.error ? (
          <ErrorBox error={settings.error} />
        ) : (
          <Loading what="settings" />
        )}
      </SettingsCard>
    </>
  );
}

export function AuditAdmin() {
  const [event, setEvent] = useState("");
  const [applied, setApplied] = useState("");
  const [pages, setPages] = useState<(number | null)[]>([null]);
  const before = pages[pages.length - 1];
  const res = useResource(
    (signal) => auth.get("/api/v1/admin/audit", { query: { limit: 50, event: applied || undefined, before: before ?? undefined }, signal }),
    [applied, before],
  );
  return (
    <SettingsCard title="Audit log" testId="audit-admin">
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(event.trim());
          setPages([null]);
        }}
      >
        <input className="input input-sm" placeholder="Event or prefix, e.g. login" value={event} onChange={(e) => setEvent(e.target.value)} data-testid="audit-event" />
        <button className="btn btn-sm">Filter</button>
      </form>
      {res.error && !res.data ? (
        <ErrorBox error={res.error} />
      ) : !res.data ? (
        <Loading what="events" />
      ) : (
        <>
          <table className="table" data-testid="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Event</th>
                <th>Actor</th>
                <th>Target</th>
                <th>Address</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {res.data.events.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No event{applied ? ` matching “${applied}”` : ""}.
                  </td>
                </tr>
              )}
              {res.data.events.map((ev) => (
                <tr key={ev.id} data-event={ev.event}>
                  <td title={ev.at}>{formatDate(ev.at)}</td>
                  <td>
                    <span className="tag">{ev.event}</span>
                  </td>
                  <td>{ev.actor}</td>
                  <td>{ev.target}</td>
                  <td className="mono small">{ev.address}</td>
                  <td className="mono small audit-detail" title={JSON.stringify(ev.detail)}>
                    {Object.keys(ev.detail).length ? JSON.stringify(ev.detail) : ""}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            {pages.length > 1 && (
              <button className="btn btn-sm" onClick={() => setPages((p) => p.slice(0, -1))}>
                Newer
              </button>
            )}
            {res.data.next_before !== null && (
              <button className="btn btn-sm" onClick={() => setPages((p) => [...p, res.data!.next_before])} data-testid="audit-older">
                Older
              </button>
            )}
          </div>
        </>
      )}
    </SettingsCard>
  );
}
