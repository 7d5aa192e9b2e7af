import { useMemo } from "react";
import { highlight, languageOf } from "./highlight";

/** Highlighted code with line numbers. */
export function CodeView({ code, path, lang }: { code: string; path?: string; lang?: string }) {
  const language = lang ?? languageOf(path ?? "");
  const lines = useMemo(() => {
    // highlight the whole text once, then split into lines, closing/reopening spans across line breaks
    const html = highlight(code, language);
    const out: string[] = [];
    const open: string[] = [];
    let cur = "";
    const re = /(<span[^>]*>)|(<\/span>)|(\n)|([^<\n]+|<)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(html))) {
      if (m[1]) {
        open.push(m[1]);
        cur += m[1];
      } else if (m[2]) {
        open.pop();
        cur += m[2];
      } else if (m[3]) {
        out.push(cur + "</span>".repeat(open.length));
        cur = open.join("");
      } else cur += m[4];
    }
    out.push(cur + "</span>".repeat(open.length));
    if (out.length > 1 && out[out.length - 1] === "") out.pop();
    return out;
  }, [code, language]);
  return (
    <div className="code-view" data-testid="code-view" data-lang={language}>
      <table className="code-table">
        <tbody>
          {lines.map((l, i) => (
            <tr key={i}>
              <td className="ln">{i + 1}</td>
              <td className="code hljs" dangerouslySetInnerHTML={{ __html: l || " " }} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
