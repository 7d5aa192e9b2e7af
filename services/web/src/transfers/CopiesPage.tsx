// A project's copies to other instances: the jobs started with "Copy to instance…", their live progress
// (polled while one is queued or running), each run's result and error, and Cancel. `?copy=1[&runs=a,b]`
// opens the dialog that starts one (instance admins: the remote instances are theirs).
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { transfers } from "../api/client";
import type { components } from "../api/schema/transfers";
import { useResource } from "../data/hooks";
import { formatDate, plural, timeAgo } from "../data/values";
import { useSession } from "../session";
import { Modal } from "../components/Popover";
import { Empty, ErrorBox, Loading } from "../components/States";
import { ProjectCrumbs, TopBar } from "../components/TopBar";
import { useAction } from "../settings/common";

type Job = components["schemas"]["JobOut"];
type JobDetail = components["schemas"]["JobDetail"];

const OPEN = new Set(["queued", "running"]);
const POLL_MS = 1500;

function CopyDialog({ entity, project, runIds, onClose, onStarted }: { entity: string; project: string; runIds: string[]; onClose: () => void; onStarted: (id: number) => void }) {
  const remotes = useResource((signal) => transfers.get("/api/v1/admin/remotes", { signal }), []);
  const [remote, setRemote] = useState("");
  const [toProject, setToProject] = useState("");
  const act = useAction();
  const list = remotes.data?.remotes ?? [];
  useEffect(() => {
    if (!remote && list.length) setRemote(list[0].name);
  }, [list, remote]);
  const what = runIds.length ? plural(runIds.length, "run") + ` of ${entity}/${project}` : `the whole project ${entity}/${project}`;
  return (
    <Modal title="Copy to instance…" onClose={onClose} testId="copy-dialog">
      <p className="small">
        Copies {what} (history, config, summary, files, artifacts) to another Runyard instance. Runs already there are not sent again.
      </p>
      {remotes.error && !remotes.data ? (
        <ErrorBox error={remotes.error} />
      ) : !remotes.data ? (
        <Loading what="remote instances" />
      ) : !list.length ? (
        <Empty title="No remote instances yet">
          An admin adds them in <Link to="/-/settings/admin/remotes">Settings › Remote instances</Link>.
        </Empty>
      ) : (
        <form
          className="stack-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              const job = await transfers.post("/api/v1/transfers/{entity}/{project}", {
                path: { entity, project },
                body: { remote, run_ids: runIds.length ? runIds : null, to_project: toProject.trim() || null },
              });
              onStarted(job.id);
            });
          }}
        >
          <label className="small">
            Remote instance{" "}
            <select className="input input-sm" value={remote} onChange={(e) => setRemote(e.target.value)} data-testid="copy-remote">
              {list.map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name} — {r.url}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            Project there{" "}
            <input className="input input-sm" placeholder={project} value={toProject} onChange={(e) => setToProject(e.target.value)} data-testid="copy-to-project" />
          </label>
          {act.error && <div className="error-inline">{act.error}</div>}
          <div>
            <button className="btn btn-sm btn-primary" disabled={act.busy || !remote} data-testid="copy-start">
              Start copy
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

function Progress({ done, total }: { done: number; total: number }) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  return (
    <span className="copy-progress" title={`${done} of ${total}`}>
      <span className="copy-progress-bar" style={{ width: `${pct}%` }} />
    </span>
  );
}

