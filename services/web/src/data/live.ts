// Live updates: the single place that decides *when* visible data is refreshed.
//
// Today it polls: every subscriber to a topic is told "changed" every few seconds while the page is
// visible (hidden tabs poll nothing). Consumers then refetch cheaply (the runs list asks only for the
// most recently updated runs; history is refetched only for running runs; GETs revalidate with ETags).
// Server-Sent Events replace this by implementing `subscribe` with an EventSource per topic: nothing
// else in the UI changes.
import { useEffect, useState } from "react";

export type LiveTopic =
  | { kind: "projects" }
  | { kind: "project-runs"; entity: string; project: string }
  | { kind: "run"; entity: string; project: string; runId: string };

export const POLL_INTERVAL_MS = 4000;

function topicKey(t: LiveTopic): string {
  if (t.kind === "projects") return "projects";
  return t.kind === "run" ? `run:${t.entity}/${t.project}/${t.runId}` : `runs:${t.entity}/${t.project}`;
}

interface Channel {
  listeners: Set<() => void>;
  timer: number | null;
}

const channels = new Map<string, Channel>();

function tick(ch: Channel) {
  if (document.visibilityState !== "visible") return;
  ch.listeners.forEach((fn) => fn());
}

export function subscribe(topic: LiveTopic, onChange: () => void): () => void {
  const key = topicKey(topic);
  let ch = channels.get(key);
  if (!ch) {
    const created: Channel = { listeners: new Set(), timer: null };
    created.timer = window.setInterval(() => tick(created), POLL_INTERVAL_MS);
    channels.set(key, created);
    ch = created;
  }
  ch.listeners.add(onChange);
  return () => {
    const c = channels.get(key);
    if (!c) return;
    c.listeners.delete(onChange);
    if (c.listeners.size === 0) {
      if (c.timer !== null) window.clearInterval(c.timer);
      channels.delete(key);
    }
  };
}

// A page coming back into view catches up at once instead of waiting for the next tick.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") channels.forEach((ch) => tick(ch));
});

/** A counter that increases each time the topic changes; put it in an effect's dependencies. */
export function useLiveTick(topic: LiveTopic | null, enabled = true): number {
  const [n, setN] = useState(0);
  const key = topic ? topicKey(topic) : "";
  useEffect(() => {
    if (!topic || !enabled) return;
    return subscribe(topic, () => setN((x) => x + 1));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  return n;
}
