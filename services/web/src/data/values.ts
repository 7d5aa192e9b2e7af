import type { JsonValue, WireNumber } from "./types";

/** A wire number as a chart value: non-finite ("NaN", "Infinity", "-Infinity") and missing become null (a gap). */
export function toFinite(v: WireNumber | undefined): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function toFiniteArray(a: WireNumber[] | undefined, n: number): (number | null)[] {
  const out = new Array<number | null>(n);
  for (let i = 0; i < n; i++) out[i] = toFinite(a ? a[i] : null);
  return out;
}

const NONFINITE = new Set(["NaN", "Infinity", "-Infinity"]);

/** A number for sorting: finite numbers and non-finite markers order numerically, everything else is null. */
export function sortableNumber(v: JsonValue | undefined): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "string" && NONFINITE.has(v)) return v === "NaN" ? Number.NaN : v === "Infinity" ? Infinity : -Infinity;
  return null;
}

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e9) return v.toLocaleString("en-US");
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3);
  return Number(v.toPrecision(5)).toString();
}

export function formatValue(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return "—";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(v);
}

/** Flatten nested config/summary dicts into dotted keys ({"opt": {"lr": 1}} -> {"opt.lr": 1}). */
export function flatten(obj: Record<string, JsonValue> | undefined, prefix = "", out: Record<string, JsonValue> = {}) {
  if (!obj) return out;
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 && !("_type" in v)) {
      flatten(v as Record<string, JsonValue>, key, out);
    } else out[key] = v;
  }
  return out;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function runDurationMs(run: { created_at: string; finished_at: string | null; heartbeat_at: string | null; updated_at: string; state: string }): number | null {
  const start = Date.parse(run.created_at);
  if (Number.isNaN(start)) return null;
  const endIso = run.finished_at ?? (run.state === "running" ? null : run.heartbeat_at ?? run.updated_at);
  const end = endIso ? Date.parse(endIso) : Date.now();
  return end - start;
}

export function timeAgo(iso: string | null | undefined): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.round(s / 86400)} d ago`;
  return new Date(t).toLocaleDateString();
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "1 run", "2 runs", "1,000 runs". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? word : many}`;
}
