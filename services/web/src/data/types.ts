export interface ServerInfo {
  version: string;
  ingest_address: string;
  ingest_tls: boolean;
  needs_setup: boolean;
}

export interface Viewer {
  username: string;
  entity: string;
  is_admin: boolean;
}

export interface Project {
  entity: string;
  name: string;
  visibility: string;
  description?: string;
  created_at: string;
  updated_at: string;
  run_count: number;
  last_activity: string | null;
}

export type RunState = "running" | "finished" | "failed" | "crashed";

/** A JSON value as the API sends it; non-finite floats arrive as "NaN" / "Infinity" / "-Infinity". */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface Run {
  id: string;
  entity: string;
  project: string;
  name: string;
  state: RunState;
  config: Record<string, JsonValue>;
  summary: Record<string, JsonValue>;
  tags: string[];
  group: string;
  job_type: string;
  notes: string;
  host: string;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  heartbeat_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string;
  history_keys?: string[];
  /** keys holding only non-numeric values (media descriptors); not charted */
  media_keys?: string[];
}

export type WireNumber = number | string | null;

export interface SeriesWire {
  step: number[];
  value: WireNumber[];
  min?: WireNumber[];
  max?: WireNumber[];
  /** With `x=`: the x key's value at each point's step (null where absent). */
  x?: WireNumber[];
}

export interface HistoryResponse {
  series: Record<string, SeriesWire>;
  sampled: boolean;
}

export interface Group {
  value: JsonValue;
  count: number;
  metric_count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  run_ids: string[];
}

export interface GroupsResponse {
  by: string;
  metric: string | null;
  groups: Group[];
  total: number;
}

export interface OutputLine {
  line_no: number;
  ts: number;
  stream: string;
  line: string;
}

export interface OutputResponse {
  lines: OutputLine[];
  next_after: number;
  total: number;
  state: RunState;
}

export interface RunFile {
  path: string;
  size: number;
  sha256: string;
  content_type: string;
  uploaded_at: string;
}

export interface FileFolder {
  name: string;
  path: string;
  file_count: number;
  size: number;
  updated_at: string;
}

export interface FileList {
  prefix: string;
  folders: FileFolder[];
  files: RunFile[];
  total: number;
}
