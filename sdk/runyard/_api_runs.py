"""`Api().runs(...)`: a list of runs that also reads their histories together (W&B's `Runs.histories`).

`histories()` asks the query service's batched endpoint (`POST /api/v1/projects/{entity}/{project}/history`,
docs/api.md) for up to 1,000 runs in one request, where `run.history()` per run would make one request per
run: 100 runs of one metric are one round trip instead of a hundred.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from ._api_run import ApiRun, _decode
from .errors import CommError, UsageError

if TYPE_CHECKING:
    from .api import Api

MAX_RUNS = 1000          # runs per request (the endpoint's bound)
MAX_KEYS = 100           # keys per request
MAX_POINTS = 10_000_000  # runs x keys x samples per request
_AXES = ("_step", "_timestamp", "_runtime")


class ApiRuns(list[ApiRun]):
    """The runs of one project, as `Api().runs()` returns them: a list, plus `histories()`."""

    def __init__(self, api: Api, entity: str, project: str, runs: Iterable[ApiRun]) -> None:
        super().__init__(runs)
        self._api = api
        self.entity = entity
        self.project = project
        self._path = f"/api/v1/projects/{quote(entity, safe='')}/{quote(project, safe='')}"

    def histories(self, samples: int = 500, keys: Sequence[str] | None = None, x_axis: str = "_step",
                  format: Literal["default", "pandas", "polars"] = "default",
                  stream: Literal["default", "system"] = "default") -> Any:
        """Sampled history of every run in the list (at most `samples` points per key and run, spikes kept as
        in `run.history()`), read in one request per 1,000 runs. `keys` defaults to every numeric key of the
        runs (`system/...` keys with `stream="system"`). Returns, as W&B does, a list of dicts (one per run
        and step, with `run_id`, `_step`, `_timestamp`, `_runtime` and the keys), or a pandas/polars
        DataFrame with those columns."""
        if format not in ("default", "pandas", "polars"):
            raise UsageError(f"format must be 'default', 'pandas' or 'polars', not {format!r}")
        if stream not in ("default", "system"):
            raise UsageError(f"stream must be 'default' or 'system', not {stream!r}")
        if samples < 1:
            raise UsageError(f"samples must be at least 1, not {samples}")
        system = stream == "system"
        keys_given = keys is not None
        if isinstance(keys, str):
            keys = [keys]
        if keys is None:  # the keys the project's runs have (one request; a run lacking one just has no rows)
            every = self._api._get(f"{self._path}/keys", what=f"reading the keys of {self.entity}/{self.project}")
            keys = [k for k in every.get("keys") or [] if k != "_timestamp" and k.startswith("system/") == system]
        wanted = [k for k in dict.fromkeys(keys) if k not in _AXES]
        if x_axis not in _AXES and x_axis not in wanted:
            wanted.append(x_axis)
        rows: dict[str, dict[int, dict[str, Any]]] = {r.id: {} for r in self}
        if wanted and self:
            samples = min(int(samples), 10_000)
            key_groups = [wanted[i:i + MAX_KEYS] for i in range(0, len(wanted), MAX_KEYS)]
            for key_group in key_groups:
                per_request = max(1, min(MAX_RUNS, MAX_POINTS // (len(key_group) * samples)))
                ids = [r.id for r in self]
                for first in range(0, len(ids), per_request):
                    self._read(ids[first:first + per_request], key_group, samples, system, rows)
        starts = {r.id: r._start() for r in self}
        out: list[dict[str, Any]] = []
        for run in self:
            start = starts[run.id]
            for step in sorted(rows[run.id]):
                row = rows[run.id][step]
                if start is not None and isinstance(row.get("_timestamp"), (int, float)):
                    row["_runtime"] = max(0.0, row["_timestamp"] - start)
                out.append(row)
        if format == "default":
            return out
        head = ["run_id", "_step"] if system else ["run_id", "_step", "_runtime", "_timestamp"]
        asked = keys_given
        present = {k for row in out for k in row}
        # keys the caller named are columns even when empty; of the project's keys, only those with points
        # (tables and media have none here)
        columns = [*head, *[k for k in wanted if k not in head and (asked or k in present)]]
        if format == "pandas":
            try:
                import pandas as pd
            except ImportError as exc:
                raise UsageError("format='pandas' needs pandas: pip install pandas") from exc
            return pd.DataFrame(out, columns=columns)
        try:
            import polars as pl
        except ImportError as exc:
            raise UsageError("format='polars' needs polars: pip install polars") from exc
        return pl.DataFrame([{c: r.get(c) for c in columns} for r in out], schema=columns,
                            infer_schema_length=None)

    def _read(self, run_ids: list[str], keys: list[str], samples: int, system: bool,
              rows: dict[str, dict[int, dict[str, Any]]]) -> None:
        """One batched request; its NDJSON lines merged into `rows` (run id -> step -> row)."""
        path = f"{self._path}/history"
        body: dict[str, Any] = {"runs": run_ids, "keys": keys, "samples": samples, "bands": False}
        if not system:
            body["x"] = "_timestamp"
        what = f"reading the history of {len(run_ids)} runs of {self.entity}/{self.project}"
        text = self._api._send_text("POST", path, what=what, json=body)
        done = False
        for line in text.splitlines():
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("error"):
                raise CommError(f"{self._api.base_url} stopped answering while {what}: {msg['error']}")
            if msg.get("done"):
                done = True
                continue
            run_rows = rows.setdefault(str(msg["run_id"]), {})
            for key, series in (msg.get("series") or {}).items():
                xs = series.get("x") or []
                for i, (step, value) in enumerate(zip(series.get("step") or [], series.get("value") or [])):
                    row = run_rows.setdefault(int(step), {"run_id": msg["run_id"], "_step": int(step)})
                    row[key] = _decode(value)
                    ts = xs[i] if i < len(xs) else None
                    if isinstance(ts, (int, float)) and not math.isnan(ts) and "_timestamp" not in row:
                        row["_timestamp"] = ts
        if not done:
            raise CommError(f"the answer of {self._api.base_url} was cut short while {what}; try again")
