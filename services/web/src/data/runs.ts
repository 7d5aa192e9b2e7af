import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { useLiveTick } from "./live";
import { chartReadCount, whenChartsRead } from "./seriesStore";
import type { Run } from "./types";

/** Orders the runs endpoint can apply itself; any other column is sorted in the browser. */
export const SERVER_ORDERS = new Set(["created_at", "updated_at", "name", "state"]);
const FIRST_PAGE = 200; // small, so the table shows at once
const PAGE = 1000; // the API's maximum
const HOLD_MS = 3000;

export interface ProjectRuns {
  runs: Run[] | undefined;
  total: number;
  complete: boolean;
  error: Error | undefined;
}

/** A run committed by a transaction that began before our read shows an older `updated_at`: ask with overlap. */
function overlap(serverTime: string): string {
  return new Date(Date.parse(serverTime) - 10_000).toISOString();
}

/**
 * Every run of a project matching `filter` (the server's filter language), loaded page by page (the first
 * page shows at once), then kept fresh by the live layer: each change asks only for the runs updated since
 * the last answer (`updated_since`) and merges them in.
 */
export function useProjectRuns(
  entity: string,
  project: string,
  serverOrder: string | null,
  filter = "",
  firstPage = FIRST_PAGE,
  chartsFirst = false,
): ProjectRuns {
  const [state, setState] = useState<ProjectRuns>({ runs: undefined, total: 0, complete: false, error: undefined });
  const [reload, setReload] = useState(0);
  const stateRef = useRef(state);
  stateRef.current = state;
  const sinceRef = useRef<string | null>(null);
  const tick = useLiveTick({ kind: "project-runs", entity, project });

  // the first page is read once, with the size first asked for (a later change must not reload the list)
  const [first] = useState(() => Math.max(FIRST_PAGE, Math.min(PAGE, firstPage)));
  const [hold] = useState(chartsFirst);
  useEffect(() => {
    const ctl = new AbortController();
    const order = serverOrder ?? "-created_at";
    setState((s) => ({ ...s, runs: reload > 0 ? s.runs : undefined, error: undefined, complete: false }));
    (async () => {
      let offset = 0;
      let all: Run[] = [];
      let since: string | null = null;
      const reads = chartReadCount();
      for (;;) {
        // charts of the first N runs (all on the first page): the rest of the list waits until the charts in
        // view have their data (at most HOLD_MS), instead of competing with them for the server and the page
        if (offset > 0 && hold && reload === 0) await whenChartsRead(reads, HOLD_MS, ctl.signal);
        if (ctl.signal.aborted) return;
        const page = await api.runs(entity, project, { limit: offset === 0 ? first : PAGE, offset, order, filter: filter || undefined }, ctl.signal);
        if (since === null) since = overlap(page.server_time);
        all = offset === 0 ? page.runs : all.concat(page.runs);
        offset += page.runs.length;
        const complete = page.runs.length === 0 || offset >= page.total;
        setState({ runs: all, total: page.total, complete, error: undefined });
        if (complete) break;
      }
      sinceRef.current = since;
    })().catch((error) => {
      if (error?.name !== "AbortError") setState((s) => ({ ...s, runs: undefined, error }));
    });
    return () => ctl.abort();
  }, [entity, project, serverOrder, filter, reload]);

  useEffect(() => {
    if (tick === 0) return;
    const cur = stateRef.current;
    const since = sinceRef.current;
    if (!cur.runs || !cur.complete || !since) return;
    const ctl = new AbortController();
    api
      .runs(entity, project, { limit: PAGE, offset: 0, order: "-updated_at", filter: filter || undefined, updated_since: since }, ctl.signal)
      .then((page) => {
        const s = stateRef.current;
        if (!s.runs) return;
        if (page.total > page.runs.length) {
          setReload((n) => n + 1); // more changes than one page: load the list again
          return;
        }
        sinceRef.current = overlap(page.server_time);
        if (!page.runs.length) return;
        const fresh = new Map(page.runs.map((r) => [r.id, r]));
        const known = new Set<string>();
        let changed = false;
        const merged = s.runs.map((r) => {
          known.add(r.id);
          const f = fresh.get(r.id);
          if (f && (f.updated_at !== r.updated_at || f.state !== r.state)) {
            changed = true;
            return f;
          }
          return r;
        });
        const added = page.runs.filter((r) => !known.has(r.id));
        if (!changed && !added.length) return;
        setState({ ...s, runs: [...added, ...merged], total: s.total + added.length });
      })
      .catch(() => {
        /* a failed refresh keeps the data shown; the next change tries again */
      });
    return () => ctl.abort();
  }, [tick, entity, project, filter]);

  return state;
}
