// A run's Artifacts tab: the artifact versions it logged and the ones it used, each a link to its page.
import { Link } from "react-router-dom";
import { artifact } from "../api/client";
import { useResource } from "../data/hooks";
import type { components } from "../api/schema/artifact";
import { humanSize } from "../files/FilesView";
import { Empty, ErrorBox, Loading } from "../components/States";
import { versionPath } from "../artifacts/paths";

type VersionRef = components["schemas"]["VersionRef"];

function VersionTable({ title, rows, testId }: { title: string; rows: VersionRef[]; testId: string }) {
  return (
    <div className="card kv-card" data-testid={testId}>
      <h2>
        {title} <span className="muted small">{rows.length}</span>
      </h2>
      {rows.length === 0 ? (
        <div className="muted small pad">None.</div>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Artifact</th>
              <th>Type</th>
              <th className="num">Size</th>
              <th>Project</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((v) => (
              <tr key={v.qualified_name} data-artifact={v.qualified_name}>
                <td>
                  <Link to={versionPath(v.entity, v.project, v.name, v.version)} className="strong-link">
                    {v.name}:{v.version}
                  </Link>
                </td>
                <td>
                  <span className="tag">{v.type}</span>
                </td>
                <td className="num">{humanSize(v.size)}</td>
                <td className="muted">
                  {v.entity}/{v.project}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function RunArtifacts({ entity, project, runId }: { entity: string; project: string; runId: string }) {
  const res = useResource(
    (signal) => artifact.get("/api/v1/runs/{entity}/{project}/{run_id}/artifacts", { path: { entity, project, run_id: runId }, signal }),
    [entity, project, runId],
  );
  if (res.error && !res.data) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="artifacts" />;
  if (!res.data.logged.length && !res.data.used.length)
    return (
      <Empty title="This run has no artifacts">
        <p>Versioned datasets and models a run logs or uses appear here:</p>
        <pre className="snippet">{`art = runyard.Artifact("mnist", type="dataset")
art.add_file("data.npz")
run.log_artifact(art)          # logged by this run
run.use_artifact("mnist:latest")  # used by this run`}</pre>
      </Empty>
    );
  return (
    <div className="two-cols">
      <VersionTable title="Logged by this run" rows={res.data.logged} testId="artifacts-logged" />
      <VersionTable title="Used by this run" rows={res.data.used} testId="artifacts-used" />
    </div>
  );
}
