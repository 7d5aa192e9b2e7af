import { useCallback, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import type { SortingState } from "@tanstack/react-table";
import { api } from "../data/api";
import { colorAt } from "../data/colors";
import { useResource } from "../data/hooks";
import { useLiveMode, useLiveTick } from "../data/live";
import { SERVER_ORDERS, useProjectRuns } from "../data/runs";
import type { Run } from "../data/types";
import { useUrlParam } from "../data/urlState";
import { ColumnPicker } from "../components/ColumnPicker";
import { FilterBar } from "../components/FilterBar";
import { GroupsView } from "../components/GroupsView";
import { MetricsPanel, type PanelRun } from "../components/MetricsPanel";
import { RunsTable, toRowData } from "../components/RunsTable";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TopBar, ProjectCrumbs } from "../components/TopBar";

const DEFAULT_SELECTED = 5;
const MAX_SELECTED = 100;

function parseSort(s: string | null): SortingState {
  if (!s) return [{ id: "created_at", desc: true }];
  return s.startsWith("-") ? [{ id: s.slice(1), desc: true }] : [{ id: s, desc: false }];
}

export function WorkspacePage() {
  const { entity = "", project = "" } = useParams();
  const [sortParam, setSort] = useUrlParam("sort");
  const sorting = useMemo(() => parseSort(sortParam), [sortParam]);
  const [qParam, setQ] = useUrlParam("q");
  const q = qParam ?? "";
  const [colsParam, setCols] = useUrlParam("cols");
  const cols = useMemo(() => (colsParam ?? "").split(",").filter(Boolean), [colsParam]);
  const [selParam, setSel] = useUrlParam("sel");
  const [filterParam, setFilter] = useUrlParam("filter");
  const filter = filterParam ?? "";
  const [groupBy, setGroupBy] = useUrlParam("groupby");
  const [groupMetric, setGroupMetric] = useUrlParam("gmetric");
  const navigate = useNavigate();
  const liveMode = useLiveMode({ kind: "project-runs", entity, project });

  // The server orders the first load when it can; later sort changes happen in the browser (all rows are loaded).
  const [serverOrder] = useState(() => {
    const s = sorting[0];
    return s && SERVER_ORDERS.has(s.id) ? `${s.desc ? "-" : ""}${s.id}` : null;
  });
  const projectRes = useResource(() => api.project(entity, project), [entity, project]);
  const { runs, total, complete, error } = useProjectRuns(entity, project, serverOrder, filter);
  // A bad expression: the server's 400 names the position; the table keeps the last good result away.
  const filterError = error && filter && (error as { status?: number }).status === 400 ? error.message : null;

  const allRows = useMemo(() => (runs ?? []).map(toRowData), [runs]);
  const rows = useMemo(() => {
    const f = q.trim().toLowerCase();
    if (!f) return allRows;
    return allRows.filter((r) => r.run.name.toLowerCase().includes(f) || r.run.id.toLowerCase().includes(f) || r.run.tags.some((t) => t.toLowerCase().includes(f)));
  }, [allRows, q]);

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

  // Selection lives in the URL (`sel`); without it, the first runs in the current order are shown.
  const selectedIds = useMemo(() => {
    if (selParam !== null) return selParam.split(",").filter((id) => id && byId.has(id));
    const sorted = [...allRows];
    const s = sorting[0];
    if (s && s.id === "created_at") sorted.sort((a, b) => (s.desc ? -1 : 1) * a.run.created_at.localeCompare(b.run.created_at));
    return sorted.slice(0, DEFAULT_SELECTED).map((r) => r.run.id);
  }, [selParam, byId, allRows, sorting]);
  const selected = useMemo(() => new Map(selectedIds.map((id, i) => [id, colorAt(i)])), [selectedIds]);

  const toggle = useCallback(
    (id: string) => {
      const next = selected.has(id) ? selectedIds.filter((x) => x !== id) : [...selectedIds, id].slice(-MAX_SELECTED);
      setSel(next.join(","));
    },
    [selected, selectedIds, setSel],
  );

  const panelRuns: PanelRun[] = useMemo(
    () =>
      selectedIds
        .map((id) => byId.get(id))
        .filter((r): r is Run => !!r)
        .map((r) => ({
          entity,
          project,
          id: r.id,
          name: r.name,
          color: selected.get(r.id)!,
          running: r.state === "running",
          keys: r.history_keys,
        })),
    [selectedIds, byId, selected, entity, project],
  );
  const tick = useLiveTick({ kind: "project-runs", entity, project }, panelRuns.some((r) => r.running));
  const groupTick = useLiveTick({ kind: "project-runs", entity, project }, !!groupBy);

  const crumbs = <ProjectCrumbs entity={entity} project={project} />;

  if (projectRes.error && !runs)
    return (
      <div className="page">
        <TopBar crumbs={crumbs} />
        <main className="content narrow">
          <ErrorBox error={projectRes.error} />
          <p className="center-link">
            <Link to="/">Back to the projects</Link>
          </p>
        </main>
      </div>
    );

  return (
    <div className="page workspace">
      <TopBar crumbs={crumbs} />
      <div className="ws-body">
        <aside className="ws-runs">
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
              title="Group runs by a field (counts and a metric's mean/min/max per group)"
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
                {q ? `${rows.length.toLocaleString("en-US")} of ` : ""}
                {total.toLocaleString("en-US")} runs{!complete && " (loading…)"} · {selectedIds.length} in charts
                {selectedIds.length > 0 && (
                  <button className="link-btn" onClick={() => setSel("")}>
                    clear
                  </button>
                )}
                {rows.length > 0 && (
                  <button className="link-btn" onClick={() => setSel(rows.slice(0, 10).map((r) => r.run.id).join(","))}>
                    first 10
                  </button>
                )}
                {selectedIds.length === 2 && (
                  <button
                    className="btn btn-sm compare-btn"
                    data-testid="compare-code"
                    onClick={() =>
                      navigate(`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/compare?a=${encodeURIComponent(selectedIds[0])}&b=${encodeURIComponent(selectedIds[1])}`)
                    }
                  >
                    Compare code
                  </button>
                )}
                {selectedIds.length > 0 && (
                  <button
                    className="btn btn-sm compare-btn"
                    data-testid="open-tensorboard"
                    onClick={() => navigate(`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/tensorboard?runs=${selectedIds.map(encodeURIComponent).join(",")}`)}
                  >
                    TensorBoard
                  </button>
                )}
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
              onShow={(ids) => setSel(ids.join(","))}
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
              <pre className="snippet">{`import runyard
run = runyard.init(entity="${entity}", project="${project}")
run.log({"loss": 0.5})
run.finish()`}</pre>
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
              entity={entity}
              project={project}
            />
          )}
        </aside>
        <main className="ws-charts">
          {filterError ? (
            <Empty title="No charts while the filter has an error">The charts come back as soon as the expression parses.</Empty>
          ) : !runs ? null : runs.length === 0 ? (
            <Empty title="No charts yet">Charts appear here as soon as a run logs metrics.</Empty>
          ) : panelRuns.length === 0 ? (
            <Empty title="No run selected">Tick runs in the table to chart their metrics.</Empty>
          ) : (
            <MetricsPanel runs={panelRuns} tick={tick} systemOpenByDefault={false} />
          )}
        </main>
      </div>
    </div>
  );
}
