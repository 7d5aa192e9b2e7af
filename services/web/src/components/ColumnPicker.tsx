import { useMemo, useRef, useState } from "react";
import { Popover } from "./Popover";

interface Props {
  configKeys: string[];
  summaryKeys: string[];
  chosen: string[];
  onChange: (cols: string[]) => void;
}

export function ColumnPicker({ configKeys, summaryKeys, chosen, onChange }: Props) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState("");
  const ref = useRef<HTMLButtonElement>(null);
  const chosenSet = useMemo(() => new Set(chosen), [chosen]);
  const f = q.toLowerCase();
  const toggle = (c: string) => onChange(chosenSet.has(c) ? chosen.filter((x) => x !== c) : [...chosen, c]);
  const group = (title: string, src: string, keys: string[]) => {
    const shown = keys.filter((k) => k.toLowerCase().includes(f));
    return (
      <div className="picker-group">
        <div className="picker-title">
          {title} <span className="muted">{keys.length}</span>
        </div>
        {shown.length === 0 && <div className="muted small picker-none">{keys.length ? "No match" : "None logged"}</div>}
        {shown.slice(0, 200).map((k) => {
          const id = `${src}.${k}`;
          return (
            <label key={id} className="picker-item">
              <input type="checkbox" checked={chosenSet.has(id)} onChange={() => toggle(id)} />
              <span className="mono">{k}</span>
            </label>
          );
        })}
      </div>
    );
  };
  return (
    <div className="picker">
      <button ref={ref} className="btn btn-sm" onClick={() => setOpen((o) => !o)} data-testid="column-picker" aria-expanded={open}>
        Columns{chosen.length ? ` (${chosen.length})` : ""}
      </button>
      <Popover anchor={ref} open={open} onClose={() => setOpen(false)} className="picker-pop" testId="column-pop">
          <input className="input input-sm" placeholder="Search keys" value={q} onChange={(e) => setQ(e.target.value)} autoFocus />
          <div className="picker-cols">
            {group("Config", "config", configKeys)}
            {group("Summary", "summary", summaryKeys)}
          </div>
          {chosen.length > 0 && (
            <button className="link-btn" onClick={() => onChange([])}>
              Remove all extra columns
            </button>
          )}
      </Popover>
    </div>
  );
}
