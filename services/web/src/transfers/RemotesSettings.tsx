// Settings › Remote instances (instance admins): the Runyard instances "Copy to instance…" can copy to.
// A key is sent once, checked against the remote, stored encrypted by the server and never shown again
// (only its first and last characters).
import { useState } from "react";
import { transfers } from "../api/client";
import { useResource } from "../data/hooks";
import { formatDate, timeAgo } from "../data/values";
import { ErrorBox, Loading } from "../components/States";
import { ConfirmButton, SettingsCard, useAction } from "../settings/common";

export function RemotesSettings() {
  const [n, setN] = useState(0);
  const res = useResource((signal) => transfers.get("/api/v1/admin/remotes", { signal }), [n]);
  const act = useAction();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [key, setKey] = useState("");
  const refresh = () => setN((x) => x + 1);
  return (
    <SettingsCard title="Remote instances" testId="remotes-admin">
      <p className="muted small">
        Other Runyard instances that projects and runs can be copied to (“Copy to instance…”). The API key is checked, then stored encrypted with this server's secret key;
        it is never shown again. The copy writes with that key's rights on the remote.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            await transfers.post("/api/v1/admin/remotes", { body: { name: name.trim(), url: url.trim(), api_key: key.trim() } });
            setName("");
            setUrl("");
            setKey("");
            refresh();
          });
        }}
      >
        <input className="input input-sm" placeholder="Name, e.g. company" value={name} onChange={(e) => setName(e.target.value)} data-testid="remote-name" />
        <input className="input input-sm" placeholder="https://runyard.example" value={url} onChange={(e) => setUrl(e.target.value)} data-testid="remote-url" />
        <input className="input input-sm" type="password" autoComplete="off" placeholder="API key on that instance" value={key} onChange={(e) => setKey(e.target.value)} data-testid="remote-key" />
        <button className="btn btn-sm btn-primary" disabled={act.busy || !name.trim() || !url.trim() || !key.trim()} data-testid="remote-add">
          {act.busy ? "Checking…" : "Add"}
        </button>
      </form>
      {act.error && <div className="error-inline" data-testid="remote-error">{act.error}</div>}
      {res.error && !res.data ? (
        <ErrorBox error={res.error} />
      ) : !res.data ? (
        <Loading what="remote instances" />
      ) : (
        <table className="table" data-testid="remotes-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>URL</th>
              <th>Key</th>
              <th>Added</th>
              <th>Last check</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {res.data.remotes.map((r) => (
              <tr key={r.name} data-remote={r.name}>
                <td>
                  <b>{r.name}</b>
                </td>
                <td className="small">{r.url}</td>
                <td>
                  <code className="small">{r.key_hint}</code> <span className="muted small">({r.remote_user})</span>
                </td>
                <td className="small" title={formatDate(r.created_at)}>
                  {r.created_by}, {timeAgo(r.created_at)}
                </td>
                <td className={r.check_ok === false ? "error-inline" : "small"} data-testid="remote-check">
                  {r.check_ok === null ? "—" : r.check_ok ? "ok" : r.check_message} {r.checked_at && <span className="muted">({timeAgo(r.checked_at)})</span>}
                </td>
                <td className="row-actions">
                  <button
                    className="btn btn-sm"
                    disabled={act.busy}
                    onClick={() =>
                      void act.run(async () => {
                        await transfers.post("/api/v1/admin/remotes/{name}/check", { path: { name: r.name } });
                        refresh();
                      })
                    }
                  >
                    Check
                  </button>{" "}
                  <ConfirmButton
                    label="Remove"
                    confirm={`Remove ${r.name} and its key?`}
                    onConfirm={() =>
                      void act.run(async () => {
                        await transfers.delete("/api/v1/admin/remotes/{name}", { path: { name: r.name } });
                        refresh();
                      })
                    }
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
