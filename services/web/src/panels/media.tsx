// Media descriptors drawn: images (with masks and boxes), tables (sortable, filterable, images inside
// cells) and histograms. Used by the workspace's media panels and a run's Media tab.
import { useEffect, useMemo, useRef, useState } from "react";
import { api, fileUrl } from "../data/api";
import { useResource } from "../data/hooks";
import type { JsonValue } from "../data/types";
import { formatValue, sortableNumber } from "../data/values";
import { ErrorBox, Loading } from "../components/States";

export type Desc = { _type?: string; [k: string]: JsonValue | undefined };

export interface RunRef {
  entity: string;
  project: string;
  runId: string;
}

/** The descriptors of a media value (one descriptor or a list of them). */
export function descs(v: JsonValue | undefined): Desc[] {
  if (Array.isArray(v)) return v.filter((x) => x && typeof x === "object" && !Array.isArray(x)) as Desc[];
  if (v && typeof v === "object") return [v as Desc];
  return [];
}

/** The value of a (steps, values) series at the last step <= `step` (or the first one). */
export function valueAt(steps: number[], values: JsonValue[], step: number): { step: number; value: JsonValue } | null {
  if (!steps.length) return null;
  let i = 0;
  while (i + 1 < steps.length && steps[i + 1] <= step) i++;
  return { step: steps[i], value: values[i] };
}

type Boxes = Record<string, { box_data?: { position?: Record<string, number>; class_id?: number; box_caption?: string; domain?: string }[]; class_labels?: Record<string, string> }>;

export function ImageDesc({ d, at, thumb = false }: { d: Desc; at: RunRef; thumb?: boolean }) {
  const w = typeof d.width === "number" ? d.width : undefined;
  const h = typeof d.height === "number" ? d.height : undefined;
  const boxes = (d.boxes ?? {}) as Boxes;
  const masks = (d.masks ?? {}) as Record<string, { path?: string }>;
  const src = (p: string) => fileUrl(at.entity, at.project, at.runId, p);
  return (
    <figure className={`media-image ${thumb ? "thumb" : ""}`} data-testid="media-image">
      <div className="media-img-wrap" style={w && h ? { aspectRatio: `${w} / ${h}` } : undefined}>
        <img src={src(String(d.path))} alt={String(d.caption ?? d.path)} loading="lazy" />
        {Object.values(masks).map((m, i) => (m.path ? <img key={i} className="media-mask" src={src(m.path)} alt="mask" /> : null))}
        {w && h && Object.keys(boxes).length > 0 && (
          <svg className="media-boxes" viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none">
            {Object.values(boxes).flatMap((b, bi) =>
              (b.box_data ?? []).map((box, i) => {
                const p = box.position ?? {};
                const px = box.domain === "pixel";
                const sx = px ? 1 : w;
                const sy = px ? 1 : h;
                const x = "minX" in p ? p.minX * sx : (p.middle ?? 0) * sx - ((p.width ?? 0) * sx) / 2;
                const y = "minY" in p ? p.minY * sy : (p.middleY ?? 0) * sy - ((p.height ?? 0) * sy) / 2;
                const bw = "maxX" in p ? (p.maxX - p.minX) * sx : (p.width ?? 0) * sx;
                const bh = "maxY" in p ? (p.maxY - p.minY) * sy : (p.height ?? 0) * sy;
                const label = box.box_caption ?? b.class_labels?.[String(box.class_id)] ?? "";
                return (
                  <g key={`${bi}-${i}`}>
                    <rect x={x} y={y} width={bw} height={bh} fill="none" stroke="#f43f5e" strokeWidth={Math.max(1, w / 150)} />
                    {label && (
                      <text x={x + 2} y={y + Math.max(8, w / 25)} fill="#f43f5e" fontSize={Math.max(8, w / 25)}>
                        {label}
                      </text>
                    )}
                  </g>
                );
              }),
            )}
          </svg>
        )}
      </div>
      {d.caption !== undefined && d.caption !== null && <figcaption>{String(d.caption)}</figcaption>}
    </figure>
  );
}

interface TableData {
  columns: string[];
  data: JsonValue[][];
}

/** A logged table's rows (the JSON file the descriptor names, read from the bucket through a presigned GET). */
export function useTableData(at: RunRef, path: string | undefined) {
  return useResource(
    async (signal) => {
      if (!path) return null;
      const meta = await api.file(at.entity, at.project, at.runId, path, signal);
      const r = await fetch(meta.url, { signal, credentials: "omit" });
      if (!r.ok) throw new Error(`the object store answered ${r.status} for ${path}`);
      const t = (await r.json()) as TableData;
      return { columns: Array.isArray(t.columns) ? t.columns.map(String) : [], data: Array.isArray(t.data) ? t.data : [] };
    },
    [at.entity, at.project, at.runId, path],
  );
}

function cellText(v: JsonValue): string {
  if (v && typeof v === "object" && !Array.isArray(v) && typeof (v as Desc)._type === "string") return String((v as Desc).caption ?? (v as Desc)._type);
  return formatValue(v);
}

function compareCells(a: JsonValue, b: JsonValue): number {
  const x = sortableNumber(a);
  const y = sortableNumber(b);
  if (x !== null && y !== null) return Number.isNaN(x) ? 1 : Number.isNaN(y) ? -1 : x - y;
  if (x !== null) return -1;
  if (y !== null) return 1;
  return cellText(a).localeCompare(cellText(b));
}

const TABLE_ROWS = 200;