function JobRuns({ entity, project, job, tick }: { entity: string; project: string; job: Job; tick: number }) {
  const res = useResource(
    (signal) => transfers.get("/api/v1/transfers/{entity}/{project}/{job_id}", { path: { entity, project, job_id: String(job.id) }, signal }),
    [entity, project, job.id, tick],
  );
  const d: JobDetail | undefined = res.data;
  if (res.error && !d) return <ErrorBox error={res.error} />;
  if (!d) return <Loading what="runs" />;
  return (
    <div className="copy-detail">
      <table className="table" data-testid="copy-runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th className="num">Records</th>
            <th className="num">Files</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {d.runs.map((r) => (
            <tr key={r.run_id} data-run={r.run_id} data-status={r.status}>
              <td>
                <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(r.run_id)}`}>{r.run_id}</Link>
              </td>
              <td>
                <span className={`tag copy-status copy-${r.status.replace(/ /g, "-")}`}>{r.status}</span>
              </td>
              <td className="num">
                {r.records_total ? `${r.records_sent} / ${r.records_total}` : "—"}
              </td>
              <td className="num">{r.files_sent || ""}</td>
              <td className={r.status === "failed" || r.status === "conflict" ? "error-inline" : "muted small"}>{r.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {d.summary.length > 0 && (
        <pre className="copy-summary small" data-testid="copy-summary">
          {d.summary.join("\n")}
        </pre>
      )}
    </div>
  );
}

function JobCard({ entity, project, job, tick, onChanged }: { entity: string; project: string; job: Job; tick: number; onChanged: () => void }) {
  const [open, setOpen] = useState(OPEN.has(job.state));
  const act = useAction();
  const target = `${job.to_entity}/${job.to_project}`;
  return (
    <div className="card copy-job" data-testid="copy-job" data-job={job.id} data-state={job.state}>
      <div className="card-head">
        <button className="link-btn" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? "▾" : "▸"} Copy #{job.id}
        </button>
        <span className={`tag copy-state copy-${job.state}`} data-testid="copy-state">
          {job.state}
          {job.cancel_requested && job.state === "running" ? " (cancelling)" : ""}
        </span>
        <span className="small">
          {job.run_ids ? plural(job.run_ids.length, "run") : "whole project"} → <b>{job.remote}</b> ({target})
        </span>
        <Progress done={job.runs_done + job.runs_failed} total={job.runs_total} />
        <span className="small" data-testid="copy-counts">
          {job.runs_done + job.runs_failed} / {job.runs_total} runs{job.runs_failed ? `, ${job.runs_failed} failed` : ""}
        </span>
        <span className="toolbar-spacer" />
        <span className="muted small" title={formatDate(job.created_at)}>
          by {job.started_by} {timeAgo(job.created_at)}
        </span>
        {OPEN.has(job.state) && !job.cancel_requested && (
          <button
            className="btn btn-sm btn-danger-soft"
            disabled={act.busy}
            data-testid="copy-cancel"
            onClick={() =>
              void act.run(async () => {
                await transfers.post("/api/v1/transfers/{entity}/{project}/{job_id}/cancel", { path: { entity, project, job_id: String(job.id) } });
                onChanged();
              })
            }
          >
            Cancel
          </button>
        )}
      </div>
      {job.message && (job.state !== "succeeded" || !open) && (
        <div className={job.state === "failed" ? "error-inline" : "muted small"} data-testid="copy-message">
          {job.message}
        </div>
      )}
      {act.error && <div className="error-inline">{act.error}</div>}
      {open && <JobRuns entity={entity} project={project} job={job} tick={tick} />}
    </div>
  );
}

export function CopiesPage() {
  const { entity = "", project = "" } = useParams();
  const { viewer } = useSession();
  const [params, setParams] = useSearchParams();
  const [tick, setTick] = useState(0);
  const jobs = useResource((signal) => transfers.get("/api/v1/transfers/{entity}/{project}", { path: { entity, project }, signal }), [entity, project, tick]);
  const list = useMemo(() => jobs.data?.jobs ?? [], [jobs.data]);
  const live = list.some((j) => OPEN.has(j.state));
  useEffect(() => {
    if (!live) return;
    const t = window.setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => window.clearTimeout(t);
  }, [live, tick]);
  const dialog = params.get("copy") === "1";
  const runIds = (params.get("runs") ?? "").split(",").filter(Boolean);
  const closeDialog = () => setParams({}, { replace: true });
  return (
    <div className="page">
      <TopBar entity={entity} crumbs={<ProjectCrumbs entity={entity} project={project} current="Copies" />} />
      <main className="content narrow" data-testid="copies-page">
        <div className="card-head">
          <h1 className="plain-h2">Copies to other instances</h1>
          <span className="toolbar-spacer" />
          {viewer.is_admin && (
            <button className="btn btn-sm btn-primary" onClick={() => setParams({ copy: "1" })} data-testid="copy-new">
              Copy project to instance…
            </button>
          )}
        </div>
        {dialog &&
          (viewer.is_admin ? (
            <CopyDialog
              entity={entity}
              project={project}
              runIds={runIds}
              onClose={closeDialog}
              onStarted={() => {
                closeDialog();
                setTick((n) => n + 1);
              }}
            />
          ) : (
            <Modal title="Copy to instance…" onClose={closeDialog} testId="copy-dialog">
              <p className="small">Only instance admins copy to other instances (the remote instances and their keys are theirs). Ask one of them.</p>
            </Modal>
          ))}
        {jobs.error && !jobs.data ? (
          <ErrorBox error={jobs.error} />
        ) : !jobs.data ? (
          <Loading what="copies" />
        ) : !list.length ? (
          <Empty title="No copies yet">“Copy to instance…” on a run, on the runs in the workspace, or on the project starts one.</Empty>
        ) : (
          list.map((j) => <JobCard key={j.id} entity={entity} project={project} job={j} tick={tick} onChanged={() => setTick((n) => n + 1)} />)
        )}
      </main>
    </div>
  );
}
