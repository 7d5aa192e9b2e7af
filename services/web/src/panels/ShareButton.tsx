import { useRef, useState } from "react";
import { CopyButton } from "../components/CopyButton";
import { Popover } from "../components/Popover";
import type { SaveState } from "./useLayout";

/** Share the workspace as it is on screen: a read-only snapshot of the layout and a link to it. */
export function ShareButton({ share }: { share: () => Promise<string> }) {
  const ref = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState(false);
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const make = async () => {
    setOpen(true);
    setBusy(true);
    setError(null);
    try {
      const id = await share();
      const u = new URL(window.location.href);
      u.searchParams.set("view", id);
      setLink(u.toString());
    } catch (e) {
      setError(String((e as Error).message ?? e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button ref={ref} className="btn btn-sm" onClick={() => void make()} data-testid="share-view" title="A link to this workspace: its panels, runs, filter and sort">
        Share
      </button>
      <Popover anchor={ref} open={open} onClose={() => setOpen(false)} align="end" className="share-pop" testId="share-pop">
        {busy ? (
          <div className="muted small">Saving a snapshot…</div>
        ) : error ? (
          <div className="error-inline">{error}</div>
        ) : link ? (
          <div className="share-body">
            <div className="small">Anyone who may read this project sees this layout and these runs:</div>
            <div className="key-row">
              <input className="input input-sm mono share-link" readOnly value={link} data-testid="share-link" onFocus={(e) => e.target.select()} />
              <CopyButton text={link} />
            </div>
          </div>
        ) : null}
      </Popover>
    </>
  );
}

/** Where the layout stands (saved for this user and project) and the way back to the automatic one. */
export function LayoutMenu({ save, onReset }: { save: SaveState; onReset: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState(false);
  return (
    <>
      <button ref={ref} className="btn btn-sm" onClick={() => setOpen((o) => !o)} data-testid="layout-menu" aria-expanded={open}>
        Layout ▾
      </button>
      <Popover anchor={ref} open={open} onClose={() => setOpen(false)} align="end" className="menu-pop">
        <div className="muted small menu-note" data-testid="save-state">
          {save === "saving"
            ? "Saving…"
            : save === "error"
              ? "Your last change was not saved."
              : "Your panels, their order and sizes are saved for you in this project."}
        </div>
        <button
          className="menu-item"
          onClick={() => {
            setOpen(false);
            onReset();
          }}
          data-testid="reset-layout"
        >
          Reset to the automatic layout
        </button>
      </Popover>
    </>
  );
}
