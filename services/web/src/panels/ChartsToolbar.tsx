// The chart settings every panel follows unless it has its own: chart filter, smoothing, x axis, log scale,
// and (runs grouped) the band around each group's mean. All of them live in the URL, so a link shows the same.
import type { ReactNode } from "react";
import { useUrlParam } from "../data/urlState";
import type { BandMode, ChartSettings } from "./env";

export interface ToolbarState extends ChartSettings {
  filter: string;
}

/** The settings from the URL (`smooth`, `log`, `x`, `band`, `metric`). */
export function useChartSettings(): [ToolbarState, (name: "smooth" | "log" | "x" | "band" | "metric", v: string | null) => void] {
  const [smooth, setSmooth] = useUrlParam("smooth");
  const [log, setLog] = useUrlParam("log");
  const [x, setX] = useUrlParam("x");
  const [band, setBand] = useUrlParam("band");
  const [metric, setMetric] = useUrlParam("metric");
  const state: ToolbarState = {
    smoothing: Math.min(0.99, Math.max(0, Number(smooth ?? 0) || 0)),
    logY: log === "1",
    x: x || "step",
    band: band === "std" || band === "none" ? band : "minmax",
    filter: metric ?? "",
  };
  const set = (name: "smooth" | "log" | "x" | "band" | "metric", v: string | null) =>
    ({ smooth: setSmooth, log: setLog, x: setX, band: setBand, metric: setMetric })[name](v);
  return [state, set];
}

interface Props {
  state: ToolbarState;
  set: (name: "smooth" | "log" | "x" | "band" | "metric", v: string | null) => void;
  /** Keys that may be the x axis. */
  xKeys: string[];
  grouped: boolean;
  loading: boolean;
  children?: ReactNode;
}

export function ChartsToolbar({ state, set, xKeys, grouped, loading, children }: Props) {
  return (
    <div className="toolbar charts-toolbar">
      <input className="input input-sm" placeholder="Filter charts" value={state.filter} onChange={(e) => set("metric", e.target.value || null)} style={{ width: 130 }} data-testid="chart-filter" />
      <label className="tool" title="Exponential moving average (debiased)">
        Smoothing
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={state.smoothing}
          onChange={(e) => set("smooth", Number(e.target.value) > 0 ? e.target.value : null)}
          data-testid="smoothing"
        />
        <span className="mono tool-val">{state.smoothing.toFixed(2)}</span>
      </label>
      <label className="tool" title="What the charts' x-axis shows (system charts always show time)">
        X axis
        <select className="input input-sm" value={state.x} onChange={(e) => set("x", e.target.value === "step" ? null : e.target.value)} data-testid="x-axis">
          <option value="step">Step</option>
          <option value="relative">Relative time</option>
          <option value="wall">Wall time</option>
          <optgroup label="Metric">
            {xKeys.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </optgroup>
        </select>
      </label>
      <label className="tool">
        <input type="checkbox" checked={state.logY} onChange={(e) => set("log", e.target.checked ? "1" : null)} data-testid="log-scale" />
        Log scale
      </label>
      {grouped && (
        <label className="tool" title="The band around each group's mean line">
          Band
          <select className="input input-sm" value={state.band} onChange={(e) => set("band", e.target.value === "minmax" ? null : (e.target.value as BandMode))} data-testid="band-mode">
            <option value="minmax">min–max</option>
            <option value="std">±1 std</option>
            <option value="none">none</option>
          </select>
        </label>
      )}
      {loading && <span className="muted small">Loading…</span>}
      <span className="toolbar-spacer" />
      {children}
    </div>
  );
}
