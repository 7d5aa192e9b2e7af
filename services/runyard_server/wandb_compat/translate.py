"""Values between the W&B wire shapes and Runyard's records and REST shapes (pure functions).

- history lines (`wandb-history.jsonl`): `_step` is the step, `_timestamp` the time, numbers become
  numeric points (a nested dict of numbers is flattened to `a.b` keys, as W&B's own backend does), and
  everything else (media descriptors, tables, strings, booleans, lists) travels as JSON. `_runtime` is
  not stored: it is the time since the run started, rebuilt on the way out.
- events lines (`wandb-events.jsonl`): `system.KEY` numbers become Runyard's `system/KEY` metrics.
- console lines (`output.log`): `[ERROR ]<ISO time> <text>` -> (stream, time, text).
- config: W&B sends `{"key": {"value": v, "desc": ...}}`; Runyard stores `{"key": v}`.
- JSON values: non-finite floats become "NaN", "Infinity", "-Infinity" (PostgreSQL's jsonb has no NaN;
  docs/decisions.md), and come back as such.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "HISTORY_TIME_KEYS",
    "EventsRow",
    "HistoryRowValues",
    "config_to_wandb",
    "dumps",
    "finite_json",
    "loads",
    "parse_events_line",
    "parse_history_line",
    "parse_output_line",
    "unwrap_config",
]

HISTORY_TIME_KEYS = ("_step", "_timestamp", "_runtime")
SYSTEM_PREFIX_WANDB = "system."
SYSTEM_PREFIX_RUNYARD = "system/"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def loads(text: str) -> Any:
    """JSON as the wandb client writes it (NaN and Infinity literals allowed)."""
    return json.loads(text)


def dumps(value: Any) -> str:
    return json.dumps(finite_json(value), separators=(",", ":"), ensure_ascii=False)


def finite_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by its string ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class HistoryRowValues:
    """One history line, split into what a Runyard HistoryRow holds."""

    __slots__ = ("json_keys", "json_values", "keys", "step", "timestamp", "values")

    def __init__(self, step: int, timestamp: float) -> None:
        self.step = step
        self.timestamp = timestamp
        self.keys: list[str] = []
        self.values: list[float] = []
        self.json_keys: list[str] = []
        self.json_values: list[str] = []

    def add(self, key: str, value: Any) -> None:
        if _is_number(value):
            self.keys.append(key)
            self.values.append(float(value))
        elif isinstance(value, dict) and "_type" not in value and value and all(isinstance(k, str) for k in value):
            for sub, v in value.items():
                self.add(f"{key}.{sub}", v)
        elif value is not None:
            if isinstance(value, dict) and value.get("_type") == "table-file":
                value = link_table(value)
            self.json_keys.append(key)
            self.json_values.append(dumps(value))


CLIENT_ARTIFACT = "wandb-client-artifact://"
TABLES_PREFIX = "media/wandb-tables/"


def wandb_table_path(client_id: str, entry: str) -> str:
    """Where the run's copy of a table logged as an artifact lives (a run file, see below)."""
    return f"{TABLES_PREFIX}{client_id}/{entry}"


def link_table(value: Any) -> Any:
    """A table descriptor that names its artifact (`artifact_path`) is pointed at the run-file copy of
    that artifact's table (`media/wandb-tables/<client id>/<name>.table.json`): the client's own run
    file holds only placeholders for images, while the artifact's table names its image files, which
    the commit of that artifact also records as run files. So Runyard shows the table with its images;
    the client's path stays in `wandb_path`."""
    ref = value.get("artifact_path")
    if value.get("_type") != "table-file" or not isinstance(ref, str) or not ref.startswith(CLIENT_ARTIFACT):
        return value
    client_id, _, entry = ref[len(CLIENT_ARTIFACT):].partition("/")
    if not client_id or not entry or "/" in client_id:
        return value
    return {**value, "path": wandb_table_path(client_id, entry), "wandb_path": value.get("path")}


