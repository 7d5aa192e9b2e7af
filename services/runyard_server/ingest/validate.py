"""What ingest accepts: the documented size limits (docs/limits.md) and the checks that keep values
PostgreSQL cannot store (NUL characters, lone surrogates, numbers out of range) out of a transaction.

Every check raises `InvalidArgument` (or `ResourceExhausted` for a size) with a message naming the
field; the writer turns that into the rejection of one record (Ack.rejected), or, for OpenRun, into
the INVALID_ARGUMENT that ends the stream. The fast path stays fast: the common case (short strings,
small JSON) costs a length compare and a substring search per value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..common.errors import InvalidArgument, ResourceExhausted

# ---- limits (docs/limits.md lists them; the configurable ones are Settings fields) -----------------------
MAX_RUN_NAME = 256          # characters of a run's display name
MAX_NOTES = 100_000         # characters of a run's notes
MAX_TAGS = 256              # tags on one run
MAX_TAG = 128               # characters of one tag
MAX_GROUP = 256             # characters of a run's group
MAX_JOB_TYPE = 128          # characters of a run's job type
MAX_HOST = 256              # characters of the host name
MAX_ENTITY = 128            # characters of an entity name
MAX_ERROR = 1_000_000       # characters of a Finish.error (a traceback)
MAX_LINE = 1_000_000        # characters of one console line
MAX_STREAM_NAME = 16        # characters of OutputLines.stream
MAX_JSON_DEPTH = 64         # nesting of a JSON document (config, summary, a history value)
MAX_STEP = 2**53 - 1        # the largest integer a browser holds exactly (JavaScript's MAX_SAFE_INTEGER)
MAX_TIMESTAMP = 1e11        # unix seconds (the year 5138); timestamps are finite and >= 0


@dataclass(frozen=True)
class Limits:
    """The configurable limits (RUNYARD_MAX_BATCH_RECORDS, RUNYARD_MAX_KEY_LENGTH,
    RUNYARD_MAX_JSON_VALUE_BYTES)."""

    max_batch_records: int = 20_000
    max_key_length: int = 256
    max_json_value_bytes: int = 1_000_000


_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


def _show(value: str, n: int = 40) -> str:
    shown = value[:n].encode("unicode_escape").decode("ascii")
    return repr(shown) + ("..." if len(value) > n else "")


def text(field: str, value: str, limit: int, *, single_line: bool = True) -> str:
    """A free-text field: at most `limit` characters, no NUL; single-line fields also no control
    characters (newlines, escapes)."""
    if len(value) > limit:
        raise InvalidArgument(f"{field} is {len(value):,} characters; the limit is {limit:,}")
    if single_line:
        if not _CONTROL.isdisjoint(value):
            bad = next(c for c in value if c in _CONTROL)
            raise InvalidArgument(f"{field} {_show(value)} contains the control character U+{ord(bad):04X}")
    elif "\x00" in value:
        raise InvalidArgument(f"{field} contains a NUL character (\\x00), which cannot be stored")
    return value


def timestamp(field: str, value: float) -> float:
    if not (0.0 <= value < MAX_TIMESTAMP):  # also false for NaN
        raise InvalidArgument(f"{field} must be unix seconds (finite, >= 0), got {value!r}")
    return value


def step(value: int) -> int:
    if not (0 <= value <= MAX_STEP):
        raise InvalidArgument(f"step must be between 0 and {MAX_STEP} (2^53 - 1), got {value}")
    return value


def key(value: str, limits: Limits, *, what: str = "key") -> str:
    if not value:
        raise InvalidArgument(f"a {what} is empty")
    if len(value) > limits.max_key_length:
        raise InvalidArgument(
            f"{what} {value[:40]!r}... is {len(value)} characters; the limit is {limits.max_key_length}"
        )
    if "\x00" in value:
        raise InvalidArgument(f"{what} {_show(value)} contains a NUL character (\\x00), which cannot be stored")
    return value


def tags(field: str, values: list[str]) -> list[str]:
    if len(values) > MAX_TAGS:
        raise InvalidArgument(f"{field} has {len(values)} tags; the limit is {MAX_TAGS}")
    for tag in values:
        if not tag:
            raise InvalidArgument(f"{field} holds an empty tag")
        text(f"tag {_show(tag)}", tag, MAX_TAG)
    return values


def json_document(raw: str, what: str, limits: Limits, *, obj: bool = True) -> Any:
    """Parse one JSON document: at most max_json_value_bytes, at most MAX_JSON_DEPTH deep, no NUL
    and no lone surrogates in any string or key; `obj`: it must be an object (config, summary)."""
    if len(raw) * 4 > limits.max_json_value_bytes:  # UTF-8 takes at most 4 bytes a character
        size = len(raw) if len(raw) > limits.max_json_value_bytes else len(raw.encode("utf-8", "surrogatepass"))
        if size > limits.max_json_value_bytes:
            raise ResourceExhausted(f"{what} is {size:,} bytes of JSON; the limit is {limits.max_json_value_bytes:,}")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise InvalidArgument(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InvalidArgument(f"{what} is not valid JSON ({exc})") from None
    if obj and not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object, got {type(value).__name__}")
    # the walk is only needed when the text could hold a problem: cheap substring counts decide
    nested = raw.count("{") + raw.count("[") > MAX_JSON_DEPTH
    escaped = "\\u" in raw and ("\\u0000" in raw or "\\ud" in raw or "\\uD" in raw)
    if nested or escaped:
        problem = _walk(value)
        if problem:
            raise InvalidArgument(f"{what} {problem}")
    return value


def _walk(value: Any) -> str:
    """The first problem of a parsed JSON value, or ''."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if problem := _bad_string(v):
                return f"holds a string {problem}"
        elif isinstance(v, dict):
            if depth >= MAX_JSON_DEPTH:
                return f"is nested more than {MAX_JSON_DEPTH} levels deep"
            for k, item in v.items():
                if problem := _bad_string(k):
                    return f"holds a key {problem}"
                stack.append((item, depth + 1))
        elif isinstance(v, list):
            if depth >= MAX_JSON_DEPTH:
                return f"is nested more than {MAX_JSON_DEPTH} levels deep"
            stack.extend((item, depth + 1) for item in v)
    return ""


def _bad_string(s: str) -> str:
    if "\x00" in s:
        return f"{_show(s)} with a NUL character (\\x00), which cannot be stored"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return f"{_show(s)} that is not valid Unicode (a lone surrogate)"
    return ""


def top_level_keys(doc: dict[str, Any], what: str, limits: Limits) -> None:
    for k in doc:
        if len(k) > limits.max_key_length:
            raise InvalidArgument(
                f"{what} key {k[:40]!r}... is {len(k)} characters; the limit is {limits.max_key_length}"
            )
