import { Link, useNavigate } from "react-router-dom";
import { runActions } from "../extensions";

/** The project's pages: the workspace (runs and charts) and its artifacts; project-wide actions on the right. */
export function ProjectTabs({ entity, project, current }: { entity: string; project: string; current: "workspace" | "artifacts" }) {
  const base = `/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
  const actions = runActions.filter((a) => a.scope === "project");
  const navigate = useNavigate();
  return (
    <nav className="project-tabs" data-testid="project-tabs">
      <Link to={base} className={`ptab ${current === "workspace" ? "active" : ""}`} aria-current={current === "workspace" ? "page" : undefined}>
        Workspace
      </Link>
      <Link to={`${base}/artifacts`} className={`ptab ${current === "artifacts" ? "active" : ""}`} aria-current={current === "artifacts" ? "page" : undefined} data-testid="tab-artifacts-page">
        Artifacts
      </Link>
      <span className="toolbar-spacer" />
      {actions.map((a) => (
        <button key={a.id} className="btn btn-sm" onClick={() => a.run({ entity, project, runIds: [], navigate })} data-testid={`action-${a.id}`}>
          {a.label}
        </button>
      ))}
    </nav>
  );
}
