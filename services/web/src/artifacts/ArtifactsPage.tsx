// A project's artifacts: collections by type on the left, the chosen collection's versions on the right
// (aliases, size, files, when and by which run), each opening its version page.
import { useMemo } from "react";
import { Link, useParams } from "react-router-dom";
import { artifact } from "../api/client";
import type { components } from "../api/schema/artifact";
import { useResource } from "../data/hooks";
import { useUrlParam } from "../data/urlState";
import { formatDate, plural, timeAgo } from "../data/values";
import { humanSize } from "../files/FilesView";
import { ProjectTabs } from "../components/ProjectTabs";
import { Empty, ErrorBox, Loading } from "../components/States";
import { ProjectCrumbs, TopBar } from "../components/TopBar";
import { runPath, versionPath } from "./paths";

type Summary = components["schemas"]["ArtifactSummary"];
type Version = components["schemas"]["Version"];

/** The producing run of each version (version details, read for the versions shown). */
function useCreators(entity: string, project: string, name: string | null, versions: Version[] | undefined) {
  const ids = (versions ?? []).slice(0, 50).map((v) => v.version).join(",");
  return useResource(
    async (signal) => {
      if (!name || !ids) return new Map<string, components["schemas"]["RunRef"] | null>();
      const details = await Promise.all(
        ids.split(",").map((version) =>
          artifact.get("/api/v1/artifacts/{entity}/{project}/{name}/{version}", { path: { entity, project, name, version }, signal }),
        ),
      );
      return new Map(details.map((d) => [d.version, d.created_by_run]));
    },
    [entity, project, name, ids],
  );
}

function Versions({ entity, project, name }: { entity: string; project: string; name: string }) {
  const res = useResource((signal) => artifact.get("/api/v1/artifacts/{entity}/{project}/{name}", { path: { entity, project, name }, signal }), [entity, project, name]);
  const versions = useMemo(() => [...(res.data?.versions ?? [])].sort((a, b) => b.version_index - a.version_index), [res.data]);
  const creators = useCreators(entity, project, name, versions);
  if (res.error) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what={name} />;
  const a = res.data;
  return (
    <div className="card artifact-versions" data-testid="artifact-versions" data-name={name}>
      <div className="card-head">
        <h2 className="plain-h2">
          {a.name} <span className="tag">{a.type}</span>
        </h2>
        <span className="muted small">{plural(versions.length, "version")}</span>
      </div>
      {a.description && <p className="muted">{a.description}</p>}
      <table className="table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Aliases</th>
            <th className="num">Size</th>
            <th className="num">Files</th>
            <th>Created</th>
            <th>Created by</th>
            <th>Metadata</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const by = creators.data?.get(v.version);
            const meta = Object.keys(v.metadata ?? {});
            return (
              <tr key={v.version} data-version={v.version}>
                <td>
                  <Link to={versionPath(entity, project, name, v.version)} className="strong-link">
                    {v.version}
                  </Link>
                </td>
                <td>
                  {v.aliases.map((al) => (
                    <span key={al} className={`tag alias ${al === "latest" ? "alias-latest" : ""}`}>
                      {al}
                    </span>
                  ))}
                </td>
                <td className="num">{humanSize(v.size)}</td>
                <td className="num">{v.file_count.toLocaleString("en-US")}</td>
                <td title={v.created_at}>{formatDate(v.created_at)}</td>
                <td>
                  {by ? (
                    <Link to={runPath(by.entity, by.project, by.run_id)} className="mono">
                      {by.run_id}
                    </Link>
                  ) : creators.data ? (
                    <span className="muted">—</span>
                  ) : (
                    ""
                  )}
                </td>
                <td className="muted small meta-keys" title={meta.join(", ")}>
                  {meta.length ? meta.slice(0, 4).join(", ") + (meta.length > 4 ? ` +${meta.length - 4}` : "") : "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ArtifactsPage() {
  const { entity = "", project = "" } = useParams();
  const [nameParam, setName] = useUrlParam("name");
  const list = useResource((signal) => artifact.get("/api/v1/artifacts/{entity}/{project}", { path: { entity, project }, signal }), [entity, project]);
  const byType = useMemo(() => {
    const m = new Map<string, Summary[]>();
    for (const a of list.data?.artifacts ?? []) {
      if (!m.has(a.type)) m.set(a.type, []);
      m.get(a.type)!.push(a);
    }
    return [...m.entries()].sort(([x], [y]) => x.localeCompare(y));
  }, [list.data]);
  const chosen = nameParam ?? list.data?.artifacts[0]?.name ?? null;
  return (
    <div className="page">
      <TopBar crumbs={<ProjectCrumbs entity={entity} project={project} current="artifacts" />} entity={entity} />
      <ProjectTabs entity={entity} project={project} current="artifacts" />
      <main className="content">
        {list.error ? (
          <ErrorBox error={list.error} />
        ) : !list.data ? (
          <Loading what="artifacts" />
        ) : list.data.artifacts.length === 0 ? (
          <Empty title="No artifacts yet">
            <p>Datasets, models and other files a run logs as versioned artifacts are listed here:</p>
            <pre className="snippet">{`art = runyard.Artifact("mnist", type="dataset")
art.add_dir("data/")
run.log_artifact(art, aliases=["best"])`}</pre>
          </Empty>
        ) : (
          <div className="artifacts-layout">
            <nav className="card artifact-tree" data-testid="artifact-tree">
              {byType.map(([type, items]) => (
                <div key={type} className="artifact-type">
                  <div className="picker-title">
                    {type} <span className="muted">{items.length}</span>
                  </div>
                  {items.map((a) => (
                    <button
                      key={a.name}
                      className={`tree-file ${chosen === a.name ? "active" : ""}`}
                      onClick={() => setName(a.name)}
                      data-artifact={a.name}
                      title={a.description || a.name}
                    >
                      <span className="tree-name">{a.name}</span>
                      <span className="muted small">
                        {a.latest ?? ""} · {timeAgo(a.updated_at)}
                      </span>
                    </button>
                  ))}
                </div>
              ))}
            </nav>
            {chosen ? <Versions key={chosen} entity={entity} project={project} name={chosen} /> : null}
          </div>
        )}
      </main>
    </div>
  );
}
