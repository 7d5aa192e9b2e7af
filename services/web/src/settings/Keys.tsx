// The signed-in user's API keys: create one (named, shown once), list them with their last use, revoke.
import { useState } from "react";
import { auth } from "../api/client";
import { useResource } from "../data/hooks";
import { formatDate, timeAgo } from "../data/values";
import { ErrorBox, Loading } from "../components/States";
import { ConfirmButton, SettingsCard, ShownOnce, useAction } from "./common";

export function KeysSettings() {
  const [n, setN] = useState(0);
  const res = useResource((signal) => auth.get("/api/v1/auth/keys", { signal }), [n]);
  const [name, setName] = useState("");
  const [made, setMade] = useState<{ name: string; key: string } | null>(null);
  const act = useAction();
  const create = async () => {
    const label = name.trim() || "key";
    await act.run(async () => {
      const k = await auth.post("/api/v1/auth/keys", { body: { name: label } });
      setMade({ name: k.name, key: k.api_key });
      setName("");
      setN((x) => x + 1);
    });
  };
  return (
    <SettingsCard title="API keys" testId="keys-settings">
      <p className="muted small">
        Scripts, notebooks and the <span className="mono">runyard</span> command sign in with an API key:{" "}
        <span className="mono">runyard login --host {window.location.origin} KEY</span>. A key is shown once; only its prefix is kept.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <input className="input input-sm" placeholder="Name, e.g. laptop or ci" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} data-testid="key-name" />
        <button className="btn btn-sm btn-primary" disabled={act.busy} data-testid="create-key">
          Create key
        </button>
      </form>
      {act.error && <div className="error-inline">{act.error}</div>}
      {made && (
        <ShownOnce
          label={`New key “${made.name}”`}
          secret={made.key}
          note={<span className="mono">runyard login --host {window.location.origin} {made.key}</span>}
          onDone={() => setMade(null)}
          testId="new-key"
        />
      )}
      {res.error && !res.data ? (
        <ErrorBox error={res.error} />
      ) : !res.data ? (
        <Loading what="keys" />
      ) : (
        <table className="table" data-testid="keys-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {res.data.keys.length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No key yet.
                </td>
              </tr>
            )}
            {res.data.keys.map((k) => (
              <tr key={k.id} data-key-name={k.name} data-prefix={k.prefix}>
                <td>{k.name || <span className="muted">(no name)</span>}</td>
                <td className="mono">ry_{k.prefix}_…</td>
                <td title={k.created_at}>{formatDate(k.created_at)}</td>
                <td title={k.last_used_at ?? ""} data-testid="key-last-used">
                  {k.last_used_at ? timeAgo(k.last_used_at) : "never"}
                </td>
                <td className="num">
                  <ConfirmButton
                    label="Revoke"
                    confirm="Scripts using it stop at once."
                    testId="revoke-key"
                    onConfirm={() => void act.run(async () => {
                      await auth.delete("/api/v1/auth/keys/{key_id}", { path: { key_id: k.id } });
                      setN((x) => x + 1);
                    })}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </SettingsCard>
  );
}
