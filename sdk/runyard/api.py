"""The public read API: `runyard.Api().run("entity/project/run_id")`, `.runs("entity/project")`.

Reads the query service over REST (docs/api.md). Non-finite numbers travel as the strings "NaN",
"Infinity" and "-Infinity" and are turned back into floats here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from ._http import LOGIN_HINT, client, get_json
from ._jsonify import NONFINITE
from .errors import AuthenticationError, UsageError
from .settings import resolve

__all__ = ["Api", "ApiRun"]


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    return value


def _decode_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _decode_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_tree(v) for v in value]
    return _decode(value)


def _seg(part: str) -> str:
    return quote(part, safe="")


class Api:
    """Read runs from a Runyard server. `base_url`/`api_key` default to RUNYARD_* and the login file."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float | None = None) -> None:
        s = resolve({"base_url": base_url, "api_key": api_key, "http_timeout": timeout})
        if not s.api_key:
            raise AuthenticationError(f"no API key for {s.base_url}. " + LOGIN_HINT.format(base=s.base_url))
        self.base_url = s.base_url
        self._client = client(max(s.http_timeout, 30.0), s.api_key)
        self._default_entity: str | None = s.entity

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return get_json(self._client, self.base_url, path, what=what, params=params)

    @property
    def default_entity(self) -> str:
        if self._default_entity is None:
            who = self._get("/api/v1/viewer", what="reading the viewer")
            self._default_entity = str(who.get("entity") or who.get("username"))
        return self._default_entity

    def _split(self, path: str, parts: int) -> list[str]:
        pieces = [p for p in path.strip("/").split("/") if p]
        if len(pieces) == parts - 1:
            pieces.insert(0, self.default_entity)
        if len(pieces) != parts:
            shape = "entity/project/run_id" if parts == 3 else "entity/project"
            raise UsageError(f"expected a path like {shape!r}, got {path!r}")
        return pieces

    def run(self, path: str) -> ApiRun:
        """One run by `entity/project/run_id` (or `project/run_id` in the key's own entity)."""
        entity, project, run_id = self._split(path, 3)
        data = self._get(f"/api/v1/runs/{_seg(entity)}/{_seg(project)}/{_seg(run_id)}", what=f"reading run {path}")
        return ApiRun(self, data)

    def runs(self, path: str, *, order: str = "-created_at", per_page: int = 100) -> list[ApiRun]:
        """Every run of a project (`entity/project`, or `project`), newest first by default."""
        entity, project = self._split(path, 2)
        out: list[ApiRun] = []
        offset = 0
        while True:
            page = self._get(
                f"/api/v1/projects/{_seg(entity)}/{_seg(project)}/runs",
                what=f"listing runs of {entity}/{project}",
                params={"limit": per_page, "offset": offset, "order": order},
            )
            runs = page.get("runs") or []
            out.extend(ApiRun(self, r) for r in runs)
            offset += len(runs)
            if not runs or offset >= int(page.get("total") or 0):
                return out


class ApiRun:
    """A run as stored on the server (a snapshot; `load()` refreshes it)."""

    def __init__(self, api: Api, data: dict[str, Any]) -> None:
        self._api = api
        self._set(data)

    def _set(self, data: dict[str, Any]) -> None:
        self._data = data
        self.id: str = data["id"]
        self.entity: str = data["entity"]
        self.project: str = data["project"]
        self.name: str | None = data.get("name")
        self.state: str | None = data.get("state")
        self.config: dict[str, Any] = dict(data.get("config") or {})
        self.summary: dict[str, Any] = _decode_tree(dict(data.get("summary") or {}))
        self.tags: list[str] = list(data.get("tags") or [])
        self.group: str | None = data.get("group")
        self.job_type: str | None = data.get("job_type")
        self.notes: str | None = data.get("notes")
        self.exit_code: int | None = data.get("exit_code")
        self.history_keys: list[str] = list(data.get("history_keys") or [])

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def _base(self) -> str:
        return f"/api/v1/runs/{_seg(self.entity)}/{_seg(self.project)}/{_seg(self.id)}"

    def get(self, field: str, default: Any = None) -> Any:
        """Any field of the run's JSON (created_at, finished_at, host, ...)."""
        return self._data.get(field, default)

    def load(self) -> ApiRun:
        self._set(self._api._get(self._base, what=f"reading run {self.path}"))
        return self

    def scan_history(
        self, keys: Sequence[str] | None = None, page_size: int = 10_000, min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row at full resolution, in step order: `{"_step", "_timestamp", key: value, ...}` with the
        requested keys (all keys when None) that have a value at that step."""
        if isinstance(keys, str):
            keys = [keys]
        start = 0 if min_step is None else int(min_step)
        params: dict[str, Any] = {"limit": int(page_size)}
        if keys:
            params["keys"] = ",".join(keys)
        while True:
            params["start_step"] = start
            page = self._api._get(f"{self._base}/history/full", what=f"reading the history of {self.path}", params=params)
            steps = page.get("steps") or []
            columns: dict[str, list[Any]] = page.get("columns") or {}
            for i, step in enumerate(steps):
                if max_step is not None and step > max_step:
                    return
                row: dict[str, Any] = {"_step": step}
                for key, values in columns.items():
                    value = values[i]
                    if value is not None:
                        row[key] = _decode(value)
                yield row
            nxt = page.get("next_step")
            if nxt is None or not steps:
                return
            start = int(nxt)

    def history_rows(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self.scan_history(keys))

    def __repr__(self) -> str:
        return f"<runyard.ApiRun {self.path} name={self.name!r} state={self.state!r}>"

