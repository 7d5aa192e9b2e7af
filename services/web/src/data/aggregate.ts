// Shaping chart lines for uPlot, which wants every series on one shared, ascending x array:
// - `alignLines`: lines joined on the union of their x values; when that union times the number of series
//   would be too big (1,000 runs logging at different steps), x is quantised onto a grid instead (the last
//   point of each run per grid cell: at chart width nothing visible is lost);
// - `groupLine`: the runs of a group as one mean line with a min/max or a ±1 std band, each run
//   interpolated linearly inside its own x range onto a shared grid.

export type Y = number | null | undefined;

export interface XY {
  x: ArrayLike<number>;
  /** Per series: values aligned to `x`; `undefined` = no point there (lines join across), `null` = a gap. */
  ys: Y[][];
}

const MAX_CELLS = 2_000_000;

/** Join series (each with its own ascending x) onto one x axis. */
export function alignLines(series: { x: ArrayLike<number>; ys: Y[][] }[]): XY {
  if (series.length === 0) return { x: [], ys: [] };
  const first = series[0].x;
  if (series.every((s) => sameArray(s.x, first))) return { x: first, ys: series.flatMap((s) => s.ys) };
  const nSeries = series.reduce((n, s) => n + s.ys.length, 0);
  const set = new Set<number>();
  for (const s of series) for (let i = 0; i < s.x.length; i++) set.add(s.x[i]);
  if (set.size * nSeries <= MAX_CELLS) {
    const x = Float64Array.from(set).sort();
    const index = new Map<number, number>();
    x.forEach((v, i) => index.set(v, i));
    const ys: Y[][] = [];
    for (const s of series) {
      const pos = Array.from(s.x, (v) => index.get(v)!);
      for (const col of s.ys) {
        const out = new Array<Y>(x.length); // undefined everywhere else
        for (let i = 0; i < pos.length; i++) out[pos[i]] = col[i];
        ys.push(out);
      }
    }
    return { x: Array.from(x), ys };
  }
  // quantise: a grid of cells over the whole x range, each run's last point per cell
  const cells = Math.max(200, Math.min(2000, Math.floor(MAX_CELLS / nSeries)));
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) if (s.x.length) {
    lo = Math.min(lo, s.x[0]);
    hi = Math.max(hi, s.x[s.x.length - 1]);
  }
  const width = hi > lo ? (hi - lo) / (cells - 1) : 1;
  const x = Array.from({ length: cells }, (_, i) => lo + i * width);
  const ys: Y[][] = [];
  for (const s of series) {
    const cellOf = Array.from(s.x, (v) => Math.round((v - lo) / width));
    for (const col of s.ys) {
      const out = new Array<Y>(cells);
      for (let i = 0; i < cellOf.length; i++) if (col[i] !== undefined) out[cellOf[i]] = col[i];
      ys.push(out);
    }
  }
  return { x, ys };
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Indexes of points that have no drawn neighbour (a line of one point is invisible): drawn as dots. */
export function lonePoints(ys: Y[]): number[] {
  const out: number[] = [];
  let prev: Y = undefined; // the last defined value before i
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (v === undefined) continue;
    if (v !== null && (prev === undefined || prev === null)) {
      let j = i + 1;
      while (j < ys.length && ys[j] === undefined) j++;
      if (j >= ys.length || ys[j] === null) out.push(i);
    }
    prev = v;
  }
  return out;
}

export interface GroupLine {
  x: number[];
  mean: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
  /** Runs with a value at each x. */
  count: number[];
}

/** Mean of a group's runs with a min/max (or ±1 std) band over a shared grid of at most `cells` points. */
export function groupLine(members: { x: ArrayLike<number>; y: ArrayLike<number | null> }[], band: "minmax" | "std", cells = 400): GroupLine {
  const xs = members.filter((m) => m.x.length > 0);
  if (xs.length === 0) return { x: [], mean: [], lo: [], hi: [], count: [] };
  const all = new Set<number>();
  for (const m of xs) for (let i = 0; i < m.x.length; i++) all.add(m.x[i]);
  let grid: number[];
  if (all.size <= cells) grid = Array.from(all).sort((a, b) => a - b);
  else {
    const lo = Math.min(...xs.map((m) => m.x[0]));
    const hi = Math.max(...xs.map((m) => m.x[m.x.length - 1]));
    grid = Array.from({ length: cells }, (_, i) => lo + ((hi - lo) * i) / (cells - 1));
  }
  const n = grid.length;
  const sum = new Float64Array(n);
  const sq = new Float64Array(n);
  const mn = new Float64Array(n).fill(Infinity);
  const mx = new Float64Array(n).fill(-Infinity);
  const cnt = new Int32Array(n);
  for (const m of xs) {
    let j = 0;
    for (let g = 0; g < n; g++) {
      const gx = grid[g];
      if (gx < m.x[0] || gx > m.x[m.x.length - 1]) continue;
      while (j < m.x.length - 1 && m.x[j + 1] <= gx) j++;
      let v: number | null;
      if (m.x[j] === gx || j === m.x.length - 1) v = m.y[j];
      else {
        const a = m.y[j];
        const b = m.y[j + 1];
        v = a === null || b === null ? null : a + ((b - a) * (gx - m.x[j])) / (m.x[j + 1] - m.x[j]);
      }
      if (v === null || !Number.isFinite(v)) continue;
      sum[g] += v;
      sq[g] += v * v;
      if (v < mn[g]) mn[g] = v;
      if (v > mx[g]) mx[g] = v;
      cnt[g]++;
    }
  }
  const mean: (number | null)[] = [];
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  for (let g = 0; g < n; g++) {
    if (!cnt[g]) {
      mean.push(null);
      lo.push(null);
      hi.push(null);
      continue;
    }
    const mu = sum[g] / cnt[g];
    mean.push(mu);
    if (band === "minmax") {
      lo.push(mn[g]);
      hi.push(mx[g]);
    } else {
      const sd = Math.sqrt(Math.max(0, sq[g] / cnt[g] - mu * mu));
      lo.push(mu - sd);
      hi.push(mu + sd);
    }
  }
  return { x: grid, mean, lo, hi, count: Array.from(cnt) };
}
