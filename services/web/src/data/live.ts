// Live updates: the single place that decides *when* visible data is refreshed.
//
// Project and run views listen to the project's Server-Sent Events (`GET .../projects/{e}/{p}/events`, one
// EventSource per project shared by every subscriber): the query service forwards what the ingest service
// publishes in Redis after each committed batch (`{"run_id", "next_step", ...}`). Subscribers are told
// "changed" (throttled to a few times a second) and refetch cheaply (the runs list asks only for runs
// updated since its last answer; history is refetched only for the runs that changed).
//
// Polling is the fallback only: while the stream is not live (the server says `{"live": false}` because
// Redis is away, or the EventSource cannot connect) every subscriber is ticked every few seconds, and the
// stream is retried. The projects page has no stream and polls. Hidden tabs refresh nothing until shown.
import { useEffect, useState } from "react";

export type LiveTopic =
  | { kind: "projects" }
  | { kind: "project-runs"; entity: string; project: string }
  | { kind: "run"; entity: string; project: string; runId: string };

export const POLL_INTERVAL_MS = 4000;
const THROTTLE_MS = 250;
const RETRY_SSE_MS = 30000;

export type LiveMode = "connecting" | "live" | "polling";

/** What a change says: the run that changed (null: anything may have changed, e.g. after a reconnect). */
export interface LiveChange {
  runId: string | null;
  nextStep?: number;
}

type Listener = { runId: string | null; fn: (c: LiveChange) => void };

interface Channel {
  key: string;
  url: string | null; // null: polling only (projects page)
  listeners: Set<Listener>;
  es: EventSource | null;
  mode: LiveMode;
  poll: number | null;
  retry: number | null;
  helloSeen: boolean;
  // throttling: changes gathered since the last delivery
  pending: Map<string | null, LiveChange>;
  flushTimer: number | null;
  lastFlush: number;
  modeListeners: Set<(m: LiveMode) => void>;
}

const channels = new Map<string, Channel>();

function channelOf(t: LiveTopic): { key: string; url: string | null } {
  if (t.kind === "projects") return { key: "projects", url: null };
  const key = `${t.entity}/${t.project}`;
  return { key, url: `/api/v1/projects/${encodeURIComponent(t.entity)}/${encodeURIComponent(t.project)}/events` };
}

function deliver(ch: Channel) {
  ch.flushTimer = null;
  if (document.visibilityState !== "visible") return; // delivered when the tab is shown again
  ch.lastFlush = Date.now();
  const changes = [...ch.pending.values()];
  ch.pending.clear();
  if (!changes.length) return;
  const all = changes.some((c) => c.runId === null);
  ch.listeners.forEach((l) => {
    if (l.runId === null) l.fn(all ? { runId: null } : changes[changes.length - 1]);
    else {
      const mine = changes.find((c) => c.runId === l.runId);
      if (all || mine) l.fn(mine ?? { runId: null });
    }
  });
}

function notify(ch: Channel, c: LiveChange) {
  ch.pending.set(c.runId, c);
  if (ch.flushTimer !== null) return;
  const wait = Math.max(0, ch.lastFlush + THROTTLE_MS - Date.now());
  ch.flushTimer = window.setTimeout(() => deliver(ch), wait);
}

function setMode(ch: Channel, mode: LiveMode) {
  if (ch.mode === mode) return;
  ch.mode = mode;
  if (mode === "polling" && ch.poll === null) {
    ch.poll = window.setInterval(() => notify(ch, { runId: null }), POLL_INTERVAL_MS);
  }
  if (mode !== "polling" && ch.poll !== null) {
    window.clearInterval(ch.poll);
    ch.poll = null;
  }
  ch.modeListeners.forEach((fn) => fn(mode));
}

