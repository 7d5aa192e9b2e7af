// Pieces the settings pages share: a secret shown once, an action's busy/error state, a confirm step.
import { useState, type ReactNode } from "react";
import { CopyButton } from "../components/CopyButton";

/** A key, token or password shown exactly once, with a copy button and a way to dismiss it. */
export function ShownOnce({ label, secret, note, onDone, testId }: { label: string; secret: string; note?: ReactNode; onDone: () => void; testId?: string }) {
  return (
    <div className="shown-once" data-testid={testId ?? "shown-once"} role="status">
      <div className="small">
        <b>{label}</b> — shown only now: copy it.
      </div>
      <div className="key-row">
        <code className="key-box" data-testid="secret">
          {secret}
        </code>
        <CopyButton text={secret} />
      </div>
      {note && <div className="muted small">{note}</div>}
      <div>
        <button className="btn btn-sm" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

/** Run an async action with a busy flag and the server's message on failure. */
export function useAction(): { busy: boolean; error: string | null; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    clear: () => setError(null),
    run: async (fn) => {
      setBusy(true);
      setError(null);
      try {
        await fn();
        return true;
      } catch (e) {
        setError(String((e as Error).message ?? e));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

/** A button that asks "Sure?" in place before it acts. */
export function ConfirmButton({ label, confirm, onConfirm, danger = true, testId, disabled }: { label: string; confirm: string; onConfirm: () => void; danger?: boolean; testId?: string; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button className={`btn btn-sm ${danger ? "btn-danger-soft" : ""}`} onClick={() => setAsking(true)} data-testid={testId} disabled={disabled}>
        {label}
      </button>
    );
  return (
    <span className="confirm-inline">
      <span className="small">{confirm}</span>
      <button
        className={`btn btn-sm ${danger ? "btn-danger" : "btn-primary"}`}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        data-testid={testId ? `${testId}-confirm` : undefined}
      >
        Yes
      </button>
      <button className="btn btn-sm" onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}

export function SettingsCard({ title, children, testId, actions }: { title: string; children: ReactNode; testId?: string; actions?: ReactNode }) {
  return (
    <section className="card settings-card" data-testid={testId}>
      <div className="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
