// A run's Overview tab: state and timing, config and summary (media in the summary shown as thumbnails and
// links, never as raw JSON; both downloadable as JSON files), notes, and the Code card (the script or
// notebook the run came from, the command, git, the uncommitted diff).
import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { api, fileText } from "../data/api";
import { useResource } from "../data/hooks";
import type { JsonValue, Run, RunFile } from "../data/types";
import { flatten, formatDate, formatDuration, formatValue, runDurationMs, timeAgo } from "../data/values";
import { CodeView } from "../files/CodeView";
import { StateBadge } from "../components/StateBadge";
import { descs, HistogramBars, ImageDesc, type Desc } from "../panels/media";
import { downloadJson } from "./download";
import { RunAlerts } from "./RunAlerts";

interface Meta {
  program?: string | null;
  args?: string[];
  python?: string;
  os?: string;
  cwd?: string;
  code_path?: string | null;
  notebook?: boolean;
  git?: { commit?: string; remote?: string; branch?: string; dirty?: boolean } | null;
}

function commitUrl(remote: string | undefined, commit: string): string | null {
  if (!remote) return null;
  const m = remote.match(/^(?:git@([^:]+):|https?:\/\/(?:[^@/]+@)?([^/]+)\/)(.+?)(?:\.git)?$/);
  if (!m) return null;
  return `https://${m[1] ?? m[2]}/${m[3]}/commit/${commit}`;
}

/** The run's top-level files (one listing), so optional files are read only when they exist: no 404s. */
function useRootFiles(entity: string, project: string, runId: string) {
  return useResource(
    async (signal) => {
      const list = await api.files(entity, project, runId, { limit: 1000 }, signal);
      return new Map(list.files.map((f) => [f.path, f]));
    },
    [entity, project, runId],
  );
}

function CodeInfo({ entity, project, runId, root }: { entity: string; project: string; runId: string; root: Map<string, RunFile> | undefined }) {
  const hasMeta = !!root?.has("metadata.json");
  const hasDiff = !!root?.has("diff.patch");
  const meta = useResource(
    async (signal) => (hasMeta ? (JSON.parse(await fileText(entity, project, runId, "metadata.json", 5_000_000, signal)) as Meta) : null),
    [entity, project, runId, hasMeta],
  );
  const diff = useResource((signal) => (hasDiff ? fileText(entity, project, runId, "diff.patch", 5_000_000, signal) : Promise.resolve(null)), [entity, project, runId, hasDiff]);
  const [showDiff, setShowDiff] = useState(false);
  if (!root) return null;
  const m = meta.data;
  const base = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(runId)}`;
  const args = (m?.args ?? []).join(" ");
  const program = m?.program ? m.program.split("/").pop() : null;
  const codeFile = m?.code_path ? `code/${m.code_path}` : null;
  return (
    <div className="card overview code-info" data-testid="run-code-info">
      <h2>Code</h2>
      {!hasMeta && !hasDiff ? (
        <div className="muted small">No metadata.json or diff.patch saved with this run.</div>
      ) : (
        <dl>
          {(m?.notebook || m?.code_path || program) && (
            <>
              <dt>{m?.notebook ? "Notebook" : "Script"}</dt>
              <dd className="mono wrap" data-testid="run-source">
                {codeFile ? (
                  <Link to={`${base}?tab=files&file=${encodeURIComponent(codeFile)}`}>{m?.code_path}</Link>
                ) : m?.notebook ? (
                  <span className="muted">a notebook (its file was not found; the session history is under code/)</span>
                ) : (
                  program
                )}
              </dd>
            </>
          )}
          {m?.program && !m.notebook && (
            <>
              <dt>Command</dt>
              <dd className="mono wrap" data-testid="run-command">
                python {[m.program, args].filter(Boolean).join(" ")}
              </dd>
            </>
          )}
          {m?.git?.commit && (
            <>
              <dt>Git commit</dt>
              <dd className="mono" data-testid="run-commit">
                {commitUrl(m.git.remote, m.git.commit) ? (
                  <a href={commitUrl(m.git.remote, m.git.commit)!} target="_blank" rel="noreferrer noopener">
                    {m.git.commit.slice(0, 12)}
                  </a>
                ) : (
                  m.git.commit.slice(0, 12)
                )}
                {m.git.branch && <span className="muted"> on {m.git.branch}</span>}
                {m.git.dirty && <span className="tag tag-gap">uncommitted changes</span>}
              </dd>
            </>
          )}
          {m?.git?.remote && (
            <>
              <dt>Remote</dt>
              <dd className="mono wrap">{m.git.remote}</dd>
            </>
          )}
          {m?.python && (
            <>
              <dt>Python</dt>
              <dd>{m.python}</dd>
            </>
          )}
          {m?.os && (
            <>
              <dt>OS</dt>
              <dd className="wrap">{m.os}</dd>
            </>
          )}
          {diff.data && (
            <>
              <dt>Diff</dt>
              <dd>
                <button className="link-btn" onClick={() => setShowDiff((x) => !x)} data-testid="toggle-diff">
                  {showDiff ? "hide" : "show"} uncommitted diff ({diff.data.replace(/\n$/, "").split("\n").length} lines)
                </button>
              </dd>
            </>
          )}
        </dl>
      )}
      {showDiff && diff.data && (
        <div className="diff-box" data-testid="run-diff">
          <CodeView code={diff.data} lang="diff" />
        </div>
      )}
    </div>
  );
}

/** A config or summary value: media as a thumbnail or a link, long JSON shortened (the whole text on hover). */
function KvValue({ v, entity, project, runId, k }: { v: JsonValue; entity: string; project: string; runId: string; k: string }) {
  const items = descs(v).filter((d): d is Desc => typeof d._type === "string");
  const media = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(runId)}?tab=media`;
  if (items.length && (!Array.isArray(v) || items.length === v.length)) {
    const d = items[0];
    if (d._type === "image-file")
      return (
        <span className="kv-media" data-testid="summary-media">
          {items.slice(0, 4).map((x, i) => (
            <ImageDesc key={i} d={x} at={{ entity, project, runId }} thumb />
          ))}
          {items.length > 4 && <span className="muted small">+{items.length - 4}</span>}
        </span>
      );
    if (d._type === "histogram")
      return (
        <span className="kv-media kv-hist" data-testid="summary-media" title={`histogram of ${k}`}>
          <HistogramBars d={d} />
        </span>
      );
    const what = d._type === "table-file" ? `table${typeof d.nrows === "number" ? ` · ${d.nrows} rows` : ""}` : String(d._type).replace(/-file$/, "");
    if (typeof d.path === "string")
      return (
        <span data-testid="summary-media">
          <Link to={`${media}#${encodeURIComponent(k)}`}>{what}</Link>
          <span className="muted small"> · </span>
          <a href={`/api/v1/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/${encodeURIComponent(runId)}/files/${d.path.split("/").map(encodeURIComponent).join("/")}?redirect=true`} target="_blank" rel="noreferrer noopener">
            file
          </a>
        </span>
      );
    return (
      <span className="muted" data-testid="summary-media">
        {what}
      </span>
    );
  }
  const text = formatValue(v);
  return (
    <span className="mono kv-text" title={text.length > 60 ? text : undefined}>
      {text}
    </span>
  );
}

