// The UI's calls to the services, by name. Each goes through the typed client (src/api/client.ts), which
// checks its path, parameters and answer against the services' OpenAPI documents.
import { ApiError, artifact, auth, fillPath, query } from "../api/client";
import type { Run } from "./types";

export { ApiError, onUnauthorized } from "../api/client";

export const api = {
  serverInfo: () => query.get("/api/v1/server-info", { noAuthRedirect: true }),
  viewer: (noAuthRedirect = false) => auth.get("/api/v1/viewer", { noAuthRedirect }),
  signup: (username: string, password: string) =>
    auth.post("/api/v1/auth/signup", { body: { username, password }, noAuthRedirect: true }),
  login: (username: string, password: string) =>
    auth.post("/api/v1/auth/login", { body: { username, password }, noAuthRedirect: true }),
  logout: () => auth.post("/api/v1/auth/logout", { noAuthRedirect: true }),
  projects: (entity?: string) => query.get("/api/v1/projects", { query: { entity } }),
  project: (entity: string, project: string) =>
    query.get("/api/v1/projects/{entity}/{project}", { path: { entity, project } }),
  /** A page of runs with every field (no `fields=`: the answer's partial runs are whole runs). */
  runs: async (
    entity: string,
    project: string,
    p: { limit: number; offset: number; order?: string; filter?: string; updated_since?: string },
    signal?: AbortSignal,
  ): Promise<{ runs: Run[]; total: number; server_time: string }> => {
    const page = await query.get("/api/v1/projects/{entity}/{project}/runs", { path: { entity, project }, query: p, signal });
    return page as { runs: Run[]; total: number; server_time: string };
  },
  run: (entity: string, project: string, runId: string, signal?: AbortSignal) =>
    query.get("/api/v1/runs/{entity}/{project}/{run_id}", { path: { entity, project, run_id: runId }, signal }),
  history: (
    entity: string,
    project: string,
    runId: string,
    p: { keys: string[]; samples: number; min_step?: number; max_step?: number; x?: string },
    signal?: AbortSignal,
  ) =>
    query.get("/api/v1/runs/{entity}/{project}/{run_id}/history", {
      path: { entity, project, run_id: runId },
      query: {
        keys: p.keys,
        samples: p.samples,
        min_step: p.min_step !== undefined ? Math.floor(p.min_step) : undefined,
        max_step: p.max_step !== undefined ? Math.ceil(p.max_step) : undefined,
        x: p.x,
      },
      signal,
    }),
  /** Full resolution, columnar, a page of rows from `start_step` (`next_step` null on the last page). */
  historyFull: (entity: string, project: string, runId: string, p: { keys: string[]; start_step: number; limit: number }, signal?: AbortSignal) =>
    query.get("/api/v1/runs/{entity}/{project}/{run_id}/history/full", { path: { entity, project, run_id: runId }, query: p, signal }),
  groups: (entity: string, project: string, p: { by: string; metric?: string; filter?: string }, signal?: AbortSignal) =>
    query.get("/api/v1/projects/{entity}/{project}/runs/groups", { path: { entity, project }, query: p, signal }),
  keys: (entity: string, project: string, signal?: AbortSignal) =>
    query.get("/api/v1/projects/{entity}/{project}/keys", { path: { entity, project }, signal }),
  output: (entity: string, project: string, runId: string, p: { after?: number; limit?: number; tail?: boolean }, signal?: AbortSignal) =>
    query.get("/api/v1/runs/{entity}/{project}/{run_id}/output", {
      path: { entity, project, run_id: runId },
      query: { after: p.after, limit: p.limit, tail: p.tail || undefined },
      signal,
    }),
  files: (entity: string, project: string, runId: string, p: { prefix?: string; recursive?: boolean; limit?: number }, signal?: AbortSignal) =>
    artifact.get("/api/v1/runs/{entity}/{project}/{run_id}/files", {
      path: { entity, project, run_id: runId },
      query: { prefix: p.prefix, recursive: p.recursive || undefined, limit: p.limit ?? 1000 },
      signal,
    }),
  file: (entity: string, project: string, runId: string, path: string, signal?: AbortSignal) =>
    artifact.get("/api/v1/runs/{entity}/{project}/{run_id}/files/{path}", { path: { entity, project, run_id: runId, path }, signal }),
};

/** A run file's address for <img src> and downloads (the service answers a 307 to a presigned URL). */
export function fileUrl(entity: string, project: string, runId: string, path: string, download = false): string {
  return `${fillPath("/api/v1/runs/{entity}/{project}/{run_id}/files/{path}", { entity, project, run_id: runId, path })}?redirect=true${download ? "&download=true" : ""}`;
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
