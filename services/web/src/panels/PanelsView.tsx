// The panels of a workspace (or of a run's Charts/System tab), in sections: drawn from what was logged and
// the saved layout (layout.ts). When `onLayout` is given they can be added, edited, removed, dragged to
// another place (the grip in their header) and resized (the corner handle, in columns and height steps).
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { unitOf } from "../data/units";
import { HistogramPanel, ImagesPanel, TablePanel, ValuePanel } from "./MediaPanels";
import { LinePanel } from "./LinePanel";
import { PanelEditor } from "./PanelEditor";
import {
  movePanel,
  newPanelId,
  removePanel,
  resolve,
  setSectionOpen,
  upsertPanel,
  type Layout,
  type PanelSpec,
  type ResolvedSection,
} from "./layout";

const HEIGHTS = [190, 330, 470];
const DRAG_TYPE = "application/x-runyard-panel";

function defaultW(p: PanelSpec): number {
  return p.type === "images" || p.type === "table" ? 2 : 1;
}
function defaultH(p: PanelSpec): number {
  return p.type === "images" || p.type === "table" ? 2 : 1;
}

export function panelTitle(p: PanelSpec): string {
  return p.title || p.keys.join(", ");
}

interface Props {
  auto: PanelSpec[];
  layout: Layout;
  onLayout?: (l: Layout) => void;
  /** Panels can be added, edited, moved, resized and removed (default: when `onLayout` is given). */
  editable?: boolean;
  numericKeys: string[];
  systemOpen: boolean;
  /** Only panels whose title or keys contain this text. */
  filter: string;
  /** Shown when there is no panel at all. */
  empty: ReactNode;
}

export function PanelsView({ auto, layout, onLayout, editable: canEdit, numericKeys, systemOpen, filter, empty }: Props) {
  const sections = useMemo(() => resolve(auto, layout, systemOpen), [auto, layout, systemOpen]);
  const [editing, setEditing] = useState<{ spec: PanelSpec; section: string; isNew: boolean } | null>(null);
  const [dragging, setDragging] = useState<string | null>(null);
  const f = filter.trim().toLowerCase();
  const shown = useMemo(
    () =>
      sections.map((s) => ({
        ...s,
        panels: f ? s.panels.filter((p) => panelTitle(p).toLowerCase().includes(f) || p.keys.some((k) => k.toLowerCase().includes(f))) : s.panels,
      })),
    [sections, f],
  );
  const editable = !!onLayout && canEdit !== false;
  const total = shown.reduce((n, s) => n + s.panels.length, 0);
  if (sections.length === 0) return <>{empty}</>;

  const move = (id: string, to: string, before: string | null) => onLayout?.(movePanel(layout, sections, id, to, before));

  return (
    <div className="panels-view" data-testid="panels">
      {total === 0 && f && <div className="empty">No panel matches “{filter}”.</div>}
      {shown.map((s) =>
        f && s.panels.length === 0 ? null : (
          <section key={s.name} className="chart-section" data-section={s.name}>
            <div className="section-bar">
              <button
                className="section-head"
                onClick={() => onLayout ? onLayout(setSectionOpen(layout, sections, s.name, !s.open)) : undefined}
                disabled={!onLayout}
                aria-expanded={s.open}
              >
                <span className={`caret ${s.open ? "open" : ""}`}>▸</span>
                {s.name}
                <span className="muted small">{s.panels.length}</span>
              </button>
              {editable && s.open && (
                <button
                  className="link-btn"
                  data-testid="add-panel"
                  onClick={() => setEditing({ spec: { id: newPanelId(), type: "line", keys: [] }, section: s.name, isNew: true })}
                >
                  + Add chart
                </button>
              )}
            </div>
            {s.open && (
              <SectionGrid
                section={s}
                editable={editable}
                dragging={dragging}
                setDragging={setDragging}
                onMove={move}
                onEdit={(p) => setEditing({ spec: p, section: s.name, isNew: false })}
                onRemove={(p) => onLayout?.(removePanel(layout, p.id))}
                onResize={(p, w, h) => onLayout?.(upsertPanel(layout, { ...p, w, h }))}
              />
            )}
          </section>
        ),
      )}
      {editing && onLayout && (
        <PanelEditor
          spec={editing.spec}
          numericKeys={numericKeys}
          sections={sections.map((s) => s.name)}
          section={editing.section}
          isNew={editing.isNew}
          onClose={() => setEditing(null)}
          onSave={(spec, section) => {
            let next = upsertPanel(layout, { ...spec, section: spec.id.startsWith("p-") ? section : spec.section });
            const now = resolve(auto, next, systemOpen);
            const home = now.find((x) => x.panels.some((p) => p.id === spec.id))?.name;
            if (home !== section) next = movePanel(next, now, spec.id, section, null);
            onLayout(next);
            setEditing(null);
          }}
        />
      )}
    </div>
  );
}

