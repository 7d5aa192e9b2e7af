// The workspace's media panels, each over the runs shown: images (one row per run, a step slider over every
// step any run logged the key), a table (a run and a step to choose; sort, filter, images in cells), and
// histograms over steps (a heatmap per run). Their values come from the batched media read (env.tsx).
import { useMemo, useState } from "react";
import type { JsonValue } from "../data/types";
import { formatValue } from "../data/values";
import { fileUrl } from "../data/api";
import { Loading } from "../components/States";
import type { PanelSpec } from "./layout";
import { usePanels, type MediaSeries, type PanelRun } from "./env";
import { descs, HistogramHeatmap, ImageDesc, TableView, valueAt } from "./media";

const IMAGE_RUNS = 12;
const HIST_RUNS = 4;

function useKeyMedia(key: string): { rows: { run: PanelRun; s: MediaSeries }[]; loading: boolean; error: string | null } {
  const env = usePanels();
  return useMemo(() => {
    const rows: { run: PanelRun; s: MediaSeries }[] = [];
    for (const run of env.runs) {
      const s = env.media?.get(run.id)?.get(key);
      if (s && s.steps.length) rows.push({ run, s });
    }
    return { rows, loading: env.media === undefined, error: env.mediaError };
  }, [env.runs, env.media, env.mediaError, key]);
}

function StepSlider({ steps, index, onChange, label }: { steps: number[]; index: number; onChange: (i: number) => void; label: string }) {
  if (steps.length < 2) return <div className="muted small panel-step">step {steps[0]}</div>;
  return (
    <div className="panel-step">
      <input
        type="range"
        min={0}
        max={steps.length - 1}
        value={index}
        onChange={(e) => onChange(Number(e.target.value))}
        data-testid="media-step"
        aria-label={`${label} step`}
      />
      <span className="mono small" data-testid="media-step-value">
        step {steps[index]}
      </span>
    </div>
  );
}

function Missing({ loading, error, what }: { loading: boolean; error: string | null; what: string }) {
  if (error) return <div className="error-inline">Could not load media: {error}</div>;
  if (loading) return <Loading what={what} />;
  return <div className="chart-empty">None of the runs shown logged {what}.</div>;
}

export function ImagesPanel({ spec }: { spec: PanelSpec }) {
  const env = usePanels();
  const key = spec.keys[0];
  const { rows, loading, error } = useKeyMedia(key);
  const steps = useMemo(() => [...new Set(rows.flatMap((r) => r.s.steps))].sort((a, b) => a - b), [rows]);
  const [pick, setPick] = useState<number | null>(null);
  const index = pick === null || pick >= steps.length ? steps.length - 1 : pick;
  if (!rows.length) return <Missing loading={loading} error={error} what={`images under ${key}`} />;
  const step = steps[index];
  return (
    <div className="images-panel">
      <StepSlider steps={steps} index={index} onChange={setPick} label={key} />
      <div className="images-rows">
        {rows.slice(0, IMAGE_RUNS).map(({ run, s }) => {
          const at = valueAt(s.steps, s.values, step);
          const items = at ? descs(at.value).filter((d) => d._type === "image-file") : [];
          return (
            <div className="images-row" key={run.id} data-run-id={run.id}>
              <div className="images-run small" title={run.name}>
                <span className="swatch" style={{ background: run.color }} />
                <span className="images-run-name">{run.name}</span>
                {at && at.step !== step && <span className="muted"> (step {at.step})</span>}
              </div>
              <div className="images-items">
                {items.length ? (
                  items.map((d, k) => <ImageDesc key={k} d={d} at={{ entity: env.entity, project: env.project, runId: run.id }} thumb />)
                ) : (
                  <span className="muted small">no image at this step</span>
                )}
              </div>
            </div>
          );
        })}
        {rows.length > IMAGE_RUNS && <div className="muted small">+{rows.length - IMAGE_RUNS} more runs with images (chart fewer runs to see them)</div>}
      </div>
    </div>
  );
}

export function TablePanel({ spec }: { spec: PanelSpec }) {
  const env = usePanels();
  const key = spec.keys[0];
  const { rows, loading, error } = useKeyMedia(key);
  const [runPick, setRunPick] = useState<string | null>(null);
  const row = rows.find((r) => r.run.id === runPick) ?? rows[0];
  const [pick, setPick] = useState<number | null>(null);
  if (!row) return <Missing loading={loading} error={error} what={`a table under ${key}`} />;
  const steps = row.s.steps;
  const index = pick === null || pick >= steps.length ? steps.length - 1 : pick;
  const d = descs(row.s.values[index])[0];
  return (
    <div className="table-panel">
      <div className="table-panel-head">
        <select className="input input-sm" value={row.run.id} onChange={(e) => setRunPick(e.target.value)} aria-label="run" data-testid="table-run">
          {rows.map((r) => (
            <option key={r.run.id} value={r.run.id}>
              {r.run.name}
            </option>
          ))}
        </select>
        <StepSlider steps={steps} index={index} onChange={setPick} label={key} />
      </div>
      {d ? (
        <TableView key={`${row.run.id}:${steps[index]}`} d={d} at={{ entity: env.entity, project: env.project, runId: row.run.id }} />
      ) : (
        <div className="muted small">Not a table at this step.</div>
      )}
    </div>
  );
}

export function HistogramPanel({ spec, height }: { spec: PanelSpec; height: number }) {
  const key = spec.keys[0];
  const { rows, loading, error } = useKeyMedia(key);
  if (!rows.length) return <Missing loading={loading} error={error} what={`histograms under ${key}`} />;
  const shown = rows.slice(0, HIST_RUNS);
  const each = Math.max(60, Math.floor((height - 24 * shown.length) / shown.length));
  return (
    <div className="hist-panel">
      {shown.map(({ run, s }) => (
        <div key={run.id} className="hist-run" data-run-id={run.id}>
          <div className="images-run small">
            <span className="swatch" style={{ background: run.color }} />
            {run.name}
          </div>
          <HistogramHeatmap steps={s.steps} values={s.values} color={run.color} height={each} />
        </div>
      ))}
      {rows.length > HIST_RUNS && <div className="muted small">+{rows.length - HIST_RUNS} more runs</div>}
    </div>
  );
}

function ValueCell({ v, runId }: { v: JsonValue; runId: string }) {
  const env = usePanels();
  const d = descs(v)[0];
  if (d && typeof d.path === "string")
    return (
      <a href={fileUrl(env.entity, env.project, runId, d.path)} target="_blank" rel="noreferrer noopener">
        {d._type ?? "file"}: {d.path}
      </a>
    );
  return <span className="mono">{typeof v === "string" ? v : formatValue(v)}</span>;
}

/** Any other JSON history (text, objects): the latest value of each run. */
export function ValuePanel({ spec }: { spec: PanelSpec }) {
  const key = spec.keys[0];
  const { rows, loading, error } = useKeyMedia(key);
  if (!rows.length) return <Missing loading={loading} error={error} what={`values under ${key}`} />;
  return (
    <table className="table kv value-panel">
      <tbody>
        {rows.map(({ run, s }) => (
          <tr key={run.id}>
            <td className="kv-key">
              <span className="swatch" style={{ background: run.color }} /> {run.name}
            </td>
            <td>
              <ValueCell v={s.values[s.values.length - 1]} runId={run.id} />
              <span className="muted small"> · step {s.steps[s.steps.length - 1]}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
