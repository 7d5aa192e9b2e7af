import { createContext, useContext } from "react";
import type { Viewer } from "./data/types";

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
