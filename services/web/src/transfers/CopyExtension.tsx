// "Copy to instance…" (docs/transfer.md, "Copy from the UI") plugs into the run page, the workspace's
// charted runs and the project bar through the extension points; each opens the project's Copies page
// with the copy dialog for those runs (or the whole project).
import { runActions, type ActionContext } from "../extensions";

export function copiesPath(entity: string, project: string): string {
  return `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/copies`;
}

function open({ entity, project, runIds, navigate }: ActionContext) {
  const runs = runIds.length ? `&runs=${runIds.map(encodeURIComponent).join(",")}` : "";
  navigate(`${copiesPath(entity, project)}?copy=1${runs}`);
}

runActions.push({ id: "copy-run", label: "Copy to instance…", scope: "run", run: open });
runActions.push({ id: "copy-runs", label: "Copy to instance…", scope: "runs", run: open });
runActions.push({ id: "copy-project", label: "Copy to instance…", scope: "project", run: open });
