// TensorBoard plugs into the run page (a tab) and the workspace (an action on the charted runs) through
// the extension points, so the pages need not know about it. The view itself loads when first opened.
import { lazy } from "react";
import { runActions, runTabs, type RunTabProps } from "../extensions";

const TensorBoardView = lazy(() => import("./TensorBoardView").then((m) => ({ default: m.TensorBoardView })));

function TensorBoardTab({ entity, project, runId }: RunTabProps) {
  return <TensorBoardView entity={entity} project={project} runIds={[runId]} />;
}

runTabs.push({ id: "tensorboard", label: "TensorBoard", component: TensorBoardTab });
runActions.push({
  id: "tensorboard",
  label: "TensorBoard",
  scope: "runs",
  run: ({ entity, project, runIds, navigate }) =>
    navigate(`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/tensorboard?runs=${runIds.map(encodeURIComponent).join(",")}`),
});
