// Jupyter notebooks (.ipynb) rendered in the page, SANITIZED: markdown cells and HTML outputs go through
// DOMPurify (no <script>, no event handlers, no javascript: URLs, no <style>/<form>/<iframe>), images are
// shown from data: URLs in <img> (an SVG there cannot run script), text outputs are text.
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo } from "react";
import { CodeView } from "./CodeView";

type Src = string | string[] | undefined;
const text = (s: Src) => (Array.isArray(s) ? s.join("") : (s ?? ""));
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

interface Output {
  output_type: string;
  name?: string;
  text?: Src;
  data?: Record<string, Src>;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

interface Cell {
  cell_type: string;
  source: Src;
  execution_count?: number | null;
  outputs?: Output[];
}

export interface Notebook {
  cells: Cell[];
  metadata?: { language_info?: { name?: string }; kernelspec?: { language?: string; display_name?: string } };
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const PURIFY = {
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "link", "meta", "base"],
  FORBID_ATTR: ["style"],
};

export function sanitizeHtml(html: string): string {
  return DOMPurify.sanitize(html, PURIFY) as unknown as string;
}

export function renderMarkdown(md: string): string {
  return sanitizeHtml(marked.parse(md, { async: false, gfm: true }) as string);
}

export function parseNotebook(raw: string): Notebook {
  const nb = JSON.parse(raw) as Notebook;
  if (!nb || !Array.isArray(nb.cells)) throw new Error("not a Jupyter notebook (no cells)");
  return nb;
}

/** An output as text for a diff: streams, errors and text/plain (images and HTML by their kind only). */
function outputText(o: Output): string {
  if (o.output_type === "stream") return text(o.text).replace(ANSI, "");
  if (o.output_type === "error") return `${o.ename}: ${o.evalue}`;
  const d = o.data ?? {};
  if (d["text/plain"]) return text(d["text/plain"]).replace(ANSI, "");
  return `<${Object.keys(d).join(", ") || o.output_type}>`;
}

/**
 * The code cells of a notebook as one script (the code comparer diffs notebooks this way). By default the
 * execution counts and outputs are left out (`# cell` headers): running a notebook again must not show as
 * a change; with `withRuns` each cell is headed `# [n]` and followed by its outputs as `#> ` lines.
 */
export function notebookCode(raw: string, withRuns = false): string {
  const nb = parseNotebook(raw);
  return nb.cells
    .filter((c) => c.cell_type === "code")
    .map((c, i) => {
      const src = text(c.source).replace(/\n$/, "");
      if (!withRuns) return `# cell\n${src}\n`;
      const joined = (c.outputs ?? []).map(outputText).join("").replace(/\n$/, "");
      const outs = joined ? joined.split("\n").map((l) => `#> ${l}`) : [];
      return `# [${c.execution_count ?? i + 1}]\n${src}\n${outs.length ? outs.join("\n") + "\n" : ""}`;
    })
    .join("\n");
}

function OutputView({ o }: { o: Output }) {
  if (o.output_type === "stream")
    return <pre className={`nb-stream ${o.name === "stderr" ? "stderr" : ""}`}>{text(o.text).replace(ANSI, "")}</pre>;
  if (o.output_type === "error")
    return (
      <pre className="nb-stream stderr nb-error">{(o.traceback?.length ? o.traceback.join("\n") : `${o.ename}: ${o.evalue}`).replace(ANSI, "")}</pre>
    );
  const d = o.data ?? {};
  if (d["image/png"] || d["image/jpeg"] || d["image/gif"]) {
    const mime = d["image/png"] ? "image/png" : d["image/jpeg"] ? "image/jpeg" : "image/gif";
    return <img className="nb-img" alt="output" src={`data:${mime};base64,${text(d[mime]).replace(/\s/g, "")}`} />;
  }
  if (d["image/svg+xml"])
    return <img className="nb-img" alt="output" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(text(d["image/svg+xml"]))}`} />;
  if (d["text/html"]) return <div className="nb-html" dangerouslySetInnerHTML={{ __html: sanitizeHtml(text(d["text/html"])) }} />;
  if (d["text/markdown"]) return <div className="nb-md" dangerouslySetInnerHTML={{ __html: renderMarkdown(text(d["text/markdown"])) }} />;
  if (d["text/plain"]) return <pre className="nb-stream">{text(d["text/plain"]).replace(ANSI, "")}</pre>;
  return <div className="muted small">(output of type {Object.keys(d).join(", ") || o.output_type} not shown)</div>;
}

export function NotebookView({ raw }: { raw: string }) {
  const nb = useMemo(() => {
    try {
      return { nb: parseNotebook(raw), error: null };
    } catch (e) {
      return { nb: null, error: (e as Error).message };
    }
  }, [raw]);
  if (!nb.nb) return <div className="error-inline">This notebook cannot be read: {nb.error}</div>;
  const lang = nb.nb.metadata?.language_info?.name ?? nb.nb.metadata?.kernelspec?.language ?? "python";
  return (
    <div className="notebook" data-testid="notebook">
      {nb.nb.cells.map((c, i) => (
        <div key={i} className={`nb-cell nb-${c.cell_type}`}>
          <div className="nb-prompt mono">{c.cell_type === "code" ? `[${c.execution_count ?? " "}]:` : ""}</div>
          <div className="nb-body">
            {c.cell_type === "markdown" ? (
              <div className="nb-md" dangerouslySetInnerHTML={{ __html: renderMarkdown(text(c.source)) }} />
            ) : c.cell_type === "code" ? (
              <>
                <CodeView code={text(c.source)} lang={lang} />
                {(c.outputs ?? []).map((o, k) => (
                  <div className="nb-output" key={k}>
                    {o.output_type === "execute_result" && <span className="nb-out-prompt mono">Out[{o.execution_count ?? " "}]:</span>}
                    <OutputView o={o} />
                  </div>
                ))}
              </>
            ) : (
              <pre className="nb-stream">{text(c.source)}</pre>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}
