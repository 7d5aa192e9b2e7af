// Editing a panel (or adding one): its title, the keys a line chart draws, its own x axis, smoothing and
// log scale (or the workspace's), and its section.
import { useMemo, useState } from "react";
import { Modal } from "../components/Popover";
import type { PanelSpec } from "./layout";

interface Props {
  spec: PanelSpec;
  /** Numeric keys a line chart may draw. */
  numericKeys: string[];
  sections: string[];
  section: string;
  isNew: boolean;
  onSave: (spec: PanelSpec, section: string) => void;
  onClose: () => void;
}

export function PanelEditor({ spec, numericKeys, sections, section, isNew, onSave, onClose }: Props) {
  const [title, setTitle] = useState(spec.title ?? "");
  const [keys, setKeys] = useState<string[]>(spec.keys);
  const [x, setX] = useState(spec.x ?? "");
  const [smooth, setSmooth] = useState(spec.smoothing);
  const [log, setLog] = useState(spec.logY === undefined ? "" : spec.logY ? "on" : "off");
  const [sec, setSec] = useState(section);
  const [newSec, setNewSec] = useState("");
  const [q, setQ] = useState("");
  const line = spec.type === "line";
  const shownKeys = useMemo(() => numericKeys.filter((k) => !k.startsWith("_") && k.toLowerCase().includes(q.toLowerCase())), [numericKeys, q]);
  const target = sec === "__new" ? newSec.trim() : sec;
  const ok = (!line || keys.length > 0) && target !== "";
  const save = () => {
    if (!ok) return;
    const out: PanelSpec = { ...spec, keys, title: title.trim() || undefined };
    if (line) {
      out.x = x || undefined;
      out.smoothing = smooth;
      out.logY = log === "" ? undefined : log === "on";
    }
    onSave(out, target);
  };
  return (
    <Modal title={isNew ? "Add a chart" : "Edit panel"} onClose={onClose} testId="panel-editor" wide={line}>
      <form
        className="editor-form"
        onSubmit={(e) => {
          e.preventDefault();
          save();
        }}
      >
        <label className="field">
          Title
          <input className="input" value={title} placeholder={spec.keys.join(", ") || "(the keys drawn)"} onChange={(e) => setTitle(e.target.value)} data-testid="editor-title" />
        </label>
        {line && (
          <div className="field">
            Metrics ({keys.length} chosen)
            <input className="input input-sm" placeholder="Search keys" value={q} onChange={(e) => setQ(e.target.value)} data-testid="editor-key-search" />
            <div className="editor-keys" data-testid="editor-keys">
              {shownKeys.length === 0 && <div className="muted small">No key matches.</div>}
              {shownKeys.slice(0, 300).map((k) => (
                <label key={k} className="picker-item">
                  <input type="checkbox" checked={keys.includes(k)} onChange={() => setKeys((ks) => (ks.includes(k) ? ks.filter((x) => x !== k) : [...ks, k]))} />
                  <span className="mono">{k}</span>
                </label>
              ))}
            </div>
          </div>
        )}
        {line && (
          <div className="editor-row">
            <label className="field">
              X axis
              <select className="input" value={x} onChange={(e) => setX(e.target.value)} data-testid="editor-x">
                <option value="">Workspace setting</option>
                <option value="step">Step</option>
                <option value="relative">Relative time</option>
                <option value="wall">Wall time</option>
                <optgroup label="Metric">
                  {numericKeys
                    .filter((k) => !k.startsWith("system/") && !k.startsWith("_"))
                    .map((k) => (
                      <option key={k} value={k}>
                        {k}
                      </option>
                    ))}
                </optgroup>
              </select>
            </label>
            <label className="field">
              Smoothing {smooth === undefined ? "(workspace)" : smooth.toFixed(2)}
              <span className="editor-inline">
                <input
                  type="checkbox"
                  checked={smooth !== undefined}
                  onChange={(e) => setSmooth(e.target.checked ? 0.6 : undefined)}
                  aria-label="own smoothing"
                  data-testid="editor-own-smoothing"
                />
                <input
                  type="range"
                  min={0}
                  max={0.99}
                  step={0.01}
                  disabled={smooth === undefined}
                  value={smooth ?? 0}
                  onChange={(e) => setSmooth(Number(e.target.value))}
                  data-testid="editor-smoothing"
                />
              </span>
            </label>
            <label className="field">
              Y scale
              <select className="input" value={log} onChange={(e) => setLog(e.target.value)} data-testid="editor-log">
                <option value="">Workspace setting</option>
                <option value="off">Linear</option>
                <option value="on">Log</option>
              </select>
            </label>
          </div>
        )}
        <div className="editor-row">
          <label className="field">
            Section
            <select className="input" value={sec} onChange={(e) => setSec(e.target.value)} data-testid="editor-section">
              {sections.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
              <option value="__new">New section…</option>
            </select>
          </label>
          {sec === "__new" && (
            <label className="field">
              New section name
              <input className="input" value={newSec} onChange={(e) => setNewSec(e.target.value)} data-testid="editor-new-section" />
            </label>
          )}
        </div>
        <div className="editor-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!ok} data-testid="editor-save">
            {isNew ? "Add chart" : "Save"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
