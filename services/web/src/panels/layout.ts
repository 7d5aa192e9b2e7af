// The workspace layout: which panels a project's workspace shows, in which sections, order and size.
//
// Panels come from what the runs logged (`autoPanels`): a line chart per numeric key, an image, table or
// histogram panel per media key (chosen from the values' `_type`), a value panel for other JSON (text).
// The user's changes are a small document saved per project and user (PUT .../workspace, docs/api.md):
// panels edited or added (`panels`), automatic panels removed (`hidden`), the order of each section
// (`sections`) and the runs table's width. `resolve` lays the automatic panels and the saved document out
// together, so a key logged later still gets its panel, placed after the ones the user arranged.

export type PanelType = "line" | "images" | "table" | "histogram" | "value";

export interface PanelSpec {
  /** `line:KEY`, `images:KEY`, ... for automatic panels; `p-...` for panels the user added. */
  id: string;
  type: PanelType;
  keys: string[];
  title?: string;
  /** The section of a panel the user added (automatic panels go by their key's prefix). */
  section?: string;
  /** x axis ("step", "relative", "wall" or a metric key); unset: the workspace's. */
  x?: string;
  /** Smoothing weight 0-0.99; unset: the workspace's. */
  smoothing?: number;
  /** Log scale; unset: the workspace's. */
  logY?: boolean;
  /** Columns spanned (1-3) and height steps (1-3). */
  w?: number;
  h?: number;
}

export interface SectionState {
  name: string;
  open: boolean;
  /** Panel ids in the order the user arranged (others follow, by key). */
  order: string[];
}

export interface Layout {
  version: 1;
  sections: SectionState[];
  panels: Record<string, PanelSpec>;
  hidden: string[];
  /** Width of the runs table in px (the drag handle between table and charts). */
  tableWidth?: number;
}

export const EMPTY_LAYOUT: Layout = { version: 1, sections: [], panels: {}, hidden: [] };

export type MediaKind = "images" | "table" | "histogram" | "value";

export const SYSTEM = "System";
const DEFAULT_SECTION = "Charts";
const MEDIA_SECTION = "Media";

/** The section a key's automatic panel goes to: its prefix before `/`, `System` for system/*. */
export function sectionOfKey(key: string, media: boolean): string {
  if (key.startsWith("system/")) return SYSTEM;
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : media ? MEDIA_SECTION : DEFAULT_SECTION;
}

/** The panel kind of a JSON history value (a media descriptor, a list of them, or anything else). */
export function mediaKindOf(value: unknown): MediaKind {
  const first = Array.isArray(value) ? value[0] : value;
  const t = first && typeof first === "object" ? (first as { _type?: unknown })._type : undefined;
  if (t === "image-file" || t === "images/separated") return "images";
  if (t === "table-file" || t === "table" || t === "partitioned-table") return "table";
  if (t === "histogram") return "histogram";
  return "value";
}

export function autoPanels(numericKeys: string[], mediaKeys: Map<string, MediaKind>): PanelSpec[] {
  const out: PanelSpec[] = [];
  for (const k of numericKeys) if (!k.startsWith("_") && !mediaKeys.has(k)) out.push({ id: `line:${k}`, type: "line", keys: [k] });
  for (const [k, kind] of mediaKeys) out.push({ id: `${kind}:${k}`, type: kind, keys: [k] });
  return out;
}

export function isAuto(id: string): boolean {
  return !id.startsWith("p-");
}

export interface ResolvedSection {
  name: string;
  open: boolean;
  panels: PanelSpec[];
}

function sectionRank(name: string): number {
  return name === DEFAULT_SECTION ? 0 : name === SYSTEM ? 3 : name === MEDIA_SECTION ? 2 : 1;
}

