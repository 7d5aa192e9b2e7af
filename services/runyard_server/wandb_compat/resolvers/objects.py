"""What resolvers hand each other: a project or a run as the query service returned it, plus its names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo

from ..context import Ctx

__all__ = ["ProjectObj", "ResumeInfo", "RunObj", "ctx_of", "page"]


def ctx_of(info: GraphQLResolveInfo) -> Ctx:
    return info.context  # type: ignore[no-any-return]


@dataclass
class ProjectObj:
    entity: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResumeInfo:
    """What ingest told a resuming client's RunResumeStatus: the stream state of the run."""

    history_lines: int   # the highest sequence of the run's wandb/history channel
    events_lines: int    # ... of its wandb/events channel
    next_step: int       # one past the highest history step stored
    output_lines: int


@dataclass
class RunObj:
    entity: str
    project: str
    run_id: str
    data: dict[str, Any] | None = None  # the query service's run record, loaded when a field needs it
    resume: ResumeInfo | None = None
    upserted: bool = False  # the answer of upsertBucket (see runs._history_line_count)


def page(items: list[Any], total: int | None, offset: int, limit: int, *, edge: str = "node") -> dict[str, Any]:
    """A Relay-style connection over a list page; cursors are offsets."""
    end = offset + len(items)
    has_next = end < total if total is not None else len(items) >= limit
    return {
        "edges": [{edge: item, "cursor": str(offset + i + 1)} for i, item in enumerate(items)],
        "pageInfo": {"startCursor": str(offset) if items else None, "endCursor": str(end) if items else None,
                     "hasNextPage": has_next, "hasPreviousPage": offset > 0},
        "totalCount": total,
    }


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(cursor))
    except ValueError:
        return 0
