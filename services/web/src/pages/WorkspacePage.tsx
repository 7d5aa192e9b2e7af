import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import type { SortingState } from "@tanstack/react-table";
import { api } from "../data/api";
import { colorAt } from "../data/colors";
import { useResource } from "../data/hooks";
import { useLiveMode, useLiveTick } from "../data/live";
import { SERVER_ORDERS, useProjectRuns } from "../data/runs";
import { sortRows, toRowData } from "../data/sortRuns";
import type { JsonValue, Run } from "../data/types";
import { useUrlParam } from "../data/urlState";
import { flatten, formatValue, plural } from "../data/values";
import { ColumnPicker } from "../components/ColumnPicker";
import { FilterBar } from "../components/FilterBar";
import { GroupsView } from "../components/GroupsView";
import { RunsTable } from "../components/RunsTable";
import { SdkSnippet } from "../components/SdkSnippet";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TopBar, ProjectCrumbs } from "../components/TopBar";
import { ProjectTabs } from "../components/ProjectTabs";
import { ChartsToolbar, useChartSettings } from "../panels/ChartsToolbar";
import { PanelsContext, mediaKinds, useMedia, useStores, type PanelGroup, type PanelRun, type PanelsEnv } from "../panels/env";
import { autoPanels } from "../panels/layout";
import { PanelsView } from "../panels/PanelsView";
import { useSavedLayout } from "../panels/useLayout";
import { LayoutMenu, ShareButton } from "../panels/ShareButton";
import { runActions } from "../extensions";

/** How many of the table's first runs the charts show when no run is ticked. */
const DEFAULT_TOP = 10;
const TOP_CHOICES = [5, 10, 20, 50, 100, 300, 1000];
/** At most this many runs in the charts (the batched history endpoint's limit). */
const MAX_CHARTED = 1000;
/** Ticked runs are kept in the URL (`sel`); beyond this many, "top N" or "all" say it shorter. */
const MAX_TICKED = 200;
const TABLE_MIN = 300;
const TABLE_DEFAULT = 560;

function parseSort(s: string | null): SortingState {
  if (!s) return [{ id: "created_at", desc: true }];
  return s.startsWith("-") ? [{ id: s.slice(1), desc: true }] : [{ id: s, desc: false }];
}

/** The value a run is grouped by (`config.KEY`, `state`, `group`, `job_type`, `host`). */
function groupValue(run: Run, by: string): JsonValue {
  if (by.startsWith("config.")) return flatten(run.config)[by.slice(7)] ?? (run.config as Record<string, JsonValue>)[by.slice(7)] ?? null;
  if (by === "state" || by === "host" || by === "job_type") return run[by] || null;
  if (by === "group") return run.group || null;
  return null;
}

/** Keep a counter from moving more than once per `ms` (a live project ticks often). */
function useThrottled(n: number, ms: number): number {
  const [v, setV] = useState(n);
  const last = useRef(0);
  useEffect(() => {
    const wait = last.current + ms - Date.now();
    if (wait <= 0) {
      last.current = Date.now();
      setV(n);
      return;
    }
    const t = window.setTimeout(() => {
      last.current = Date.now();
      setV(n);
    }, wait);
    return () => window.clearTimeout(t);
  }, [n, ms]);
  return v;
}

