"""The public API: `runyard.Api()` reads and edits what the server stores (W&B's `wandb.Api()`).

    api = runyard.Api()
    runs = api.runs("admin/mnist", filters={"config.lr": {"$gt": 0.01}, "state": "finished"}, order="-summary_metrics.acc")
    r = api.run("admin/mnist/ab12cd34")
    r.history()                       # DataFrame with _step, _timestamp, _runtime and the metrics
    r.summary.update({"best": 0.9})   # stored at once
    r.config["lr"] = 0.02; r.update() # works on a live run too (PATCH, not the ingest stream)
    api.projects("admin"); api.artifact("admin/mnist/model:latest"); api.viewer

Reads go to the query service over REST (docs/api.md); edits to `PATCH /api/v1/runs/...`, which never takes
sequence numbers from a live run's stream. Non-finite numbers travel as "NaN", "Infinity", "-Infinity"
and are turned back into floats here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._api_filters import filters_to_expr, order_to_param
from ._api_run import ApiFile, ApiProject, ApiRun, ApiSummary, ApiUser
from ._api_runs import ApiRuns
from ._http import LOGIN_HINT, client, get_json, raise_for
from .errors import AuthenticationError, CommError, UsageError
from .settings import resolve

__all__ = ["Api", "ApiFile", "ApiProject", "ApiRun", "ApiRuns", "ApiSummary", "ApiUser"]


def _seg(part: str) -> str:
    return quote(part, safe="")


class Api:
    """Read and edit runs on a Runyard server. `base_url`/`api_key` default to RUNYARD_* and the login
    file. `overrides` takes W&B's `{"entity": ..., "project": ...}` defaults."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float | None = None,
                 overrides: Mapping[str, Any] | None = None, **_ignored: Any) -> None:
        overrides = dict(overrides or {})
        s = resolve({"base_url": base_url or overrides.get("base_url"), "api_key": api_key, "http_timeout": timeout})
        if not s.api_key:
            raise AuthenticationError(f"no API key for {s.base_url}. " + LOGIN_HINT.format(base=s.base_url))
        self.base_url = s.base_url
        self._client = client(max(s.http_timeout, 30.0), s.api_key)
        self._api_key = s.api_key
        self._default_entity: str | None = overrides.get("entity") or s.entity
        self._default_project: str | None = overrides.get("project") or s.project

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ---------------------------------------------------------------------------------
    def _get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return get_json(self._client, self.base_url, path, what=what, params=params)

    def _request(self, method: str, path: str, *, what: str, json: Any = None,
                 params: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            resp = self._client.request(method, self.base_url + path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise CommError(f"{self.base_url} did not answer in time ({what})") from exc
        except httpx.HTTPError as exc:
            raise CommError(f"cannot reach {self.base_url} ({what}: {exc})") from exc
        raise_for(resp, self.base_url, what)
        return resp

    def _send(self, method: str, path: str, *, what: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        resp = self._request(method, path, what=what, json=json, params=params)
        return resp.json() if resp.content else None

    def _send_text(self, method: str, path: str, *, what: str, json: Any = None) -> str:
        """The body as text (the NDJSON answers)."""
        return str(self._request(method, path, what=what, json=json).text)

    # ---- who and where -----------------------------------------------------------------------------
    @property
    def viewer(self) -> ApiUser:
        """The user the API key belongs to (`.username`, `.entity`, `.is_admin`)."""
        return ApiUser(self._get("/api/v1/viewer", what="reading the viewer"))

    @property
    def default_entity(self) -> str:
        if self._default_entity is None:
            who = self._get("/api/v1/viewer", what="reading the viewer")
            self._default_entity = str(who.get("entity") or who.get("username"))
        return self._default_entity

    def _split(self, path: str, parts: int) -> list[str]:
        pieces = [p for p in path.strip("/").split("/") if p]
        if len(pieces) == 4 and pieces[2] == "runs" and parts == 3:  # the UI's entity/project/runs/id
            pieces.pop(2)
        if len(pieces) == parts - 1:
            pieces.insert(0, self.default_entity)
        if len(pieces) == parts - 2 and parts == 3 and self._default_project:
            pieces = [self.default_entity, self._default_project, *pieces]
        if len(pieces) != parts:
            shape = "entity/project/run_id" if parts == 3 else "entity/project"
            raise UsageError(f"expected a path like {shape!r}, got {path!r}")
        return pieces

    # ---- runs --------------------------------------------------------------------------------------
    def run(self, path: str) -> ApiRun:
        """One run by `entity/project/run_id` (or `project/run_id` in the key's own entity)."""
        entity, project, run_id = self._split(path, 3)
        data = self._get(f"/api/v1/runs/{_seg(entity)}/{_seg(project)}/{_seg(run_id)}", what=f"reading run {path}")
        return ApiRun(self, data)

    def runs(self, path: str | None = None, filters: Mapping[str, Any] | None = None, order: str = "-created_at", *,
             per_page: int = 100, include_sweeps: bool = True, **_ignored: Any) -> ApiRuns:
        """Runs of a project (`entity/project`, or `project`), newest first by default.

        `filters` is W&B's MongoDB-style dict (`{"config.lr": {"$gt": 0.01}, "tags": {"$in": ["best"]}}`,
        `$and`/`$or`, `$regex` ...; runyard._api_filters lists the fields and operators), sent as the
        query service's filter language. `order`: any field with `-` (descending) or `+`, e.g.
        `-summary_metrics.acc`, `+config.lr`, `-created_at`. The answer is a list with `histories()`: the
        sampled history of all these runs in one request per 1,000 runs (W&B's `Runs.histories`)."""
        entity, project = self._split(path or self._default_project or "", 2)
        params: dict[str, Any] = {"order": order_to_param(order)}
        expr = filters_to_expr(filters)
        if expr:
            params["filter"] = expr
        out = ApiRuns(self, entity, project, [])
        offset = 0
        per_page = max(1, min(int(per_page), 1000))
        while True:
            page = self._get(
                f"/api/v1/projects/{_seg(entity)}/{_seg(project)}/runs",
                what=f"listing runs of {entity}/{project}",
                params={**params, "limit": per_page, "offset": offset},
            )
            runs = page.get("runs") or []
            out.extend(ApiRun(self, r) for r in runs)
            offset += len(runs)
            if not runs or offset >= int(page.get("total") or 0):
                return out

    # ---- projects ----------------------------------------------------------------------------------
    def projects(self, entity: str | None = None, per_page: int = 200) -> list[ApiProject]:
        """The projects of `entity` (default: the key's own entity) the caller may read, most recent first."""
        page = self._get("/api/v1/projects", what="listing projects", params={"entity": entity or self.default_entity})
        return [ApiProject(self, p) for p in page.get("projects") or []]

    def project(self, name: str, entity: str | None = None) -> ApiProject:
        entity = entity or self.default_entity
        return ApiProject(self, self._get(f"/api/v1/projects/{_seg(entity)}/{_seg(name)}",
                                          what=f"reading project {entity}/{name}"))

    # ---- artifacts ---------------------------------------------------------------------------------
    def _artifact_parts(self, name: str) -> tuple[str, str, str]:
        parts = name.split("/")
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        if len(parts) == 2:
            return self.default_entity, parts[0], parts[1]
        return self.default_entity, self._default_project or "uncategorized", parts[0]

    def artifact(self, name: str, type: str | None = None) -> Any:
        """An artifact version by `entity/project/name:alias` (or `project/name:alias`, `name:v3` in the
        default entity's project)."""
        from .artifacts import get_artifact

        entity, project, ref = self._artifact_parts(name)
        art = get_artifact(self.base_url, self._api_key, entity, project, ref)
        if type is not None and art.type != type:
            raise UsageError(f"artifact {name} has type {art.type!r}, not {type!r}")
        return art

    def artifact_versions(self, type_name: str | None = None, name: str = "", per_page: int = 50,
                          **_ignored: Any) -> list[Any]:
        """Every version of the artifact `entity/project/name` (W&B's `api.artifacts(type, name)`), newest
        first; `type_name` (when given) must match."""
        from .artifacts import Artifact

        entity, project, art_name = self._artifact_parts(name or "")
        art_name = art_name.split(":", 1)[0]
        body = self._get(f"/api/v1/artifacts/{_seg(entity)}/{_seg(project)}/{_seg(art_name)}",
                         what=f"reading artifact {entity}/{project}/{art_name}")
        if type_name is not None and body.get("type") != type_name:
            raise UsageError(f"artifact {art_name} has type {body.get('type')!r}, not {type_name!r}")
        out = []
        for v in sorted(body.get("versions") or [], key=lambda v: -int(v.get("version_index", 0))):
            a = Artifact(body["name"], body["type"])
            out.append(a._load({**v, "entity": entity, "project": project, "name": body["name"],
                                "type": body["type"]}, self.base_url, self._api_key))
        return out

    artifacts = artifact_versions

    def artifact_collections(self, project_name: str, type_name: str | None = None) -> list[dict[str, Any]]:
        """The artifacts (collections) of a project: `[{"name", "type", "version_count", "latest", ...}]`."""
        entity, project = self._split(project_name, 2)
        page = self._get(f"/api/v1/artifacts/{_seg(entity)}/{_seg(project)}", what=f"listing artifacts of {project_name}",
                         params={"type": type_name} if type_name else None)
        return list(page.get("artifacts") or [])

    def artifact_exists(self, name: str) -> bool:
        from .errors import NotFoundError

        try:
            self.artifact(name)
        except NotFoundError:
            return False
        return True

    # ---- paths -------------------------------------------------------------------------------------
    def from_path(self, path: str) -> Any:
        """A run (`entity/project/runs/id`, `entity/project/id`), a project (`entity/project`) or an
        artifact (`entity/project/artifacts/type/name:version`) from its path or UI URL."""
        p = path.split("://", 1)[-1]
        if "/" in p and path.startswith(("http://", "https://")):
            p = p.split("/", 1)[1]
        parts = [x for x in p.strip("/").split("/") if x]
        if len(parts) >= 4 and parts[2] == "artifacts":
            ref = parts[4] if len(parts) >= 5 else parts[3]
            return self.artifact(f"{parts[0]}/{parts[1]}/{ref}")
        if len(parts) == 4 and parts[2] == "runs":
            return self.run(f"{parts[0]}/{parts[1]}/{parts[3]}")
        if len(parts) == 3:
            return self.run("/".join(parts))
        if len(parts) == 2:
            return self.project(parts[1], parts[0])
        raise UsageError(f"cannot tell what {path!r} names; use entity/project, entity/project/runs/ID or "
                         "entity/project/artifacts/TYPE/NAME:VERSION")
