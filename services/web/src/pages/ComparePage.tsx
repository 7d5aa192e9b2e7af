// Code comparer: two runs' code files (code/...) side by side, changed lines highlighted, and a config diff.
// Notebooks (and the session history) are reduced to their code cells first. State lives in the URL
// (?a=RUN&b=RUN&file=PATH), so a comparison can be shared.
import { diffLines } from "diff";
import { Fragment, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, fileText } from "../data/api";
import { useResource } from "../data/hooks";
import type { JsonValue, Run, RunFile } from "../data/types";
import { useUrlParam } from "../data/urlState";
import { flatten, formatValue } from "../data/values";
import { highlight, languageOf } from "../files/highlight";
import { notebookCode } from "../files/NotebookView";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TopBar, ProjectCrumbs } from "../components/TopBar";

const PREFIX = "code/";
const CONTEXT = 4;

type Row =
  | { kind: "same" | "changed" | "removed" | "added"; left: string | null; right: string | null; ln: number | null; rn: number | null }
  | { kind: "skip"; count: number };

function splitLines(s: string): string[] {
  const out = s.split("\n");
  if (out.length && out[out.length - 1] === "") out.pop();
  return out;
}

export function sideBySide(a: string, b: string): Row[] {
  const parts = diffLines(a, b);
  const rows: Row[] = [];
  let ln = 1;
  let rn = 1;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const lines = splitLines(p.value);
    if (p.removed && parts[i + 1]?.added) {
      const add = splitLines(parts[i + 1].value);
      for (let k = 0; k < Math.max(lines.length, add.length); k++) {
        const l = k < lines.length ? lines[k] : null;
        const r = k < add.length ? add[k] : null;
        rows.push({ kind: l !== null && r !== null ? "changed" : l !== null ? "removed" : "added", left: l, right: r, ln: l !== null ? ln++ : null, rn: r !== null ? rn++ : null });
      }
      i++;
    } else if (p.removed) for (const l of lines) rows.push({ kind: "removed", left: l, right: null, ln: ln++, rn: null });
    else if (p.added) for (const r of lines) rows.push({ kind: "added", left: null, right: r, ln: null, rn: rn++ });
    else for (const l of lines) rows.push({ kind: "same", left: l, right: l, ln: ln++, rn: rn++ });
  }
  if (rows.every((r) => r.kind === "same")) return rows; // identical: show it all
  // fold long unchanged stretches
  const keep = rows.map((r, i) => r.kind !== "same" || rows.slice(Math.max(0, i - CONTEXT), i + CONTEXT + 1).some((x) => x.kind !== "same"));
  const out: Row[] = [];
  let skipped = 0;
  rows.forEach((r, i) => {
    if (keep[i]) {
      if (skipped) out.push({ kind: "skip", count: skipped });
      skipped = 0;
      out.push(r);
    } else skipped++;
  });
  if (skipped) out.push({ kind: "skip", count: skipped });
  return out;
}

