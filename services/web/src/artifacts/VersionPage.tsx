// One artifact version: what it is (type, aliases, size, digest, metadata), its files (preview of text and
// images, download, all through presigned GETs), and its lineage as a small graph: the run that logged it
// and the runs that used it.
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { artifact } from "../api/client";
import type { components } from "../api/schema/artifact";
import { useResource } from "../data/hooks";
import { flatten, formatDate, formatValue, plural } from "../data/values";
import { CodeView } from "../files/CodeView";
import { humanSize } from "../files/FilesView";
import { ProjectTabs } from "../components/ProjectTabs";
import { Empty, ErrorBox, Loading } from "../components/States";
import { ProjectCrumbs, TopBar } from "../components/TopBar";
import { artifactsPath, runPath } from "./paths";

type Detail = components["schemas"]["VersionDetail"];
type ManifestFile = components["schemas"]["ManifestFile"];

const IMAGE = /\.(png|jpe?g|gif|webp|bmp)$/i;
const TEXT = /\.(txt|md|json|jsonl|ya?ml|toml|ini|cfg|csv|tsv|py|sh|log|xml|html|css|js|ts)$/i;
const PREVIEW_BYTES = 2_000_000;

function FilePreview({ f }: { f: ManifestFile }) {
  const text = !!f.url && TEXT.test(f.path) && (f.size ?? 0) <= PREVIEW_BYTES;
  const res = useResource(
    async (signal) => {
      if (!text || !f.url) return null;
      const r = await fetch(f.url, { signal, credentials: "omit" });
      if (!r.ok) throw new Error(`the object store answered ${r.status} for ${f.path}`);
      return await r.text();
    },
    [f.url, f.path],
  );
  if (f.ref) return <div className="empty">A reference to <span className="mono">{f.ref}</span>: its bytes live outside Runyard.</div>;
  if (!f.url) return <div className="empty">No preview.</div>;
  if (IMAGE.test(f.path))
    return (
      <div className="image-view">
        <img src={f.url} alt={f.path} data-testid="artifact-image" />
      </div>
    );
  if (!text) return <div className="empty">{(f.size ?? 0) > PREVIEW_BYTES ? "Too large to preview here: download it." : "No preview for this kind of file: download it."}</div>;
  if (res.error) return <ErrorBox error={res.error} />;
  if (res.data === undefined || res.data === null) return <Loading what={f.path} />;
  return <CodeView code={res.data} path={f.path} />;
}

function Files({ entity, project, name, version }: { entity: string; project: string; name: string; version: string }) {
  const res = useResource(
    (signal) =>
      artifact.get("/api/v1/artifacts/{entity}/{project}/{name}/{version}/files", {
        path: { entity, project, name, version },
        query: { urls: true, limit: 1000 },
        signal,
      }),
    [entity, project, name, version],
  );
  const [pick, setPick] = useState<string | null>(null);
  if (res.error) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="files" />;
  const files = res.data.files;
  const current = files.find((f) => f.path === pick) ?? files[0];
  if (!files.length) return <Empty title="No files">This version has no files.</Empty>;
  return (
    <div className="files-layout" data-testid="artifact-files">
      <div className="file-tree card">
        {files.map((f) => (
          <button key={f.path} className={`tree-file ${current?.path === f.path ? "active" : ""}`} onClick={() => setPick(f.path)} data-path={f.path} title={f.path}>
            <span className="tree-name">{f.path}</span>
            <span className="muted small">{f.size === null ? "ref" : humanSize(f.size)}</span>
          </button>
        ))}
        {res.data.total > files.length && <div className="muted small pad">first {files.length} of {res.data.total} files</div>}
      </div>
      {current && (
        <div className="file-viewer card" data-testid="artifact-file" data-path={current.path}>
          <div className="file-head">
            <span className="mono file-path">{current.path}</span>
            <span className="muted small">{current.size === null ? "reference" : humanSize(current.size)}</span>
            {current.url && (
              <a className="btn btn-sm" href={current.url} download={current.path.split("/").pop()} target="_blank" rel="noreferrer noopener" data-testid="artifact-download">
                Download
              </a>
            )}
          </div>
          <div className="file-body">
            <FilePreview key={current.path} f={current} />
          </div>
        </div>
      )}
    </div>
  );
}

const NODE_W = 210;
const NODE_H = 38;
const GAP = 14;
const COL = 300;

