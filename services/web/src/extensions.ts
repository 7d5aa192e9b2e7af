// Places other parts of the UI plug into, so that adding one does not mean editing the pages:
// - `runTabs`: extra tabs of the run page (after Overview, Charts, System, Logs, Files, Media, Artifacts);
// - `runActions`: commands on a run (run page menu), on the runs shown in the charts (workspace), or on a
//   whole project (project tabs bar), e.g. "Copy to instance…".
// A module registers by pushing an entry at import time; App.tsx imports the modules that do.
import type { ComponentType } from "react";

export interface RunTabProps {
  entity: string;
  project: string;
  runId: string;
}

export interface RunTab {
  id: string;
  label: string;
  component: ComponentType<RunTabProps>;
}

export interface ActionContext {
  entity: string;
  project: string;
  /** The run (scope "run") or runs (scope "runs"); empty for scope "project". */
  runIds: string[];
  /** Moves to another page of the app (react-router's navigate). */
  navigate: (to: string) => void;
}

export interface RunAction {
  id: string;
  label: string;
  scope: "run" | "runs" | "project";
  run: (ctx: ActionContext) => void;
}

export const runTabs: RunTab[] = [];
export const runActions: RunAction[] = [];
