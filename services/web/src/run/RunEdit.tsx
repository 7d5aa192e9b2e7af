// Editing a run from its page (writers only): rename, tags, notes, and delete after a confirmation.
// Both go through PATCH/DELETE /api/v1/runs/{entity}/{project}/{run_id}: one UPDATE of the run row outside
// its ingest stream, so an edit of a live run takes none of the process' sequence numbers and loses none
// of its data (docs/api.md, "Editing and deleting runs").
import { useState, type KeyboardEvent } from "react";
import { api } from "../data/api";
import type { Run } from "../data/types";
import { Modal } from "../components/Popover";

const MAX_TAG = 128;

/** Tags as chips: Enter or a comma adds the typed tag, ✕ or Backspace in the empty box removes one. */
function TagInput({ tags, onChange }: { tags: string[]; onChange: (t: string[]) => void }) {
  const [text, setText] = useState("");
  const add = (raw: string) => {
    const t = raw.trim();
    if (t && t.length <= MAX_TAG && !tags.includes(t)) onChange([...tags, t]);
    setText("");
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      add(text);
    } else if (e.key === "Backspace" && !text && tags.length) {
      onChange(tags.slice(0, -1));
    }
  };
  return (
    <div className="tag-input input" data-testid="edit-tags">
      {tags.map((t) => (
        <span className="tag" key={t}>
          <span data-testid="edit-tag">{t}</span>
          <button type="button" className="icon-btn" aria-label={`remove tag ${t}`} onClick={() => onChange(tags.filter((x) => x !== t))}>
            ✕
          </button>
        </span>
      ))}
      <input
        value={text}
        maxLength={MAX_TAG}
        onChange={(e) => setText(e.target.value.replace(",", ""))}
        onKeyDown={onKey}
        onBlur={() => text && add(text)}
        placeholder={tags.length ? "" : "add a tag, Enter"}
        aria-label="new tag"
        data-testid="edit-tag-input"
      />
    </div>
  );
}

export function EditRunDialog({ entity, project, run, onClose, onSaved }: { entity: string; project: string; run: Run; onClose: () => void; onSaved: (r: Run) => void }) {
  const [name, setName] = useState(run.name);
  const [tags, setTags] = useState<string[]>(run.tags);
  const [notes, setNotes] = useState(run.notes ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const body: { name?: string; notes?: string; tags?: string[] } = {};
  if (name.trim() !== run.name) body.name = name.trim();
  if (notes !== (run.notes ?? "")) body.notes = notes;
  if (tags.join("\u0000") !== run.tags.join("\u0000")) body.tags = tags;
  const changed = Object.keys(body).length > 0;
  const save = async () => {
    if (!name.trim()) return setError("A run needs a name.");
    setBusy(true);
    setError(null);
    try {
      const updated = await api.editRun(entity, project, run.id, body);
      onSaved({ ...run, ...updated });
      onClose();
    } catch (e) {
      setError(String((e as Error).message ?? e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Edit run" onClose={onClose} testId="edit-run" wide>
      <form
        className="editor-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label className="field">
          Name
          <input className="input" value={name} maxLength={256} onChange={(e) => setName(e.target.value)} data-testid="edit-name" autoFocus />
        </label>
        <div className="field">
          Tags
          <TagInput tags={tags} onChange={setTags} />
        </div>
        <label className="field">
          Notes
          <textarea className="input notes-input" rows={6} value={notes} maxLength={65536} onChange={(e) => setNotes(e.target.value)} data-testid="edit-notes" />
        </label>
        {run.state === "running" && <p className="muted small">The run is live: these changes do not interrupt its logging.</p>}
        {error && (
          <div className="error-inline" role="alert" data-testid="edit-error">
            {error}
          </div>
        )}
        <div className="editor-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy || !changed} data-testid="edit-save">
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function DeleteRunDialog({ entity, project, run, onClose, onDeleted }: { entity: string; project: string; run: Run; onClose: () => void; onDeleted: () => void }) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = run.state === "running";
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.deleteRun(entity, project, run.id, running);
      onDeleted();
    } catch (e) {
      setError(String((e as Error).message ?? e));
      setBusy(false);
    }
  };
  return (
    <Modal title="Delete run" onClose={onClose} testId="delete-run">
      <div className="editor-form">
        <p>
          Delete <b>{run.name}</b> ({run.id})? Its history, console output, list of files and alerts are removed. This cannot be undone.
        </p>
        {running && (
          <p className="error-inline" data-testid="delete-running">
            This run is still running. A process still logging to it would create it again.
          </p>
        )}
        <label className="field">
          Type the run's name to confirm
          <input className="input" value={typed} onChange={(e) => setTyped(e.target.value)} data-testid="delete-confirm-name" autoFocus />
        </label>
        {error && (
          <div className="error-inline" role="alert">
            {error}
          </div>
        )}
        <div className="editor-actions">
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-danger" disabled={busy || typed !== run.name} onClick={() => void remove()} data-testid="delete-run-confirm">
            {busy ? "Deleting…" : "Delete run"}
          </button>
        </div>
      </div>
    </Modal>
  );
}