interface GridProps {
  section: ResolvedSection;
  editable: boolean;
  dragging: string | null;
  setDragging: (id: string | null) => void;
  onMove: (id: string, to: string, before: string | null) => void;
  onEdit: (p: PanelSpec) => void;
  onRemove: (p: PanelSpec) => void;
  onResize: (p: PanelSpec, w: number, h: number) => void;
}

function SectionGrid({ section, editable, dragging, setDragging, onMove, onEdit, onRemove, onResize }: GridProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [cols, setCols] = useState(2);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setCols(Math.max(1, Math.min(3, Math.floor((el.clientWidth + 10) / 350)))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const [over, setOver] = useState<{ id: string | null; before: boolean } | null>(null);
  const drop = (e: React.DragEvent, targetId: string | null, before: boolean) => {
    const id = e.dataTransfer.getData(DRAG_TYPE) || dragging;
    e.preventDefault();
    e.stopPropagation();
    setOver(null);
    setDragging(null);
    if (!id || id === targetId) return;
    const ids = section.panels.map((p) => p.id);
    let beforeId: string | null = targetId;
    if (targetId && !before) {
      const i = ids.indexOf(targetId);
      beforeId = ids.slice(i + 1).find((x) => x !== id) ?? null;
    }
    onMove(id, section.name, beforeId);
  };
  return (
    <div
      ref={ref}
      className={`chart-grid cols-${cols}`}
      onDragOver={(e) => {
        if (!dragging) return;
        e.preventDefault();
        setOver({ id: null, before: false });
      }}
      onDrop={(e) => drop(e, null, false)}
    >
      {section.panels.map((p) => (
        <PanelCard
          key={p.id}
          spec={p}
          cols={cols}
          gridRef={ref}
          editable={editable}
          dropMark={over && over.id === p.id ? (over.before ? "before" : "after") : null}
          onDragStart={() => setDragging(p.id)}
          onDragEnd={() => {
            setDragging(null);
            setOver(null);
          }}
          onDragOver={(before) => setOver({ id: p.id, before })}
          onDrop={(e, before) => drop(e, p.id, before)}
          onEdit={() => onEdit(p)}
          onRemove={() => onRemove(p)}
          onResize={(w, h) => onResize(p, w, h)}
        />
      ))}
    </div>
  );
}

/** Whether an element is on screen now: inside the viewport and inside every scrolling box around it. */
function inView(el: HTMLElement): boolean {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return false;
  let top = 0;
  let left = 0;
  let bottom = window.innerHeight;
  let right = window.innerWidth;
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p);
    if (o.overflowY === "visible" && o.overflowX === "visible") continue;
    const b = p.getBoundingClientRect();
    top = Math.max(top, b.top);
    left = Math.max(left, b.left);
    bottom = Math.min(bottom, b.bottom);
    right = Math.min(right, b.right);
  }
  return r.bottom > top && r.top < bottom && r.right > left && r.left < right;
}

interface CardProps {
  spec: PanelSpec;
  cols: number;
  gridRef: React.RefObject<HTMLDivElement | null>;
  editable: boolean;
  dropMark: "before" | "after" | null;
  onDragStart: () => void;
  onDragEnd: () => void;
  onDragOver: (before: boolean) => void;
  onDrop: (e: React.DragEvent, before: boolean) => void;
  onEdit: () => void;
  onRemove: () => void;
  onResize: (w: number, h: number) => void;
}

