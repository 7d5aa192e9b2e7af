import { memo, useEffect, useMemo, useRef } from "react";
import { useNavigate } from "react-router-dom";
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type Row,
  type SortingState,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { cellOf, type RowData } from "../data/sortRuns";
import { formatDate, formatDuration, formatValue } from "../data/values";
import { StateBadge } from "./StateBadge";

export { toRowData, type RowData } from "../data/sortRuns";

type Cell = number | string | null;

interface Props {
  rows: RowData[];
  extraColumns: string[];
  sorting: SortingState;
  onSortingChange: (s: SortingState) => void;
  selected: Map<string, string>; // run id -> colour
  onToggle: (id: string) => void;
  /** The header checkbox: chart every row (or none, when all are charted). */
  onToggleAll: () => void;
  entity: string;
  project: string;
}

const ROW_H = 30;
/** Columns that stay in view while the table scrolls sideways: left offset in px. */
const STICKY: Record<string, number> = { select: 0, name: 40 };

export const RunsTable = memo(function RunsTable(p: Props) {
  const { rows, extraColumns, sorting, selected, onToggle, onToggleAll, entity, project } = p;
  const columns = useMemo<ColumnDef<RowData, Cell>[]>(() => {
    const col = (id: string, header: string, size: number, meta?: { source: string }): ColumnDef<RowData, Cell> => ({
      id,
      header,
      size,
      accessorFn: (r) => cellOf(r, id),
      meta,
    });
    const base: ColumnDef<RowData, Cell>[] = [
      { id: "select", header: "", size: 40, enableSorting: false, accessorFn: () => null },
      col("name", "Name", 200),
      col("state", "State", 92),
      col("created_at", "Created", 128),
      col("duration", "Duration", 84),
      col("tags", "Tags", 150),
    ];
    for (const c of extraColumns) {
      const [src, ...rest] = c.split(".");
      base.push(col(c, rest.join("."), 110, { source: src }));
    }
    return base;
  }, [extraColumns]);

  // The rows come sorted (data/sortRuns.ts: the charts follow the same order); the table only shows it.
  const table = useReactTable({
    data: rows,
    columns,
    state: { sorting },
    onSortingChange: (u) => p.onSortingChange(typeof u === "function" ? u(sorting) : u),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    enableSortingRemoval: false,
    sortDescFirst: true,
  });
  const charted = rows.reduce((n, r) => n + (selected.has(r.run.id) ? 1 : 0), 0);
  const allRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (allRef.current) allRef.current.indeterminate = charted > 0 && charted < rows.length;
  }, [charted, rows.length]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  // One click handler for every run link (a router <Link> per row costs too much while scrolling).
  const onClick = (e: React.MouseEvent) => {
    const a = (e.target as HTMLElement).closest("a.run-link");
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute("href")!);
  };
  const model = table.getRowModel().rows;
  const virt = useVirtualizer({
    count: model.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_H,
    overscan: 12,
  });
  const widths = table.getVisibleLeafColumns().map((c) => c.getSize());
  const template = widths.map((w) => `${w}px`).join(" ");
  const totalWidth = widths.reduce((a, b) => a + b, 0);

  return (
    <div className="runs-table" ref={scrollRef} onClick={onClick} data-testid="runs-table" data-ready={rows.length ? "1" : undefined}>
      <div className="rt-head" style={{ gridTemplateColumns: template, width: totalWidth }}>
        {table.getHeaderGroups()[0].headers.map((h) => {
          const sorted = h.column.getIsSorted();
          const src = (h.column.columnDef.meta as { source?: string } | undefined)?.source;
          return (
            <div
              key={h.id}
              className={`rt-th ${h.column.getCanSort() ? "sortable" : ""} ${src ? `src-${src}` : ""} ${STICKY[h.id] !== undefined ? "sticky" : ""} ${h.id === "name" ? "sticky-edge" : ""}`}
              style={STICKY[h.id] !== undefined ? { left: STICKY[h.id] } : undefined}
              onClick={h.column.getToggleSortingHandler()}
              title={h.column.getCanSort() ? `Sort by ${h.id}` : undefined}
              data-col={h.id}
            >
              {h.id === "select" && (
                <input
                  ref={allRef}
                  type="checkbox"
                  className="select-all"
                  checked={rows.length > 0 && charted === rows.length}
                  onChange={onToggleAll}
                  onClick={(e) => e.stopPropagation()}
                  aria-label="chart all runs"
                  title={charted === rows.length ? "Chart none" : "Chart every run shown (up to 1,000)"}
                  data-testid="select-all"
                />
              )}
              {src && <span className="src-tag">{src === "config" ? "C" : "S"}</span>}
              <span className="rt-th-label">{flexRender(h.column.columnDef.header, h.getContext())}</span>
              {sorted && <span className="sort-arrow">{sorted === "desc" ? "↓" : "↑"}</span>}
            </div>
          );
        })}
      </div>
      <div style={{ height: virt.getTotalSize(), position: "relative", width: totalWidth }}>
        {virt.getVirtualItems().map((vi) => {
          const row = model[vi.index];
          const r = row.original.run;
          return (
            <RunRow
              key={r.id}
              row={row}
              start={vi.start}
              template={template}
              color={selected.get(r.id)}
              onToggle={onToggle}
              entity={entity}
              project={project}
            />
          );
        })}
      </div>
    </div>
  );
});

interface RowProps {
  row: Row<RowData>;
  start: number;
  template: string;
  color: string | undefined;
  onToggle: (id: string) => void;
  entity: string;
  project: string;
}

/** One table row; memoised, so scrolling renders only the rows that come into view. */
const RunRow = memo(function RunRow({ row, start, template, color, onToggle, entity, project }: RowProps) {
  const r = row.original.run;
  return (
    <div
      className={`rt-row ${color ? "selected" : ""}`}
      style={{ gridTemplateColumns: template, transform: `translateY(${start}px)`, height: ROW_H }}
      data-run-id={r.id}
    >
      {row.getVisibleCells().map((cell) => {
        const id = cell.column.id;
        let content: React.ReactNode;
        if (id === "select") {
          content = (
            <label className="sel" title={color ? "Hide from charts" : "Show in charts"}>
              <input type="checkbox" checked={!!color} onChange={() => onToggle(r.id)} aria-label={`select ${r.name}`} />
              <span className="swatch" style={{ background: color ?? "transparent", borderColor: color ?? "#cbd5e1" }} />
            </label>
          );
        } else if (id === "state") content = <StateBadge state={r.state} />;
        else if (id === "name")
          content = (
            <a href={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(r.id)}`} className="run-link" title={r.name}>
              {r.name}
            </a>
          );
        else if (id === "created_at") content = <span title={r.created_at}>{formatDate(r.created_at)}</span>;
        else if (id === "duration") content = formatDuration(row.original.duration);
        else if (id === "tags")
          content = r.tags.map((t) => (
            <span className="tag" key={t}>
              {t}
            </span>
          ));
        else {
          const [src, ...rest] = id.split(".");
          const key = rest.join(".");
          const v = src === "config" ? row.original.config[key] : row.original.summary[key];
          content = <span className="mono">{formatValue(v)}</span>;
        }
        return (
          <div
            key={id}
            className={`rt-td col-${id === "select" ? "select" : "data"} ${STICKY[id] !== undefined ? "sticky" : ""} ${id === "name" ? "sticky-edge" : ""}`}
            style={STICKY[id] !== undefined ? { left: STICKY[id] } : undefined}
          >
            {content}
          </div>
        );
      })}
    </div>
  );
});
