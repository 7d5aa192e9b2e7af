// The one place the UI talks HTTP to the services: one transport (session cookie auth, CSRF echo, the error
// shape, ETag revalidation) and a typed caller per service. Each caller is checked by `tsc` against the
// types generated from that service's OpenAPI document (src/api/schema, `make client`): a path, a path or
// query parameter, or a body field the service does not declare is a compile error, and every answer has
// the type the service declares. `make lint` fails when the generated types are stale.
import type { paths as ArtifactPaths } from "./schema/artifact";
import type { paths as AuthPaths } from "./schema/auth";
import type { paths as QueryPaths } from "./schema/query";
import type { paths as TransfersPaths } from "./schema/transfers";

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

/** Whether the browser holds a session (its CSRF cookie is readable; the session cookie itself is HttpOnly). */
export function hasSessionCookie(): boolean {
  return readCookie("runyard_csrf") !== null;
}

// Revalidation cache: a repeated GET sends If-None-Match and reuses the body on 304.
const etagCache = new Map<string, { etag: string; body: unknown }>();

interface RequestOptions {
  method: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Skip the global 401 handler (login/signup pages handle their own errors). */
  noAuthRedirect?: boolean;
  /** Let the request outlive the page (a save sent while the page unloads). */
  keepalive?: boolean;
}

function headersFor(method: string, hasBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (hasBody) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") {
    const csrf = readCookie("runyard_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  return headers;
}

async function send(url: string, opts: RequestOptions, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, {
      method: opts.method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      signal: opts.signal,
      keepalive: opts.keepalive,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "Cannot reach the Runyard server. Is it running?", "network");
  }
}

/** The ApiError of an answer that is not ok (the services' `{"detail", "code"}`); a 401 tells the listeners. */
async function failure(resp: Response, opts: RequestOptions): Promise<ApiError> {
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
  return new ApiError(resp.status, detail, code);
}

async function request(url: string, opts: RequestOptions): Promise<unknown> {
  const method = opts.method;
  const headers = headersFor(method, opts.body !== undefined);
  const cached = method === "GET" ? etagCache.get(url) : undefined;
  if (cached) headers["If-None-Match"] = cached.etag;
  const resp = await send(url, opts, headers);
  if (resp.status === 304 && cached) return cached.body;
  if (!resp.ok) throw await failure(resp, opts);
  if (resp.status === 204) return undefined;
  const body = await resp.json();
  const etag = resp.headers.get("ETag");
  if (method === "GET" && etag) {
    if (etagCache.size > 500) etagCache.clear();
    etagCache.set(url, { etag, body });
  }
  return body;
}

/**
 * A newline-delimited JSON answer, line by line as it arrives: `onLine` gets each parsed line. Errors before
 * the first line are ApiErrors like every other call's; the caller decides what a missing last line means.
 */
async function requestLines(url: string, opts: RequestOptions, onLine: (line: unknown) => void): Promise<void> {
  const headers = headersFor(opts.method, opts.body !== undefined);
  headers.Accept = "application/x-ndjson";
  const resp = await send(url, opts, headers);
  if (!resp.ok) throw await failure(resp, opts);
  if (!resp.body) throw new ApiError(0, "The answer had no body.", "network");
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      throw new ApiError(0, "The connection to the server broke while the answer was arriving.", "network");
    }
    if (chunk.done) break;
    rest += decoder.decode(chunk.value, { stream: true });
    let nl = rest.indexOf("\n");
    while (nl >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
      nl = rest.indexOf("\n");
    }
  }
  rest += decoder.decode();
  if (rest.trim()) onLine(JSON.parse(rest));
}

const enc = encodeURIComponent;

/** `?a=1&b=x` from the defined, non-empty values (a list is sent comma-separated, as the services read it). */
function queryString(params: Record<string, unknown>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${k}=${enc(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/**
 * A path template filled in: each `{name}` is one encoded segment, but `{path}` (the services' `{path:path}`
 * routes: file paths) keeps its slashes. scripts/client.py refuses a multi-segment parameter of another name.
 */
export function fillPath(template: string, params: Record<string, unknown> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined || v === null) throw new Error(`${template}: no value for {${name}}`);
    return name === "path" ? String(v).split("/").map(enc).join("/") : enc(String(v));
  });
}

// ---- types: what a path and method of a service's `paths` take and answer ----------------------------

type Method = "get" | "post" | "put" | "patch" | "delete";