function short(s: string, n = 27): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Producer run -> this version -> consumer runs, drawn as boxes and curves; every box is a link. */
function Lineage({ d }: { d: Detail }) {
  const navigate = useNavigate();
  const left = d.created_by_run ? [d.created_by_run] : [];
  const right = d.used_by;
  const rows = Math.max(1, left.length, right.length);
  const height = rows * (NODE_H + GAP) + GAP;
  const yOf = (i: number, n: number) => (height - n * (NODE_H + GAP) + GAP) / 2 + i * (NODE_H + GAP);
  const midY = yOf(0, 1) + NODE_H / 2;
  const width = COL * 2 + NODE_W + 8;
  const node = (x: number, y: number, label: string, sub: string, to: string | null, kind: string, key: string) => (
    <g
      key={key}
      className={`lineage-node ${kind} ${to ? "link" : ""}`}
      transform={`translate(${x},${y})`}
      onClick={() => to && navigate(to)}
      data-testid={`lineage-${kind}`}
      role={to ? "link" : undefined}
    >
      <title>{`${label} (${sub})`}</title>
      <rect width={NODE_W} height={NODE_H} rx={6} />
      <text x={10} y={16} className="lineage-label">
        {short(label)}
      </text>
      <text x={10} y={30} className="lineage-sub">
        {short(sub, 32)}
      </text>
    </g>
  );
  const edge = (x1: number, y1: number, x2: number, y2: number, key: string) => (
    <path key={key} className="lineage-edge" d={`M${x1},${y1} C${x1 + 50},${y1} ${x2 - 50},${y2} ${x2},${y2}`} markerEnd="url(#arrow)" />
  );
  return (
    <div className="card lineage" data-testid="lineage">
      <h2>Lineage</h2>
      {!left.length && !right.length ? (
        <div className="muted small">No run is recorded as having logged or used this version.</div>
      ) : null}
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} className="lineage-svg">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="lineage-arrow" />
          </marker>
        </defs>
        {left.map((_, i) => edge(NODE_W, yOf(i, left.length) + NODE_H / 2, COL, midY, `le${i}`))}
        {right.map((_, i) => edge(COL + NODE_W, midY, COL * 2, yOf(i, right.length) + NODE_H / 2, `re${i}`))}
        {left.map((r, i) => node(0, yOf(i, left.length), r.run_id, `logged it · ${r.entity}/${r.project}`, runPath(r.entity, r.project, r.run_id), "producer", `l${i}`))}
        {node(COL, yOf(0, 1), `${d.name}:${d.version}`, `${d.type} · ${humanSize(d.size)}`, null, "version", "v")}
        {right.map((r, i) => node(COL * 2, yOf(i, right.length), r.run_id, `used it · ${r.entity}/${r.project}`, runPath(r.entity, r.project, r.run_id), "consumer", `r${i}`))}
      </svg>
      <div className="muted small lineage-legend">
        {left.length ? "1 run logged it" : "no producing run"} · {plural(right.length, "run")} used it
      </div>
    </div>
  );
}

export function VersionPage() {
  const { entity = "", project = "", name = "", version = "" } = useParams();
  const res = useResource(
    (signal) => artifact.get("/api/v1/artifacts/{entity}/{project}/{name}/{version}", { path: { entity, project, name, version }, signal }),
    [entity, project, name, version],
  );
  const meta = useMemo(() => flatten(res.data?.metadata ?? {}), [res.data]);
  const d = res.data;
  return (
    <div className="page">
      <TopBar
        crumbs={<ProjectCrumbs entity={entity} project={project} current={<Link to={artifactsPath(entity, project, name)}>artifacts</Link>} />}
        entity={entity}
      />
      <ProjectTabs entity={entity} project={project} current="artifacts" />
      <main className="content">
        {res.error ? (
          <>
            <ErrorBox error={res.error} />
            <p className="center-link">
              <Link to={artifactsPath(entity, project)}>Back to the artifacts</Link>
            </p>
          </>
        ) : !d ? (
          <Loading what={`${name}:${version}`} />
        ) : (
          <>
            <div className="run-head">
              <h1 data-testid="artifact-title">
                {d.name}:{d.version}
              </h1>
              <span className="tag">{d.type}</span>
              {d.aliases.map((a) => (
                <span key={a} className={`tag alias ${a === "latest" ? "alias-latest" : ""}`} data-testid="artifact-alias">
                  {a}
                </span>
              ))}
            </div>
            <div className="two-cols">
              <div className="card overview" data-testid="artifact-overview">
                <h2>Version</h2>
                <dl>
                  <dt>Name</dt>
                  <dd className="mono wrap">{d.qualified_name}</dd>
                  <dt>Size</dt>
                  <dd>
                    {humanSize(d.size)} in {plural(d.file_count, "file")}
                  </dd>
                  <dt>Created</dt>
                  <dd title={d.created_at}>{formatDate(d.created_at)}</dd>
                  <dt>Created by</dt>
                  <dd>{d.created_by_run ? <Link to={runPath(d.created_by_run.entity, d.created_by_run.project, d.created_by_run.run_id)}>{d.created_by_run.run_id}</Link> : "—"}</dd>
                  <dt>Digest</dt>
                  <dd className="mono small wrap">{d.digest}</dd>
                </dl>
                {d.description && <p className="notes">{d.description}</p>}
              </div>
              <div className="card kv-card" data-testid="artifact-metadata">
                <h2>
                  Metadata <span className="muted small">{Object.keys(meta).length}</span>
                </h2>
                {Object.keys(meta).length === 0 ? (
                  <div className="muted small pad">None.</div>
                ) : (
                  <div className="kv-scroll">
                    <table className="table kv">
                      <tbody>
                        {Object.entries(meta).map(([k, v]) => (
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
            </div>
            <Lineage d={d} />
            <h2 className="section-title">Files</h2>
            <Files entity={entity} project={project} name={d.name} version={d.version} />
          </>
        )}
      </main>
    </div>
  );
}