/** A logged table: sort by a column (click its header), filter rows by text, images shown inside cells. */
export function TableView({ d, at }: { d: Desc; at: RunRef }) {
  const res = useTableData(at, typeof d.path === "string" ? d.path : undefined);
  const [sort, setSort] = useState<{ col: number; desc: boolean } | null>(null);
  const [q, setQ] = useState("");
  const rows = useMemo(() => {
    const t = res.data;
    if (!t) return [];
    const f = q.trim().toLowerCase();
    let out = f ? t.data.filter((row) => row.some((c) => cellText(c).toLowerCase().includes(f))) : t.data.slice();
    if (sort) {
      out = out.slice().sort((a, b) => compareCells(a[sort.col], b[sort.col]) * (sort.desc ? -1 : 1));
    }
    return out;
  }, [res.data, q, sort]);
  if (res.error) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="table" />;
  const t = res.data;
  return (
    <div className="media-table-wrap" data-testid="media-table">
      <div className="table-tools">
        <input className="input input-sm" placeholder="Filter rows" value={q} onChange={(e) => setQ(e.target.value)} data-testid="table-filter" />
        <span className="muted small" data-testid="table-count">
          {q ? `${rows.length.toLocaleString("en-US")} of ` : ""}
          {t.data.length.toLocaleString("en-US")} row{t.data.length === 1 ? "" : "s"}
          {rows.length > TABLE_ROWS && ` (first ${TABLE_ROWS} shown)`}
        </span>
      </div>
      <div className="media-table-scroll">
        <table className="table media-table">
          <thead>
            <tr>
              {t.columns.map((c, i) => (
                <th
                  key={i}
                  className="sortable"
                  onClick={() => setSort((s) => (s && s.col === i ? { col: i, desc: !s.desc } : { col: i, desc: false }))}
                  data-col={c}
                  title={`Sort by ${c}`}
                >
                  {c}
                  {sort?.col === i && <span className="sort-arrow">{sort.desc ? " ↓" : " ↑"}</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, TABLE_ROWS).map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) => (
                  <td key={j}>
                    {cell && typeof cell === "object" && !Array.isArray(cell) && (cell as Desc)._type === "image-file" ? (
                      <ImageDesc d={cell as Desc} at={at} thumb />
                    ) : (
                      <span className="mono">{formatValue(cell)}</span>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function HistogramBars({ d }: { d: Desc }) {
  const values = (d.values as number[]) ?? [];
  const bins = (d.bins as number[]) ?? [];
  const max = Math.max(1, ...values);
  return (
    <div className="media-hist" data-testid="media-histogram">
      <div className="hist-bars">
        {values.map((v, i) => (
          <div key={i} className="hist-bar" style={{ height: `${(100 * v) / max}%` }} title={`[${bins[i]}, ${bins[i + 1]}): ${v}`} />
        ))}
      </div>
      <div className="hist-axis muted small">
        <span>{formatValue(bins[0] ?? null)}</span>
        <span>{formatValue(bins[bins.length - 1] ?? null)}</span>
      </div>
    </div>
  );
}

/**
 * Histograms over steps as a heatmap: one column per logged step, the value axis upwards, darker where more
 * values fell (each column scaled to its own largest bin, as TensorBoard's distributions do).
 */
export function HistogramHeatmap({ steps, values, color, height }: { steps: number[]; values: JsonValue[]; color: string; height: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<string | null>(null);
  const hists = useMemo(
    () =>
      values.map((v) => {
        const d = descs(v)[0];
        return { counts: ((d?.values as number[]) ?? []).map(Number), bins: ((d?.bins as number[]) ?? []).map(Number) };
      }),
    [values],
  );
  const range = useMemo(() => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const h of hists) if (h.bins.length) {
      lo = Math.min(lo, h.bins[0]);
      hi = Math.max(hi, h.bins[h.bins.length - 1]);
    }
    return Number.isFinite(lo) && hi > lo ? [lo, hi] : [0, 1];
  }, [hists]);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const w = c.clientWidth || 300;
    const ratio = window.devicePixelRatio || 1;
    c.width = w * ratio;
    c.height = height * ratio;
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, w, height);
    const n = hists.length;
    const colW = w / Math.max(1, n);
    const [lo, hi] = range;
    const yOf = (v: number) => height - ((v - lo) / (hi - lo)) * height;
    hists.forEach((h, i) => {
      const top = Math.max(1, ...h.counts);
      for (let b = 0; b < h.counts.length && b + 1 < h.bins.length; b++) {
        if (!h.counts[b]) continue;
        ctx.fillStyle = color;
        ctx.globalAlpha = 0.12 + 0.88 * (h.counts[b] / top);
        const y0 = yOf(h.bins[b + 1]);
        const y1 = yOf(h.bins[b]);
        ctx.fillRect(i * colW, y0, Math.max(1, colW - (colW > 3 ? 1 : 0)), Math.max(1, y1 - y0));
      }
    });
    ctx.globalAlpha = 1;
    c.dataset.drawn = "1";
  }, [hists, range, color, height]);
  return (
    <div className="hist-heatmap" data-testid="histogram-heatmap">
      <canvas
        ref={ref}
        style={{ height }}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const i = Math.min(steps.length - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * steps.length)));
          const v = range[0] + (1 - (e.clientY - r.top) / r.height) * (range[1] - range[0]);
          setHover(`step ${steps[i]} · value ${formatValue(+v.toPrecision(4))}`);
        }}
        onMouseLeave={() => setHover(null)}
      />
      <div className="hist-axis muted small">
        <span>step {steps[0]}</span>
        <span>{hover ?? `values ${formatValue(+range[0].toPrecision(4))} … ${formatValue(+range[1].toPrecision(4))}`}</span>
        <span>step {steps[steps.length - 1]}</span>
      </div>
    </div>
  );
}
