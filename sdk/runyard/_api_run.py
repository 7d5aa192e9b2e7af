"""What `runyard.Api()` returns: `ApiRun` (a stored run you can read and edit), `ApiSummary`, `ApiFile`,
`ApiProject`, `ApiUser`.

Edits (`run.update()`, `run.summary.update(...)`, `del run.summary[k]`) go to `PATCH
/api/v1/runs/{entity}/{project}/{run_id}` as merges of what changed since the run was read, so they work on
a run that is still logging: the live process' records keep their sequence numbers and are not ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._jsonify import NONFINITE, jsonable
from .errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from .api import Api

__all__ = ["ApiFile", "ApiProject", "ApiRun", "ApiSummary", "ApiUser"]

_EDITABLE = ("name", "notes", "group", "job_type")


def _seg(part: str) -> str:
    return quote(part, safe="")


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


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(jsonable(value), allow_nan=False))


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class ApiSummary(dict[str, Any]):
    """A run's summary. `summary[k] = v` changes it here; `update()` (with or without a dict) and
    `del summary[k]` store the changes on the server at once."""

    def __init__(self, run: ApiRun, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._run = run

    @property
    def _json_dict(self) -> dict[str, Any]:  # W&B's name for the plain dict
        return dict(self)

    def update(self, other: Mapping[str, Any] | None = None, **kwargs: Any) -> None:  # type: ignore[override]
        if other:
            super().update(other)
        if kwargs:
            super().update(kwargs)
        self._run._store(only="summary")

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._run._store(only="summary")

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        had = key in self
        value = super().pop(key, *default)
        if had:
            self._run._store(only="summary")
        return value


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
        self.summary = ApiSummary(self, _decode_tree(dict(data.get("summary") or {})))
        self.tags: list[str] = list(data.get("tags") or [])
        self.group: str | None = data.get("group")
        self.job_type: str | None = data.get("job_type")
        self.notes: str | None = data.get("notes")
        self.exit_code: int | None = data.get("exit_code")
        self.history_keys: list[str] = list(data.get("history_keys") or [])
        self._metadata: dict[str, Any] | None = None
        self._orig = {"config": _json_copy(self.config), "summary": _json_copy(dict(self.summary)),
                      "fields": {f: getattr(self, f) for f in _EDITABLE}, "tags": list(self.tags)}

    # ---- identity ----------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def _base(self) -> str:
        return f"/api/v1/runs/{_seg(self.entity)}/{_seg(self.project)}/{_seg(self.id)}"

    @property
    def display_name(self) -> str | None:
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = value

    @property
    def url(self) -> str:
        return f"{self._api.base_url}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def created_at(self) -> str | None:
        return self._data.get("created_at")

    @property
    def updated_at(self) -> str | None:
        return self._data.get("updated_at")

    @property
    def heartbeat_at(self) -> str | None:
        return self._data.get("heartbeat_at")

    @property
    def user(self) -> str | None:
        return self._data.get("created_by")

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The run's `metadata.json` (Python, OS, host, git, ...), None when the run has none."""
        if self._metadata is None:
            from .artifacts import run_file_url

            api = self._api
            try:
                rec = run_file_url(api.base_url, api._api_key, self.entity, self.project, self.id, "metadata.json")
            except NotFoundError:
                return None
            import httpx

            with httpx.Client(timeout=30, trust_env=False) as c:
                resp = c.get(rec["url"])
                resp.raise_for_status()
                self._metadata = resp.json()
        return self._metadata

    def get(self, field: str, default: Any = None) -> Any:
        """Any field of the run's JSON (created_at, finished_at, host, ...)."""
        return self._data.get(field, default)

    def load(self) -> ApiRun:
        self._set(self._api._get(self._base, what=f"reading run {self.path}"))
        return self

    # ---- history -----------------------------------------------------------------------------------
    def _start(self) -> float | None:
        return _epoch(self._data.get("created_at"))

    def scan_history(self, keys: Sequence[str] | None = None, page_size: int = 10_000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row at full resolution, in step order: `{"_step", "_timestamp", "_runtime", key: value, ...}`
        with the requested keys (all keys when None) that have a value at that step."""
        if isinstance(keys, str):
            keys = [keys]
        start_time = self._start()
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
                ts = row.get("_timestamp")
                if isinstance(ts, (int, float)) and start_time is not None:
                    row["_runtime"] = max(0.0, ts - start_time)
                yield row
            nxt = page.get("next_step")
            if nxt is None or not steps:
                return
            start = int(nxt)

    def history_rows(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return list(self.scan_history(keys))

    def history(self, samples: int = 500, keys: Sequence[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default") -> Any:
        """Sampled history for charts (at most `samples` points per key, spikes kept): one row per step with
        `_step`, `_timestamp`, `_runtime` (seconds since the run started) and the keys. A pandas DataFrame
        when pandas is installed and `pandas=True`, else a list of dicts. `stream="system"` gives the system
        metrics (`system/...`, their step is unix milliseconds)."""
        if isinstance(keys, str):
            keys = [keys]
        system = stream == "system"
        if keys is None:
            if not self.history_keys:
                self.load()
            keys = [k for k in self.history_keys if k != "_timestamp" and k.startswith("system/") == system]
        rows: dict[int, dict[str, Any]] = {}
        wanted = [k for k in keys if k not in ("_step", "_timestamp", "_runtime")]
        if x_axis not in ("_step", "_timestamp", "_runtime") and x_axis not in wanted:
            wanted.append(x_axis)
        start_time = self._start()
        for first in range(0, len(wanted), 200):
            chunk = wanted[first:first + 200]
            params: dict[str, Any] = {"keys": ",".join(chunk), "samples": int(samples)}
            if not system:
                params["x"] = "_timestamp"
            page = self._api._get(f"{self._base}/history", what=f"reading the history of {self.path}", params=params)
            for key, series in (page.get("series") or {}).items():
                xs = series.get("x") or []
                for i, (step, value) in enumerate(zip(series.get("step") or [], series.get("value") or [])):
                    row = rows.setdefault(int(step), {"_step": int(step)})
                    row[key] = _decode(value)
                    ts = xs[i] if i < len(xs) else None
                    if isinstance(ts, (int, float)) and "_timestamp" not in row:
                        row["_timestamp"] = ts
                        if start_time is not None:
                            row["_runtime"] = max(0.0, ts - start_time)
        out = [rows[s] for s in sorted(rows)]
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                return out
            head = ["_step"] if system else ["_step", "_runtime", "_timestamp"]
            return pd.DataFrame(out, columns=[*head, *[k for k in wanted if k not in head]])
        return out

    # ---- files and artifacts -----------------------------------------------------------------------
    def files(self, names: Sequence[str] | None = None, per_page: int = 50) -> list[ApiFile]:
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

    def upload_file(self, path: str | os.PathLike[str], root: str | os.PathLike[str] = ".") -> ApiFile:
        """Upload a local file as a file of this run, named by its path relative to `root`."""
        from .artifacts import upload_run_files

        full = Path(path).resolve()
        try:
            name = full.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            name = full.name
        api = self._api
        records = upload_run_files(api.base_url, api._api_key, self.entity, self.project, self.id, {name: full})
        return ApiFile(self, records[0])

    def _lineage(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self._api._get(f"{self._base}/artifacts", what=f"reading the artifacts of {self.path}"))

    def _artifacts(self, which: str) -> list[Any]:
        from .artifacts import Artifact

        out = []
        for v in self._lineage().get(which) or []:
            out.append(Artifact(v["name"], v["type"])._load(v, self._api.base_url, self._api._api_key))
        return out

    def logged_artifacts(self, per_page: int = 100) -> list[Any]:
        """The artifact versions this run logged."""
        return self._artifacts("logged")

    def used_artifacts(self, per_page: int = 100) -> list[Any]:
        """The artifact versions this run used (in projects the caller may read)."""
        return self._artifacts("used")

    # ---- edits -------------------------------------------------------------------------------------
    def _changes(self, only: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for what in ("config", "summary"):
            if only is not None and what != only:
                continue
            now = _json_copy(dict(getattr(self, what)))
            before = self._orig[what]
            changed = {k: v for k, v in now.items() if k not in before or before[k] != v}
            removed = sorted(k for k in before if k not in now)
            if changed:
                body[what] = changed
            if removed:
                body[f"{what}_remove"] = removed
        if only is None:
            for name in _EDITABLE:
                value = getattr(self, name)
                if value != self._orig["fields"][name] and value is not None:
                    body[name] = str(value)
            if isinstance(self.tags, str):
                raise UsageError("tags must be a list of strings")
            if list(self.tags) != self._orig["tags"]:
                body["tags"] = [str(t) for t in self.tags]
        return body

    def _store(self, only: str | None = None) -> ApiRun:
        body = self._changes(only)
        if not body:
            return self
        pending = self._changes() if only == "summary" else {}  # edits not sent now stay pending
        data = self._api._send("PATCH", self._base, json=body, what=f"editing run {self.path}")
        self._set(data)
        for key in pending.get("config_remove", []):
            self.config.pop(key, None)
        self.config.update(pending.get("config", {}))
        if "tags" in pending:
            self.tags = list(pending["tags"])
        for name in _EDITABLE:
            if name in pending:
                setattr(self, name, pending[name])
        return self

    def update(self) -> ApiRun:
        """Store the changes made to `.config`, `.summary`, `.tags`, `.notes`, `.name`, `.group`, `.job_type`
        since the run was read. Works on a running run too (it is not done through the run's stream, so
        the live process loses nothing); a finished run stays finished."""
        return self._store()

    save = update

    def delete(self, delete_artifacts: bool = False, force: bool = False) -> None:
        """Delete the run (history, files, alerts). A running run needs `force=True` (a process still
        logging to it would create it again)."""
        self._api._send("DELETE", self._base, what=f"deleting run {self.path}",
                        params={"force": "true"} if force else None)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts the run raised (`runyard.alert`), newest first."""
        return list(self._api._get(f"{self._base}/alerts", what=f"reading the alerts of {self.path}")["alerts"])

    def __repr__(self) -> str:
        return f"<runyard.ApiRun {self.path} name={self.name!r} state={self.state!r}>"


class ApiFile:
    """A file of a stored run: `.name`, `.size`, `.sha256`, `.content_type`, `.updated_at`, `.url`,
    `.download(root=".", replace=False)`."""

    def __init__(self, run: ApiRun, record: dict[str, Any]) -> None:
        self._run = run
        self.name: str = record["path"]
        self.size: int = int(record.get("size") or 0)
        self.sha256: str | None = record.get("sha256")
        self.md5: str | None = record.get("md5") or self.sha256
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

    def delete(self) -> None:
        r = self._run
        r._api._send("DELETE", f"{r._base}/files/{quote(self.name, safe='/')}", what=f"deleting {self.name}")

    def __repr__(self) -> str:
        return f"<runyard.ApiFile {self.name} ({self.size} bytes)>"


class ApiProject:
    """A project: `.name`, `.entity`, `.visibility`, `.description`, `.created_at`, `.run_count`, `.url`,
    `.runs()`."""

    def __init__(self, api: Api, data: Mapping[str, Any]) -> None:
        self._api = api
        self._data = dict(data)
        self.name: str = data["name"]
        self.entity: str = data["entity"]
        self.visibility: str | None = data.get("visibility")
        self.description: str | None = data.get("description")
        self.created_at: str | None = data.get("created_at")
        self.run_count: int = int(data.get("run_count") or 0)

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def url(self) -> str:
        return f"{self._api.base_url}/{self.entity}/{self.name}"

    def runs(self, filters: Mapping[str, Any] | None = None, order: str = "-created_at") -> list[ApiRun]:
        return self._api.runs(f"{self.entity}/{self.name}", filters, order)

    def __repr__(self) -> str:
        return f"<runyard.ApiProject {self.entity}/{self.name}>"


class ApiUser:
    """The caller (`Api().viewer`): `.username`, `.entity`, `.is_admin`, `.teams` (entity names)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self.username: str = str(data.get("username") or "")
        self.name = self.username
        self.entity: str = str(data.get("entity") or self.username)
        self.is_admin: bool = bool(data.get("is_admin"))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __repr__(self) -> str:
        return f"<runyard.ApiUser {self.username}>"
