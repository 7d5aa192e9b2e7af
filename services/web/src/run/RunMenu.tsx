// The run page's "⋯" menu: its link, its config and summary as files, and the run actions other parts of the
// UI register (src/extensions.ts), e.g. copying the run to another instance.
import { useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import type { Run } from "../data/types";
import { Popover } from "../components/Popover";
import { runActions } from "../extensions";
import { downloadJson } from "./download";

export function RunMenu({ entity, project, run, onEdit, onDelete }: { entity: string; project: string; run: Run; onEdit?: () => void; onDelete?: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState(false);
  const [copied, setCopied] = useState(false);
  const actions = runActions.filter((a) => a.scope === "run");
  const navigate = useNavigate();
  const close = () => setOpen(false);
  return (
    <>
      <button ref={ref} className="btn btn-sm" onClick={() => setOpen((o) => !o)} aria-label="more actions" data-testid="run-menu" aria-expanded={open}>
        ⋯
      </button>
      <Popover anchor={ref} open={open} onClose={close} align="end" className="menu-pop" testId="run-menu-pop">
        <button
          className="menu-item"
          onClick={() => {
            void navigator.clipboard?.writeText(window.location.href).then(() => setCopied(true), () => setCopied(false));
          }}
        >
          {copied ? "Link copied" : "Copy link to this run"}
        </button>
        <button className="menu-item" onClick={() => (downloadJson(`${run.id}-config.json`, run.config), close())} data-testid="menu-download-config">
          Download config.json
        </button>
        <button className="menu-item" onClick={() => (downloadJson(`${run.id}-summary.json`, run.summary), close())} data-testid="menu-download-summary">
          Download summary.json
        </button>
        {onEdit && (
          <>
            <div className="menu-sep" />
            <button className="menu-item" onClick={() => (close(), onEdit())} data-testid="menu-edit-run">
              Edit name, tags, notes…
            </button>
          </>
        )}
        {actions.length > 0 && <div className="menu-sep" />}
        {actions.map((a) => (
          <button key={a.id} className="menu-item" onClick={() => (close(), a.run({ entity, project, runIds: [run.id], navigate }))} data-testid={`action-${a.id}`}>
            {a.label}
          </button>
        ))}
        {onDelete && (
          <>
            <div className="menu-sep" />
            <button className="menu-item danger" onClick={() => (close(), onDelete())} data-testid="menu-delete-run">
              Delete run…
            </button>
          </>
        )}
      </Popover>
    </>
  );
}
