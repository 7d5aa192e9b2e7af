import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { useLiveTick } from "./live";
import type { Run } from "./types";

/** Orders the runs endpoint can apply itself; any other column is sorted in the browser. */
export const SERVER_ORDERS = new Set(["created_at", "updated_at", "name", "state"]);
const FIRST_PAGE = 200; // small, so the table shows at once
const PAGE = 1000; // the API's maximum
const LIVE_WINDOW = 50;

export interface ProjectRuns {
  runs: Run[] | undefined;
  total: number;
  complete: boolean;
  error: Error | undefined;
}

/**
 * Every run of a project, loaded page by page (the first page shows at once), then kept fresh by the
 * live layer: each tick asks only for the few most recently updated runs and merges them in.
 */
export function useProjectRuns(entity: string, project: string, serverOrder: string | null): ProjectRuns {
  const [state, setState] = useState<ProjectRuns>({ runs: undefined, total: 0, complete: false, error: undefined });
  const [reload, setReload] = useState(0);
  const stateRef = useRef(state);
  stateRef.current = state;
  const tick = useLiveTick({ kind: "project-runs", entity, project });

  useEffect(() => {
    const ctl = new AbortController();
    const order = serverOrder ?? "-created_at";
    (async () => {
      let offset = 0;
      let all: Run[] = [];
      for (;;) {
        const page = await api.runs(entity, project, { limit: offset === 0 ? FIRST_PAGE : PAGE, offset, order }, ctl.signal);
        all = offset === 0 ? page.runs : all.concat(page.runs);
        offset += page.runs.length;
        const complete = page.runs.length === 0 || offset >= page.total;
        setState({ runs: all, total: page.total, complete, error: undefined });
        if (complete) break;
      }
    })().catch((error) => {
      if (error?.name !== "AbortError") setState((s) => ({ ...s, error }));
    });
    return () => ctl.abort();
  }, [entity, project, serverOrder, reload]);

  useEffect(() => {
    if (tick === 0) return;
    const cur = stateRef.current;
    if (!cur.runs || !cur.complete) return;
    const ctl = new AbortController();
    api
      .runs(entity, project, { limit: LIVE_WINDOW, offset: 0, order: "-updated_at" }, ctl.signal)
      .then((page) => {
        const s = stateRef.current;
        if (!s.runs) return;
        const fresh = new Map(page.runs.map((r) => [r.id, r]));
        let changed = false;
        const known = new Set<string>();
        const merged = s.runs.map((r) => {
          known.add(r.id);
          const f = fresh.get(r.id);
          if (f && f.updated_at !== r.updated_at) {
            changed = true;
            return f;
          }
          return f ?? r;
        });
        const added = page.runs.filter((r) => !known.has(r.id));
        if (merged.length + added.length < page.total) {
          setReload((n) => n + 1); // more new runs than the window shows: load the list again
          return;
        }
        if (added.length || changed) setState({ ...s, runs: [...added, ...merged], total: page.total });
      })
      .catch(() => {
        /* a failed refresh keeps the data shown; the next tick tries again */
      });
    return () => ctl.abort();
  }, [tick, entity, project]);

  return state;
}
