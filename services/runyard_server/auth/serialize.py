"""Rows -> JSON shapes of the auth routes."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, or None."""
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
