import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../data/api";
import { useResource } from "../data/hooks";
import { useLiveTick } from "../data/live";
import { formatDate, timeAgo } from "../data/values";
import { useSession } from "../session";
import { SdkSnippet } from "../components/SdkSnippet";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TopBar } from "../components/TopBar";

export function ProjectsPage() {
  const { viewer } = useSession();
  const [params, setParams] = useSearchParams();
  const entity = params.get("entity") ?? "";
  const tick = useLiveTick({ kind: "projects" });
  const res = useResource((signal) => {
    void signal;
    return api.projects();
  }, [tick]);

  const entities = useMemo(() => {
    const s = new Set((res.data?.projects ?? []).map((p) => p.entity));
    s.add(viewer.entity);
    return [...s].sort();
  }, [res.data, viewer.entity]);

  const projects = useMemo(() => {
    const all = res.data?.projects ?? [];
    const shown = entity ? all.filter((p) => p.entity === entity) : all;
    return [...shown].sort((a, b) => (b.last_activity ?? b.updated_at).localeCompare(a.last_activity ?? a.updated_at));
  }, [res.data, entity]);

  return (
    <div className="page">
      <TopBar crumbs={<span className="crumb-current">Projects</span>} />
      <main className="content narrow">
        <div className="page-head">
          <h1>Projects</h1>
          <div className="entity-switch" role="tablist" data-testid="entity-switch">
            <button className={`chip ${entity === "" ? "active" : ""}`} onClick={() => setParams({})}>
              All
            </button>
            {entities.map((e) => (
              <button key={e} className={`chip ${entity === e ? "active" : ""}`} onClick={() => setParams({ entity: e })}>
                {e}
              </button>
            ))}
          </div>
        </div>
        {res.error && !res.data ? (
          <ErrorBox error={res.error} />
        ) : !res.data ? (
          <Loading what="projects" />
        ) : projects.length === 0 ? (
          <Empty title={entity ? `${entity} has no projects yet` : "No projects yet"}>
            <p>A project appears here as soon as a script logs its first run into it:</p>
            <SdkSnippet
              code={`import runyard
run = runyard.init(project="my-first-project")
for step in range(100):
    run.log({"loss": 1 / (step + 1)})
run.finish()`}
            />
          </Empty>
        ) : (
          <table className="table" data-testid="projects-table">
            <thead>
              <tr>
                <th>Project</th>
                <th>Entity</th>
                <th className="num">Runs</th>
                <th>Last activity</th>
                <th>Created</th>
                <th>Visibility</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={`${p.entity}/${p.name}`} data-project={p.name}>
                  <td>
                    <Link to={`/${encodeURIComponent(p.entity)}/${encodeURIComponent(p.name)}`} className="strong-link">
                      {p.name}
                    </Link>
                    {p.description && <div className="muted small project-desc">{p.description}</div>}
                  </td>
                  <td className="muted">{p.entity}</td>
                  <td className="num" data-testid="run-count">
                    {p.run_count.toLocaleString("en-US")}
                  </td>
                  <td title={p.last_activity ?? ""}>{timeAgo(p.last_activity)}</td>
                  <td className="muted">{formatDate(p.created_at)}</td>
                  <td>
                    <span className="tag">{p.visibility}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </main>
    </div>
  );
}
