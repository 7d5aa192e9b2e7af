"""Formats every service writes the same way (docs/api.md, "Conventions").

Timestamps in REST bodies are ISO 8601 in UTC with a `Z` and microseconds when the value has them
(`2026-11-30T15:10:47.123456Z`), never `+00:00`: one format across auth, query and artifact, so a
client parses one shape. tests/test_shared_names.py fails when a service formats a timestamp itself.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["iso"]


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, or None."""
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
