import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { api } from "../data/api";
import type { OutputLine } from "../data/types";
import { ErrorBox, Loading } from "../components/States";

const INITIAL = 2000; // last lines shown at first
const KEEP = 20000; // lines kept in the page
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** The run's console output: the last lines, then new ones as the run logs (live tick), kept scrolled to the end. */
export function ConsoleLog({ entity, project, runId, tick, running }: { entity: string; project: string; runId: string; tick: number; running: boolean }) {
  const [lines, setLines] = useState<OutputLine[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<Error | null>(null);
  const [q, setQ] = useState("");
  const nextRef = useRef<number | null>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const busy = useRef(false);

  useEffect(() => {
    const ctl = new AbortController();
    nextRef.current = null;
    setLines(null);
    api.output(entity, project, runId, { tail: true, limit: INITIAL }, ctl.signal).then(
      (r) => {
        nextRef.current = r.next_after;
        setLines(r.lines);
        setTotal(r.total);
      },
      (e) => e?.name !== "AbortError" && setError(e),
    );
    return () => ctl.abort();
  }, [entity, project, runId]);

  useEffect(() => {
    if (tick === 0 || nextRef.current === null || busy.current) return;
    busy.current = true;
    (async () => {
      for (;;) {
        const r = await api.output(entity, project, runId, { after: nextRef.current!, limit: 5000 });
        nextRef.current = r.next_after;
        setTotal(r.total);
        if (r.lines.length) setLines((prev) => (prev ?? []).concat(r.lines).slice(-KEEP));
        if (r.lines.length < 5000) break;
      }
    })()
      .catch(() => undefined)
      .finally(() => (busy.current = false));
  }, [tick, entity, project, runId]);

  useLayoutEffect(() => {
    const el = boxRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  if (error && !lines) return <ErrorBox error={error} />;
  if (!lines) return <Loading what="console output" />;
  const f = q.toLowerCase();
  const shown = f ? lines.filter((l) => l.line.toLowerCase().includes(f)) : lines;
  return (
    <div className="console card" data-testid="console">
      <div className="console-head">
        <input className="input input-sm" placeholder="Find in output" value={q} onChange={(e) => setQ(e.target.value)} />
        <span className="muted small">
          {total.toLocaleString("en-US")} lines{total > lines.length ? ` (last ${lines.length.toLocaleString("en-US")} shown)` : ""}
          {running ? " · following" : ""}
        </span>
      </div>
      {lines.length === 0 ? (
        <div className="empty">No console output{running ? " yet" : ""}.</div>
      ) : (
        <div
          className="console-body mono"
          ref={boxRef}
          onScroll={(e) => {
            const el = e.currentTarget;
            stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
          }}
          data-testid="console-body"
        >
          {shown.map((l) => (
            <div key={l.line_no} className={`console-line ${l.stream === "stderr" ? "stderr" : ""}`}>
              <span className="console-ln">{l.line_no + 1}</span>
              <span className="console-text">{l.line.replace(ANSI, "")}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
