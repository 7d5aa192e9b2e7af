"""The public read API: `runyard.Api().run("entity/project/run_id")`, `.runs("entity/project")`.

Reads the query service over REST (docs/api.md). Non-finite numbers travel as the strings "NaN",
"Infinity" and "-Infinity" and are turned back into floats here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._http import LOGIN_HINT, client, get_json
from ._jsonify import NONFINITE
from .errors import AuthenticationError, UsageError
from .settings import resolve

__all__ = ["Api", "ApiFile", "ApiRun"]


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
        self._api_key = s.api_key
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

    def runs(self, path: str, filters: Mapping[str, Any] | None = None, order: str = "-created_at", *,
             per_page: int = 100) -> list[ApiRun]:
        """Runs of a project (`entity/project`, or `project`), newest first by default.

        filters (the query service's runs-list parameters): `state` (a state or a list:
        `{"state": ["running", "crashed"]}`, also `{"$in": [...]}`), `tag`/`tags` (one tag),
        `group`, `search` (part of the name or id; also `display_name`/`name` as text or
        `{"$regex": text}`). Anything else raises UsageError. order: `created_at`, `updated_at`, `name`,
        `state`, with `-` (descending) or `+`."""
        entity, project = self._split(path, 2)
        params = _run_filters(filters)
        params["order"] = _run_order(order)
        out: list[ApiRun] = []
        offset = 0
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

    def artifact(self, name: str, type: str | None = None) -> Any:
        """An artifact version by `entity/project/name:alias` (or `project/name:alias`, `name:v3` in the
        default entity's project)."""
        from .artifacts import get_artifact

        parts = name.split("/")
        entity = parts[0] if len(parts) == 3 else self.default_entity
        project = parts[-2] if len(parts) >= 2 else "uncategorized"
        art = get_artifact(self.base_url, self._api_key, entity, project, parts[-1])
        if type is not None and art.type != type:
            raise UsageError(f"artifact {name} has type {art.type!r}, not {type!r}")
        return art


_ORDER_FIELDS = ("created_at", "updated_at", "name", "state")
_FILTERS = ("state", "tag", "tags", "group", "search", "display_name", "name")


def _one(value: Any, what: str) -> str:
    if isinstance(value, Mapping):
        if set(value) == {"$regex"}:
            return str(value["$regex"])
        if set(value) == {"$in"} and len(value["$in"]) == 1:
            return str(value["$in"][0])
        if set(value) == {"$eq"}:
            return str(value["$eq"])
        raise UsageError(f"filter {what}: only a plain value is supported here, got {dict(value)!r}")
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise UsageError(f"filter {what}: one value only (the server filters by one {what})")
        return str(value[0])
    return str(value)


def _run_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if key not in _FILTERS:
            raise UsageError(f"filter {key!r} is not supported; use {', '.join(_FILTERS)} "
                             "(they map to the runs list parameters state, tag, group and search)")
        if key == "state":
            if isinstance(value, Mapping):
                if set(value) == {"$in"}:
                    value = list(value["$in"])
                elif set(value) == {"$eq"}:
                    value = value["$eq"]
                else:
                    raise UsageError(f"filter state: use a state, a list of states or {{'$in': [...]}}, got {value!r}")
            states = [value] if isinstance(value, str) else [str(v) for v in value]
            params["state"] = ",".join(states)
        elif key in ("tag", "tags"):
            params["tag"] = _one(value, "tag")
        elif key == "group":
            params["group"] = _one(value, "group")
        else:
            params["search"] = _one(value, key)
    return params


def _run_order(order: str) -> str:
    desc = order.startswith("-")
    name = order.lstrip("+-")
    if name not in _ORDER_FIELDS:
        raise UsageError(f"order {order!r} is not supported; use one of {', '.join(_ORDER_FIELDS)} with - or +")
    return ("-" if desc else "") + name


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
        self._orig = {"config": _json_copy(self.config), "summary": _json_copy(self.summary),
                      "fields": {f: getattr(self, f) for f in _EDITABLE}, "tags": list(self.tags)}

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

    def history(self, samples: int = 500, keys: Sequence[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default") -> Any:
        """Sampled history for charts (the downsampled endpoint: at most `samples` points per key, spikes
        kept). A pandas DataFrame (one row per step, `_step` first) when pandas is installed and
        `pandas=True`, else a list of dicts. `stream="system"` gives the system metrics (`system/...`,
        their step is unix milliseconds)."""
        if isinstance(keys, str):
            keys = [keys]
        if keys is None:
            if not self.history_keys:
                self.load()
            system = stream == "system"
            keys = [k for k in self.history_keys
                    if k != "_timestamp" and k.startswith("system/") == system]
        rows: dict[int, dict[str, Any]] = {}
        wanted = list(keys)
        if x_axis != "_step" and x_axis not in wanted:
            wanted.append(x_axis)
        for start in range(0, len(wanted), 200):
            chunk = wanted[start:start + 200]
            if not chunk:
                continue
            page = self._api._get(f"{self._base}/history", what=f"reading the history of {self.path}",
                                  params={"keys": ",".join(chunk), "samples": int(samples)})
            for key, series in (page.get("series") or {}).items():
                for step, value in zip(series.get("step") or [], series.get("value") or []):
                    rows.setdefault(int(step), {"_step": int(step)})[key] = _decode(value)
        out = [rows[s] for s in sorted(rows)]
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                return out
            return pd.DataFrame(out, columns=["_step", *[k for k in wanted if k != "_step"]])
        return out

    # ---- files -------------------------------------------------------------------------------------
    def files(self, names: Sequence[str] | None = None) -> list[ApiFile]:
        """The run's files (every page), optionally only those named."""
        from .artifacts import list_run_files

        api = self._api
        listing = list_run_files(api.base_url, api._api_key, self.entity, self.project, self.id, recursive=True)
        files = [ApiFile(self, f) for f in listing.get("files", [])]
        if names is not None:
            wanted = set(names)
            files = [f for f in files if f.name in wanted]
        return files

    def file(self, name: str) -> ApiFile:
        """One run file by its name (`output.log`, `media/images/...`)."""
        from .artifacts import run_file_url

        api = self._api
        return ApiFile(self, run_file_url(api.base_url, api._api_key, self.entity, self.project, self.id, name))

    # ---- edits ---------------------------------------------------------------------------------------
    def update(self) -> ApiRun:
        """Store the changes made to `.config`, `.summary`, `.tags`, `.notes`, `.name`, `.group`, `.job_type`
        since the run was read. Works on finished, failed and crashed runs (their state is kept); a
        running run is changed from its own process (`run.config`, `run.summary`)."""
        import json

        from runyard_proto.v1 import ingest_pb2 as pb

        from ._jsonify import jsonable
        from ._session import send_edit

        records: list[pb.Record] = []
        for what in ("config", "summary"):
            now = _json_copy(getattr(self, what))
            before = self._orig[what]
            changed = {k: v for k, v in now.items() if k not in before or before[k] != v}
            removed = sorted(k for k in before if k not in now)
            if changed or removed:
                body = json.dumps(jsonable(changed), allow_nan=False)
                upd = (pb.ConfigUpdate if what == "config" else pb.SummaryUpdate)(set_json=body, remove=removed)
                records.append(pb.Record(**{what: upd}))
        fields = pb.RunUpdate()
        touched = False
        for name in _EDITABLE:
            value = getattr(self, name)
            if value != self._orig["fields"][name] and value is not None:
                setattr(fields, name, str(value))
                touched = True
        if list(self.tags) != self._orig["tags"]:
            if isinstance(self.tags, str):
                raise UsageError("tags must be a list of strings")
            fields.set_tags = True
            fields.tags.extend(str(t) for t in self.tags)
            touched = True
        if touched:
            records.append(pb.Record(update=fields))
        if not records:
            return self
        current = self._api._get(self._base, what=f"reading run {self.path}")
        if current.get("state") == "running":
            raise UsageError(
                f"run {self.path} is running: change it from its own process (run.config, run.summary, "
                "run.tags); Api edits are for runs that ended, so the live stream's records are never skipped")
        api = self._api
        send_edit(api.base_url, api._api_key or "", self.entity, self.project, self.id, records)
        return self.load()

    save = update

    def __repr__(self) -> str:
        return f"<runyard.ApiRun {self.path} name={self.name!r} state={self.state!r}>"


_EDITABLE = ("name", "notes", "group", "job_type")


def _json_copy(value: Any) -> Any:
    import json

    from ._jsonify import jsonable

    return json.loads(json.dumps(jsonable(value), allow_nan=False))


class ApiFile:
    """A file of a stored run: `.name`, `.size`, `.sha256`, `.content_type`, `.updated_at`, `.url`,
    `.download(root=".", replace=False)`."""

    def __init__(self, run: ApiRun, record: dict[str, Any]) -> None:
        self._run = run
        self.name: str = record["path"]
        self.size: int = int(record.get("size") or 0)
        self.sha256: str | None = record.get("sha256")
        self.content_type: str | None = record.get("content_type")
        self.updated_at: str | None = record.get("uploaded_at") or record.get("updated_at")
        self._url: str | None = record.get("url")

    @property
    def url(self) -> str:
        """A presigned download URL (valid for the server's presign lifetime)."""
        if self._url is None:
            from .artifacts import run_file_url

            api, r = self._run._api, self._run
            self._url = str(run_file_url(api.base_url, api._api_key, r.entity, r.project, r.id, self.name)["url"])
        return self._url

    def download(self, root: str | os.PathLike[str] = ".", replace: bool = False, exist_ok: bool = False) -> Path:
        """Download to `root/<name>` (the sha256 is checked). An existing file is an error unless
        `replace=True` (overwrite) or `exist_ok=True` (keep it)."""
        from . import _transfer as t
        from .artifacts import download_run_file

        dest = t.safe_join(Path(root), self.name)
        if dest.exists() and not replace:
            if exist_ok:
                return dest
            raise UsageError(f"{dest} exists; pass replace=True to overwrite it (or exist_ok=True to keep it)")
        api, r = self._run._api, self._run
        return download_run_file(api.base_url, api._api_key, r.entity, r.project, r.id, self.name, dest)

    def __repr__(self) -> str:
        return f"<runyard.ApiFile {self.name} ({self.size} bytes)>"