function openStream(ch: Channel) {
  if (!ch.url || typeof EventSource === "undefined") {
    setMode(ch, "polling");
    return;
  }
  const es = new EventSource(ch.url, { withCredentials: true });
  ch.es = es;
  es.addEventListener("hello", (e) => {
    let live = false;
    try {
      live = !!JSON.parse((e as MessageEvent).data).live;
    } catch {
      /* not JSON: not live */
    }
    if (live) {
      // a reconnect may have missed changes: everyone refreshes once
      if (ch.helloSeen || ch.mode === "polling") notify(ch, { runId: null });
      ch.helloSeen = true;
      setMode(ch, "live");
    } else {
      setMode(ch, "polling"); // the server ends the stream and asks to retry in 30 s
    }
  });
  es.addEventListener("run", (e) => {
    try {
      const d = JSON.parse((e as MessageEvent).data);
      notify(ch, { runId: typeof d.run_id === "string" ? d.run_id : null, nextStep: d.next_step });
    } catch {
      notify(ch, { runId: null });
    }
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // refused (401, 404, not an event stream): poll, and try the stream again later
      es.close();
      ch.es = null;
      setMode(ch, "polling");
      if (ch.retry === null)
        ch.retry = window.setTimeout(() => {
          ch.retry = null;
          if (channels.get(ch.key) === ch) openStream(ch);
        }, RETRY_SSE_MS);
    } else if (ch.mode === "live") {
      setMode(ch, "polling"); // reconnecting: poll meanwhile
    }
  };
}

function closeChannel(ch: Channel) {
  ch.es?.close();
  if (ch.poll !== null) window.clearInterval(ch.poll);
  if (ch.retry !== null) window.clearTimeout(ch.retry);
  if (ch.flushTimer !== null) window.clearTimeout(ch.flushTimer);
  channels.delete(ch.key);
}

function getChannel(topic: LiveTopic): Channel {
  const { key, url } = channelOf(topic);
  let ch = channels.get(key);
  if (!ch) {
    ch = {
      key,
      url,
      listeners: new Set(),
      es: null,
      mode: "connecting",
      poll: null,
      retry: null,
      helloSeen: false,
      pending: new Map(),
      flushTimer: null,
      lastFlush: 0,
      modeListeners: new Set(),
    };
    channels.set(key, ch);
    openStream(ch);
  }
  return ch;
}

function release(ch: Channel) {
  if (ch.listeners.size === 0 && ch.modeListeners.size === 0) {
    // keep the stream a moment: navigating between a project and its runs reuses it
    window.setTimeout(() => {
      if (ch.listeners.size === 0 && ch.modeListeners.size === 0 && channels.get(ch.key) === ch) closeChannel(ch);
    }, 5000);
  }
}

export function subscribe(topic: LiveTopic, onChange: (c: LiveChange) => void): () => void {
  const ch = getChannel(topic);
  const l: Listener = { runId: topic.kind === "run" ? topic.runId : null, fn: onChange };
  ch.listeners.add(l);
  return () => {
    ch.listeners.delete(l);
    release(ch);
  };
}

// A page coming back into view catches up at once.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible")
    channels.forEach((ch) => {
      if (ch.pending.size) deliver(ch);
      else if (ch.mode === "polling") notify(ch, { runId: null });
    });
});

/** A counter that increases each time the topic changes; put it in an effect's dependencies. */
export function useLiveTick(topic: LiveTopic | null, enabled = true): number {
  const [n, setN] = useState(0);
  const key = topic ? JSON.stringify(topic) : "";
  useEffect(() => {
    if (!topic || !enabled) return;
    return subscribe(topic, () => setN((x) => x + 1));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  return n;
}

/** Like useLiveTick, also giving the last change (which run). */
export function useLiveChange(topic: LiveTopic | null, enabled = true): { n: number; last: LiveChange | null } {
  const [s, setS] = useState<{ n: number; last: LiveChange | null }>({ n: 0, last: null });
  const key = topic ? JSON.stringify(topic) : "";
  useEffect(() => {
    if (!topic || !enabled) return;
    return subscribe(topic, (c) => setS((x) => ({ n: x.n + 1, last: c })));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  return s;
}

/** The connection state of a topic's stream (for a small "live" indicator). */
export function useLiveMode(topic: LiveTopic): LiveMode {
  const [mode, setM] = useState<LiveMode>("connecting");
  const key = JSON.stringify(topic);
  useEffect(() => {
    const ch = getChannel(topic);
    setM(ch.mode);
    const fn = (m: LiveMode) => setM(m);
    ch.modeListeners.add(fn);
    return () => {
      ch.modeListeners.delete(fn);
      release(ch);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return mode;
}
