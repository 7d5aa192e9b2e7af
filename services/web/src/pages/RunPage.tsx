import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, fileText } from "../data/api";
import { useResource } from "../data/hooks";
import { useUrlParam } from "../data/urlState";
import { CodeView } from "../files/CodeView";
import { ConsoleLog } from "../files/ConsoleLog";
import { FilesView } from "../files/FilesView";
import { MediaView } from "../files/MediaView";
import { colorAt } from "../data/colors";
import { useLiveTick } from "../data/live";

import type { JsonValue, Run } from "../data/types";
import { flatten, formatDate, formatDuration, formatValue, runDurationMs, timeAgo } from "../data/values";
import { MetricsPanel } from "../components/MetricsPanel";
import { StateBadge } from "../components/StateBadge";
import { ErrorBox, Loading } from "../components/States";
import { TopBar, ProjectCrumbs } from "../components/TopBar";
import { TensorBoardView } from "../components/TensorBoardView";

const TABS = [
  ["overview", "Overview"],
  ["charts", "Charts"],
  ["system", "System"],
  ["logs", "Logs"],
  ["files", "Files"],
  ["media", "Media"],
  ["tensorboard", "TensorBoard"],
] as const;

interface Meta {
  program?: string;
  args?: string[];
  python?: string;
  os?: string;
  cwd?: string;
  git?: { commit?: string; remote?: string; branch?: string; dirty?: boolean };
}