export function WorkspacePage() {
  const { entity = "", project = "" } = useParams();
  const [search] = useSearchParams();
  const [sortParam, setSort] = useUrlParam("sort");
  const sorting = useMemo(() => parseSort(sortParam), [sortParam]);
  const [qParam, setQ] = useUrlParam("q");
  const q = qParam ?? "";
  const [colsParam, setCols] = useUrlParam("cols");
  const cols = useMemo(() => (colsParam ?? "").split(",").filter(Boolean), [colsParam]);
  const [selParam, setSel] = useUrlParam("sel");
  const [topParam, setTop] = useUrlParam("top");
  const [filterParam, setFilter] = useUrlParam("filter");
  const filter = filterParam ?? "";
  const [groupBy, setGroupBy] = useUrlParam("groupby");
  const [groupMetric, setGroupMetric] = useUrlParam("gmetric");
  const [viewParam, setView] = useUrlParam("view");
  const [chart, setChart] = useChartSettings();
  const navigate = useNavigate();
  const liveMode = useLiveMode({ kind: "project-runs", entity, project });

  // The server orders the first load when it can; later sort changes happen in the browser (all rows are loaded).
  const [serverOrder] = useState(() => {
    const s = sorting[0];
    return s && SERVER_ORDERS.has(s.id) ? `${s.desc ? "-" : ""}${s.id}` : null;
  });
  const projectRes = useResource(() => api.project(entity, project), [entity, project]);
  // When the charts show the first N runs of the server's order, the first page holds them all: the charted
  // set is known from the first answer and its history is read in one request.
  const wantTop = selParam === null && serverOrder !== null && !qParam ? (topParam === "all" ? MAX_CHARTED : Number(topParam) || 0) : 0;
  // (the rest of the list is read once the charts in view have theirs)
  const { runs, total, complete, error } = useProjectRuns(entity, project, serverOrder, filter, wantTop, wantTop > 0);
  // A bad expression: the server's 400 names the position; the table keeps the last good result away.
  const filterError = error && filter && (error as { status?: number }).status === 400 ? error.message : null;

  const allRows = useMemo(() => (runs ?? []).map(toRowData), [runs]);
  const rows = useMemo(() => {
    const f = q.trim().toLowerCase();
    const shown = f
      ? allRows.filter((r) => r.run.name.toLowerCase().includes(f) || r.run.id.toLowerCase().includes(f) || r.run.tags.some((t) => t.toLowerCase().includes(f)))
      : allRows;
    return sortRows(shown, sorting[0] ?? null);
  }, [allRows, q, sorting]);

  const { configKeys, summaryKeys } = useMemo(() => {
    const c = new Set<string>();
    const s = new Set<string>();
    for (const r of allRows) {
      for (const k in r.config) c.add(k);
      for (const k in r.summary) if (!k.startsWith("_")) s.add(k);
    }
    return { configKeys: [...c].sort(), summaryKeys: [...s].sort() };
  }, [allRows]);

  const byId = useMemo(() => new Map((runs ?? []).map((r) => [r.id, r])), [runs]);

  // Which runs the charts show: the ticked ones (`sel`), else the first N rows of the table as it is sorted
  // and filtered (`top`: a number or "all"); grouping charts every run unless told otherwise.
  const topN = topParam === "all" ? MAX_CHARTED : Math.min(MAX_CHARTED, Math.max(1, Number(topParam) || (groupBy ? MAX_CHARTED : DEFAULT_TOP)));
  const mode: "ticked" | "top" = selParam !== null ? "ticked" : "top";
  const chartedIds = useMemo(() => {
    if (selParam !== null) return selParam.split(",").filter((id) => id && byId.has(id));
    return rows.slice(0, topN).map((r) => r.run.id);
  }, [selParam, byId, rows, topN]);
  const selected = useMemo(() => new Map(chartedIds.map((id, i) => [id, colorAt(i)])), [chartedIds]);

  const toggle = useCallback(
    (id: string) => {
      const next = selected.has(id) ? chartedIds.filter((x) => x !== id) : [...chartedIds, id];
      setTop(null);
      setSel(next.slice(-MAX_TICKED).join(","));
    },
    [selected, chartedIds, setSel, setTop],
  );
  const toggleAll = useCallback(() => {
    const all = rows.length > 0 && rows.every((r) => selected.has(r.run.id));
    if (all) {
      setTop(null);
      setSel("");
    } else {
      setSel(null);
      setTop("all");
    }
  }, [rows, selected, setSel, setTop]);

  const shownRuns = useRef<PanelRun[]>([]);
  const panelRuns: PanelRun[] = useMemo(() => {
    const next = chartedIds
      .map((id) => byId.get(id))
      .filter((r): r is Run => !!r)
      .map((r) => ({ id: r.id, name: r.name, color: selected.get(r.id)!, running: r.state === "running" }));
    // the same runs as before (another page of the table arrived): the same array, so that no chart shapes
    // and draws its hundreds of lines again for nothing
    const prev = shownRuns.current;
    const same =
      prev.length === next.length &&
      next.every((r, i) => r.id === prev[i].id && r.name === prev[i].name && r.color === prev[i].color && r.running === prev[i].running);
    if (!same) shownRuns.current = next;
    return shownRuns.current;
  }, [chartedIds, byId, selected]);
  const groups: PanelGroup[] | null = useMemo(() => {
    if (!groupBy) return null;
    const m = new Map<string, { value: JsonValue; ids: string[] }>();
    for (const r of panelRuns) {
      const run = byId.get(r.id)!;
      const v = groupValue(run, groupBy);
      const k = JSON.stringify(v);
      if (!m.has(k)) m.set(k, { value: v, ids: [] });
      m.get(k)!.ids.push(r.id);
    }
    return [...m.values()]
      .sort((a, b) => b.ids.length - a.ids.length)
      .map((g, i) => ({ name: g.value === null ? "(none)" : formatValue(g.value), color: colorAt(i), runIds: g.ids }));
  }, [groupBy, panelRuns, byId]);

  const tick = useLiveTick({ kind: "project-runs", entity, project }, panelRuns.some((r) => r.running));
  const groupTick = useLiveTick({ kind: "project-runs", entity, project }, !!groupBy);
  const keysTick = useThrottled(useLiveTick({ kind: "project-runs", entity, project }), 10_000);
  // the project's keys: again (throttled) when runs log, which is also how new runs arrive
  const keysRes = useResource((signal) => api.keys(entity, project, signal), [entity, project, keysTick]);
  // the stores are sized for the runs charted once every page is in: counted from what is known from the first
  // page on (the ticked ids, the total), so that later pages never resize them (which cuts and resends requests)
  const expected = mode === "ticked" ? (selParam ?? "").split(",").filter(Boolean).length : Math.min(topN, total);
  const store = useStores(entity, project, panelRuns, tick, expected);
  const media = useMedia(entity, project, chartedIds, tick);
  // line panels do not wait for the media read: a media key's panel changes kind when it comes
  const kinds = useMemo(() => mediaKinds(media.data), [media.data]);
  const numericKeys = useMemo(() => (keysRes.data?.keys ?? []).filter((k) => !k.startsWith("_") && !kinds.has(k)), [keysRes.data, kinds]);
  const auto = useMemo(() => autoPanels(numericKeys, kinds), [numericKeys, kinds]);
  const saved = useSavedLayout(entity, project, viewParam);
  const env: PanelsEnv = useMemo(
    () => ({ entity, project, runs: panelRuns, groups, settings: chart, store, media: media.data, mediaError: media.error, tick, editable: true }),
    [entity, project, panelRuns, groups, chart, store, media.data, media.error, tick],
  );

  // The drag handle between the table and the charts; its position is part of the layout.
  const [dragWidth, setDragWidth] = useState<number | null>(null);
  const tableWidth = dragWidth ?? saved.layout.tableWidth ?? TABLE_DEFAULT;
  const startDrag = (e: React.PointerEvent<HTMLDivElement>) => {
    e.preventDefault();
    const el = e.currentTarget;
    el.setPointerCapture(e.pointerId);
    const x0 = e.clientX;
    const w0 = tableWidth;
    let w = w0;
    const move = (ev: PointerEvent) => {
      w = Math.max(TABLE_MIN, Math.min(window.innerWidth - 360, w0 + ev.clientX - x0));
      setDragWidth(w);
    };
    const up = () => {
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      setDragWidth(null);
      if (w !== w0) saved.setLayout({ ...saved.layout, tableWidth: Math.round(w) });
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
  };

  const crumbs = <ProjectCrumbs entity={entity} project={project} />;

  if (projectRes.error && !runs)
    return (
      <div className="page">
        <TopBar crumbs={crumbs} entity={entity} />
        <main className="content narrow">
          <ErrorBox error={projectRes.error} />
          <p className="center-link">
            <Link to="/">Back to the projects</Link>
          </p>
        </main>
      </div>
    );

  const shownCount = q ? rows.length : total;
  const chartChoice = mode === "ticked" ? "ticked" : topParam === "all" || topN >= rows.length ? "all" : String(topN);
  const actions = runActions.filter((a) => a.scope === "runs");
  return (
    <div className="page workspace">
      <TopBar crumbs={crumbs} entity={entity} />
      <ProjectTabs entity={entity} project={project} current="workspace" />
      <div className="ws-body">
        <aside className="ws-runs" style={{ width: tableWidth }} data-testid="runs-pane">
          <FilterBar value={filter} onApply={setFilter} error={filterError} />
          <div className="toolbar">
            <input
              className="input input-sm"
              placeholder="Filter by name or tag"
              value={q}
              onChange={(e) => setQ(e.target.value || null)}
              data-testid="runs-filter"
              style={{ flex: 1, minWidth: 120 }}
            />
            <ColumnPicker configKeys={configKeys} summaryKeys={summaryKeys} chosen={cols} onChange={(c) => setCols(c.length ? c.join(",") : null)} />
            <select
              className="input input-sm"
              value={groupBy ?? ""}
              onChange={(e) => setGroupBy(e.target.value || null)}
              data-testid="group-by"
              title="Group runs by a field: the table shows counts and a metric's mean/min/max per group, the charts one mean line per group"
            >
              <option value="">No grouping</option>
              <optgroup label="Run">
                {["state", "group", "job_type", "host"].map((f) => (
                  <option key={f} value={f}>
                    {f}
                  </option>
                ))}
              </optgroup>
              <optgroup label="Config">
                {configKeys.map((k) => (
                  <option key={k} value={`config.${k}`}>
                    config.{k}
                  </option>
                ))}
              </optgroup>
            </select>
            {groupBy && (
              <select className="input input-sm" value={groupMetric ?? ""} onChange={(e) => setGroupMetric(e.target.value || null)} data-testid="group-metric">
                <option value="">(no metric)</option>
                {summaryKeys.map((k) => (
                  <option key={k} value={`summary.${k}`}>
                    summary.{k}
                  </option>
                ))}
              </select>
            )}
          </div>
          <div className="ws-count small muted" data-testid="runs-count">
            {runs ? (
              <>
                <span data-testid="runs-total">
                  {q ? `${rows.length.toLocaleString("en-US")} of ` : ""}
                  {plural(total, "run")}
                  {!complete && " (loading…)"}
                </span>
                <span className="count-sep">·</span>
                <label className="chart-choice" title="Which runs the charts show: the first rows of the table as sorted and filtered, or the ones ticked">
                  Charts:
                  <select
                    className="input input-sm"
                    value={chartChoice}
                    onChange={(e) => {
                      const v = e.target.value;
                      if (v === "ticked") {
                        setTop(null);
                        setSel(chartedIds.slice(0, MAX_TICKED).join(","));
                      } else {
                        setSel(null);
                        setTop(v === String(DEFAULT_TOP) && !groupBy ? null : v);
                      }
                    }}
                    data-testid="chart-top"
                  >
                    {TOP_CHOICES.filter((n) => n < shownCount).map((n) => (
                      <option key={n} value={String(n)}>
                        top {n.toLocaleString("en-US")}
                      </option>
                    ))}
                    <option value="all">all {shownCount > MAX_CHARTED ? `(first ${MAX_CHARTED.toLocaleString("en-US")})` : ""}</option>
                    <option value="ticked">ticked</option>
                  </select>
                </label>
                <span data-testid="charted-count">{chartedIds.length.toLocaleString("en-US")} in charts</span>
                {mode === "ticked" && (
                  <button className="link-btn" onClick={() => setSel(null)} title="Chart the first rows of the table again">
                    reset
                  </button>
                )}
                {chartedIds.length === 2 && (
                  <button
                    className="btn btn-sm compare-btn"
                    data-testid="compare-code"
                    onClick={() => {
                      const [a, b] = [...chartedIds].sort((x, y) => (byId.get(x)?.created_at ?? "").localeCompare(byId.get(y)?.created_at ?? ""));
                      navigate(`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
                    }}
                  >
                    Compare code
                  </button>
                )}
                {actions.map((a) => (
                  <button key={a.id} className="btn btn-sm" onClick={() => a.run({ entity, project, runIds: chartedIds, navigate })} data-testid={`action-${a.id}`}>
                    {a.label}
                  </button>
                ))}
                <span className={`live-dot ${liveMode}`} title={liveMode === "live" ? "Live: updates arrive as runs log" : liveMode === "polling" ? "Live updates unavailable: refreshing every few seconds" : "Connecting…"} data-testid="live-mode" data-mode={liveMode} />
              </>
            ) : (
              " "
            )}
          </div>
          {filterError ? (
            <Empty title="The filter has an error">Fix the expression above and press Enter.</Empty>
          ) : error && !runs ? (
            <ErrorBox error={error} />
          ) : !runs ? (
            <Loading what="runs" />
          ) : groupBy ? (
            <GroupsView
              entity={entity}
              project={project}
              by={groupBy}
              metric={groupMetric}
              filter={filter}
              tick={groupTick}
              onShow={(ids) => {
                setTop(null);
                setSel(ids.join(","));
              }}
              runName={(id) => byId.get(id)?.name}
            />
          ) : runs.length === 0 && filter ? (
            <Empty title="No run matches the filter">
              <button className="link-btn" onClick={() => setFilter(null)}>
                Clear the filter
              </button>
            </Empty>
          ) : runs.length === 0 ? (
            <Empty title="No runs yet">
              <p>Log one from Python:</p>
              <SdkSnippet
                code={`import runyard
run = runyard.init(entity="${entity}", project="${project}")
run.log({"loss": 0.5})
run.finish()`}
              />
            </Empty>
          ) : rows.length === 0 ? (
            <Empty title="No run matches the filter">
              <button className="link-btn" onClick={() => setQ(null)}>
                Clear the filter
              </button>
            </Empty>
          ) : (
            <RunsTable
              rows={rows}
              extraColumns={cols}
              sorting={sorting}
              onSortingChange={(s) => setSort(s[0] ? `${s[0].desc ? "-" : ""}${s[0].id}` : null)}
              selected={selected}
              onToggle={toggle}
              onToggleAll={toggleAll}
              entity={entity}
              project={project}
            />
          )}
        </aside>
        <div
          className={`ws-splitter ${dragWidth !== null ? "dragging" : ""}`}
          role="separator"
          aria-orientation="vertical"
          aria-label="Resize the runs table"
          title="Drag to resize the runs table"
          onPointerDown={startDrag}
          data-testid="splitter"
        >
          <span className="ws-splitter-grip" />
        </div>
        <main className="ws-charts">
          {saved.shared && (
            <div className="shared-banner" data-testid="shared-banner">
              Viewing a layout shared by <b>{saved.shared.created_by ?? "someone"}</b>. Changes stay on this screen.
              <button className="btn btn-sm" onClick={saved.adopt} data-testid="adopt-layout">
                Use it as my layout
              </button>
              <button className="link-btn" onClick={() => setView(null)}>
                Back to my layout
              </button>
            </div>
          )}
          {filterError ? (
            <Empty title="No charts while the filter has an error">The charts come back as soon as the expression parses.</Empty>
          ) : !runs || !saved.ready ? null : runs.length === 0 ? (
            <Empty title="No charts yet">Charts appear here as soon as a run logs metrics.</Empty>
          ) : (
            <PanelsContext.Provider value={env}>
              <ChartsToolbar
                state={chart}
                set={setChart}
                xKeys={numericKeys.filter((k) => !k.startsWith("system/"))}
                grouped={!!groups}
                loading={false}
              >
                <LayoutMenu save={saved.save} onReset={saved.reset} />
                <ShareButton share={() => saved.share(search.toString().replace(/(^|&)view=[^&]*/g, ""))} />
              </ChartsToolbar>
              {saved.error && <div className="error-inline">Layout: {saved.error}</div>}
              {panelRuns.length === 0 ? (
                <Empty title="No run in the charts">Tick runs in the table, or choose “top 10” above the table.</Empty>
              ) : (
                <PanelsView
                  auto={auto}
                  layout={saved.layout}
                  onLayout={saved.setLayout}
                  numericKeys={numericKeys}
                  systemOpen={false}
                  filter={chart.filter}
                  empty={
                    <Empty title={keysRes.data || keysRes.error ? "Nothing logged yet" : "Loading metrics…"}>
                      {keysRes.data ? "These runs have not logged any metrics or media yet." : null}
                    </Empty>
                  }
                />
              )}
            </PanelsContext.Provider>
          )}
        </main>
      </div>
    </div>
  );
}
