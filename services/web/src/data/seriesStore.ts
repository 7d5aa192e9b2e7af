// Chart series of many runs, read through the batched history endpoint (POST .../projects/{e}/{p}/history,
// docs/api.md): every chart asks the store for (runs, keys) it shows; what is neither stored nor on its way is
// gathered while the current task runs and read in ONE streamed request per batch, whatever the number of
// charts and runs. A new page of runs or a new chart only asks for what is missing: nothing in flight is
// cancelled and sent again. Lines arrive as the server reads them; subscribers hear about them at once the
// first time, then at most every few seconds (and at once when a request ends), so a chart of 1,000 runs is
// redrawn a handful of times, not 1,000.
import { query } from "../api/client";
import type { components } from "../api/schema/query";

type WireSeries = components["schemas"]["BatchSeriesOut"] | components["schemas"]["PackedSeriesOut"];
type Line = components["schemas"]["BatchHistoryLine"];

/** A series as the charts use it: numbers, NaN where a value is missing or not finite. */
export interface BatchSeries {
  step: ArrayLike<number>;
  value: ArrayLike<number>;
  /** Per-bucket min and max (with bands), else null. */
  min: ArrayLike<number> | null;
  max: ArrayLike<number> | null;
  /** The x key's value at each step (with `x=`), else null. */
  x: ArrayLike<number> | null;
}

const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;

function fromBase64(s: string): ArrayBuffer {
  if (nativeFromBase64) return nativeFromBase64(s).buffer as ArrayBuffer;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function numbers(a: (number | string | null)[] | undefined): number[] | null {
  if (!a || !a.length) return null;
  return a.map((v) => (typeof v === "number" ? v : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : NaN));
}

/** A wire series (packed base64 arrays, or JSON lists) as numbers. */
export function toSeries(w: WireSeries): BatchSeries {
  if ("n" in w) {
    const f32 = (b: string | null | undefined) => (b ? new Float32Array(fromBase64(b)) : null);
    return {
      step: !w.n ? [] : w.step_type === "i4" ? new Int32Array(fromBase64(w.step)) : new Float64Array(fromBase64(w.step)),
      value: w.n ? new Float32Array(fromBase64(w.value)) : [],
      min: w.n ? f32(w.min) : null,
      max: w.n ? f32(w.max) : null,
      x: w.n && w.x ? new Float64Array(fromBase64(w.x)) : null,
    };
  }
  return { step: w.step, value: numbers(w.value) ?? [], min: numbers(w.min), max: numbers(w.max), x: numbers(w.x) };
}

export interface StoreParams {
  entity: string;
  project: string;
  /** Buckets per series. */
  samples: number;
  /** Ask for each bucket's min/max (bands drawn around few lines). */
  bands: boolean;
  /** `x=` (e.g. "_timestamp"), or undefined for steps. */
  x?: string;
}

// While lines stream in, charts hear about them at once the first time (something shows quickly), then at
// most every NOTIFY_MS, and at once when a request ends: redrawing 1,000 lines costs more than reading them.
const NOTIFY_MS = 3000;
const MAX_RUNS = 1000; // the endpoint's limits (routes/history_batch.py)
const MAX_KEYS = 100;
const MAX_POINTS = 10_000_000;

// The page's chart reads, across stores: the rest of a long runs list waits for the first of them (see
// whenChartsRead), so that the charts in view are not slowed by pages of the table nobody sees yet.
let chartReads = 0;
let chartReadsDone = 0;
const chartReadWaiters = new Set<() => void>();

function chartReadEnded(): void {
  chartReadsDone++;
  // once the charts have drawn what arrived (two frames on)
  if (chartReads === chartReadsDone)
    requestAnimationFrame(() => requestAnimationFrame(() => chartReadWaiters.forEach((fn) => fn())));
}

/**
 * Resolves once the charts have read and drawn what they asked for (no history request in flight, at least
 * one ended since `since`, a count from chartReadCount), or after `maxMs` in any case (no chart may ask).
 */
export function whenChartsRead(since: number, maxMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      chartReadWaiters.delete(check);
      window.clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const check = () => {
      if (chartReadsDone > since && chartReads === chartReadsDone) done();
    };
    const timer = window.setTimeout(done, maxMs);
    signal?.addEventListener("abort", done);
    chartReadWaiters.add(check);
    check();
  });
}

/** The number of chart reads begun so far (for whenChartsRead). */
export function chartReadCount(): number {
  return chartReads;
}

/** Per-run min/max bands only help with a few lines. */
export function bandsFor(runs: number): boolean {
  return runs <= 10;
}

export class SeriesStore {
  private data = new Map<string, Map<string, BatchSeries>>();
  private inflight = new Map<string, Set<string>>();
  private pendingRuns = new Set<string>();
  private pendingKeys = new Set<string>();
  private gathering = false;
  private notifyTimer: number | null = null;
  private lastNotify = 0;
  private listeners = new Set<() => void>();
  private controllers = new Set<AbortController>();
  private closed = false;
  /** Bumped on every change notice (for React dependencies). */
  version = 0;
  /** Requests on their way. */
  active = 0;
  error: string | null = null;

  constructor(readonly params: StoreParams) {}

  get(runId: string, key: string): BatchSeries | undefined {
    return this.data.get(runId)?.get(key);
  }

