"""Logging of the services: one logger tree, readable lines locally, JSON in Kubernetes.

Every service module logs to a logger under `runyard_server` (`logger("ingest")` is
`runyard_server.ingest`); nothing of the services logs under `runyard`, the SDK's tree, which the SDK
silences when it is imported (a NullHandler without propagation), so the two never hide each other.

`configure(level, fmt)` is called once by each service process (`runyard-server ingest|query|...`):
    fmt="text"  2025-01-31 12:00:00,123 WARNING runyard_server.ingest: marked 1 run(s) crashed: x [run=a/b/c]
    fmt="json"  {"ts": "2025-01-31T12:00:00.123456Z", "level": "WARNING", "logger": "runyard_server.ingest",
                 "message": "marked 1 run(s) crashed: x", "run": "a/b/c", "stream": "s-1f2e", ...}
(`RUNYARD_LOG_FORMAT=json` selects JSON; the Kubernetes chart sets it.) The context of the line, the
run, the ingest stream and the HTTP request it belongs to, comes from context variables that the
ingest servicer and the HTTP request-id middleware set, so a line logged deep inside a call carries
them without passing them down. Third-party loggers (uvicorn, asyncpg, grpc) go through the same
handler.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

from .formats import iso

__all__ = ["REQUEST_ID", "ROOT", "RUN", "STREAM_ID", "JsonFormatter", "TextFormatter", "configure", "logger"]

ROOT = "runyard_server"

RUN: contextvars.ContextVar[str] = contextvars.ContextVar("runyard_run", default="")
STREAM_ID: contextvars.ContextVar[str] = contextvars.ContextVar("runyard_stream", default="")
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("runyard_request", default="")

_CONTEXT = (("run", RUN), ("stream", STREAM_ID), ("request_id", REQUEST_ID))
# attributes every LogRecord has; anything else passed with `extra=` is emitted as a field
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def logger(name: str) -> logging.Logger:
    """The service logger `runyard_server.<name>`."""
    return logging.getLogger(f"{ROOT}.{name}" if name else ROOT)


def context() -> dict[str, str]:
    """The run, stream and request ids of the current task (only those that are set)."""
    return {key: value for key, var in _CONTEXT if (value := var.get())}


class ContextFilter(logging.Filter):
    """Copies the context ids onto each record when it is logged (a handler that formats later, in
    another thread, still has them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in context().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class OneLineWarnings(logging.Filter):
    """A library's warnings (not ours) keep their message and the exception's one line, not a traceback: asyncpg
    warns every second while PostgreSQL is away (`Failed to restore the pool connection floor`), and a
    traceback per line buries what matters. Errors keep their tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno < logging.ERROR and record.exc_info and record.exc_info[1] is not None
                and not record.name.startswith(ROOT)):
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context ids (from the record, else the current context) and the `extra=` fields of a record."""
    out: dict[str, Any] = {}
    for key, var in _CONTEXT:
        if value := getattr(record, key, None) or var.get():
            out[key] = value
    out.update({k: v for k, v in vars(record).items()
                if k not in _STANDARD and k not in out and not k.startswith("_")})
    return out


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [run=… stream=… request_id=… key=value]`, then a traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, sep, rest = line.partition("\n")
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{head} [{tail}]{sep}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, message, context ids, extras,
    and `exc` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": iso(dt.datetime.fromtimestamp(record.created, dt.timezone.utc)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_fields(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send every log line of this process to stderr in `fmt` ("text" or "json") at `level`.

    Replaces the handlers of the root logger (so uvicorn, asyncpg and grpc lines share the format)
    and makes sure the service tree propagates to it, whatever an imported library set up before.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(OneLineWarnings())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    tree = logging.getLogger(ROOT)
    tree.propagate = True
    tree.disabled = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
