// What every panel of a workspace (or of a run's Charts tab) shares: the runs shown and their colours,
// the groups when runs are grouped, the workspace's chart settings, the series stores (one per x axis and
// sampling, each reading through the batched history endpoint) and the media of the runs.
import { createContext, useContext, useEffect, useMemo, useRef, useState } from "react";
import { query } from "../api/client";
import type { components } from "../api/schema/query";
import { bandsFor, SeriesStore } from "../data/seriesStore";
import { mediaKindOf, type MediaKind } from "./layout";

export interface PanelRun {
  id: string;
  name: string;
  color: string;
  running: boolean;
}

export interface PanelGroup {
  /** The group's value, as shown ("adam", "(none)"). */
  name: string;
  color: string;
  runIds: string[];
}

export type BandMode = "minmax" | "std" | "none";

export interface ChartSettings {
  smoothing: number;
  logY: boolean;
  /** "step", "relative", "wall" or a metric key. */
  x: string;
  band: BandMode;
}

export type MediaSeries = components["schemas"]["MediaSeries"];
/** run id -> key -> that run's JSON values of the key. */
export type MediaData = Map<string, Map<string, MediaSeries>>;

export interface PanelsEnv {
  entity: string;
  project: string;
  runs: PanelRun[];
  groups: PanelGroup[] | null;
  settings: ChartSettings;
  /** The store for an `x=` key (undefined: steps), sized for the number of runs shown. */
  store: (x: string | undefined) => SeriesStore;
  media: MediaData | undefined;
  mediaError: string | null;
  /** Bumped when running runs logged more (live). */
  tick: number;
  /** Panels can be edited, moved, resized and removed. */
  editable: boolean;
}

export const PanelsContext = createContext<PanelsEnv | null>(null);

export function usePanels(): PanelsEnv {
  const env = useContext(PanelsContext);
  if (!env) throw new Error("usePanels outside a PanelsContext");
  return env;
}

/** Buckets per line: fewer as lines get many (a chart is ~400 px wide; about 60-80,000 points a chart). */
export function samplesFor(runs: number): number {
  return runs <= 40 ? 500 : runs <= 120 ? 300 : runs <= 300 ? 200 : runs <= 600 ? 120 : 80;
}

/**
 * The series stores of a set of runs: one per x key, sized by the number of runs (fewer buckets and no
 * per-run bands for many lines). Stores live as long as the entity, project and sizing stay; running runs
 * are re-read on each live tick.
 */
export function useStores(entity: string, project: string, runs: PanelRun[], tick: number, expected?: number): (x: string | undefined) => SeriesStore {
  // sized for the runs that will be shown once every page of runs is in (not for the first page: a store
  // sized for 200 runs would be thrown away, its requests cut, when the other 800 arrive)
  const n = Math.max(runs.length, expected ?? 0);
  const samples = samplesFor(n);
  const bands = bandsFor(n);
  const stores = useRef(new Map<string, SeriesStore>());
  const ident = `${entity}/${project}|${samples}|${bands}`;
  const identRef = useRef(ident);
  if (identRef.current !== ident) {
    stores.current.forEach((s) => s.close());
    stores.current = new Map();
    identRef.current = ident;
  }
  useEffect(() => () => stores.current.forEach((s) => s.close()), []);
  const running = runs.filter((r) => r.running).map((r) => r.id).join(",");
  const lastTick = useRef(tick);
  useEffect(() => {
    if (tick === lastTick.current) return;
    lastTick.current = tick;
    if (running) stores.current.forEach((s) => s.refresh(running.split(",")));
  }, [tick, running]);
  return useMemo(
    () => (x: string | undefined) => {
      const k = x ?? "";
      let s = stores.current.get(k);
      if (!s) {
        s = new SeriesStore({ entity, project, samples, bands, x });
        stores.current.set(k, s);
      }
      return s;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [ident],
  );
}

const MEDIA_RUNS = 50;

/** The JSON-valued history (media) of the first runs shown, read in one request; refreshed when `tick` moves. */
export function useMedia(entity: string, project: string, runIds: string[], tick: number, enabled = true): { data: MediaData | undefined; error: string | null } {
  const [state, setState] = useState<{ data: MediaData | undefined; error: string | null }>({ data: undefined, error: null });
  const ids = runIds.slice(0, MEDIA_RUNS).join(",");
  useEffect(() => {
    if (!enabled) return;
    if (!ids) {
      setState({ data: new Map(), error: null });
      return;
    }
    const ctl = new AbortController();
    query
      .post("/api/v1/projects/{entity}/{project}/media", { path: { entity, project }, body: { runs: ids.split(",") }, signal: ctl.signal })
      .then(
        (res) => {
          const data: MediaData = new Map();
          for (const r of res.runs) data.set(r.run_id, new Map(Object.entries(r.media)));
          setState({ data, error: null });
        },
        (e) => e?.name !== "AbortError" && setState((s) => ({ data: s.data, error: String(e.message ?? e) })),
      );
    return () => ctl.abort();
  }, [entity, project, ids, tick, enabled]);
  return state;
}

/** Media keys of the runs and the kind of panel each gets (from its latest value). */
export function mediaKinds(media: MediaData | undefined): Map<string, MediaKind> {
  const out = new Map<string, MediaKind>();
  if (!media) return out;
  for (const m of media.values())
    for (const [k, s] of m) if (!out.has(k) && s.values.length) out.set(k, mediaKindOf(s.values[s.values.length - 1]));
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Subscribe to a store; returns its version (a dependency that changes as lines arrive). */
export function useStoreVersion(store: SeriesStore): number {
  const [v, setV] = useState(store.version);
  useEffect(() => {
    setV(store.version);
    return store.subscribe(() => setV(store.version));
  }, [store]);
  return v;
}
