import { useMemo, useState } from "react";
import { api, fileUrl } from "../data/api";
import { useResource } from "../data/hooks";
import type { JsonValue } from "../data/types";
import { formatValue } from "../data/values";
import { ErrorBox, Loading } from "../components/States";

type Desc = { _type?: string; [k: string]: JsonValue | undefined };

interface MediaKey {
  key: string;
  steps: number[];
  values: JsonValue[];
}

/** History keys holding media: the keys without numeric points, read at full resolution (their descriptors). */
async function loadMedia(entity: string, project: string, runId: string, keys: string[], signal: AbortSignal): Promise<MediaKey[]> {
  const candidates = keys.filter((k) => !k.startsWith("_") && !k.startsWith("system/"));
  if (!candidates.length) return [];
  const h = await api.history(entity, project, runId, { keys: candidates, samples: 1 }, signal);
  const jsonKeys = candidates.filter((k) => !h.series[k] || h.series[k].step.length === 0);
  if (!jsonKeys.length) return [];
  const out = new Map<string, MediaKey>(jsonKeys.map((k) => [k, { key: k, steps: [], values: [] }]));
  let start = 0;
  for (let page = 0; page < 20; page++) {
    const full = await api.historyFull(entity, project, runId, { keys: jsonKeys, start_step: start, limit: 10000 }, signal);
    full.steps.forEach((s, i) => {
      for (const k of jsonKeys) {
        const v = full.columns[k]?.[i];
        if (v !== null && v !== undefined) {
          out.get(k)!.steps.push(s);
          out.get(k)!.values.push(v);
        }
      }
    });
    if (full.next_step === null) break;
    start = full.next_step;
  }
  return [...out.values()].filter((m) => m.steps.length);
}

function descs(v: JsonValue): Desc[] {
  if (Array.isArray(v)) return v.filter((x) => x && typeof x === "object" && !Array.isArray(x)) as Desc[];
  if (v && typeof v === "object") return [v as Desc];
  return [];
}

function ImageDesc({ d, entity, project, runId }: { d: Desc; entity: string; project: string; runId: string }) {
  const w = typeof d.width === "number" ? d.width : undefined;
  const h = typeof d.height === "number" ? d.height : undefined;
  const boxes = (d.boxes ?? {}) as Record<string, { box_data?: { position?: Record<string, number>; class_id?: number; box_caption?: string; domain?: string }[]; class_labels?: Record<string, string> }>;
  const masks = (d.masks ?? {}) as Record<string, { path?: string }>;
  return (
    <figure className="media-image" data-testid="media-image">
      <div className="media-img-wrap" style={w && h ? { aspectRatio: `${w} / ${h}` } : undefined}>
        <img src={fileUrl(entity, project, runId, String(d.path))} alt={String(d.caption ?? d.path)} />
        {Object.values(masks).map((m, i) =>
          m.path ? <img key={i} className="media-mask" src={fileUrl(entity, project, runId, m.path)} alt="mask" /> : null,
        )}
        {w && h && (
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
      {d.caption !== undefined && <figcaption>{String(d.caption)}</figcaption>}
    </figure>
  );
}

function TableDesc({ d, entity, project, runId }: { d: Desc; entity: string; project: string; runId: string }) {
  const res = useResource(
    async (signal) => {
      const meta = await api.file(entity, project, runId, String(d.path), signal);
      const r = await fetch(meta.url, { signal, credentials: "omit" });
      if (!r.ok) throw new Error(`the object store answered ${r.status}`);
      return (await r.json()) as { columns: string[]; data: JsonValue[][] };
    },
    [entity, project, runId, d.path],
  );
  if (res.error) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="table" />;
  return (
    <div className="media-table-wrap" data-testid="media-table">
      <table className="table media-table">
        <thead>
          <tr>
            {res.data.columns.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {res.data.data.slice(0, 500).map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>
                  {cell && typeof cell === "object" && !Array.isArray(cell) && (cell as Desc)._type === "image-file" ? (
                    <ImageDesc d={cell as Desc} entity={entity} project={project} runId={runId} />
                  ) : (
                    <span className="mono">{formatValue(cell)}</span>
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {res.data.data.length > 500 && <div className="muted small">first 500 of {res.data.data.length} rows</div>}
    </div>
  );
}

function HistogramDesc({ d }: { d: Desc }) {
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

function MediaPanel({ m, entity, project, runId }: { m: MediaKey; entity: string; project: string; runId: string }) {
  const [idx, setIdx] = useState(m.steps.length - 1);
  const i = Math.min(idx, m.steps.length - 1);
  const value = m.values[i];
  const items = descs(value);
  return (
    <div className="card media-panel" data-testid="media-panel" data-key={m.key}>
      <div className="chart-head">
        <span className="chart-title">{m.key}</span>
        <span className="muted small">step {m.steps[i]}</span>
      </div>
      {m.steps.length > 1 && (
        <input
          type="range"
          className="media-slider"
          min={0}
          max={m.steps.length - 1}
          value={i}
          onChange={(e) => setIdx(Number(e.target.value))}
          data-testid="media-step"
          aria-label={`${m.key} step`}
        />
      )}
      <div className="media-items">
        {items.length === 0 ? (
          <pre className="mono small">{formatValue(value)}</pre>
        ) : (
          items.map((d, k) =>
            d._type === "image-file" ? (
              <ImageDesc key={k} d={d} entity={entity} project={project} runId={runId} />
            ) : d._type === "table-file" ? (
              <TableDesc key={k} d={d} entity={entity} project={project} runId={runId} />
            ) : d._type === "histogram" ? (
              <HistogramDesc key={k} d={d} />
            ) : (
              <pre key={k} className="mono small">
                {JSON.stringify(d, null, 2)}
              </pre>
            ),
          )
        )}
      </div>
    </div>
  );
}

export function MediaView({ entity, project, runId, keys, tick }: { entity: string; project: string; runId: string; keys: string[]; tick: number }) {
  const res = useResource((signal) => loadMedia(entity, project, runId, keys, signal), [entity, project, runId, keys.join(","), tick]);
  const media = useMemo(() => res.data ?? [], [res.data]);
  if (res.error && !res.data) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="media" />;
  if (!media.length) return <div className="empty">This run has logged no images, tables or histograms.</div>;
  return (
    <div className="media-grid">
      {media.map((m) => (
        <MediaPanel key={m.key} m={m} entity={entity} project={project} runId={runId} />
      ))}
    </div>
  );
}
