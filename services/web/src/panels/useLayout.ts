// The workspace layout of a project for the signed-in user: read once, saved (shortly after each change)
// with PUT .../workspace; or, with `?view=ID`, a shared read-only snapshot (GET .../views/{id}) that the
// user may adopt as its own.
import { useCallback, useEffect, useRef, useState } from "react";
import { query } from "../api/client";
import type { components } from "../api/schema/query";
import { EMPTY_LAYOUT, parseLayout, type Layout } from "./layout";

export type SharedView = components["schemas"]["ViewOut"];
export type SaveState = "idle" | "saving" | "saved" | "error";

const SAVE_AFTER_MS = 500;

export interface SavedLayout {
  layout: Layout;
  ready: boolean;
  error: string | null;
  save: SaveState;
  /** The shared view shown instead of the user's own layout. */
  shared: SharedView | null;
  setLayout: (l: Layout) => void;
  /** Forget the user's layout (the automatic one comes back). */
  reset: () => void;
  /** Make the shared view the user's own layout. */
  adopt: () => void;
  /** Store a snapshot for a link; resolves to its id. */
  share: (queryString: string) => Promise<string>;
}

export function useSavedLayout(entity: string, project: string, viewId: string | null): SavedLayout {
  const [layout, setLocal] = useState<Layout>(EMPTY_LAYOUT);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [save, setSave] = useState<SaveState>("idle");
  const [shared, setShared] = useState<SharedView | null>(null);
  const timer = useRef<number | null>(null);
  const pending = useRef<Layout | null>(null);
  const path = { entity, project };

  useEffect(() => {
    const ctl = new AbortController();
    setReady(false);
    setError(null);
    const load = viewId
      ? query.get("/api/v1/projects/{entity}/{project}/views/{view_id}", { path: { entity, project, view_id: viewId }, signal: ctl.signal }).then((v) => {
          setShared(v);
          return v.layout;
        })
      : query.get("/api/v1/projects/{entity}/{project}/workspace", { path: { entity, project }, signal: ctl.signal }).then((w) => {
          setShared(null);
          return w.layout;
        });
    load.then(
      (raw) => {
        setLocal(parseLayout(raw));
        setReady(true);
      },
      (e) => {
        if (e?.name === "AbortError") return;
        setError(String(e.message ?? e));
        setLocal(EMPTY_LAYOUT);
        setReady(true);
      },
    );
    return () => ctl.abort();
  }, [entity, project, viewId]);

  const flush = useCallback((unloading = false) => {
    timer.current = null;
    const l = pending.current;
    pending.current = null;
    if (!l) return;
    setSave("saving");
    const body = { layout: l as unknown as Record<string, never> };
    query.put("/api/v1/projects/{entity}/{project}/workspace", { path: { entity, project }, body, keepalive: unloading }).then(
      () => setSave("saved"),
      (e) => {
        setSave("error");
        setError(String(e.message ?? e));
      },
    );
  }, [entity, project]);

  // leaving the page (another page of the app, a reload, a closed tab): what is still waiting is saved at
  // once; a reload or a closed tab runs no React cleanup, so `pagehide` sends it with keepalive
  useEffect(() => {
    const now = (unloading: boolean) => {
      if (timer.current !== null) {
        window.clearTimeout(timer.current);
        flush(unloading);
      }
    };
    const onHide = () => now(true);
    window.addEventListener("pagehide", onHide);
    return () => {
      window.removeEventListener("pagehide", onHide);
      now(false);
    };
  }, [flush]);

  const setLayout = useCallback(
    (l: Layout) => {
      setLocal(l);
      if (viewId) return; // a shared view changes only on screen until adopted
      pending.current = l;
      if (timer.current !== null) window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => flush(), SAVE_AFTER_MS);
    },
    [viewId, flush],
  );

  const reset = useCallback(() => {
    if (timer.current !== null) window.clearTimeout(timer.current);
    pending.current = null;
    timer.current = null;
    setLocal(EMPTY_LAYOUT);
    query.delete("/api/v1/projects/{entity}/{project}/workspace", { path }).then(
      () => setSave("saved"),
      (e) => setError(String(e.message ?? e)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [entity, project]);

  const adopt = useCallback(() => {
    pending.current = layout;
    flush();
  }, [layout, flush]);

  const share = useCallback(
    async (queryString: string) => {
      const v = await query.post("/api/v1/projects/{entity}/{project}/views", {
        path: { entity, project },
        body: { layout: layout as unknown as Record<string, unknown>, query: queryString },
      });
      return v.id;
    },
    [entity, project, layout],
  );

  return { layout, ready, error, save, shared, setLayout, reset, adopt, share };
}
