// A line chart panel: one or more history keys of every run shown (or of every group: its mean with a
// min/max or std band), read through the shared series store once the panel comes into view.
import { useEffect, useMemo, useRef, useState } from "react";
import { groupLine } from "../data/aggregate";
import { colorAt } from "../data/colors";
import { fetchWindow, type BatchSeries } from "../data/seriesStore";
import { isSystemKey, unitOf } from "../data/units";
import { LEGEND_HEIGHT, LineChart, type ChartLine, type XKind } from "../components/LineChart";
import type { PanelSpec } from "./layout";
import { usePanels, useStoreVersion } from "./env";

export const ZOOM_SAMPLES = 1000;

export function xKindOf(mode: string): XKind {
  return mode === "step" ? "step" : mode === "relative" ? "seconds" : mode === "wall" ? "time" : "value";
}

/** The `x=` the history endpoint needs for a mode (undefined for steps). */
export function xParamOf(mode: string): string | undefined {
  return mode === "step" ? undefined : mode === "relative" || mode === "wall" ? "_timestamp" : mode;
}

export function xLabelOf(mode: string): string {
  return mode === "step" ? "step" : mode === "relative" ? "relative time" : mode === "wall" ? "time" : mode;
}

interface XY {
  /** Ascending; the series' own typed array where it can be. */
  x: ArrayLike<number>;
  /** NaN or null: no value. */
  y: ArrayLike<number | null>;
  min: (number | null)[] | null;
  max: (number | null)[] | null;
}

/**
 * A series on the chart's x axis. System metrics carry unix milliseconds as their step: they are drawn
 * against time since the run's first sample (or wall time), never against raw milliseconds.
 */
// A run's series is converted once per look (x mode, bands), not again on every redraw.
const xyCache = new WeakMap<BatchSeries, Map<string, XY | null>>();

function toXY(s: BatchSeries, mode: string, system: boolean, bands: boolean): XY | null {
  const look = `${mode}|${system}|${bands}`;
  let m = xyCache.get(s);
  if (!m) xyCache.set(s, (m = new Map()));
  if (!m.has(look)) m.set(look, computeXY(s, mode, system, bands));
  return m.get(look)!;
}

function computeXY(s: BatchSeries, mode: string, system: boolean, bands: boolean): XY | null {
  const n = s.step.length;
  if (!n) return null;
  const fin = (a: ArrayLike<number>) => {
    const out = new Array<number | null>(a.length);
    for (let i = 0; i < a.length; i++) out[i] = Number.isFinite(a[i]) ? a[i] : null;
    return out;
  };
  const hasBand = bands && !!s.min && !!s.max && s.min.length === n && s.max.length === n;
  const min = hasBand ? fin(s.min!) : null;
  const max = hasBand ? fin(s.max!) : null;
  // steps and values are used as they arrived (typed arrays, NaN for a missing value): no copy per point
  if (system) {
    const t0 = s.step[0];
    return { x: Float64Array.from(s.step, (v) => (mode === "wall" ? v / 1000 : (v - t0) / 1000)), y: s.value, min, max };
  }
  if (mode === "step") return { x: s.step, y: s.value, min, max };
  const y = fin(s.value);
  // another x: keep the points that have one, in ascending x (uPlot needs it); the last point wins per x
  if (!s.x || s.x.length !== n) return null;
  const xs = fin(s.x);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (xs[i] !== null) idx.push(i);
  if (mode !== "relative" && mode !== "wall") idx.sort((a, b) => (xs[a] as number) - (xs[b] as number) || a - b);
  const origin = mode === "relative" && idx.length ? Math.min(...idx.map((i) => xs[i] as number)) : 0;
  const out: { x: number[]; y: (number | null)[]; min: (number | null)[] | null; max: (number | null)[] | null } = { x: [], y: [], min: min ? [] : null, max: max ? [] : null };
  for (const i of idx) {
    const x = (xs[i] as number) - origin;
    const last = out.x.length - 1;
    if (last >= 0 && out.x[last] >= x) {
      if (out.x[last] > x) continue; // time going backwards (clock change): skip
      out.y[last] = y[i];
      if (out.min && min) out.min[last] = min[i];
      if (out.max && max) out.max[last] = max[i];
      continue;
    }
    out.x.push(x);
    out.y.push(y[i]);
    if (out.min && min) out.min.push(min[i]);
    if (out.max && max) out.max.push(max[i]);
  }
  return out.x.length ? out : null;
}