  /** Whether (run, key) is stored or on its way. */
  known(runId: string, key: string): boolean {
    return !!this.data.get(runId)?.has(key) || !!this.inflight.get(runId)?.has(key);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Make sure every (run, key) of `runIds` x `keys` is stored or coming. */
  want(runIds: string[], keys: string[]): void {
    performance.mark("ry:history-want");
    for (const r of runIds)
      for (const k of keys)
        if (!this.known(r, k)) {
          this.pendingRuns.add(r);
          this.pendingKeys.add(k);
        }
    this.schedule();
  }

  /** Read these runs' stored keys again (a live run logged more); the old series stay shown meanwhile. */
  refresh(runIds: string[]): void {
    for (const r of runIds) {
      const have = this.data.get(r);
      if (!have || this.inflight.get(r)?.size) continue;
      this.pendingRuns.add(r);
      have.forEach((_, k) => this.pendingKeys.add(k));
    }
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.controllers.forEach((c) => c.abort());
    if (this.notifyTimer !== null) window.clearTimeout(this.notifyTimer);
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.gathering || this.closed || this.pendingRuns.size === 0) return;
    // what every chart asks for in this task (one commit's effects, one observer report) goes in one request,
    // sent as soon as the task ends: a timer would wait behind whatever else the page has queued
    this.gathering = true;
    queueMicrotask(() => {
      this.gathering = false;
      if (!this.closed) this.flush();
    });
  }

  private flush(): void {
    const runs = [...this.pendingRuns];
    const keys = [...this.pendingKeys];
    this.pendingRuns.clear();
    this.pendingKeys.clear();
    // within the endpoint's limits: keys in groups of 100, runs in groups that keep runs x keys x samples under
    for (let k = 0; k < keys.length; k += MAX_KEYS) {
      const ks = keys.slice(k, k + MAX_KEYS);
      const per = Math.max(1, Math.min(MAX_RUNS, Math.floor(MAX_POINTS / (ks.length * this.params.samples))));
      for (let r = 0; r < runs.length; r += per) void this.fetch(runs.slice(r, r + per), ks);
    }
  }

  private async fetch(runs: string[], keys: string[]): Promise<void> {
    for (const r of runs) {
      let s = this.inflight.get(r);
      if (!s) this.inflight.set(r, (s = new Set()));
      keys.forEach((k) => s!.add(k));
    }
    const ctl = new AbortController();
    this.controllers.add(ctl);
    this.active++;
    chartReads++;
    let done = false;
    const t0 = performance.now();
    let decodeMs = 0;
    const { entity, project, samples, bands, x } = this.params;
    try {
      await query.stream(
        "/api/v1/projects/{entity}/{project}/history",
        { path: { entity, project }, body: { runs, keys, samples, bands, x: x ?? null, pack: true }, signal: ctl.signal },
        (line: Line) => {
          if (line.done) done = true;
          else if (line.error) this.error = line.error;
          else if (line.run_id && line.series) {
            const a = performance.now();
            let m = this.data.get(line.run_id);
            if (!m) this.data.set(line.run_id, (m = new Map()));
            for (const [k, s] of Object.entries(line.series)) m.set(k, toSeries(s));
            decodeMs += performance.now() - a;
            this.notify(false);
          }
        },
      );
      if (!done && !this.error) this.error = "the answer was cut short; reload to try again";
      else if (done) this.error = null;
    } catch (e) {
      if ((e as Error).name !== "AbortError") this.error = String((e as Error).message ?? e);
    } finally {
      // the request from sending to its last line read (bench/ui_render.py reports these marks)
      performance.measure("ry:history-request", { start: t0, end: performance.now() });
      performance.measure("ry:history-decode", { start: t0, duration: decodeMs }); // base64 to typed arrays, all lines
      this.controllers.delete(ctl);
      this.active--;
      chartReadEnded();
      for (const r of runs) {
        const s = this.inflight.get(r);
        keys.forEach((k) => s?.delete(k));
        // a run the server does not have (deleted meanwhile): remember the keys as empty, not as missing
        if (done && !this.data.has(r)) this.data.set(r, new Map());
      }
      if (!this.closed) this.notify(true);
    }
  }

  private notify(now: boolean): void {
    if (this.closed) return;
    const fire = () => {
      this.notifyTimer = null;
      this.lastNotify = performance.now();
      this.version++;
      this.listeners.forEach((fn) => fn());
    };
    if (now) {
      if (this.notifyTimer !== null) window.clearTimeout(this.notifyTimer);
      fire();
      return;
    }
    if (this.notifyTimer !== null) return;
    // the first lines show at once; after that at most one redraw per NOTIFY_MS
    const wait = this.lastNotify === 0 ? 0 : Math.max(0, this.lastNotify + NOTIFY_MS - performance.now());
    this.notifyTimer = window.setTimeout(fire, wait);
  }
}

/** Exact (or finely bucketed) series of a step window, for a zoomed chart: one streamed request, not stored. */
export async function fetchWindow(
  entity: string,
  project: string,
  runs: string[],
  keys: string[],
  window: [number, number],
  opts: { samples: number; bands: boolean },
  signal: AbortSignal,
): Promise<Map<string, Map<string, BatchSeries>>> {
  const out = new Map<string, Map<string, BatchSeries>>();
  let done = false;
  const per = Math.max(1, Math.min(MAX_RUNS, Math.floor(MAX_POINTS / (keys.length * opts.samples))));
  for (let i = 0; i < runs.length; i += per) {
    done = false;
    await query.stream(
      "/api/v1/projects/{entity}/{project}/history",
      {
        path: { entity, project },
        body: { runs: runs.slice(i, i + per), keys, samples: opts.samples, bands: opts.bands, min_step: Math.floor(window[0]), max_step: Math.ceil(window[1]) },
        signal,
      },
      (line: Line) => {
        if (line.done) done = true;
        else if (line.error) throw new Error(line.error);
        else if (line.run_id && line.series) out.set(line.run_id, new Map(Object.entries(line.series).map(([k, v]) => [k, toSeries(v)])));
      },
    );
    if (!done) throw new Error("the answer was cut short");
  }
  return out;
}
