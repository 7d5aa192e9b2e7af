// The runs table's order, computed once for the table and the charts (the first N rows in this order are
// the runs charted by default): numbers before strings, missing values last in both directions, NaN after
// the numbers, ties by creation time (newest first).
import type { JsonValue, Run } from "./types";
import { flatten, runDurationMs, sortableNumber } from "./values";

export interface RowData {
  run: Run;
  config: Record<string, JsonValue>;
  summary: Record<string, JsonValue>;
  duration: number | null;
}

export interface SortSpec {
  id: string;
  desc: boolean;
}

const rowCache = new WeakMap<Run, RowData>();

/** Table row values of a run, computed once per run object (pages arrive one by one; live updates replace objects). */
export function toRowData(run: Run): RowData {
  let r = rowCache.get(run);
  if (!r) {
    r = { run, config: flatten(run.config), summary: flatten(run.summary), duration: runDurationMs(run) };
    rowCache.set(run, r);
  }
  return r;
}

type Cell = number | string | null;

function jsonCell(v: JsonValue | undefined): Cell {
  const n = sortableNumber(v);
  if (n !== null) return n;
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The value a column sorts by. */
export function cellOf(r: RowData, id: string): Cell {
  switch (id) {
    case "name":
      return r.run.name;
    case "state":
      return r.run.state;
    case "created_at":
      return r.run.created_at;
    case "duration":
      return r.duration;
    case "tags":
      return r.run.tags.length ? r.run.tags.join(", ") : null;
  }
  const dot = id.indexOf(".");
  if (dot > 0) {
    const src = id.slice(0, dot);
    const key = id.slice(dot + 1);
    return jsonCell(src === "config" ? r.config[key] : src === "summary" ? r.summary[key] : undefined);
  }
  return null;
}

/** Numbers, then NaN, then text: the same in both directions (only values of one kind swap places). */
function rank(v: number | string): number {
  return typeof v === "number" ? (Number.isNaN(v) ? 1 : 0) : 2;
}

export function sortRows(rows: RowData[], sort: SortSpec | null): RowData[] {
  if (!sort) return rows;
  const keyed = rows.map((r) => ({ r, v: cellOf(r, sort.id) }));
  const newest = (a: { r: RowData }, b: { r: RowData }) => b.r.run.created_at.localeCompare(a.r.run.created_at);
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === b.v ? newest(a, b) : a.v === null ? 1 : -1; // missing last
    const ra = rank(a.v);
    const rb = rank(b.v);
    if (ra !== rb) return ra - rb;
    let c = 0;
    if (ra === 0) c = (a.v as number) - (b.v as number);
    else if (ra === 2) c = String(a.v).localeCompare(String(b.v));
    return (sort.desc ? -c : c) || newest(a, b);
  });
  return keyed.map((k) => k.r);
}
