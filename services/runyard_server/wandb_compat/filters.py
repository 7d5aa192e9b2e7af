"""`wandb.Api().runs(filters=..., order=...)`: MongoDB-style filters to Runyard's filter language.

    {"$and": [{"config.lr.value": {"$lt": 0.01}}, {"state": "finished"}]}
    -> (config.lr < 0.01) and (state = "finished")

Fields: `state`, `tags`, `display_name`/`displayName` (the run's name), `name` (its id), `group`,
`jobType`, `host`, `notes`/`description`, `createdAt`/`created_at`, `updatedAt`, `heartbeatAt`,
`config.KEY` or `config.KEY.value`, `summary_metrics.KEY`. Operators: `$eq $ne $gt $gte $lt $lte $in
$nin $exists $and $or $nor $not`. The query service parses the result (its own parser, bound parameters);
anything else is refused with a message naming it, never dropped.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from ..common.errors import InvalidArgument

__all__ = ["to_filter", "to_order"]

_FIELDS = {
    "state": "state", "tags": "tags", "tag": "tags", "display_name": "name", "displayName": "name",
    "name": "id", "id": "id", "group": "group", "jobType": "job_type", "job_type": "job_type", "host": "host",
    "notes": "notes", "description": "notes", "createdAt": "created_at", "created_at": "created_at",
    "updatedAt": "updated_at", "updated_at": "updated_at", "heartbeatAt": "heartbeat_at",
    "heartbeat_at": "heartbeat_at",
}
_COMPARE = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _key(part: str) -> str:
    if part and all(c.isalnum() or c in "_-/" for c in part) and (part[0].isalpha() or part[0] == "_"):
        return part
    return "`" + part.replace("\\", "\\\\").replace("`", "\\`") + "`"


def field_name(raw: str) -> str:
    """A W&B filter or order field -> a Runyard filter field."""
    if raw in _FIELDS:
        return _FIELDS[raw]
    head, _, rest = raw.partition(".")
    if head == "config" and rest:
        parts = rest.split(".")
        if len(parts) > 1 and parts[-1] == "value":
            parts = parts[:-1]
        return "config." + ".".join(_key(p) for p in parts)
    if head in ("summary_metrics", "summaryMetrics", "summary") and rest:
        return "summary." + ".".join(_key(p) for p in rest.split("."))
    raise InvalidArgument(
        f"runs filter: unknown field {raw!r} (fields: state, tags, display_name, name, group, jobType, host, "
        "notes, createdAt, updatedAt, heartbeatAt, config.KEY, summary_metrics.KEY)"
    )


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:
            raise InvalidArgument("runs filter: NaN cannot be compared")
        return str(Decimal(repr(value))) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise InvalidArgument(f"runs filter: cannot compare with {json.dumps(value)[:60]}")


def _compare(field: str, op: str, value: Any) -> str:
    if field == "tags":
        if op == "=":
            return f"tags contains {literal(value)}"
        if op == "!=":
            return f"not (tags contains {literal(value)})"
        raise InvalidArgument("runs filter: tags take $eq, $ne, $in and $nin")
    return f"{field} {op} {literal(value)}"


def _condition(field: str, cond: Any) -> str:
    if not isinstance(cond, dict) or not any(k.startswith("$") for k in cond):
        return _compare(field, "=", cond)
    parts = []
    for op, value in cond.items():
        if op in _COMPARE:
            parts.append(_compare(field, _COMPARE[op], value))
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise InvalidArgument(f"runs filter: {op} takes a non-empty list")
            if field == "tags":
                any_of = " or ".join(f"tags contains {literal(v)}" for v in value)
                parts.append(f"({any_of})" if op == "$in" else f"not ({any_of})")
            else:
                items = ", ".join(literal(v) for v in value)
                parts.append(f"{field} {'in' if op == '$in' else 'not in'} ({items})")
        elif op == "$exists":
            parts.append(f"not ({field} = null)" if value else f"{field} = null")
        elif op == "$not":
            parts.append(f"not ({_condition(field, value)})")
        else:
            raise InvalidArgument(
                f"runs filter: operator {op!r} is not supported (supported: $eq $ne $gt $gte $lt $lte $in $nin "
                "$exists $not $and $or $nor)"
            )
    return " and ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]


def _expr(node: Any) -> str | None:
    if not isinstance(node, dict):
        raise InvalidArgument("runs filter: expected an object like {\"state\": \"finished\"}")
    parts: list[str] = []
    for key, value in node.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list):
                raise InvalidArgument(f"runs filter: {key} takes a list")
            subs = [s for s in (_expr(v) for v in value) if s]
            if not subs:
                continue
            joined = (" and " if key == "$and" else " or ").join(f"({s})" for s in subs)
            parts.append(f"not ({joined})" if key == "$nor" else joined)
        elif key.startswith("$"):
            raise InvalidArgument(f"runs filter: operator {key!r} is not supported at the top level")
        else:
            parts.append(_condition(field_name(key), value))
    if not parts:
        return None
    return " and ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]


def to_filter(filters: Any) -> str | None:
    """The Runyard filter expression for W&B `filters` (a dict or its JSON), or None for no filter."""
    if filters is None or filters == "" or filters == {}:
        return None
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError:
            raise InvalidArgument("runs filter: not valid JSON") from None
    return _expr(filters)


def to_order(order: str | None) -> str:
    """W&B's `+created_at`, `-summary_metrics.loss` -> Runyard's `created_at`, `-summary.loss`.
    The default is W&B's: oldest first."""
    if not order:
        return "created_at"
    sign = "-" if order.startswith("-") else ""
    return sign + field_name(order.lstrip("+-"))
