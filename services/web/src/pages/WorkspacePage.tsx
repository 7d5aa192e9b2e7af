import { useCallback, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import type { SortingState } from "@tanstack/react-table";
import { api } from "../data/api";
import { colorAt } from "../data/colors";
import { useResource } from "../data/hooks";
import { useLiveTick } from "../data/live";
import { SERVER_ORDERS, useProjectRuns } from "../data/runs";
import type { Run } from "../data/types";
import { useUrlParam } from "../data/urlState";
import { ColumnPicker } from "../components/ColumnPicker";
import { MetricsPanel, type PanelRun } from "../components/MetricsPanel";
import { RunsTable, toRowData } from "../components/RunsTable";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TopBar } from "../components/TopBar";

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

  // The server orders the first load when it can; later sort changes happen in the browser (all rows are loaded).
  const [serverOrder] = useState(() => {
    const s = sorting[0];
    return s && SERVER_ORDERS.has(s.id) ? `${s.desc ? "-" : ""}${s.id}` : null;
  });
  const projectRes = useResource(() => api.project(entity, project), [entity, project]);
  const { runs, total, complete, error } = useProjectRuns(entity, project, serverOrder);

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

  const crumbs = (
    <>
      <Link to="/">Projects</Link>
      <span className="crumb-sep">/</span>
      <Link to={`/?entity=${encodeURIComponent(entity)}`}>{entity}</Link>
      <span className="crumb-sep">/</span>
      <span className="crumb-current">{project}</span>
    </>
  );

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
              </>
            ) : (
              " "
            )}
          </div>
          {error && !runs ? (
            <ErrorBox error={error} />
          ) : !runs ? (
            <Loading what="runs" />
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
          {!runs ? null : runs.length === 0 ? (
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
