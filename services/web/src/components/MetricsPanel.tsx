import { useEffect, useMemo, useRef, useState } from "react";
import { api } from "../data/api";
import { useUrlParam } from "../data/urlState";
import type { SeriesWire } from "../data/types";
import { ChartCard, xParamOf, type ChartRun } from "./ChartCard";

export interface PanelRun extends ChartRun {
  running: boolean;
  /** The run's history keys when known (run record); otherwise the first fetch asks for all keys. */
  keys?: string[];
}

interface Props {
  runs: PanelRun[];
  /** Live tick: running runs are refetched when it changes. */
  tick: number;
  systemOpenByDefault: boolean;
  /** Which metrics to show: all, only `system/*`, or all but `system/*`. */
  only?: "all" | "system" | "metrics";
}

/** Samples per line for the overview charts (charts are ~400 px wide; zoom refetches exact points). */
export const PANEL_SAMPLES = 500;


function sectionOf(key: string): string {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : "Charts";
}

interface RunStore {
  series: Record<string, SeriesWire>;
  sampled: boolean;
  /** Keys fetched (or known absent). */
  fetched: Set<string>;
  /** Every key of the run, once a fetch without a key filter told us. */
  all?: string[];
}

export function MetricsPanel({ runs, tick, systemOpenByDefault, only = "all" }: Props) {
  const chartable = (k: string) =>
    !k.startsWith("_") && (only === "all" || (only === "system") === k.startsWith("system/"));
  const [smoothParam, setSmooth] = useUrlParam("smooth");
  const [logParam, setLog] = useUrlParam("log");
  const [filterParam, setFilter] = useUrlParam("metric");
  const smoothing = Math.min(0.99, Math.max(0, Number(smoothParam ?? 0) || 0));
  const logY = logParam === "1";
  const metricFilter = filterParam ?? "";
  const [xParam, setX] = useUrlParam("x");
  const xMode = xParam || "step";
  const xArg = xParamOf(xMode);
  const [closed, setClosed] = useState<Record<string, boolean>>(systemOpenByDefault ? {} : { system: true });
  const [store, setStore] = useState<Record<string, RunStore>>({});
  const [error, setError] = useState<string | null>(null);
  const [inflight, setInflight] = useState(0);
  const storeRef = useRef(store);
  storeRef.current = store;
  // Another x-axis: every series is fetched again (with `x=`).
  const lastX = useRef(xMode);
  if (lastX.current !== xMode) {
    lastX.current = xMode;
    // keep what is known about each run's keys; drop the series (they carry the old x)
    const kept: Record<string, RunStore> = {};
    for (const [id, v] of Object.entries(storeRef.current)) kept[id] = { series: {}, sampled: false, fetched: new Set(), all: v.all };
    storeRef.current = kept;
  }
  useEffect(() => setStore(storeRef.current), [xMode]);

  const runKeys = (r: PanelRun): string[] | undefined => r.keys ?? store[r.id]?.all;

  // Every key of the selected runs (from their records or from a first all-keys fetch).
  const keys = useMemo(() => {
    const s = new Set<string>();
    for (const r of runs) for (const k of runKeys(r) ?? []) if (chartable(k)) s.add(k);
    return [...s];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runs, store]);

  const sections = useMemo(() => {
    const f = metricFilter.toLowerCase();
    const m = new Map<string, string[]>();
    for (const k of keys) {
      if (f && !k.toLowerCase().includes(f)) continue;
      const s = sectionOf(k);
      if (!m.has(s)) m.set(s, []);
      m.get(s)!.push(k);
    }
    const names = [...m.keys()].sort((a, b) => {
      const rank = (s: string) => (s === "Charts" ? 0 : s === "system" ? 2 : 1);
      return rank(a) - rank(b) || a.localeCompare(b);
    });
    return names.map((n) => ({ name: n, keys: m.get(n)!.sort() }));
  }, [keys, metricFilter]);

  const isOpen = (k: string) => !closed[sectionOf(k)];
  const closedKey = Object.keys(closed).filter((k) => closed[k]).join(",");
  const runsKey = runs.map((r) => `${r.id}:${r.running ? 1 : 0}:${r.keys ? r.keys.length : "?"}`).join(",");

  // Load what is missing: the keys of open sections a run has not fetched yet (all keys at once for a run
  // whose keys are unknown); running runs again on each live tick.
  const lastTick = useRef(tick);
  const wasRunning = useRef(new Map<string, boolean>());
  useEffect(() => {
    const refresh = tick !== lastTick.current;
    lastTick.current = tick;
    // A run that just stopped running gets one last full refresh (its final points).
    const finished = new Set(runs.filter((r) => !r.running && wasRunning.current.get(r.id)).map((r) => r.id));
    wasRunning.current = new Map(runs.map((r) => [r.id, r.running]));
    const ctl = new AbortController();
    const jobs: { r: PanelRun; want: string[] | null }[] = [];
    for (const r of runs) {
      const have = storeRef.current[r.id];
      const known = runKeys(r);
      if (!known || (refresh && r.running && !r.keys)) {
        // keys unknown (or a running run that may have logged new ones): ask for every key
        if (!have || (refresh && r.running)) jobs.push({ r, want: null });
        continue;
      }
      const open = known.filter((k) => chartable(k) && isOpen(k));
      const want = (refresh && r.running) || finished.has(r.id) ? open : open.filter((k) => !have || !have.fetched.has(k));
      if (want.length) jobs.push({ r, want });
    }
    if (jobs.length === 0) return;
    setInflight((n) => n + 1);
    Promise.all(
      jobs.map(({ r, want }) =>
        api
          .history(r.entity, r.project, r.id, { keys: want ?? [], samples: PANEL_SAMPLES, x: xArg }, ctl.signal)
          .then((h) => ({ r, want, h })),
      ),
    )
      .then((results) => {
        // One state update for all runs: every chart is rebuilt once, not once per run.
        setStore((s) => {
          const next = { ...s };
          for (const { r, want, h } of results) {
            const prev = next[r.id];
            const fetched = new Set(prev?.fetched ?? []);
            const got = Object.keys(h.series);
            (want ?? got).forEach((k) => fetched.add(k));
            next[r.id] = {
              series: { ...(prev?.series ?? {}), ...h.series },
              sampled: h.sampled || (prev?.sampled ?? false),
              fetched,
              all: want === null ? got : prev?.all,
            };
          }
          return next;
        });
        setError(null);
      })
      .catch((e) => {
        if (e?.name !== "AbortError") setError(String(e.message ?? e));
      })
      .finally(() => setInflight((n) => n - 1));
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runsKey, closedKey, tick, xMode]);

  const chartRuns: ChartRun[] = useMemo(
    () => runs.map(({ entity, project, id, name, color }) => ({ entity, project, id, name, color })),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [runs.map((r) => r.id + r.color + r.name).join(",")],
  );

  const perMetric = useMemo(() => {
    const out: Record<string, { base: Record<string, SeriesWire | undefined>; sampled: Record<string, boolean> }> = {};
    for (const k of keys) {
      const base: Record<string, SeriesWire | undefined> = {};
      const sampled: Record<string, boolean> = {};
      for (const r of runs) {
        base[r.id] = store[r.id]?.series[k];
        sampled[r.id] = store[r.id]?.sampled ?? false;
      }
      out[k] = { base, sampled };
    }
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, keys, chartRuns]);

  const waitingForKeys = runs.some((r) => !runKeys(r)) && keys.length === 0;

  return (
    <div className="metrics-panel">
      <div className="toolbar">
        <input
          className="input input-sm"
          placeholder="Filter charts"
          value={metricFilter}
          onChange={(e) => setFilter(e.target.value || null)}
          style={{ width: 180 }}
        />
        <label className="tool" title="Exponential moving average (debiased)">
          Smoothing
          <input
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={smoothing}
            onChange={(e) => setSmooth(Number(e.target.value) > 0 ? e.target.value : null)}
            data-testid="smoothing"
          />
          <span className="mono tool-val">{smoothing.toFixed(2)}</span>
        </label>
        <label className="tool" title="What the charts' x-axis shows">
          X axis
          <select className="input input-sm" value={xMode} onChange={(e) => setX(e.target.value === "step" ? null : e.target.value)} data-testid="x-axis">
            <option value="step">Step</option>
            <option value="relative">Relative time</option>
            <option value="wall">Wall time</option>
            <optgroup label="Metric">
              {keys
                .filter((k) => !k.startsWith("system/"))
                .sort()
                .map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
            </optgroup>
          </select>
        </label>
        <label className="tool">
          <input type="checkbox" checked={logY} onChange={(e) => setLog(e.target.checked ? "1" : null)} data-testid="log-scale" />
          Log scale
        </label>
        <span className="muted small">Drag on a chart to zoom, double-click to reset.</span>
        {inflight > 0 && <span className="muted small">Loading…</span>}
      </div>
      {error && <div className="error-inline">Could not load metrics: {error}</div>}
      {sections.length === 0 && (
        <div className="empty">
          {waitingForKeys
            ? "Loading metrics…"
            : keys.length === 0
              ? only === "system"
                ? "No system metrics recorded (the SDK samples CPU, memory, disk, network and GPU every few seconds unless system_metrics is off)."
                : "These runs have not logged any metrics yet."
              : "No chart matches the filter."}
        </div>
      )}
      {sections.map((s) => (
        <section key={s.name} className="chart-section" data-section={s.name}>
          <button className="section-head" onClick={() => setClosed((c) => ({ ...c, [s.name]: !c[s.name] }))}>
            <span className={`caret ${closed[s.name] ? "" : "open"}`}>▸</span>
            {s.name === "system" ? "System" : s.name}
            <span className="muted small">{s.keys.length}</span>
          </button>
          {!closed[s.name] && (
            <div className="chart-grid">
              {s.keys.map((k) => (
                <ChartCard
                  key={k}
                  metric={k}
                  runs={chartRuns}
                  base={perMetric[k].base}
                  sampled={perMetric[k].sampled}
                  smoothing={smoothing}
                  logY={logY}
                  loading={inflight > 0}
                  xMode={xMode}
                />
              ))}
            </div>
          )}
        </section>
      ))}
    </div>
  );
}