/** The paths that answer `M` (the generated types mark the other methods `?: never`). */
type PathsFor<Paths, M extends Method> = {
  [P in keyof Paths]: Paths[P] extends { [K in M]: object } ? P : never;
}[keyof Paths];

type Operation<Paths, P extends keyof Paths, M extends Method> = Paths[P] extends { [K in M]: infer O } ? O : never;

type PathParams<O> = O extends { parameters: { path: infer X } } ? X : never;
type QueryParams<O> = O extends { parameters: { query?: infer X } } ? NonNullable<X> : never;
type Body<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;

type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
/** The body of the success answer: 200's, else 201's; nothing for 204. */
type Answer<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? Json<R[200]>
    : 201 extends keyof R
      ? Json<R[201]>
      : 204 extends keyof R
        ? undefined
        : never
  : never;

type Args<O> = { signal?: AbortSignal; noAuthRedirect?: boolean; keepalive?: boolean } & ([PathParams<O>] extends [never]
  ? { path?: never }
  : { path: PathParams<O> }) &
  ([QueryParams<O>] extends [never]
    ? { query?: never }
    : Record<string, never> extends QueryParams<O>
      ? { query?: QueryParams<O> }
      : { query: QueryParams<O> }) &
  ([Body<O>] extends [never] ? { body?: never } : { body: Body<O> });

/** The arguments may be left out when none is required. */
type ArgsParam<O> = Record<string, never> extends Args<O> ? [args?: Args<O>] : [args: Args<O>];

type Call<Paths, M extends Method> = <P extends PathsFor<Paths, M> & string>(
  path: P,
  ...args: ArgsParam<Operation<Paths, P, M>>
) => Promise<Answer<Operation<Paths, P, M>>>;

/** One line of a route answering newline-delimited JSON (`application/x-ndjson`). */
type NdjsonLine<O> = O extends { responses: { 200: { content: { "application/x-ndjson": infer L } } } } ? L : never;

/** The POST paths that answer NDJSON. */
type StreamPaths<Paths> = {
  [P in keyof Paths]: Paths[P] extends { post: infer O } ? ([NdjsonLine<O>] extends [never] ? never : P) : never;
}[keyof Paths];

type StreamCall<Paths> = <P extends StreamPaths<Paths> & string>(
  path: P,
  args: Args<Operation<Paths, P, "post">>,
  onLine: (line: NdjsonLine<Operation<Paths, P, "post">>) => void,
) => Promise<void>;

export interface Client<Paths> {
  /** POST to a route that answers NDJSON; `onLine` receives each line as it arrives. */
  stream: StreamCall<Paths>;
  get: Call<Paths, "get">;
  post: Call<Paths, "post">;
  put: Call<Paths, "put">;
  patch: Call<Paths, "patch">;
  delete: Call<Paths, "delete">;
}

interface LooseArgs {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  signal?: AbortSignal;
  noAuthRedirect?: boolean;
  keepalive?: boolean;
}

function call(method: string) {
  return (template: string, args: LooseArgs = {}) =>
    request(fillPath(template, args.path) + queryString(args.query ?? {}), {
      method,
      body: args.body,
      signal: args.signal,
      noAuthRedirect: args.noAuthRedirect,
      keepalive: args.keepalive,
    });
}

function client<Paths>(): Client<Paths> {
  return {
    stream: ((template: string, args: LooseArgs, onLine: (line: unknown) => void) =>
      requestLines(fillPath(template, args.path) + queryString(args.query ?? {}), {
        method: "POST",
        body: args.body,
        signal: args.signal,
        noAuthRedirect: args.noAuthRedirect,
      }, onLine)) as StreamCall<Paths>,
    get: call("GET") as Call<Paths, "get">,
    post: call("POST") as Call<Paths, "post">,
    put: call("PUT") as Call<Paths, "put">,
    patch: call("PATCH") as Call<Paths, "patch">,
    delete: call("DELETE") as Call<Paths, "delete">,
  };
}

/** The query service: projects, runs, history, output (src/api/openapi/query.json). */
export const query = client<QueryPaths>();
/** The auth service: sign-up, sessions, viewer, keys, teams (src/api/openapi/auth.json). */
export const auth = client<AuthPaths>();
/** The artifact service: run files and artifacts (src/api/openapi/artifact.json). */
export const artifact = client<ArtifactPaths>();
/** Copy jobs: remote instances (admins) and "Copy to instance…" jobs (src/api/openapi/transfers.json). */
export const transfers = client<TransfersPaths>();