function KvTable({ title, data, raw, file, testId, at }: { title: string; data: Record<string, JsonValue>; raw: unknown; file: string; testId: string; at: { entity: string; project: string; runId: string } }) {
  const [q, setQ] = useState("");
  const entries = Object.entries(data).filter(([k]) => k.toLowerCase().includes(q.toLowerCase()));
  const total = Object.keys(data).length;
  return (
    <div className="card kv-card" data-testid={testId}>
      <div className="card-head">
        <h2>
          {title} <span className="muted small">{total}</span>
        </h2>
        <span className="kv-tools">
          {total > 8 && <input className="input input-sm" placeholder="Filter keys" value={q} onChange={(e) => setQ(e.target.value)} />}
          <button className="btn btn-sm" onClick={() => downloadJson(file, raw)} title={`Download ${file}`} data-testid={`download-${testId}`}>
            ⤓ {file}
          </button>
        </span>
      </div>
      {total === 0 ? (
        <div className="muted small pad">Nothing logged.</div>
      ) : (
        <div className="kv-scroll">
          <table className="table kv">
            <tbody>
              {entries.map(([k, v]) => (
                <tr key={k}>
                  <td className="mono kv-key" title={k}>
                    {k}
                  </td>
                  <td className="kv-val">
                    <KvValue v={v} k={k} {...at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function Overview({ entity, project, run, tick = 0 }: { entity: string; project: string; run: Run; tick?: number }) {
  // the real wandb client stores its own bookkeeping under `_wandb` (environment, versions): hidden here as
  // in W&B's UI, kept in config.json
  const config = useMemo(
    () => Object.fromEntries(Object.entries(flatten(run.config)).filter(([k]) => k !== "_wandb" && !k.startsWith("_wandb."))),
    [run.config],
  );
  const summary = useMemo(() => {
    const s = flatten(run.summary);
    for (const k of Object.keys(s)) if (k.startsWith("_")) delete s[k];
    return s;
  }, [run.summary]);
  const root = useRootFiles(entity, project, run.id);
  const at = { entity, project, runId: run.id };
  return (
    <>
      <RunAlerts entity={entity} project={project} runId={run.id} tick={tick} />
      <div className="overview-grid">
        <div className="card overview" data-testid="run-overview">
          <h2>Overview</h2>
          <dl>
            <dt>State</dt>
            <dd>
              <StateBadge state={run.state} />
              {run.exit_code !== null && <span className="muted small"> exit code {run.exit_code}</span>}
            </dd>
            <dt>Started</dt>
            <dd title={run.created_at}>{formatDate(run.created_at)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(runDurationMs(run))}</dd>
            <dt>Last heartbeat</dt>
            <dd>{timeAgo(run.heartbeat_at)}</dd>
            <dt>Host</dt>
            <dd className="mono">{run.host || "—"}</dd>
            <dt>Created by</dt>
            <dd>{run.created_by ?? "—"}</dd>
            {run.group && (
              <>
                <dt>Group</dt>
                <dd>{run.group}</dd>
              </>
            )}
            {run.job_type && (
              <>
                <dt>Job type</dt>
                <dd>{run.job_type}</dd>
              </>
            )}
          </dl>
          {run.notes && (
            <p className="notes" data-testid="run-notes">
              {run.notes}
            </p>
          )}
          {run.error && <pre className="run-error">{run.error}</pre>}
        </div>
        <KvTable title="Config" data={config} raw={run.config} file="config.json" testId="config-table" at={at} />
        <KvTable title="Summary" data={summary} raw={run.summary} file="summary.json" testId="summary-table" at={at} />
      </div>
      <CodeInfo entity={entity} project={project} runId={run.id} root={root.data} />
    </>
  );
}
