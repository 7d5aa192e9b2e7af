import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../data/api";
import { colorAt } from "../data/colors";
import { useLiveTick } from "../data/live";
import type { JsonValue, Run } from "../data/types";
import { flatten, formatDate, formatDuration, formatValue, runDurationMs, timeAgo } from "../data/values";
import { MetricsPanel } from "../components/MetricsPanel";
import { StateBadge } from "../components/StateBadge";
import { ErrorBox, Loading } from "../components/States";
import { TopBar } from "../components/TopBar";

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

  const crumbs = (
    <>
      <Link to="/">Projects</Link>
      <span className="crumb-sep">/</span>
      <Link to={`/?entity=${encodeURIComponent(entity)}`}>{entity}</Link>
      <span className="crumb-sep">/</span>
      <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`}>{project}</Link>
      <span className="crumb-sep">/</span>
      <span className="crumb-current">{run?.name ?? runId}</span>
    </>
  );

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
            <MetricsPanel runs={panelRuns} tick={tick} systemOpenByDefault={true} />
          </>
        )}
      </main>
    </div>
  );
}
