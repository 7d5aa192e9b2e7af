import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { alignLines, lonePoints, type Y } from "../data/aggregate";
import { formatNumber } from "../data/values";
import { cleanValues, drawLines, envelope, smoothValues, toNullable } from "./fastLines";

export interface ChartLine {
  id: string;
  label: string;
  color: string;
  /** x values, ascending (steps, seconds, epoch seconds or a metric's values); typed arrays are kept as they are. */
  step: ArrayLike<number>;
  /** null or NaN: no value (a gap). */
  value: ArrayLike<number | null>;
  /** A band around the line (a run's min/max per bucket, or a group's spread); null: none. */
  min: (number | null)[] | null;
  max: (number | null)[] | null;
  /** Drawn thicker (a group's mean line). */
  bold?: boolean;
  /** Extra words in the hover (e.g. "mean of 12 runs"). */
  note?: string;
}

/** What the x values are: steps, seconds since the run started, wall-clock time (epoch seconds), or a metric. */
export type XKind = "step" | "seconds" | "time" | "value";

interface Props {
  lines: ChartLine[];
  xKind?: XKind;
  xLabel?: string;
  smoothing: number;
  logY: boolean;
  height: number;
  /** Appended to y values ("%", " MB"). */
  unit?: string;
  /** Show the legend under the chart. */
  legend?: boolean;
  /** Drag-selected x range, or null on double-click (reset). */
  onZoom?: (range: [number, number] | null) => void;
}

interface Hover {
  step: number;
  left: number;
  rows: { label: string; color: string; value: number | null; note?: string }[];
}

function alpha(color: string, a: number): string {
  // colors are #rrggbb
  const r = parseInt(color.slice(1, 3), 16);
  const g = parseInt(color.slice(3, 5), 16);
  const b = parseInt(color.slice(5, 7), 16);
  return `rgba(${r},${g},${b},${a})`;
}

/** Index of the last step <= x (binary search), or -1. */
function lastAtOrBefore(steps: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= x) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

function fmtStep(v: number | null): string {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v * 100) / 100);
}

export function fmtSeconds(v: number | null): string {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  const sign = v < 0 ? "-" : "";
  if (a < 60) return `${sign}${+a.toFixed(a < 10 ? 1 : 0)}s`;
  if (a < 3600) return `${sign}${Math.floor(a / 60)}m${Math.round(a % 60) ? `${Math.round(a % 60)}s` : ""}`;
  if (a < 86400) return `${sign}${Math.floor(a / 3600)}h${Math.round((a % 3600) / 60) ? `${Math.round((a % 3600) / 60)}m` : ""}`;
  return `${sign}${+(a / 86400).toFixed(1)}d`;
}

function fmtX(kind: XKind, v: number): string {
  if (kind === "seconds") return fmtSeconds(v);
  if (kind === "time") return new Date(v * 1000).toLocaleString("en-GB", { hour12: false });
  if (kind === "value") return fmtAxis(v);
  return fmtStep(v);
}