export function LinePanel({ spec, height, visible }: { spec: PanelSpec; height: number; visible: boolean }) {
  const env = usePanels();
  const { settings } = env;
  const system = spec.keys.length > 0 && spec.keys.every(isSystemKey);
  const requested = spec.x ?? settings.x;
  const mode = system ? (requested === "wall" ? "wall" : "relative") : requested;
  const store = env.store(system ? undefined : xParamOf(mode));
  const version = useStoreVersion(store);
  const smoothing = spec.smoothing ?? settings.smoothing;
  const logY = spec.logY ?? settings.logY;
  const runIds = useMemo(() => env.runs.map((r) => r.id), [env.runs]);
  const keysKey = spec.keys.join("\u0000");

  useEffect(() => {
    if (visible && runIds.length) store.want(runIds, spec.keys);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [visible, store, runIds, keysKey]);

  // Zoom: the step window read again, exact once it holds fewer than ZOOM_SAMPLES points.
  const [range, setRange] = useState<[number, number] | null>(null);
  const [zoomed, setZoomed] = useState<Map<string, Map<string, BatchSeries>> | null>(null);
  const [zoomError, setZoomError] = useState<string | null>(null);
  const canZoom = mode === "step" && !system;
  useEffect(() => {
    setZoomed(null);
    if (!range || !canZoom) return;
    const ctl = new AbortController();
    setZoomError(null);
    fetchWindow(env.entity, env.project, runIds, spec.keys, range, { samples: ZOOM_SAMPLES, bands: runIds.length <= 10 }, ctl.signal).then(
      setZoomed,
      (e) => e?.name !== "AbortError" && setZoomError(String(e.message ?? e)),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [range, canZoom, runIds, keysKey, env.entity, env.project]);
  useEffect(() => setRange(null), [mode]);

  const bands = env.groups === null && runIds.length <= 10;
  const prevRuns = useRef(env.runs);
  const get = (runId: string, key: string): BatchSeries | undefined => (range && zoomed ? zoomed.get(runId)?.get(key) : store.get(runId, key));

  // The series this chart drew last time: when a notice from the store brings none new for it, the chart
  // keeps its lines (no redraw of hundreds of lines for another chart's data).
  const lastUsed = useRef<{ key: string; used: (BatchSeries | undefined)[]; result: { lines: ChartLine[]; loaded: number } } | null>(null);
  const { lines, loaded } = useMemo(() => {
    const t0 = performance.now();
    try {
      return shapeLines();
    } finally {
      performance.measure("ry:chart-shape", { start: t0, end: performance.now() });
    }
  }, [version, env.runs, env.groups, keysKey, mode, system, bands, zoomed, range, settings.band, smoothing]); // eslint-disable-line react-hooks/exhaustive-deps

  // The lines of the runs (or groups) shown, as the chart draws them.
  function shapeLines(): { lines: ChartLine[]; loaded: number } {
    const lookKey = `${keysKey}|${mode}|${system}|${bands}|${settings.band}|${range}|${env.groups ? env.groups.map((g) => g.name + g.runIds.length).join() : ""}`;
    const used: (BatchSeries | undefined)[] = [];
    for (const r of env.runs) for (const k of spec.keys) used.push(get(r.id, k));
    const prev = lastUsed.current;
    if (prev && prev.key === lookKey && prev.used.length === used.length && prev.used.every((u, i) => u === used[i]) && prevRuns.current === env.runs)
      return prev.result;
    const out: ChartLine[] = [];
    let loaded = 0;
    for (const r of env.runs) if (spec.keys.every((k) => get(r.id, k))) loaded++;
    const multi = spec.keys.length > 1;
    if (env.groups) {
      const byId = new Map(env.runs.map((r) => [r.id, r]));
      spec.keys.forEach((k, ki) => {
        for (const g of env.groups!) {
          const members: { x: ArrayLike<number>; y: ArrayLike<number | null> }[] = [];
          for (const id of g.runIds) {
            if (!byId.has(id)) continue;
            const s = get(id, k);
            const xy = s ? toXY(s, mode, system, false) : null;
            if (xy) members.push({ x: xy.x, y: xy.y });
          }
          if (!members.length) continue;
          const agg = groupLine(members, settings.band === "std" ? "std" : "minmax");
          const band = settings.band !== "none" && members.length > 1;
          out.push({
            id: `${g.name}|${k}`,
            label: multi ? `${g.name} · ${k}` : g.name,
            color: multi && env.groups!.length === 1 ? colorAt(ki) : g.color,
            step: agg.x,
            value: agg.mean,
            min: band ? agg.lo : null,
            max: band ? agg.hi : null,
            bold: true,
            note: `mean of ${members.length} run${members.length === 1 ? "" : "s"}${band ? (settings.band === "std" ? ", ±1 std" : ", min–max") : ""}`,
          });
        }
      });
      lastUsed.current = { key: lookKey, used, result: { lines: out, loaded } };
      prevRuns.current = env.runs;
      return { lines: out, loaded };
    }
    for (const r of env.runs)
      spec.keys.forEach((k, ki) => {
        const s = get(r.id, k);
        const xy = s ? toXY(s, mode, system, bands) : null;
        if (!xy) return;
        out.push({
          id: `${r.id}|${k}`,
          label: multi ? (env.runs.length === 1 ? k : `${r.name} · ${k}`) : r.name,
          color: multi && env.runs.length === 1 ? colorAt(ki) : r.color,
          step: xy.x,
          value: xy.y,
          min: xy.min,
          max: xy.max,
        });
      });
    lastUsed.current = { key: lookKey, used, result: { lines: out, loaded } };
    prevRuns.current = env.runs;
    return { lines: out, loaded };
  }

  const unit = useMemo(() => {
    const units = spec.keys.map((k) => unitOf(k)?.suffix ?? "");
    return units.every((u) => u === units[0]) ? units[0] : "";
  }, [keysKey]); // eslint-disable-line react-hooks/exhaustive-deps

  const waiting = lines.length === 0 && (!visible || store.active > 0 || loaded < env.runs.length);
  return (
    <div className="line-panel" data-loaded={loaded}>
      {range && (
        <button className="link-btn zoom-reset" onClick={() => setRange(null)} title="Show the whole step range">
          steps {Math.round(range[0])}–{Math.round(range[1])} · reset zoom
        </button>
      )}
      {zoomError && <div className="error-inline">Zoom failed: {zoomError}</div>}
      {store.error && !lines.length && <div className="error-inline">Could not load: {store.error}</div>}
      {lines.length === 0 ? (
        <div className="chart-empty" style={{ height: height + LEGEND_HEIGHT }}>
          {waiting ? "Loading…" : mode === "step" || system || mode === "relative" || mode === "wall" ? "No data for the runs shown" : `No points where ${mode} was logged at the same step`}
        </div>
      ) : (
        <LineChart
          lines={lines}
          smoothing={smoothing}
          logY={logY}
          height={height}
          unit={unit}
          legend
          onZoom={canZoom ? setRange : undefined}
          xKind={system ? (mode === "wall" ? "time" : "seconds") : xKindOf(mode)}
          xLabel={system ? (mode === "wall" ? "time" : "time since start") : xLabelOf(mode)}
        />
      )}
    </div>
  );
}
