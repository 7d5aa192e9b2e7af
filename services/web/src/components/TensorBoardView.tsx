// The real TensorBoard over runs' event files, served by the TensorBoard component under /tensorboard
// (same origin; that prefix, and only it, may be framed by this app: frame-ancestors 'self').
// Runs without event files get a short explanation of how to sync them instead of an empty frame.
import { useEffect, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";
import { ApiError } from "../data/api";
import { Empty, ErrorBox, Loading } from "./States";
import { ProjectCrumbs, TopBar } from "./TopBar";

interface TbStatus {
  runs: { run_id: string; name: string; event_files: number; bytes: number }[];
  path: string;
  event_files: number;
}

async function tbStatus(entity: string, project: string, runIds: string[], signal: AbortSignal): Promise<TbStatus> {
  const url = `/tensorboard/status/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/${runIds.map(encodeURIComponent).join(",")}`;
  const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal });
  if (!resp.ok) {
    let detail = `TensorBoard answered ${resp.status}`;
    try {
      detail = ((await resp.json()) as { detail?: string }).detail ?? detail;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(resp.status, detail);
  }
  return (await resp.json()) as TbStatus;
}

function HowToSync({ several }: { several: boolean }) {
  return (
    <Empty title={several ? "None of these runs has TensorBoard event files" : "No TensorBoard event files in this run"}>
      <div className="tb-howto" data-testid="tensorboard-empty">
        <p>TensorBoard shows what a script writes with a TensorBoard writer when its run syncs the event files:</p>
        <pre className="mono small">
          {`run = runyard.init(project="...", sync_tensorboard=True)\nwriter = torch.utils.tensorboard.SummaryWriter()  # or tensorboardX\nwriter.add_scalar("loss", loss, global_step=step)`}
        </pre>
        <p>
          Event files written earlier can be imported: <code>runyard import tensorboard LOGDIR --project P</code>.
        </p>
      </div>
    </Empty>
  );
}

/** TensorBoard for one run or several runs of a project, embedded in the page. */
export function TensorBoardView({ entity, project, runIds }: { entity: string; project: string; runIds: string[] }) {
  const [status, setStatus] = useState<TbStatus | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const key = runIds.join(",");
  useEffect(() => {
    const ctl = new AbortController();
    setStatus(null);
    setError(null);
    if (!key) return;
    tbStatus(entity, project, key.split(","), ctl.signal).then(setStatus, (e) => e?.name !== "AbortError" && setError(e));
    return () => ctl.abort();
  }, [entity, project, key]);

  if (!key) return <Empty title="Pick runs">Select runs in the runs table to see them in TensorBoard.</Empty>;
  if (error) return <ErrorBox error={error} />;
  if (!status) return <Loading what="TensorBoard" />;
  if (status.event_files === 0) return <HowToSync several={runIds.length > 1} />;
  const without = status.runs.filter((r) => r.event_files === 0);
  return (
    <div className="tb-view" data-testid="tensorboard-view">
      {without.length > 0 && (
        <div className="muted small" data-testid="tensorboard-missing">
          No event files in {without.map((r) => r.name || r.run_id).join(", ")}.
        </div>
      )}
      <iframe
        className="tb-frame"
        data-testid="tensorboard-frame"
        title="TensorBoard"
        src={status.path}
        style={{ width: "100%", height: "calc(100vh - 190px)", minHeight: 480, border: "1px solid #e5e7eb", borderRadius: 6, background: "#fff" }}
      />
    </div>
  );
}

/** `/:entity/:project/tensorboard?runs=a,b`: the project-level view of the selected runs. */
export function TensorBoardPage() {
  const { entity = "", project = "" } = useParams();
  const [params] = useSearchParams();
  const runIds = (params.get("runs") ?? "").split(",").filter(Boolean);
  return (
    <div className="page">
      <TopBar crumbs={<ProjectCrumbs entity={entity} project={project} current="TensorBoard" />} />
      <main className="content">
        <TensorBoardView entity={entity} project={project} runIds={runIds} />
      </main>
    </div>
  );
}