function PanelCard({ spec, cols, gridRef, editable, dropMark, onDragStart, onDragEnd, onDragOver, onDrop, onEdit, onRemove, onResize }: CardProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(false);
  const [armed, setArmed] = useState(false);
  const [preview, setPreview] = useState<{ w: number; h: number } | null>(null);
  // Shown at once: read the data in this very commit, not a frame or two later when the observer first reports
  // (the page is busy laying out the runs table then).
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && inView(el)) {
      performance.mark("ry:panel-visible");
      setVisible(true);
    }
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el || visible) return;
    // a chart reads its data when it comes into view
    const io = new IntersectionObserver(
      (entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        performance.mark("ry:panel-visible");
        setVisible(true);
      },
      { rootMargin: "0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [visible]);
  const w = Math.min(cols, preview?.w ?? spec.w ?? defaultW(spec));
  const h = preview?.h ?? spec.h ?? defaultH(spec);
  const height = HEIGHTS[Math.max(0, Math.min(2, h - 1))];
  const unit = spec.type === "line" && spec.keys.length ? unitOf(spec.keys[0]) : null;

  const startResize = (e: React.PointerEvent) => {
    const card = ref.current;
    const grid = gridRef.current;
    if (!card || !grid) return;
    e.preventDefault();
    const target = e.currentTarget as HTMLElement;
    target.setPointerCapture(e.pointerId);
    const start = { x: e.clientX, y: e.clientY, width: card.offsetWidth, height: card.offsetHeight };
    const colW = grid.clientWidth / cols;
    const headH = card.offsetHeight - height;
    let last = { w, h };
    const moveTo = (ev: PointerEvent) => {
      const nw = Math.max(1, Math.min(cols, Math.round((start.width + ev.clientX - start.x) / colW)));
      const px = start.height + ev.clientY - start.y - headH;
      let nh = 1;
      HEIGHTS.forEach((hh, i) => {
        if (Math.abs(px - hh) < Math.abs(px - HEIGHTS[nh - 1])) nh = i + 1;
      });
      last = { w: nw, h: nh };
      setPreview(last);
    };
    const up = () => {
      target.removeEventListener("pointermove", moveTo);
      target.removeEventListener("pointerup", up);
      setPreview(null);
      if (last.w !== (spec.w ?? defaultW(spec)) || last.h !== (spec.h ?? defaultH(spec))) onResize(last.w, last.h);
    };
    target.addEventListener("pointermove", moveTo);
    target.addEventListener("pointerup", up);
  };

  return (
    <div
      ref={ref}
      className={`card chart-card panel-card span-${w} ${dropMark ? `drop-${dropMark}` : ""} ${preview ? "resizing" : ""}`}
      data-testid="chart-card"
      data-panel-id={spec.id}
      data-type={spec.type}
      data-metric={spec.keys[0] ?? ""}
      data-w={w}
      data-h={h}
      draggable={editable && armed}
      onDragStart={(e) => {
        e.dataTransfer.setData(DRAG_TYPE, spec.id);
        e.dataTransfer.effectAllowed = "move";
        onDragStart();
      }}
      onDragEnd={() => {
        setArmed(false);
        onDragEnd();
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.stopPropagation();
        const r = e.currentTarget.getBoundingClientRect();
        onDragOver(e.clientX < r.left + r.width / 2);
      }}
      onDrop={(e) => {
        const r = e.currentTarget.getBoundingClientRect();
        onDrop(e, e.clientX < r.left + r.width / 2);
      }}
    >
      <div className="chart-head">
        {editable && (
          <span
            className="panel-grip"
            title="Drag to move"
            data-testid="panel-grip"
            onPointerDown={() => setArmed(true)}
            onPointerUp={() => setArmed(false)}
          >
            ⠿
          </span>
        )}
        <span className="chart-title" title={panelTitle(spec)}>
          {panelTitle(spec)}
          {unit && <span className="muted chart-unit"> ({unit.label})</span>}
        </span>
        {editable && (
          <span className="panel-tools">
            <button className="icon-btn" onClick={onEdit} title="Edit panel" aria-label={`edit ${panelTitle(spec)}`} data-testid="panel-edit">
              ✎
            </button>
            <button className="icon-btn" onClick={onRemove} title="Remove panel" aria-label={`remove ${panelTitle(spec)}`} data-testid="panel-remove">
              ✕
            </button>
          </span>
        )}
      </div>
      <div className={`panel-body type-${spec.type}`} style={spec.type === "line" ? undefined : { height }}>
        {spec.type === "line" ? (
          <LinePanel spec={spec} height={height} visible={visible} />
        ) : !visible ? null : spec.type === "images" ? (
          <ImagesPanel spec={spec} />
        ) : spec.type === "table" ? (
          <TablePanel spec={spec} />
        ) : spec.type === "histogram" ? (
          <HistogramPanel spec={spec} height={height} />
        ) : (
          <ValuePanel spec={spec} />
        )}
      </div>
      {editable && <div className="panel-resize" title="Drag to resize" data-testid="panel-resize" onPointerDown={startResize} />}
    </div>
  );
}
