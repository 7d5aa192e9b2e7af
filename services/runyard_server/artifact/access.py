"""Who may do what, decided by the shared verifier only.

write = `verifier.project_for_write` (a write role in the project's entity: owner, team admin or member,
        instance admin); read = `verifier.project_for_read` (a project the caller may not read is
        NotFound, exactly like one that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..common import verifier
from ..common.errors import NotFound
from ..common.verifier import Principal
from .queries import refs


@dataclass(frozen=True)
class ProjectRef:
    id: int
    entity_id: int
    entity: str
    name: str


async def project_for_write(conn: asyncpg.Connection, who: Principal, entity: str, project: str) -> ProjectRef:
    row = await verifier.project_for_write(conn, who, entity, project)
    return ProjectRef(row["id"], row["entity_id"], row["entity"], row["name"])


async def project_read(conn: asyncpg.Connection, who: Principal, entity: str, project: str) -> ProjectRef:
    row = await verifier.project_for_read(conn, who, entity, project)
    return ProjectRef(row["id"], row["entity_id"], row["entity"], row["name"])


async def run_pk(conn: asyncpg.Connection, project: ProjectRef, run_id: str) -> int:
    pk = await refs.run_pk(conn, project.id, run_id)
    if pk is None:
        raise NotFound(f"run {project.entity}/{project.name}/{run_id} not found")
    return pk


async def may_write_entity_id(conn: asyncpg.Connection, who: Principal, entity_id: int) -> None:
    """For upload sessions, which carry only their storage scope: NotFound unless `who` may write it."""
    name = await refs.entity_name(conn, entity_id)
    if name is None:
        raise NotFound("upload not found")
    try:
        await verifier.entity_id_for_write(conn, who, name)
    except (verifier.NotFound, verifier.PermissionDenied):
        raise NotFound("upload not found") from None
