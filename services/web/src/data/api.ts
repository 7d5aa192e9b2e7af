// The one place the UI talks HTTP: session cookie auth, CSRF echo, error shape, ETag revalidation.
import type { FileList, GroupsResponse, HistoryResponse, OutputResponse, Project, Run, RunFile, ServerInfo, Viewer } from "./types";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code: string = "",
  ) {
    super(message);
  }
}

/** Listeners told when any call answers 401 (the app then shows the login page). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

// Revalidation cache: a repeated GET sends If-None-Match and reuses the body on 304.
const etagCache = new Map<string, { etag: string; body: unknown }>();

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Skip the global 401 handler (login/signup pages handle their own errors). */
  noAuthRedirect?: boolean;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") {
    const csrf = readCookie("runyard_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const cached = method === "GET" ? etagCache.get(path) : undefined;
  if (cached) headers["If-None-Match"] = cached.etag;
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "Cannot reach the Runyard server. Is it running?", "network");
  }
  if (resp.status === 304 && cached) return cached.body as T;
  if (!resp.ok) {
    let detail = `${resp.status} ${resp.statusText}`;
    let code = "";
    try {
      const j = await resp.json();
      if (typeof j?.detail === "string") detail = j.detail;
      else if (Array.isArray(j?.detail)) detail = j.detail.map((d: { msg?: string }) => d.msg ?? "").join("; ");
      code = j?.code ?? "";
    } catch {
      /* not JSON */
    }
    if (resp.status === 401 && !opts.noAuthRedirect) unauthorizedListeners.forEach((fn) => fn());
    throw new ApiError(resp.status, detail, code);
  }
  if (resp.status === 204) return undefined as T;
  const body = await resp.json();
  const etag = resp.headers.get("ETag");
  if (method === "GET" && etag) {
    if (etagCache.size > 500) etagCache.clear();
    etagCache.set(path, { etag, body });
  }
  return body as T;
}

const enc = encodeURIComponent;

function qs(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${k}=${enc(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

export const api = {
  serverInfo: () => request<ServerInfo>("/api/v1/server-info", { noAuthRedirect: true }),
  viewer: (noAuthRedirect = false) => request<Viewer>("/api/v1/viewer", { noAuthRedirect }),
  signup: (username: string, password: string) =>
    request<{ username: string; api_key: string }>("/api/v1/auth/signup", {
      method: "POST",
      body: { username, password },
      noAuthRedirect: true,
    }),
  login: (username: string, password: string) =>
    request<unknown>("/api/v1/auth/login", { method: "POST", body: { username, password }, noAuthRedirect: true }),
  logout: () => request<unknown>("/api/v1/auth/logout", { method: "POST", noAuthRedirect: true }),
  projects: (entity?: string) =>
    request<{ projects: Project[] }>(`/api/v1/projects${qs({ entity })}`),
  project: (entity: string, project: string) =>
    request<Project>(`/api/v1/projects/${enc(entity)}/${enc(project)}`),
  runs: (
    entity: string,
    project: string,
    p: { limit: number; offset: number; order?: string; filter?: string; fields?: string; updated_since?: string },
    signal?: AbortSignal,
  ) =>
    request<{ runs: Run[]; total: number; server_time: string }>(
      `/api/v1/projects/${enc(entity)}/${enc(project)}/runs${qs(p)}`,
      { signal },
    ),
  run: (entity: string, project: string, runId: string, signal?: AbortSignal) =>
    request<Run>(`/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}`, { signal }),
  history: (
    entity: string,
    project: string,
    runId: string,
    p: { keys: string[]; samples: number; min_step?: number; max_step?: number; x?: string },
    signal?: AbortSignal,
  ) =>
    request<HistoryResponse>(
      `/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/history${qs({
        keys: p.keys.join(","),
        samples: p.samples,
        min_step: p.min_step !== undefined ? Math.floor(p.min_step) : undefined,
        max_step: p.max_step !== undefined ? Math.ceil(p.max_step) : undefined,
        x: p.x,
      })}`,
      { signal },
    ),
  groups: (entity: string, project: string, p: { by: string; metric?: string; filter?: string }, signal?: AbortSignal) =>
    request<GroupsResponse>(`/api/v1/projects/${enc(entity)}/${enc(project)}/runs/groups${qs(p)}`, { signal }),
  keys: (entity: string, project: string, signal?: AbortSignal) =>
    request<{ keys: string[]; config: string[]; summary: string[] }>(`/api/v1/projects/${enc(entity)}/${enc(project)}/keys`, { signal }),
  output: (entity: string, project: string, runId: string, p: { after?: number; limit?: number; tail?: boolean }, signal?: AbortSignal) =>
    request<OutputResponse>(
      `/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/output${qs({ after: p.after, limit: p.limit, tail: p.tail ? "true" : undefined })}`,
      { signal },
    ),
  files: (entity: string, project: string, runId: string, p: { prefix?: string; recursive?: boolean; limit?: number }, signal?: AbortSignal) =>
    request<FileList>(
      `/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/files${qs({ prefix: p.prefix, recursive: p.recursive ? "true" : undefined, limit: p.limit ?? 1000 })}`,
      { signal },
    ),
  file: (entity: string, project: string, runId: string, path: string, signal?: AbortSignal) =>
    request<RunFile & { url: string }>(`/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/files/${path.split("/").map(enc).join("/")}`, { signal }),
};

/** A run file's address for <img src> and downloads (the service answers a 307 to a presigned URL). */
export function fileUrl(entity: string, project: string, runId: string, path: string, download = false): string {
  return `/api/v1/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/files/${path.split("/").map(enc).join("/")}?redirect=true${download ? "&download=true" : ""}`;
}

/** The text of a run file (presigned GET, read straight from the bucket); `maxBytes` guards the page. */
export async function fileText(entity: string, project: string, runId: string, path: string, maxBytes = 5_000_000, signal?: AbortSignal): Promise<string> {
  const meta = await api.file(entity, project, runId, path, signal);
  if (meta.size > maxBytes) throw new ApiError(413, `${path} is ${(meta.size / 1e6).toFixed(1)} MB: too large to show here; download it instead.`);
  let resp: Response;
  try {
    resp = await fetch(meta.url, { signal, credentials: "omit" });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "Cannot read the file from the object store (is it reachable from this browser, with CORS allowed?)", "network");
  }
  if (!resp.ok) throw new ApiError(resp.status, `The object store answered ${resp.status} for ${path}.`);
  return await resp.text();
}
