import { useEffect, useMemo, useState } from "react";
import { api } from "../data/api";
import type { SeriesWire } from "../data/types";
import { toFiniteArray } from "../data/values";
import { LineChart, type ChartLine, type XKind } from "./LineChart";

/** The chart x-axis: "step", "relative" (seconds since the run's first point), "wall" (time), or a metric key. */
export type XMode = string;

export function xKindOf(mode: XMode): XKind {
  return mode === "step" ? "step" : mode === "relative" ? "seconds" : mode === "wall" ? "time" : "value";
}

/** The `x=` the history endpoint needs for a mode (undefined for steps). */
export function xParamOf(mode: XMode): string | undefined {
  return mode === "step" ? undefined : mode === "relative" || mode === "wall" ? "_timestamp" : mode;
}

export interface ChartRun {
  entity: string;
  project: string;
  id: string;
  name: string;
  color: string;
}

interface Props {
  metric: string;
  runs: ChartRun[];
  /** Downsampled series over the whole step range, per run id (undefined: not loaded yet). */
  base: Record<string, SeriesWire | undefined>;
  sampled: Record<string, boolean>;
  smoothing: number;
  logY: boolean;
  loading: boolean;
  xMode?: XMode;
}

export const ZOOM_SAMPLES = 1000;

function toLine(run: ChartRun, s: SeriesWire, sampled: boolean, xMode: XMode): ChartLine | null {
  const n = s.step.length;
  const hasBand = sampled && s.min !== undefined && s.max !== undefined;
  const value = toFiniteArray(s.value, n);
  const min = hasBand ? toFiniteArray(s.min, n) : null;
  const max = hasBand ? toFiniteArray(s.max, n) : null;
  if (xMode === "step") return { id: run.id, label: run.name, color: run.color, step: s.step, value, min, max };
  // Another x: keep the points that have one, in ascending x (uPlot needs it), last point wins per x.
  if (!s.x) return null;
  const xs = toFiniteArray(s.x, n);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (xs[i] !== null) idx.push(i);
  if (xMode !== "relative" && xMode !== "wall") idx.sort((a, b) => (xs[a] as number) - (xs[b] as number) || a - b);
  const origin = xMode === "relative" && idx.length ? Math.min(...idx.map((i) => xs[i] as number)) : 0;
  const out: ChartLine = { id: run.id, label: run.name, color: run.color, step: [], value: [], min: min ? [] : null, max: max ? [] : null };
  for (const i of idx) {
    const x = (xs[i] as number) - origin;
    const last = out.step.length - 1;
    if (last >= 0 && out.step[last] >= x) {
      if (out.step[last] > x) continue; // time going backwards (clock change): skip
      out.value[last] = value[i];
      if (out.min && min) out.min[last] = min[i];
      if (out.max && max) out.max[last] = max[i];
      continue;
    }
    out.step.push(x);
    out.value.push(value[i]);
    if (out.min && min) out.min.push(min[i]);
    if (out.max && max) out.max.push(max[i]);
  }
  return out.step.length ? out : null;
}

export function ChartCard({ metric, runs, base, sampled, smoothing, logY, loading, xMode = "step" }: Props) {
  const [range, setRange] = useState<[number, number] | null>(null);
  const [zoomed, setZoomed] = useState<{ series: Record<string, SeriesWire>; sampled: Record<string, boolean> } | null>(null);
  const [zoomError, setZoomError] = useState<string | null>(null);

  // Zoom: refetch only the selected step range, so points are exact once the range is small enough.
  useEffect(() => {
    if (!range || xMode !== "step") {
      setZoomed(null);
      return;
    }
    const ctl = new AbortController();
    setZoomError(null);
    Promise.all(
      runs.map((r) =>
        api
          .history(r.entity, r.project, r.id, { keys: [metric], samples: ZOOM_SAMPLES, min_step: range[0], max_step: range[1] }, ctl.signal)
          .then((h) => [r.id, h.series[metric], h.sampled] as const),
      ),
    ).then(
      (rows) => {
        const series: Record<string, SeriesWire> = {};
        const smp: Record<string, boolean> = {};
        for (const [id, s, sm] of rows) {
          if (s) series[id] = s;
          smp[id] = sm;
        }
        setZoomed({ series, sampled: smp });
      },
      (e) => e?.name !== "AbortError" && setZoomError(String(e.message ?? e)),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [range, metric, xMode, runs.map((r) => r.id).join(",")]);

  const lines = useMemo(() => {
    const src = range && zoomed ? zoomed.series : base;
    const smp = range && zoomed ? zoomed.sampled : sampled;
    const out: ChartLine[] = [];
    for (const r of runs) {
      const s = src[r.id];
      if (s && s.step.length) {
        const line = toLine(r, s, !!smp[r.id], xMode);
        if (line) out.push(line);
      }
    }
    return out;
  }, [runs, base, sampled, zoomed, range, xMode]);

  const empty = lines.length === 0;
  return (
    <div className="card chart-card" data-testid="chart-card" data-metric={metric}>
      <div className="chart-head">
        <span className="chart-title" title={metric}>
          {metric}
        </span>
        {range && (
          <button className="link-btn" onClick={() => setRange(null)} title="Show the whole step range">
            steps {Math.round(range[0])}–{Math.round(range[1])} · reset zoom
          </button>
        )}
      </div>
      {zoomError && <div className="error-inline">Zoom failed: {zoomError}</div>}
      {empty ? (
        <div className="chart-empty">
          {loading ? "Loading…" : xMode === "step" || xMode === "relative" || xMode === "wall" ? "No data for the selected runs" : `No points where ${xMode} was logged at the same step`}
        </div>
      ) : (
        <LineChart
          lines={lines}
          smoothing={smoothing}
          logY={logY}
          height={190}
          onZoom={xMode === "step" ? setRange : undefined}
          xKind={xKindOf(xMode)}
          xLabel={xMode === "step" ? "step" : xMode === "relative" ? "relative time" : xMode === "wall" ? "time" : xMode}
        />
      )}
    </div>
  );
}
