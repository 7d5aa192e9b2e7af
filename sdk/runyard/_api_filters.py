"""W&B's MongoDB-style run filters, translated to the query service's filter language (docs/api.md):

    {"$and": [{"config.lr": {"$gt": 0.01}}, {"state": "finished"}]}
        -> (config.lr > 0.01 and state = "finished")
    {"tags": {"$in": ["best", "baseline"]}, "display_name": {"$regex": "^cnn"}}
        -> (tags in ("best", "baseline") and name matches "^cnn")

Fields: `config.KEY` (also `config.KEY.value`, W&B's stored form), `summary_metrics.KEY` (or `summary.KEY`),
`state`, `tags`/`tag`, `group`, `job_type`/`jobType`, `host`, `notes`, `created_at`/`createdAt`,
`updated_at`/`updatedAt`/`heartbeat_at`, `display_name`/`displayName` (the run's name), `id` (the run id),
`name` (the run id, as in W&B, or the display name: either matches). Operators: `$and`, `$or`, `$nor`, `$not`, `$eq`, `$ne`, `$gt`, `$gte`, `$lt`,
`$lte`, `$in`, `$nin`, `$regex` (with `$options: "i"`), `$exists`. Anything else raises UsageError
naming it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import UsageError

__all__ = ["filters_to_expr", "order_to_param"]

_FIELDS = {
    "state": "state", "tags": "tags", "tag": "tags", "group": "group", "job_type": "job_type",
    "jobType": "job_type", "host": "host", "notes": "notes", "created_at": "created_at",
    "createdAt": "created_at", "updated_at": "updated_at", "updatedAt": "updated_at",
    "heartbeat_at": "heartbeat_at", "heartbeatAt": "heartbeat_at", "finished_at": "finished_at",
    "display_name": "name", "displayName": "name", "id": "id",
}
_COMPARE = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_KEY_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/\-]*$")


def _field(name: str) -> str:
    if name in _FIELDS:
        return _FIELDS[name]
    for prefix, target in (("config.", "config"), ("summary_metrics.", "summary"), ("summary.", "summary"),
                           ("summaryMetrics.", "summary")):
        if name.startswith(prefix):
            key = name[len(prefix):]
            if target == "config" and key.endswith(".value"):  # W&B stores config as {"key": {"value": ...}}
                key = key[: -len(".value")]
            if not key:
                break
            return f"{target}." + ".".join(p if _KEY_SAFE.match(p) else "`" + p.replace("`", "\\`") + "`"
                                            for p in key.split("."))
    raise UsageError(f"filter on {name!r} is not supported; use config.KEY, summary_metrics.KEY, state, tags, "
                     "group, job_type, host, notes, created_at, updated_at, display_name or name (the run id)")


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"filter values must be finite numbers, got {value!r}")
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.isoformat()
    if isinstance(value, str):  # the language reads a backslash as "the next character, as it is"
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise UsageError(f"filter values must be numbers, strings, booleans, dates or null, got {type(value).__name__}")


def _condition(field: str, ops: Any) -> str:
    if field == "name":  # W&B's `name` is the run id; Runyard users mean the display name: either matches
        return f"({_condition('id', ops)} or {_condition('display_name', ops)})"
    f = _field(field)
    if not isinstance(ops, Mapping) or not any(str(k).startswith("$") for k in ops):
        if isinstance(ops, (list, tuple)):  # {"state": ["running", "finished"]}: any of them
            return f"{f} in ({', '.join(_literal(v) for v in ops)})" if ops else "id = \"\""
        if f == "tags":
            return f"tags contains {_literal(ops)}"
        return f"{f} = {_literal(ops)}"
    parts = []
    options = str(ops.get("$options", ""))
    for op, value in ops.items():
        if op == "$options":
            continue
        if op in _COMPARE:
            if f == "tags" and op in ("$eq", "$ne"):
                parts.append(f"{'not ' if op == '$ne' else ''}tags contains {_literal(value)}")
            else:
                parts.append(f"{f} {_COMPARE[op]} {_literal(value)}")
        elif op in ("$in", "$nin"):
            if not isinstance(value, (list, tuple)):
                raise UsageError(f"filter {field}: {op} takes a list, got {type(value).__name__}")
            if not value:
                parts.append('id = ""' if op == "$in" else 'id != ""')
                continue
            items = ", ".join(_literal(v) for v in value)
            parts.append(f"{f} {'not ' if op == '$nin' else ''}in ({items})")
        elif op == "$regex":
            pattern = str(value)
            if "i" in options and not pattern.startswith("(?i)"):
                pattern = "(?i)" + pattern
            parts.append(f"{f} matches {_literal(pattern)}")
        elif op == "$exists":
            if f.startswith(("config.", "summary.")):
                parts.append(f"{f} {'!=' if value else '='} null")
            elif not value:
                parts.append('id = ""')  # every run has the other fields
        elif op == "$not":
            parts.append(f"not ({_condition(field, value)})")
        else:
            raise UsageError(f"filter {field}: operator {op!r} is not supported (use $eq, $ne, $gt, $gte, $lt, "
                             "$lte, $in, $nin, $regex, $exists, $not)")
    if not parts:
        raise UsageError(f"filter {field}: no condition given")
    return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"


def filters_to_expr(filters: Mapping[str, Any] | None) -> str | None:
    """The filter-language expression of a MongoDB-style filter dict, or None for no filter."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise UsageError(f"filters must be a dict, got {type(filters).__name__}")
    parts = []
    for key, value in filters.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, (list, tuple)) or not value:
                raise UsageError(f"filter {key} takes a non-empty list of filters")
            subs = [e for e in (filters_to_expr(v) for v in value) if e]
            joined = "(" + f" {'and' if key == '$and' else 'or'} ".join(subs) + ")"
            parts.append(f"not {joined}" if key == "$nor" else joined)
        elif key == "$not":
            inner = filters_to_expr(value)
            if inner:
                parts.append(f"not ({inner})")
        elif key.startswith("$"):
            raise UsageError(f"filter operator {key!r} is not supported at the top level (use $and, $or, $nor, $not)")
        else:
            parts.append(_condition(key, value))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"


def order_to_param(order: str) -> str:
    """W&B's `order` (`-created_at`, `+summary_metrics.loss`, `config.lr`) as the runs list's `order`."""
    desc = order.startswith("-")
    name = order.lstrip("+-").strip()
    if name in ("createdAt", "created_at"):
        field = "created_at"
    elif name in ("updatedAt", "updated_at", "heartbeatAt", "heartbeat_at"):
        field = "updated_at" if "updated" in name else "heartbeat_at"
    elif name in ("name", "display_name", "displayName"):
        field = "name"
    else:
        field = _field(name)
    return ("-" if desc else "") + field