function fmtAxis(v: number | null): string {
  if (v === null || v === undefined) return "";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

/** Log-axis ticks: 1-2-5 per decade over short ranges, powers of ten over long ones (fewer grid lines). */
function logSplits(u: uPlot, _axis: number, lo: number, hi: number): number[] {
  void u;
  if (!(lo > 0) || !(hi > lo)) return [];
  const k0 = Math.floor(Math.log10(lo));
  const k1 = Math.ceil(Math.log10(hi));
  const mults = k1 - k0 <= 2 ? [1, 2, 5] : [1];
  const step = Math.max(1, Math.ceil((k1 - k0) / 6));
  const out: number[] = [];
  for (let k = k0; k <= k1; k += mults.length > 1 ? 1 : step)
    for (const m of mults) {
      const v = m * Math.pow(10, k);
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(+v.toPrecision(6));
    }
  return out;
}

/** Step axes tick at whole steps, 1, 2 or 5 x 10^k apart (uPlot's own increments include 0.5 and 2.5). */
const STEP_INCRS = Array.from({ length: 48 }, (_, i) => [1, 2, 5][i % 3] * 10 ** Math.floor(i / 3));

/** Above this many lines (and with no bands), lines are drawn by drawLines, not as uPlot series. */
const FAST_LINES = 12;

/** The legend's height (styles.css `.chart-legend`): a chart still loading keeps the room for it. */
export const LEGEND_HEIGHT = 38;

/** Legend entries that fit two lines of a chart this wide (the rest are counted). */
function legendFits(width: number): number {
  return Math.max(2, 2 * Math.floor((width - 52) / 150) - 1);
}

export function LineChart({ lines, smoothing, logY, height, onZoom, xKind = "step", xLabel = "step", unit = "", legend = false }: Props) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const onZoomRef = useRef(onZoom);
  onZoomRef.current = onZoom;
  const [hover, setHover] = useState<Hover | null>(null);

  // Per line: the values drawn (smoothed; NaN for a gap), kept for the hover lookups.
  const prepared = useMemo(() => {
    return lines.map((l) => {
      const clean = cleanValues(l.value, logY);
      const shown = smoothValues(clean, smoothing);
      const pos = (a: (number | null)[] | null) => (a && logY ? a.map((v) => (v !== null && v > 0 ? v : null)) : a);
      return { line: l, shown, raw: smoothing > 0 ? clean : null, min: pos(l.min), max: pos(l.max) };
    });
  }, [lines, smoothing, logY]);
  // Many lines without bands: uPlot keeps the axes, scales, cursor and zoom, the lines are drawn by drawLines.
  const fast = prepared.length > FAST_LINES && prepared.every((p) => !p.min || !p.max);

  const preparedRef = useRef(prepared);
  preparedRef.current = prepared;
  const fastRef = useRef(fast);
  fastRef.current = fast;
  const sigRef = useRef("");

  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const tEffect = performance.now();
    const parts: { x: ArrayLike<number>; ys: Y[][] }[] = [];
    const series: uPlot.Series[] = [{ label: xLabel }];
    const bands: uPlot.Band[] = [];
    const lone = new WeakMap<object, number[]>();
    const loneOf = (u: uPlot, si: number) => {
      const col = u.data[si] as Y[];
      let idx = lone.get(col);
      if (!idx) lone.set(col, (idx = lonePoints(col)));
      return idx;
    };
    let idx = 1;
    let data: uPlot.AlignedData;
    if (fast) {
      // two series uPlot does not draw: the lowest and highest value at each x (its y range and cursor)
      const hidden: uPlot.Series = { label: "", stroke: "transparent", width: 0, points: { show: false }, paths: () => null };
      series.push({ ...hidden }, { ...hidden });
      data = envelope(prepared.map((p) => ({ x: p.line.step, ys: p.raw ? [p.shown, p.raw] : [p.shown] }))) as uPlot.AlignedData;
    } else {
    for (const p of prepared) {
      const cols: (number | null)[][] = [toNullable(p.shown)];
      // a point with no neighbour (a run's first step, a lone logged value) is drawn as a dot
      series.push({
        label: p.line.label,
        stroke: p.line.color,
        // hairlines when there are many: Chromium draws a 1 px line some 20 times faster than a 1.5 px one
        width: p.line.bold ? 2.2 : prepared.length > 20 ? 1 : 1.5,
        points: { show: false, filter: loneOf, size: 6, width: 1, stroke: p.line.color, fill: p.line.color },
      });
      idx++;
      if (p.raw) {
        cols.push(toNullable(p.raw));
        series.push({ label: "", stroke: alpha(p.line.color, 0.28), width: 1, points: { show: false } });
        idx++;
      }
      if (p.min && p.max) {
        cols.push(p.max, p.min);
        series.push({ label: "", stroke: "transparent", width: 0, points: { show: false } });
        series.push({ label: "", stroke: "transparent", width: 0, points: { show: false } });
        bands.push({ series: [idx, idx + 1], fill: alpha(p.line.color, p.line.bold ? 0.16 : 0.13) });
        idx += 2;
      }
      parts.push({ x: p.line.step, ys: cols });
    }
    const aligned = alignLines(parts);
    data = [Array.from(aligned.x), ...aligned.ys] as uPlot.AlignedData;
    }

    const width = Math.max(100, el.clientWidth);
    const yValues = (_u: uPlot, vals: number[]) => vals.map((v) => fmtAxis(v) + (v === null ? "" : unit));
    let xTicks: string[] = []; // the x axis's labels as last drawn (data-x-ticks, for tests and tools)
    const opts: uPlot.Options = {
      width,
      height,
      series,
      bands,
      legend: { show: false },
      padding: [8, 10, 0, 0],
      cursor: {
        points: { show: false },
        drag: { x: true, y: false, setScale: !onZoomRef.current },
        bind: {
          dblclick: (u) => () => {
            if (onZoomRef.current) onZoomRef.current(null);
            else u.setData(u.data, true);
            return null;
          },
        },
      },
      scales: {
        x: { time: xKind === "time" },
        // Log: a little headroom around the data, not whole decades.
        y: logY ? { distr: 3, log: 10, range: (_u, lo, hi) => (lo > 0 && hi > 0 ? [lo / 1.25, hi * 1.25] : [0.1, 10]) } : {},
      },
      axes: [
        {
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3", width: 1 },
          ticks: { stroke: "#e5e7eb", width: 1, size: 4 },
          font: "11px system-ui, sans-serif",
          ...(xKind === "time"
            ? {}
            : {
                values: (_u: uPlot, vals: number[]) => {
                  xTicks = vals.map((v) => (xKind === "seconds" ? fmtSeconds(v) : xKind === "value" ? fmtAxis(v) : fmtStep(v)));
                  return xTicks;
                },
              }),
          ...(xKind === "step" ? { incrs: STEP_INCRS } : {}),
          size: 28,
        },
        {
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3", width: 1 },
          ticks: { stroke: "#e5e7eb", width: 1, size: 4 },
          font: "11px system-ui, sans-serif",
          values: yValues,
          size: unit ? 64 : 52,
          ...(logY ? { splits: logSplits } : {}),
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width > 4 && onZoomRef.current) {
              const lo = u.posToVal(u.select.left, "x");
              const hi = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              onZoomRef.current?.([lo, hi]);
            }
          },
        ],
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
              setHover(null);
              return;
            }
            const x = u.data[0][i];
            const rows = preparedRef.current.map((p) => {
              const j = lastAtOrBefore(p.line.step, x);
              const v = j >= 0 ? p.shown[j] : NaN;
              return { label: p.line.label, color: p.line.color, value: v === v ? v : null, note: p.line.note };
            });
            rows.sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity));
            setHover({ step: x, left: u.cursor.left, rows });
          },
        ],
        draw: [
          (u) => {
            const t0 = performance.now();
            if (fastRef.current) {
              const ps = preparedRef.current;
              const many = ps.length > 20;
              const out = [];
              // the unsmoothed lines faintly under the smoothed ones, then the lines in order (as uPlot would)
              for (const p of ps) if (p.raw) out.push({ x: p.line.step, y: p.raw, color: alpha(p.line.color, 0.28), width: 1, dots: false });
              for (const p of ps) out.push({ x: p.line.step, y: p.shown, color: p.line.color, width: p.line.bold ? 2.2 : many ? 1 : 1.5, dots: true });
              drawLines(u, out);
            }
            performance.measure("ry:chart-draw-lines", { start: t0, end: performance.now() });
            el.dataset.drawn = "1";
            el.dataset.lines = String(preparedRef.current.length);
            el.dataset.xTicks = xTicks.join(" ");
          },
        ],
      },
    };
    // Same lines, same look (a live refresh): swap the data in place, keeping the cursor and the canvas.
    const sig = `${height}|${logY}|${xKind}|${unit}|${!!onZoomRef.current}|` + (fast ? "fast" : series.map((x) => `${x.label}:${String(x.stroke)}`).join(","));
    // (the lines' columns for uPlot, or their envelope; bench/ui_render.py reports these marks)
    performance.measure("ry:chart-columns", { start: tEffect, end: performance.now() });
    if (plotRef.current && sigRef.current === sig) {
      plotRef.current.setData(data);
      return;
    }
    plotRef.current?.destroy();
    delete el.dataset.drawn;
    const t0 = performance.now();
    plotRef.current = new uPlot(opts, data, el);
    performance.measure("ry:chart-create", { start: t0, end: performance.now() });
    sigRef.current = sig;
  }, [prepared, fast, height, logY, xKind, xLabel, unit, !!onZoom]);

  useEffect(() => {
    const el = wrapRef.current!;
    const ro = new ResizeObserver(() => {
      const u = plotRef.current;
      const w = Math.max(100, el.clientWidth);
      if (u && (Math.abs(w - u.width) > 1 || u.height !== height)) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [height]);
  useEffect(
    () => () => {
      plotRef.current?.destroy();
      plotRef.current = null;
    },
    [],
  );

  const shownRows = hover ? hover.rows.slice(0, 12) : [];
  const plotW = plotRef.current?.width ?? 0;
  const fits = legendFits(plotW || wrapRef.current?.clientWidth || 400);
  const legendLines = legend ? (lines.length <= fits + 1 ? lines : lines.slice(0, fits)) : [];
  return (
    <div className="chart-wrap" onMouseLeave={() => setHover(null)}>
      {/* the chart's height is held before uPlot draws into it: the panels below must not move up for a frame
          (they would come into view and read their data for nothing) */}
      <div ref={wrapRef} className="chart-canvas" style={{ minHeight: height }} />
      {hover && (
        <div className="chart-hover" data-testid="chart-hover" style={hover.left > plotW / 2 ? { left: 56 } : { right: 8 }}>
          <div className="chart-hover-step">{xKind === "step" ? `step ${fmtStep(hover.step)}` : xKind === "value" ? `${xLabel} ${fmtX(xKind, hover.step)}` : fmtX(xKind, hover.step)}</div>
          {shownRows.map((r, k) => (
            <div className="chart-hover-row" key={k}>
              <span className="swatch" style={{ background: r.color }} />
              <span className="chart-hover-label">
                {r.label}
                {r.note && <span className="muted"> · {r.note}</span>}
              </span>
              <span className="chart-hover-value">
                {formatNumber(r.value)}
                {r.value !== null && unit}
              </span>
            </div>
          ))}
          {hover.rows.length > shownRows.length && <div className="muted">+{hover.rows.length - shownRows.length} more</div>}
        </div>
      )}
      {legend && lines.length > 0 && (
        <div className="chart-legend" data-testid="chart-legend">
          {legendLines.map((l) => (
            <span className="legend-item" key={l.id} title={l.note ? `${l.label} (${l.note})` : l.label}>
              <span className={`swatch ${l.bold ? "swatch-bold" : ""}`} style={{ background: l.color }} />
              <span className="legend-label">{l.label}</span>
            </span>
          ))}
          {lines.length > legendLines.length && <span className="muted legend-more">+{lines.length - legendLines.length} more</span>}
        </div>
      )}
    </div>
  );
}
