"""Helpers for the auth and query service tests (the fixtures in conftest.py use them).

Each test module gets its own database on the session's embedded PostgreSQL (`stack.database_url`),
migrated from scratch, so first-run sign-up can be tested however many users other suites create.
The services run in-process under uvicorn on real sockets (port 0), their lifespans entered, and are
stopped when the module (or test) ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from runyard_server.common.settings import load_settings
from tests.support import db
from tests.support.asgi import serve

__all__ = ["METRICS_AUTH", "METRICS_TOKEN", "Services", "running_services", "serve"]

# /metrics on the service port needs this token (RUNYARD_METRICS_TOKEN); without one it is 404 there
METRICS_TOKEN = "test-metrics-token-for-the-services"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass
class Services:
    dsn: str
    auth_url: str
    query_url: str

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return db.fetch(self.dsn, query, *args)


@contextmanager
def running_services(server_dsn: str, **overrides: Any) -> Iterator[Services]:
    from runyard_server.auth import create_app as create_auth
    from runyard_server.query import create_app as create_query

    with db.fresh_database(server_dsn, prefix="ry_svc_") as dsn:
        overrides.setdefault("metrics_token", METRICS_TOKEN)
        settings = load_settings(database_url=dsn, db_pool_min=0, db_pool_max=4, ingest_port=18081,
                                 shutdown_grace_s=2, **overrides)
        with serve(create_auth(settings)) as auth_url, serve(create_query(settings)) as query_url:
            yield Services(dsn, auth_url, query_url)


