// Teams: the user's teams with its role (instance admins see every team), creating a team, and for one team
// its members (add, change role, remove), service accounts (create, their keys) and invites into it.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { auth } from "../api/client";
import { useResource } from "../data/hooks";
import { formatDate, plural, timeAgo } from "../data/values";
import { refreshEntities, useEntities } from "../session";
import { ErrorBox, Loading } from "../components/States";
import { ConfirmButton, SettingsCard, ShownOnce, useAction } from "./common";

const ROLES = ["admin", "member", "viewer"] as const;
type Role = (typeof ROLES)[number];

export function TeamsSettings() {
  const entities = useEntities();
  const [name, setName] = useState("");
  const act = useAction();
  const teams = (entities ?? []).filter((e) => e.kind === "team");
  return (
    <SettingsCard title="Teams" testId="teams-settings">
      <p className="muted small">A team owns projects its members share. Admins manage members, service accounts and invites; members write runs; viewers read.</p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const n = name.trim();
          if (!n) return;
          void act.run(async () => {
            await auth.post("/api/v1/teams", { body: { name: n } });
            setName("");
            refreshEntities();
          });
        }}
      >
        <input className="input input-sm" placeholder="New team name" value={name} onChange={(e) => setName(e.target.value)} data-testid="team-name" />
        <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="create-team">
          Create team
        </button>
      </form>
      {act.error && <div className="error-inline">{act.error}</div>}
      {!entities ? (
        <Loading what="teams" />
      ) : (
        <table className="table" data-testid="teams-table">
          <thead>
            <tr>
              <th>Team</th>
              <th>Your role</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {teams.length === 0 && (
              <tr>
                <td colSpan={3} className="muted">
                  You are in no team yet.
                </td>
              </tr>
            )}
            {teams.map((t) => (
              <tr key={t.name} data-team={t.name}>
                <td>
                  <Link to={`/-/settings/teams/${encodeURIComponent(t.name)}`} className="strong-link">
                    {t.name}
                  </Link>
                </td>
                <td>
                  <span className="tag">{t.role}</span>
                </td>
                <td className="num">
                  <Link to={`/?entity=${encodeURIComponent(t.name)}`}>projects</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </SettingsCard>
  );
}

function ServiceAccountKeys({ team, name, canManage }: { team: string; name: string; canManage: boolean }) {
  const [n, setN] = useState(0);
  const res = useResource((signal) => auth.get("/api/v1/teams/{team}/service-accounts/{name}/keys", { path: { team, name }, signal }), [team, name, n]);
  const [made, setMade] = useState<string | null>(null);
  const act = useAction();
  return (
    <div className="sa-keys" data-testid="sa-keys" data-account={name}>
      {res.data?.keys.map((k) => (
        <div key={k.id} className="sa-key small">
          <span className="mono">ry_{k.prefix}_…</span> {k.name && <span className="muted">{k.name}</span>}
          <span className="muted"> · used {k.last_used_at ? timeAgo(k.last_used_at) : "never"}</span>
          {canManage && (
            <ConfirmButton
              label="Revoke"
              confirm="Revoke?"
              onConfirm={() => void act.run(async () => {
                await auth.delete("/api/v1/teams/{team}/service-accounts/{name}/keys/{key_id}", { path: { team, name, key_id: k.id } });
                setN((x) => x + 1);
              })}
            />
          )}
        </div>
      ))}
      {canManage && (
        <button
          className="link-btn"
          data-testid="sa-new-key"
          onClick={() => void act.run(async () => {
            const k = await auth.post("/api/v1/teams/{team}/service-accounts/{name}/keys", { path: { team, name }, body: { name: "rotated" } });
            setMade(k.api_key);
            setN((x) => x + 1);
          })}
        >
          + new key
        </button>
      )}
      {made && <ShownOnce label={`New key of ${name}`} secret={made} onDone={() => setMade(null)} />}
      {act.error && <div className="error-inline">{act.error}</div>}
    </div>
  );
}

export function TeamDetail() {
  const { team = "" } = useParams();
  const entities = useEntities();
  const me = entities?.find((e) => e.name === team);
  const canManage = !!me?.can_manage;
  const [n, setN] = useState(0);
  const res = useResource((signal) => auth.get("/api/v1/teams/{team}/members", { path: { team }, signal }), [team, n]);
  const act = useAction();
  const [who, setWho] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [sa, setSa] = useState("");
  const [saRole, setSaRole] = useState<Role>("member");
  const [secret, setSecret] = useState<{ label: string; value: string; note?: string } | null>(null);
  const [inviteRole, setInviteRole] = useState<Role>("member");
  const refresh = () => setN((x) => x + 1);
  if (res.error && !res.data) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what={team} />;
  const people = res.data.members.filter((m) => !m.is_service);
  const services = res.data.members.filter((m) => m.is_service);
  const setMember = (username: string, r: Role) =>
    act.run(async () => {
      await auth.post("/api/v1/teams/{team}/members", { path: { team }, body: { username, role: r } });
      refresh();
    });
  return (
    <>
      <SettingsCard title={`Team ${team}`} testId="team-members" actions={<span className="muted small">{plural(people.length, "member")}, your role: {me?.role ?? "—"}</span>}>
        {canManage && (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const u = who.trim();
              if (u) void setMember(u, role).then((ok) => ok && setWho(""));
            }}
          >
            <input className="input input-sm" placeholder="Username" value={who} onChange={(e) => setWho(e.target.value)} data-testid="member-name" />
            <select className="input input-sm" value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="member-role">
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
            <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="add-member">
              Add member
            </button>
          </form>
        )}
        {act.error && <div className="error-inline">{act.error}</div>}
        <table className="table" data-testid="members-table">
          <thead>
            <tr>
              <th>Member</th>
              <th>Role</th>
              <th>Added</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {people.map((m) => (
              <tr key={m.username} data-member={m.username}>
                <td>{m.username}</td>
                <td>
                  {canManage ? (
                    <select className="input input-sm" value={m.role} onChange={(e) => void setMember(m.username, e.target.value as Role)} aria-label={`role of ${m.username}`} data-testid="member-role-select">
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  ) : (
                    <span className="tag">{m.role}</span>
                  )}
                </td>
                <td>{formatDate(m.added_at)}</td>
                <td className="num">
                  {canManage && (
                    <ConfirmButton
                      label="Remove"
                      confirm={`Remove ${m.username}?`}
                      testId="remove-member"
                      onConfirm={() => void act.run(async () => {
                        await auth.delete("/api/v1/teams/{team}/members/{username}", { path: { team, username: m.username } });
                        refresh();
                      })}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </SettingsCard>
      <SettingsCard title="Service accounts" testId="service-accounts">
        <p className="muted small">Password-less members for CI: their runs go to {team}. Each has its own keys.</p>
        {canManage && (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              const name = sa.trim();
              if (!name) return;
              void act.run(async () => {
                const out = await auth.post("/api/v1/teams/{team}/service-accounts", { path: { team }, body: { name, role: saRole } });
                setSecret({ label: `API key of ${out.username}`, value: out.api_key });
                setSa("");
                refresh();
              });
            }}
          >
            <input className="input input-sm" placeholder="Account name, e.g. ci" value={sa} onChange={(e) => setSa(e.target.value)} data-testid="sa-name" />
            <select className="input input-sm" value={saRole} onChange={(e) => setSaRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
            <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="create-sa">
              Create service account
            </button>
          </form>
        )}
        {secret && <ShownOnce label={secret.label} secret={secret.value} note={secret.note} onDone={() => setSecret(null)} testId="sa-secret" />}
        {services.length === 0 ? (
          <div className="muted small pad">No service account.</div>
        ) : (
          <table className="table" data-testid="sa-table">
            <tbody>
              {services.map((m) => (
                <tr key={m.username} data-account={m.username}>
                  <td className="mono">{m.username}</td>
                  <td>
                    <span className="tag">{m.role}</span>
                  </td>
                  <td>
                    <ServiceAccountKeys team={team} name={m.username} canManage={canManage} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </SettingsCard>
      {canManage && (
        <SettingsCard title="Invite someone" testId="team-invite">
          <div className="inline-form">
            <span className="small">Invite a new user into {team} as</span>
            <select className="input input-sm" value={inviteRole} onChange={(e) => setInviteRole(e.target.value as Role)} data-testid="invite-role">
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
            <button
              className="btn btn-sm"
              data-testid="create-team-invite"
              onClick={() => void act.run(async () => {
                const inv = await auth.post("/api/v1/auth/invites", { body: { team, role: inviteRole } });
                setSecret({ label: "Invite link", value: `${window.location.origin}/signup?invite=${encodeURIComponent(inv.token)}`, note: `single use, until ${formatDate(inv.expires_at)}` });
              })}
            >
              Create invite link
            </button>
          </div>
        </SettingsCard>
      )}
    </>
  );
}
