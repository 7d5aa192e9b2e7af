import { useEffect, useMemo, useState } from "react";
import { api } from "../data/api";
import type { SeriesWire } from "../data/types";
import { toFiniteArray } from "../data/values";
import { LineChart, type ChartLine } from "./LineChart";

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
}

export const ZOOM_SAMPLES = 1000;

function toLine(run: ChartRun, s: SeriesWire, sampled: boolean): ChartLine {
  const n = s.step.length;
  const hasBand = sampled && s.min !== undefined && s.max !== undefined;
  return {
    id: run.id,
    label: run.name,
    color: run.color,
    step: s.step,
    value: toFiniteArray(s.value, n),
    min: hasBand ? toFiniteArray(s.min, n) : null,
    max: hasBand ? toFiniteArray(s.max, n) : null,
  };
}

export function ChartCard({ metric, runs, base, sampled, smoothing, logY, loading }: Props) {
  const [range, setRange] = useState<[number, number] | null>(null);
  const [zoomed, setZoomed] = useState<{ series: Record<string, SeriesWire>; sampled: Record<string, boolean> } | null>(null);
  const [zoomError, setZoomError] = useState<string | null>(null);

  // Zoom: refetch only the selected step range, so points are exact once the range is small enough.
  useEffect(() => {
    if (!range) {
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
  }, [range, metric, runs.map((r) => r.id).join(",")]);

  const lines = useMemo(() => {
    const src = range && zoomed ? zoomed.series : base;
    const smp = range && zoomed ? zoomed.sampled : sampled;
    const out: ChartLine[] = [];
    for (const r of runs) {
      const s = src[r.id];
      if (s && s.step.length) out.push(toLine(r, s, !!smp[r.id]));
    }
    return out;
  }, [runs, base, sampled, zoomed, range]);

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
        <div className="chart-empty">{loading ? "Loading…" : "No data for the selected runs"}</div>
      ) : (
        <LineChart lines={lines} smoothing={smoothing} logY={logY} height={190} onZoom={setRange} />
      )}
    </div>
  );
}
