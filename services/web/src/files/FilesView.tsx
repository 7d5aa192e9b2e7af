import { useEffect, useMemo, useState } from "react";
import { api, fileText, fileUrl } from "../data/api";
import { useResource } from "../data/hooks";
import type { RunFile } from "../data/types";
import { useUrlParam } from "../data/urlState";
import { formatDate } from "../data/values";
import { ErrorBox, Loading } from "../components/States";
import { CodeView } from "./CodeView";
import { NotebookView } from "./NotebookView";

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const TEXT = /\.(py|pyi|txt|md|json|jsonl|ya?ml|toml|ini|cfg|sh|bash|patch|diff|log|csv|tsv|js|mjs|ts|tsx|html|xml|css|sql|r|c|h|cpp|hpp|java|go|rs|ipynb)$|(^|\/)(Dockerfile|Makefile|LICENSE|README)$/i;

export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

interface Node {
  name: string;
  path: string;
  file?: RunFile;
  children: Map<string, Node>;
}

function buildTree(files: RunFile[]): Node {
  const root: Node = { name: "", path: "", children: new Map() };
  for (const f of files) {
    const parts = f.path.split("/");
    let n = root;
    parts.forEach((p, i) => {
      let c = n.children.get(p);
      if (!c) {
        c = { name: p, path: parts.slice(0, i + 1).join("/"), children: new Map() };
        n.children.set(p, c);
      }
      if (i === parts.length - 1) c.file = f;
      n = c;
    });
  }
  return root;
}

function TreeNode({ node, depth, selected, onSelect, small }: { node: Node; depth: number; selected: string | null; onSelect: (p: string) => void; small: boolean }) {
  // small trees open fully; large ones show the top level and the way to the selected file
  const [open, setOpen] = useState(small || depth < 1 || (selected ?? "").startsWith(node.path + "/"));
  const kids = [...node.children.values()].sort((a, b) => Number(!!a.file) - Number(!!b.file) || a.name.localeCompare(b.name));
  if (node.file && node.children.size === 0)
    return (
      <button
        className={`tree-file ${selected === node.path ? "active" : ""}`}
        style={{ paddingLeft: 8 + depth * 14 }}
        onClick={() => onSelect(node.path)}
        data-path={node.path}
        title={node.path}
      >
        <span className="tree-name">{node.name}</span>
        <span className="muted small">{humanSize(node.file.size)}</span>
      </button>
    );
  return (
    <div className="tree-dir">
      {depth >= 0 && node.name && (
        <button className="tree-folder" style={{ paddingLeft: 8 + depth * 14 }} onClick={() => setOpen((o) => !o)}>
          <span className={`caret ${open ? "open" : ""}`}>▸</span> {node.name}/
        </button>
      )}
      {(open || !node.name) && kids.map((k) => <TreeNode key={k.path} node={k} depth={node.name ? depth + 1 : depth} selected={selected} onSelect={onSelect} small={small} />)}
    </div>
  );
}

async function allFiles(entity: string, project: string, runId: string, signal: AbortSignal): Promise<RunFile[]> {
  const first = await api.files(entity, project, runId, { recursive: true, limit: 1000 }, signal);
  return first.files;
}

export function FileViewer({ entity, project, runId, file }: { entity: string; project: string; runId: string; file: RunFile }) {
  const isImage = IMAGE.test(file.path) || file.content_type.startsWith("image/");
  const isText = !isImage && (TEXT.test(file.path) || file.content_type.startsWith("text/") || file.content_type.includes("json"));
  const res = useResource(
    (signal) => (isText ? fileText(entity, project, runId, file.path, 5_000_000, signal) : Promise.resolve("")),
    [entity, project, runId, file.path, file.sha256],
  );
  return (
    <div className="file-viewer card" data-testid="file-viewer" data-path={file.path}>
      <div className="file-head">
        <span className="mono file-path">{file.path}</span>
        <span className="muted small">
          {humanSize(file.size)} · {file.content_type || "unknown type"} · {formatDate(file.uploaded_at)}
        </span>
        <a className="btn btn-sm" href={fileUrl(entity, project, runId, file.path, true)} data-testid="download" download>
          Download
        </a>
      </div>
      <div className="file-body">
        {isImage ? (
          <div className="image-view">
            <img src={fileUrl(entity, project, runId, file.path)} alt={file.path} data-testid="image-view" />
          </div>
        ) : !isText ? (
          <div className="empty">No preview for this kind of file. Download it to open it.</div>
        ) : res.error ? (
          <ErrorBox error={res.error} />
        ) : res.data === undefined ? (
          <Loading what={file.path} />
        ) : file.path.toLowerCase().endsWith(".ipynb") ? (
          <NotebookView raw={res.data} />
        ) : (
          <CodeView code={res.data} path={file.path} />
        )}
      </div>
    </div>
  );
}

export function FilesView({ entity, project, runId }: { entity: string; project: string; runId: string }) {
  const res = useResource((signal) => allFiles(entity, project, runId, signal), [entity, project, runId]);
  const [fileParam, setFile] = useUrlParam("file");
  const tree = useMemo(() => buildTree(res.data ?? []), [res.data]);
  const byPath = useMemo(() => new Map((res.data ?? []).map((f) => [f.path, f])), [res.data]);
  const selected = fileParam && byPath.has(fileParam) ? byPath.get(fileParam)! : null;
  useEffect(() => {
    // nothing chosen: open the first code file (or the first file)
    if (!fileParam && res.data?.length) {
      const first = res.data.find((f) => f.path.startsWith("code/")) ?? res.data[0];
      setFile(first.path);
    }
  }, [fileParam, res.data, setFile]);
  if (res.error && !res.data) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="files" />;
  if (!res.data.length)
    return (
      <div className="empty" data-testid="files-empty">
        This run has no files yet. Code, requirements and files saved with <code>run.save()</code> appear here.
      </div>
    );
  return (
    <div className="files-layout">
      <div className="file-tree card" data-testid="file-tree">
        <TreeNode node={tree} depth={0} selected={selected?.path ?? null} onSelect={(p) => setFile(p)} small={res.data.length <= 60} />
      </div>
      {selected ? (
        <FileViewer entity={entity} project={project} runId={runId} file={selected} />
      ) : (
        <div className="empty">{fileParam ? `No file ${fileParam} in this run.` : "Choose a file."}</div>
      )}
    </div>
  );
}