/** The sections to draw: automatic panels and the saved layout together (see the top of this file). */
export function resolve(auto: PanelSpec[], layout: Layout, systemOpen: boolean): ResolvedSection[] {
  const hidden = new Set(layout.hidden);
  const specs = new Map<string, PanelSpec>();
  for (const p of auto) if (!hidden.has(p.id)) specs.set(p.id, { ...p, ...layout.panels[p.id], id: p.id, type: p.type });
  for (const [id, p] of Object.entries(layout.panels)) if (!isAuto(id)) specs.set(id, p);
  const home = new Map<string, string>();
  for (const s of layout.sections) for (const id of s.order) if (specs.has(id) && !home.has(id)) home.set(id, s.name);
  const bySection = new Map<string, PanelSpec[]>();
  for (const p of specs.values()) {
    const name = home.get(p.id) ?? p.section ?? sectionOfKey(p.keys[0] ?? "", p.type !== "line");
    if (!bySection.has(name)) bySection.set(name, []);
    bySection.get(name)!.push(p);
  }
  const saved = new Map(layout.sections.map((s) => [s.name, s]));
  const names = [...bySection.keys()].sort((a, b) => {
    const ia = layout.sections.findIndex((s) => s.name === a);
    const ib = layout.sections.findIndex((s) => s.name === b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
    return sectionRank(a) - sectionRank(b) || a.localeCompare(b);
  });
  return names.map((name) => {
    const order = saved.get(name)?.order ?? [];
    const pos = new Map(order.map((id, i) => [id, i]));
    const panels = bySection.get(name)!.sort((a, b) => {
      const pa = pos.get(a.id);
      const pb = pos.get(b.id);
      if (pa !== undefined || pb !== undefined) return (pa ?? 1e9) - (pb ?? 1e9);
      return (a.keys[0] ?? "").localeCompare(b.keys[0] ?? "") || a.id.localeCompare(b.id);
    });
    return { name, open: saved.get(name)?.open ?? (name !== SYSTEM || systemOpen), panels };
  });
}

function withSection(layout: Layout, name: string, change: (s: SectionState) => SectionState, sections: ResolvedSection[]): Layout {
  const current = sections.find((s) => s.name === name);
  const base: SectionState = layout.sections.find((s) => s.name === name) ?? { name, open: current?.open ?? true, order: [] };
  const next = change({ ...base, order: current ? current.panels.map((p) => p.id) : base.order });
  const others = layout.sections.filter((s) => s.name !== name);
  // keep the sections in the order they are drawn
  const all = [...others, next];
  const rank = new Map(sections.map((s, i) => [s.name, i]));
  all.sort((a, b) => (rank.get(a.name) ?? 1e9) - (rank.get(b.name) ?? 1e9));
  return { ...layout, sections: all };
}

export function setSectionOpen(layout: Layout, sections: ResolvedSection[], name: string, open: boolean): Layout {
  return withSection(layout, name, (s) => ({ ...s, open }), sections);
}

/** Move a panel before `beforeId` (or to the end) of section `to`. */
export function movePanel(layout: Layout, sections: ResolvedSection[], id: string, to: string, beforeId: string | null): Layout {
  const from = sections.find((s) => s.panels.some((p) => p.id === id));
  let next = layout;
  if (from && from.name !== to) next = withSection(next, from.name, (s) => ({ ...s, order: s.order.filter((x) => x !== id) }), sections);
  next = withSection(
    next,
    to,
    (s) => {
      const order = s.order.filter((x) => x !== id);
      const at = beforeId ? order.indexOf(beforeId) : -1;
      order.splice(at < 0 ? order.length : at, 0, id);
      return { ...s, order };
    },
    sections,
  );
  // another section's order list may still name it: the destination wins
  next = { ...next, sections: next.sections.map((s) => (s.name === to ? s : { ...s, order: s.order.filter((x) => x !== id) })) };
  return next;
}

export function upsertPanel(layout: Layout, spec: PanelSpec): Layout {
  return { ...layout, panels: { ...layout.panels, [spec.id]: spec }, hidden: layout.hidden.filter((h) => h !== spec.id) };
}

export function removePanel(layout: Layout, id: string): Layout {
  const panels = { ...layout.panels };
  delete panels[id];
  return {
    ...layout,
    panels,
    hidden: isAuto(id) && !layout.hidden.includes(id) ? [...layout.hidden, id] : layout.hidden,
    sections: layout.sections.map((s) => ({ ...s, order: s.order.filter((x) => x !== id) })),
  };
}

export function newPanelId(): string {
  return `p-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** A saved document from the server, checked loosely (it is the UI's own format; unknown parts are dropped). */
export function parseLayout(raw: unknown): Layout {
  if (!raw || typeof raw !== "object") return EMPTY_LAYOUT;
  const r = raw as Partial<Layout>;
  const sections = Array.isArray(r.sections)
    ? r.sections
        .filter((s) => s && typeof s.name === "string")
        .map((s) => ({ name: s.name, open: s.open !== false, order: Array.isArray(s.order) ? s.order.filter((x) => typeof x === "string") : [] }))
    : [];
  const panels: Record<string, PanelSpec> = {};
  if (r.panels && typeof r.panels === "object")
    for (const [id, p] of Object.entries(r.panels))
      if (p && typeof p === "object" && Array.isArray(p.keys) && typeof p.type === "string") panels[id] = { ...p, id };
  const hidden = Array.isArray(r.hidden) ? r.hidden.filter((x) => typeof x === "string") : [];
  const tableWidth = typeof r.tableWidth === "number" ? r.tableWidth : undefined;
  return { version: 1, sections, panels, hidden, tableWidth };
}
