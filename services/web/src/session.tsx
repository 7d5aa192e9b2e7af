import { createContext, useContext, useEffect, useState } from "react";
import { api } from "./data/api";
import type { Entity, Viewer } from "./data/types";

export interface Session {
  viewer: Viewer;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside the signed-in shell");
  return s;
}

// The caller's entities and roles (GET /api/v1/entities), read once per page load and shared.
let entitiesP: Promise<Entity[]> | null = null;
const entityListeners = new Set<() => void>();

/** Read the entities again (after joining or creating a team). */
export function refreshEntities(): void {
  entitiesP = null;
  entityListeners.forEach((fn) => fn());
}

export function useEntities(): Entity[] | undefined {
  const [list, setList] = useState<Entity[] | undefined>(undefined);
  const [n, setN] = useState(0);
  useEffect(() => {
    const fn = () => setN((x) => x + 1);
    entityListeners.add(fn);
    return () => {
      entityListeners.delete(fn);
    };
  }, []);
  useEffect(() => {
    let live = true;
    if (!entitiesP) {
      entitiesP = api.entities().then((r) => r.entities);
      entitiesP.catch(() => {
        entitiesP = null;
      });
    }
    entitiesP.then(
      (l) => live && setList(l),
      () => live && setList([]),
    );
    return () => {
      live = false;
    };
  }, [n]);
  return list;
}

/** The caller's role in an entity ("owner", "admin", "member", "viewer"), or null when it only reads (internal projects). */
export function useRole(entity: string): { role: string | null; canWrite: boolean; known: boolean } {
  const { viewer } = useSession();
  const list = useEntities();
  if (viewer.is_admin) return { role: "owner", canWrite: true, known: true };
  const e = list?.find((x) => x.name === entity);
  return { role: e?.role ?? null, canWrite: !!e?.can_write, known: list !== undefined };
}
