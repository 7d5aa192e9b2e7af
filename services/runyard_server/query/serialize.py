"""Database rows -> the JSON shapes of docs/api.md."""

from __future__ import annotations

from typing import Any

import asyncpg

from ..common.formats import iso


def project_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "entity": row["entity"], "name": row["name"], "visibility": row["visibility"],
        "description": row["description"], "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]), "run_count": int(row["run_count"] or 0),
        "last_activity": iso(row["last_activity"]),
    }


def run_json(row: asyncpg.Record, entity: str, project: str) -> dict[str, Any]:
    return {
        "id": row["run_id"], "entity": entity, "project": project, "name": row["name"],
        "run_number": row["run_number"], "state": row["state"], "config": row["config"], "summary": row["summary"],
        "tags": list(row["tags"]), "group": row["group_name"], "job_type": row["job_type"],
        "notes": row["notes"], "host": row["host"], "created_by": row["created_by"],
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
        "heartbeat_at": iso(row["heartbeat_at"]), "finished_at": iso(row["finished_at"]),
        "exit_code": row["exit_code"], "error": row["error"],
    }
