import type { RunState } from "../data/types";

export function StateBadge({ state }: { state: RunState | string }) {
  return (
    <span className={`badge state-${state}`} data-state={state}>
      {state === "running" && <span className="pulse" />}
      {state}
    </span>
  );
}