async function optionalText(entity: string, project: string, runId: string, path: string, signal: AbortSignal): Promise<string | null> {
  try {
    return await fileText(entity, project, runId, path, 5_000_000, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

function commitUrl(remote: string | undefined, commit: string): string | null {
  if (!remote) return null;
  const m = remote.match(/^(?:git@([^:]+):|https?:\/\/(?:[^@/]+@)?([^/]+)\/)(.+?)(?:\.git)?$/);
  if (!m) return null;
  return `https://${m[1] ?? m[2]}/${m[3]}/commit/${commit}`;
}

function CodeInfo({ entity, project, runId }: { entity: string; project: string; runId: string }) {
  const meta = useResource(async (signal) => {
    const t = await optionalText(entity, project, runId, "metadata.json", signal);
    return t ? (JSON.parse(t) as Meta) : null;
  }, [entity, project, runId]);
  const diff = useResource((signal) => optionalText(entity, project, runId, "diff.patch", signal), [entity, project, runId]);
  const [showDiff, setShowDiff] = useState(false);
  const m = meta.data;
  if (meta.loading && !m) return null;
  const command = m?.program ? [m.program, ...(m.args ?? [])].join(" ") : null;
  const url = m?.git?.commit ? commitUrl(m.git.remote, m.git.commit) : null;
  return (
    <div className="card overview code-info" data-testid="run-code-info">
      <h2>Code</h2>
      {!m && !diff.data ? (
        <div className="muted small">No metadata.json or diff.patch saved with this run.</div>
      ) : (
        <dl>
          {command && (
            <>
              <dt>Command</dt>
              <dd className="mono wrap" data-testid="run-command">
                python {command}
              </dd>
            </>
          )}
          {m?.git?.commit && (
            <>
              <dt>Git commit</dt>
              <dd className="mono" data-testid="run-commit">
                {url ? (
                  <a href={url} target="_blank" rel="noreferrer noopener">
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


function KvTable({ title, data, testId }: { title: string; data: Record<string, JsonValue>; testId: string }) {
  const [q, setQ] = useState("");
  const entries = Object.entries(data).filter(([k]) => k.toLowerCase().includes(q.toLowerCase()));
  const total = Object.keys(data).length;
  return (
    <div className="card kv-card" data-testid={testId}>
      <div className="card-head">
        <h2>
          {title} <span className="muted small">{total}</span>
        </h2>
        {total > 8 && <input className="input input-sm" placeholder="Filter keys" value={q} onChange={(e) => setQ(e.target.value)} />}
      </div>
      {total === 0 ? (
        <div className="muted small pad">Nothing logged.</div>
      ) : (
        <div className="kv-scroll">
          <table className="table kv">
            <tbody>
              {entries.map(([k, v]) => (
                <tr key={k}>
                  <td className="mono kv-key">{k}</td>
                  <td className="mono">{formatValue(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function RunPage() {
  const { entity = "", project = "", runId = "" } = useParams();
  const [run, setRun] = useState<Run | null>(null);
  const [tabParam, setTab] = useUrlParam("tab");
  const tab = TABS.some(([t]) => t === tabParam) ? tabParam! : "overview";
  const [error, setError] = useState<Error | null>(null);
  const running = run?.state === "running";
  const tick = useLiveTick({ kind: "run", entity, project, runId }, run === null || running);

  useEffect(() => {
    const ctl = new AbortController();
    api.run(entity, project, runId, ctl.signal).then(
      (r) => {
        setRun(r);
        setError(null);
      },
      (e) => e?.name !== "AbortError" && setError(e),
    );
    return () => ctl.abort();
  }, [entity, project, runId, tick]);

  const config = useMemo(() => flatten(run?.config), [run]);
  const summary = useMemo(() => {
    const s = flatten(run?.summary);
    for (const k of Object.keys(s)) if (k.startsWith("_")) delete s[k];
    return s;
  }, [run]);
  const panelRuns = useMemo(
    () =>
      run
        ? [{ entity, project, id: run.id, name: run.name, color: colorAt(0), running: run.state === "running", keys: run.history_keys ?? [] }]
        : [],
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [run?.id, run?.name, run?.state, (run?.history_keys ?? []).join(","), entity, project],
  );

  const crumbs = <ProjectCrumbs entity={entity} project={project} current={run?.name ?? runId} />;

  return (
    <div className="page">
      <TopBar crumbs={crumbs} />
      <main className="content">
        {error && !run ? (
          <>
            <ErrorBox error={error} />
            <p className="center-link">
              <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`}>Back to {project}</Link>
            </p>
          </>
        ) : !run ? (
          <Loading what="run" />
        ) : (
          <>
            <div className="run-head">
              <h1 data-testid="run-name">{run.name}</h1>
              <StateBadge state={run.state} />
              <span className="muted mono small">{run.id}</span>
              {run.tags.map((t) => (
                <span className="tag" key={t}>
                  {t}
                </span>
              ))}
            </div>
            <nav className="tabs" role="tablist">
              {TABS.map(([t, label]) => (
                <button
                  key={t}
                  role="tab"
                  aria-selected={tab === t}
                  className={`tab ${tab === t ? "active" : ""}`}
                  onClick={() => setTab(t === "overview" ? null : t)}
                  data-testid={`tab-${t}`}
                >
                  {label}
                </button>
              ))}
            </nav>
            {tab === "overview" && (
            <>
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
                {run.notes && <p className="notes">{run.notes}</p>}
                {run.error && <pre className="run-error">{run.error}</pre>}
              </div>
              <KvTable title="Config" data={config} testId="config-table" />
              <KvTable title="Summary" data={summary} testId="summary-table" />
            </div>
            <CodeInfo entity={entity} project={project} runId={runId} />
            </>
            )}
            {tab === "charts" && <MetricsPanel runs={panelRuns} tick={tick} systemOpenByDefault={true} only="metrics" />}
            {tab === "system" && <MetricsPanel runs={panelRuns} tick={tick} systemOpenByDefault={true} only="system" />}
            {tab === "logs" && <ConsoleLog entity={entity} project={project} runId={runId} tick={tick} running={running} />}
            {tab === "files" && <FilesView entity={entity} project={project} runId={runId} />}
            {tab === "tensorboard" && <TensorBoardView entity={entity} project={project} runIds={[runId]} />}
            {tab === "media" && <MediaView entity={entity} project={project} runId={runId} keys={run.media_keys ?? run.history_keys ?? []} tick={running ? tick : 0} />}
          </>
        )}
      </main>
    </div>
  );
}