async function codeOf(entity: string, project: string, runId: string, path: string | undefined, signal: AbortSignal): Promise<string | null> {
  if (!path) return null;
  const raw = await fileText(entity, project, runId, path, 5_000_000, signal);
  if (path.toLowerCase().endsWith(".ipynb")) {
    try {
      return notebookCode(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

async function codeFiles(entity: string, project: string, runId: string, signal: AbortSignal): Promise<RunFile[]> {
  try {
    return (await api.files(entity, project, runId, { prefix: PREFIX, recursive: true, limit: 1000 }, signal)).files;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return [];
    throw e;
  }
}

function Code({ text, lang }: { text: string | null; lang: string }) {
  if (text === null) return <td className="code empty-side" />;
  return <td className="code hljs" dangerouslySetInnerHTML={{ __html: highlight(text, lang) || " " }} />;
}

function FileDiff({ a, b, path }: { a: string | null; b: string | null; path: string }) {
  const rows = useMemo(() => sideBySide(a ?? "", b ?? ""), [a, b]);
  const lang = languageOf(path.replace(/\.ipynb$/i, ".py"));
  const changed = rows.filter((r) => r.kind !== "same" && r.kind !== "skip").length;
  return (
    <div className="card diff-card" data-testid="file-diff" data-path={path}>
      <div className="file-head">
        <span className="mono file-path">{path}</span>
        <span className="muted small">
          {a === null ? "only in B" : b === null ? "only in A" : changed ? `${changed} changed line${changed === 1 ? "" : "s"}` : "identical"}
        </span>
      </div>
      <table className="diff-table">
        <colgroup>
          <col className="ln-col" />
          <col />
          <col className="ln-col" />
          <col />
        </colgroup>
        <tbody>
          {rows.map((r, i) =>
            r.kind === "skip" ? (
              <tr key={i} className="diff-skip">
                <td colSpan={4}>… {r.count} unchanged lines</td>
              </tr>
            ) : (
              <tr key={i} className={`diff-row diff-${r.kind}`} data-kind={r.kind}>
                <td className="ln">{r.ln ?? ""}</td>
                <Code text={r.left} lang={lang} />
                <td className="ln">{r.rn ?? ""}</td>
                <Code text={r.right} lang={lang} />
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

function ConfigDiff({ a, b }: { a: Run; b: Run }) {
  const [onlyChanged, setOnly] = useState(true);
  const fa = flatten(a.config);
  const fb = flatten(b.config);
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  const same = (x: JsonValue | undefined, y: JsonValue | undefined) => JSON.stringify(x) === JSON.stringify(y);
  const shown = keys.filter((k) => !onlyChanged || !same(fa[k], fb[k]));
  return (
    <div className="card kv-card config-diff" data-testid="config-diff">
      <div className="card-head">
        <h2>Config</h2>
        <label className="small">
          <input type="checkbox" checked={onlyChanged} onChange={(e) => setOnly(e.target.checked)} /> only differences
        </label>
      </div>
      {shown.length === 0 ? (
        <div className="muted small pad">{keys.length ? "The configs are identical." : "Neither run has a config."}</div>
      ) : (
        <table className="table kv">
          <thead>
            <tr>
              <th>key</th>
              <th>A</th>
              <th>B</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((k) => (
              <tr key={k} className={same(fa[k], fb[k]) ? "" : "kv-changed"} data-key={k}>
                <td className="mono kv-key">{k}</td>
                <td className="mono">{k in fa ? formatValue(fa[k]) : "—"}</td>
                <td className="mono">{k in fb ? formatValue(fb[k]) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function ComparePage() {
  const { entity = "", project = "" } = useParams();
  const [aParam] = useUrlParam("a");
  const [bParam] = useUrlParam("b");
  const [fileParam, setFile] = useUrlParam("file");
  const a = aParam ?? "";
  const b = bParam ?? "";
  const runs = useResource((signal) => (a && b ? Promise.all([api.run(entity, project, a, signal), api.run(entity, project, b, signal)]) : Promise.resolve(null)), [entity, project, a, b]);
  const files = useResource(
    (signal) => (a && b ? Promise.all([codeFiles(entity, project, a, signal), codeFiles(entity, project, b, signal)]) : Promise.resolve(null)),
    [entity, project, a, b],
  );
  const paths = useMemo(() => {
    if (!files.data) return [];
    const [fa, fb] = files.data;
    const m = new Map<string, { a?: RunFile; b?: RunFile }>();
    for (const f of fa) m.set(f.path, { ...m.get(f.path), a: f });
    for (const f of fb) m.set(f.path, { ...m.get(f.path), b: f });
    return [...m.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([path, v]) => ({ path, ...v, same: v.a?.sha256 === v.b?.sha256 }));
  }, [files.data]);
  const current = paths.find((p) => p.path === fileParam) ?? paths.find((p) => !p.same) ?? paths[0];
  const texts = useResource(
    (signal) =>
      current
        ? Promise.all([codeOf(entity, project, a, current.a?.path, signal), codeOf(entity, project, b, current.b?.path, signal)]).then(
            ([ta, tb]) => ({ path: current.path, a: ta, b: tb }),
          )
        : Promise.resolve(null),
    [entity, project, a, b, current?.path, current?.a?.sha256, current?.b?.sha256],
  );

  const crumbs = <ProjectCrumbs entity={entity} project={project} current={"compare code"} />;
  const runLink = (r: Run, label: string) => (
    <span className="compare-run">
      <span className="compare-label">{label}</span>
      <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link>
      <span className="muted mono small">{r.id}</span>
    </span>
  );

  return (
    <div className="page">
      <TopBar crumbs={crumbs} />
      <main className="content">
        {!a || !b ? (
          <Empty title="Pick two runs">
            Select exactly two runs in the <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`}>runs table</Link> and press
            “Compare code”.
          </Empty>
        ) : runs.error ? (
          <ErrorBox error={runs.error} />
        ) : !runs.data ? (
          <Loading what="runs" />
        ) : (
          <>
            <div className="run-head compare-head" data-testid="compare-head">
              <h1>Compare code</h1>
              {runLink(runs.data[0], "A")}
              <span className="muted">vs</span>
              {runLink(runs.data[1], "B")}
            </div>
            <div className="compare-layout">
              <div className="compare-main">
                {files.error ? (
                  <ErrorBox error={files.error} />
                ) : !files.data ? (
                  <Loading what="code files" />
                ) : paths.length === 0 ? (
                  <Empty title="No code saved">Neither run has files under code/ (the SDK saves the script or notebook there).</Empty>
                ) : (
                  <>
                    <div className="compare-files" data-testid="compare-files">
                      {paths.map((p) => (
                        <button
                          key={p.path}
                          className={`chip ${current?.path === p.path ? "active" : ""}`}
                          onClick={() => setFile(p.path)}
                          title={p.same ? "identical" : !p.a ? "only in B" : !p.b ? "only in A" : "changed"}
                        >
                          {p.path.slice(PREFIX.length)}
                          {!p.same && <span className="chip-dot" />}
                        </button>
                      ))}
                    </div>
                    {texts.error ? (
                      <ErrorBox error={texts.error} />
                    ) : !texts.data || !current || texts.data.path !== current.path ? (
                      // the previous file's texts stay in the resource while the next one loads: never
                      // show them under the new file's name
                      <Loading what={current?.path ?? "code"} />
                    ) : (
                      <Fragment key={current.path}>
                        <FileDiff a={texts.data.a} b={texts.data.b} path={current.path} />
                      </Fragment>
                    )}
                  </>
                )}
              </div>
              <ConfigDiff a={runs.data[0]} b={runs.data[1]} />
            </div>
          </>
        )}
      </main>
    </div>
  );
}