def parse_history_line(line: str, fallback_step: int) -> HistoryRowValues:
    """A `wandb-history.jsonl` line. Raises ValueError when it is not a JSON object."""
    row = loads(line)
    if not isinstance(row, dict):
        raise ValueError("a history line must be a JSON object")
    step = row.get("_step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        step = fallback_step
    ts = row.get("_timestamp")
    out = HistoryRowValues(step, float(ts) if isinstance(ts, (int, float)) else 0.0)
    for key, value in row.items():
        if key in HISTORY_TIME_KEYS:
            continue
        out.add(str(key), value)
    return out


class EventsRow:
    __slots__ = ("keys", "timestamp", "values")

    def __init__(self, timestamp: float, keys: list[str], values: list[float]) -> None:
        self.timestamp = timestamp
        self.keys = keys
        self.values = values


def parse_events_line(line: str) -> EventsRow:
    """A `wandb-events.jsonl` line (system metrics): `system.cpu` -> key `cpu` (stored as `system/cpu`)."""
    row = loads(line)
    if not isinstance(row, dict):
        raise ValueError("an events line must be a JSON object")
    ts = row.get("_timestamp")
    keys: list[str] = []
    values: list[float] = []
    for key, value in row.items():
        if not isinstance(key, str) or key.startswith("_") or not _is_number(value):
            continue
        keys.append(key[len(SYSTEM_PREFIX_WANDB):] if key.startswith(SYSTEM_PREFIX_WANDB) else key)
        values.append(float(value))
    return EventsRow(float(ts) if isinstance(ts, (int, float)) else 0.0, keys, values)


def system_key_to_wandb(key: str) -> str:
    """Runyard's `system/cpu` -> W&B's `system.cpu`."""
    if key.startswith(SYSTEM_PREFIX_RUNYARD):
        return SYSTEM_PREFIX_WANDB + key[len(SYSTEM_PREFIX_RUNYARD):]
    return key


# `ERROR 2024-04-05T10:15:30.000000 text` (stderr) or `2024-04-05T10:15:30.000000 text` (stdout)
_OUTPUT = re.compile(r"^(ERROR )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(?:Z|[+-]\d\d:?\d\d)? ?(.*)$", re.S)


def parse_output_line(line: str, now: float) -> tuple[str, float, str]:
    """(stream, unix time, text) of an `output.log` line; lines in the structured JSON format (only
    sent when a server advertises it, which this one does not) and unknown shapes are kept whole."""
    line = line.rstrip("\r\n")  # older clients end each line with its newline
    m = _OUTPUT.match(line)
    if m is None:
        return "stdout", now, line
    try:
        ts = datetime.fromisoformat(m.group(2)).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        ts = now
    return ("stderr" if m.group(1) else "stdout"), ts, m.group(3)


def unwrap_config(raw: Any) -> dict[str, Any]:
    """W&B's `{"key": {"value": v, "desc": d}}` (or plain values) -> `{"key": v}`."""
    if raw is None or raw == "":
        return {}
    value = loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise ValueError("config must be a JSON object")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and "value" in item and set(item) <= {"value", "desc"}:
            out[str(key)] = item["value"]
        else:
            out[str(key)] = item
    return out


_SUMMARY_CODES = {1: "min", 2: "max", 3: "mean", 4: "best", 5: "last", 6: "none", 7: "copy", 8: "first"}
_GOAL_CODES = {1: "minimize", 2: "maximize"}


def runyard_metrics(encoded: Any) -> dict[str, Any] | None:
    """`define_metric` definitions as the client keeps them (`config._wandb.m`: MetricRecords with their
    proto field numbers as keys, the step metric as a 1-based index into the list) -> Runyard's
    `config._runyard.metrics` (`{name: {step_metric, summary, goal, hidden}}`), which the UI uses to
    pick a chart's x axis; None when there are none."""
    if not isinstance(encoded, list):
        return None
    names = [str(m.get("1") or m.get("2") or "") if isinstance(m, dict) else "" for m in encoded]
    out: dict[str, Any] = {}
    for m, name in zip(encoded, names):
        if not isinstance(m, dict) or not name:
            continue
        d: dict[str, Any] = {}
        index = m.get("5")
        if isinstance(index, int) and 1 <= index <= len(names) and names[index - 1]:
            d["step_metric"] = names[index - 1]
        elif isinstance(m.get("4"), str) and m["4"]:
            d["step_metric"] = m["4"]
        summary = [_SUMMARY_CODES[c] for c in m.get("7") or [] if c in _SUMMARY_CODES]
        if summary:
            d["summary"] = summary
        goal = m.get("8")
        if goal in _GOAL_CODES:
            d["goal"] = _GOAL_CODES[goal]
        if 2 in (m.get("6") or []):
            d["hidden"] = True
        out[name] = d
    return out or None


def config_to_wandb(config: dict[str, Any]) -> dict[str, Any]:
    """Runyard's `{"key": v}` -> W&B's `{"key": {"value": v, "desc": null}}`."""
    return {k: {"value": v, "desc": None} for k, v in config.items()}


def restore_nonfinite(value: Any) -> Any:
    """JSON from the REST API with "NaN"/"Infinity"/"-Infinity" strings turned back into floats."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: restore_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_nonfinite(v) for v in value]
    return value
