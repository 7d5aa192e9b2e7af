// Many lines on one chart, cheaply. uPlot draws each series through its own path builder (per-pixel
// min/max, clipping, styles): fine for a few lines, but some 100 ms a chart for 1,000 runs. With many lines
// uPlot only gets an envelope (the lowest and highest value at each x, two series it does not draw) so that
// it still owns the scales, axes, cursor and drag-zoom; the lines themselves are drawn in its `draw` hook
// straight from typed arrays: one path and one stroke per line, no per-point objects, NaN as a gap, a point
// without a neighbour as a dot.
import type uPlot from "uplot";

/** A line ready to draw: x ascending, y with NaN where there is no value. */
export interface FastLine {
  x: ArrayLike<number>;
  y: Float64Array;
  color: string;
  width: number;
  /** Points without a neighbour drawn as dots (not for the faint unsmoothed copy of a line). */
  dots: boolean;
}

/** Values as drawn: non-finite (and, on a log axis, non-positive) values are gaps, then smoothed. */
export function cleanValues(values: ArrayLike<number | null>, logY: boolean): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    out[i] = v === null || !Number.isFinite(v) || (logY && v <= 0) ? NaN : v;
  }
  return out;
}

/** Exponential moving average with debiasing (as TensorBoard does); gaps stay gaps and do not reset it. */
export function smoothValues(clean: Float64Array, weight: number): Float64Array {
  if (weight <= 0) return clean;
  const out = new Float64Array(clean.length);
  let last = 0;
  let pow = 1;
  for (let i = 0; i < clean.length; i++) {
    const v = clean[i];
    if (v !== v) {
      out[i] = NaN;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    pow *= weight;
    out[i] = last / (1 - pow);
  }
  return out;
}

/** A typed line as uPlot's columns want it (null for a gap). */
export function toNullable(a: Float64Array): (number | null)[] {
  const out = new Array<number | null>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] === a[i] ? a[i] : null;
  return out;
}

function sameX(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const MAX_GRID = 2000;

/**
 * uPlot's data for many lines: a shared x (the lines' own when they all have the same, else the union of
 * their x values, or a grid of MAX_GRID cells over the whole range when that union is bigger) and, per x,
 * the lowest and highest value any line has there (what the y scale must hold).
 */
export function envelope(lines: { x: ArrayLike<number>; ys: Float64Array[] }[]): [number[], (number | null)[], (number | null)[]] {
  const withX = lines.filter((l) => l.x.length > 0);
  if (!withX.length) return [[], [], []];
  const first = withX[0].x;
  let grid: number[];
  let cellOf: (x: number, i: number) => number;
  if (withX.every((l) => sameX(l.x, first))) {
    grid = Array.from(first);
    cellOf = (_x, i) => i;
  } else {
    const set = new Set<number>();
    for (const l of withX) for (let i = 0; i < l.x.length; i++) set.add(l.x[i]);
    if (set.size <= MAX_GRID) {
      grid = Array.from(set).sort((a, b) => a - b);
      const index = new Map<number, number>();
      grid.forEach((v, i) => index.set(v, i));
      cellOf = (x) => index.get(x)!;
    } else {
      let lo = Infinity;
      let hi = -Infinity;
      for (const l of withX) {
        lo = Math.min(lo, l.x[0]);
        hi = Math.max(hi, l.x[l.x.length - 1]);
      }
      const w = hi > lo ? (hi - lo) / (MAX_GRID - 1) : 1;
      grid = Array.from({ length: MAX_GRID }, (_, i) => lo + i * w);
      cellOf = (x) => Math.min(MAX_GRID - 1, Math.max(0, Math.round((x - lo) / w)));
    }
  }
  const n = grid.length;
  const mn = new Float64Array(n).fill(Infinity);
  const mx = new Float64Array(n).fill(-Infinity);
  for (const l of withX)
    for (const y of l.ys)
      for (let i = 0; i < l.x.length; i++) {
        const v = y[i];
        if (v !== v) continue;
        const c = cellOf(l.x[i], i);
        if (v < mn[c]) mn[c] = v;
        if (v > mx[c]) mx[c] = v;
      }
  const lo: (number | null)[] = new Array(n);
  const hi: (number | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    lo[i] = mn[i] === Infinity ? null : mn[i];
    hi[i] = mx[i] === -Infinity ? null : mx[i];
  }
  return [grid, lo, hi];
}

/** Draw the lines on uPlot's canvas, inside its plotting area, with its current scales. */
export function drawLines(u: uPlot, lines: FastLine[]): void {
  const { ctx, bbox } = u;
  const sx = u.scales.x;
  const sy = u.scales.y;
  if (sx.min == null || sx.max == null || sy.min == null || sy.max == null) return;
  const pr = (u.constructor as typeof uPlot).pxRatio || 1;
  const log = sy.distr === 3;
  const x0 = sx.min;
  const kx = sx.max > sx.min ? bbox.width / (sx.max - sx.min) : 0;
  const y0 = log ? Math.log10(sy.min) : sy.min;
  const y1 = log ? Math.log10(sy.max) : sy.max;
  const ky = y1 > y0 ? bbox.height / (y1 - y0) : 0;
  const left = bbox.left;
  const bottom = bbox.top + bbox.height;
  const dot = 3 * pr;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  ctx.lineJoin = "round";
  for (const l of lines) {
    const { x, y } = l;
    const n = Math.min(x.length, y.length);
    const path = new Path2D();
    let dots: number[] | null = null;
    let open = false; // a segment is under way
    for (let i = 0; i < n; i++) {
      const v = y[i];
      if (v !== v) {
        open = false;
        continue;
      }
      const px = left + (x[i] - x0) * kx;
      const py = bottom - ((log ? Math.log10(v) : v) - y0) * ky;
      if (open) path.lineTo(px, py);
      else {
        path.moveTo(px, py);
        open = true;
        // a point with no neighbour (a run's first step, a lone logged value) is drawn as a dot
        if (l.dots && (i + 1 >= n || y[i + 1] !== y[i + 1])) (dots ??= []).push(px, py);
      }
    }
    ctx.strokeStyle = l.color;
    ctx.lineWidth = l.width * pr;
    ctx.stroke(path);
    if (dots) {
      ctx.fillStyle = l.color;
      const d = new Path2D();
      for (let k = 0; k < dots.length; k += 2) {
        d.moveTo(dots[k] + dot, dots[k + 1]);
        d.arc(dots[k], dots[k + 1], dot, 0, 2 * Math.PI);
      }
      ctx.fill(d);
    }
  }
  ctx.restore();
}
