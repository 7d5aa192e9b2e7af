// The UI's names for the shapes the services answer. Every one is an alias of a type generated from a
// service's OpenAPI document (src/api/schema, `make client`), so a change in a service shows up here as a
// type error, not as a blank page.
import type { components as ArtifactTypes } from "../api/schema/artifact";
import type { components as AuthTypes } from "../api/schema/auth";
import type { components as QueryTypes } from "../api/schema/query";

type Query = QueryTypes["schemas"];
type Artifact = ArtifactTypes["schemas"];

export type ServerInfo = Query["ServerInfo"];
export type Viewer = AuthTypes["schemas"]["ViewerOut"];
export type Project = Query["Project"];

/** A JSON value as the API sends it; non-finite floats arrive as "NaN" / "Infinity" / "-Infinity". */
export type JsonValue = Query["JsonValue"];

type RunKeys = "history_keys" | "media_keys";
export type RunState = Query["RunWithKeys"]["state"];
/** A run of the runs list; one run alone (`api.run`) also carries its `history_keys` and `media_keys`. */
export type Run = Omit<Query["RunWithKeys"], RunKeys> & Partial<Pick<Query["RunWithKeys"], RunKeys>>;

export type WireNumber = Query["SeriesOut"]["value"][number];
/** One key's downsampled series; `x` only when the history was asked with `x=`. */
export type SeriesWire = Query["SeriesOut"];
export type HistoryResponse = Query["HistoryOut"];
export type FullHistory = Query["FullHistoryOut"];

export type Group = Query["GroupOut"];
export type GroupsResponse = Query["GroupsOut"];

export type OutputLine = Query["OutputLine"];
export type OutputResponse = Query["OutputOut"];

export type RunFile = Artifact["RunFile"];
export type FileFolder = Artifact["FileFolder"];
export type FileList = Artifact["FileList"];
