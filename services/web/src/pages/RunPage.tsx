import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../data/api";
import { useUrlParam } from "../data/urlState";
import { ConsoleLog } from "../files/ConsoleLog";
import { FilesView } from "../files/FilesView";
import { MediaView } from "../files/MediaView";
import { useLiveTick } from "../data/live";
import type { Run } from "../data/types";
import { RunCharts } from "../panels/RunCharts";
import { Overview } from "../run/Overview";
import { RunArtifacts } from "../run/RunArtifacts";
import { RunMenu } from "../run/RunMenu";
import { DeleteRunDialog, EditRunDialog } from "../run/RunEdit";
import { useRole } from "../session";
import { StateBadge } from "../components/StateBadge";
import { ErrorBox, Loading } from "../components/States";
import { TopBar, ProjectCrumbs } from "../components/TopBar";
import { runTabs } from "../extensions";

const TABS = [
  ["overview", "Overview"],
  ["charts", "Charts"],
  ["system", "System"],
  ["logs", "Logs"],
  ["files", "Files"],
  ["media", "Media"],
  ["artifacts", "Artifacts"],
] as const;

export function RunPage() {
  const { entity = "", project = "", runId = "" } = useParams();
  const [run, setRun] = useState<Run | null>(null);
  const [tabParam, setTab] = useUrlParam("tab");
  const allTabs: (readonly [string, string])[] = [...TABS, ...runTabs.map((t) => [t.id, t.label] as const)];
  const tab = allTabs.some(([t]) => t === tabParam) ? tabParam! : "overview";
  const [error, setError] = useState<Error | null>(null);
  const running = run?.state === "running";
  const tick = useLiveTick({ kind: "run", entity, project, runId }, run === null || running);
  const { canWrite } = useRole(entity);
  const [dialog, setDialog] = useState<"edit" | "delete" | null>(null);
  const navigate = useNavigate();
  const projectPath = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;

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

  const crumbs = <ProjectCrumbs entity={entity} project={project} current={run?.name ?? runId} />;
  const extra = runTabs.find((t) => t.id === tab);

  return (
    <div className="page">
      <TopBar crumbs={crumbs} entity={entity} />
      <main className="content">
        {error && !run ? (
          <>
            <ErrorBox error={error} />
            <p className="center-link">
              <Link to={projectPath}>Back to {project}</Link>
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
                <span className="tag" key={t} data-testid="run-tag">
                  {t}
                </span>
              ))}
              <span className="toolbar-spacer" />
              {canWrite && (
                <button className="btn btn-sm" onClick={() => setDialog("edit")} data-testid="run-edit" title="Rename, tag, annotate">
                  Edit
                </button>
              )}
              <RunMenu
                entity={entity}
                project={project}
                run={run}
                onEdit={canWrite ? () => setDialog("edit") : undefined}
                onDelete={canWrite ? () => setDialog("delete") : undefined}
              />
            </div>
            {dialog === "edit" && <EditRunDialog entity={entity} project={project} run={run} onClose={() => setDialog(null)} onSaved={setRun} />}
            {dialog === "delete" && (
              <DeleteRunDialog entity={entity} project={project} run={run} onClose={() => setDialog(null)} onDeleted={() => navigate(projectPath, { replace: true })} />
            )}
            <nav className="tabs" role="tablist">
              {allTabs.map(([t, label]) => (
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
            {tab === "overview" && <Overview entity={entity} project={project} run={run} tick={tick} />}
            {tab === "charts" && <RunCharts entity={entity} project={project} run={run} tick={tick} only="metrics" />}
            {tab === "system" && <RunCharts entity={entity} project={project} run={run} tick={tick} only="system" />}
            {tab === "logs" && <ConsoleLog entity={entity} project={project} runId={runId} tick={tick} running={running} />}
            {tab === "files" && <FilesView entity={entity} project={project} runId={runId} />}
            {tab === "media" && <MediaView entity={entity} project={project} runId={runId} keys={run.media_keys ?? []} tick={running ? tick : 0} />}
            {tab === "artifacts" && <RunArtifacts entity={entity} project={project} runId={runId} />}
            {extra && <extra.component entity={entity} project={project} runId={runId} />}
          </>
        )}
      </main>
    </div>
  );
}
