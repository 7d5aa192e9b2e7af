import { useMemo, useState } from "react";
import { query } from "../api/client";
import { useResource } from "../data/hooks";
import type { JsonValue } from "../data/types";
import { formatValue } from "../data/values";
import { ErrorBox, Loading } from "../components/States";
import { descs, HistogramBars, ImageDesc, TableView } from "../panels/media";

interface MediaKey {
  key: string;
  steps: number[];
  values: JsonValue[];
}

/** The run's media keys with every value (the batched media read, for this one run). */
async function loadMedia(entity: string, project: string, runId: string, keys: string[], signal: AbortSignal): Promise<MediaKey[]> {
  const candidates = keys.filter((k) => !k.startsWith("_") && !k.startsWith("system/"));
  if (!candidates.length) return [];
  const res = await query.post("/api/v1/projects/{entity}/{project}/media", {
    path: { entity, project },
    body: { runs: [runId], keys: candidates.slice(0, 100), per_key: 1000 },
    signal,
  });
  const media = res.runs[0]?.media ?? {};
  return Object.entries(media)
    .map(([key, m]) => ({ key, steps: m.steps, values: m.values }))
    .filter((m) => m.steps.length)
    .sort((a, b) => a.key.localeCompare(b.key));
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
              <ImageDesc key={k} d={d} at={{ entity, project, runId }} />
            ) : d._type === "table-file" ? (
              <TableView key={`${k}:${m.steps[i]}`} d={d} at={{ entity, project, runId }} />
            ) : d._type === "histogram" ? (
              <HistogramBars key={k} d={d} />
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
