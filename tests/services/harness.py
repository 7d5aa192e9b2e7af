"""Helpers for the auth and query service tests (the fixtures in conftest.py use them).

Each test module gets its own database on the session's embedded PostgreSQL (`stack.database_url`),
migrated from scratch, so first-run sign-up can be tested however many users other suites create.
The services run in-process under uvicorn on real sockets (port 0), their lifespans entered, and are
stopped when the module (or test) ends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvicorn

from runyard_server.common.db import dumps_json
from runyard_server.common.migrate import apply_migrations
from runyard_server.common.settings import load_settings

# /metrics on the service port needs this token (RUNYARD_METRICS_TOKEN); without one it is 404 there
METRICS_TOKEN = "test-metrics-token-for-the-services"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def database_url(server_dsn: str, name: str) -> str:
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path="/" + name))


async def _admin(server_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """A new, migrated database on the same server; dropped afterwards."""
    name = "ry_svc_" + secrets.token_hex(6)
    asyncio.run(_admin(server_dsn, f'CREATE DATABASE "{name}"'))
    dsn = database_url(server_dsn, name)
    try:
        asyncio.run(apply_migrations(dsn))
        yield dsn
    finally:
        asyncio.run(_admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on 127.0.0.1:0; yields its base URL."""
    # proxy headers off, as `runyard-server` runs them: the apps decide whom to believe (trusted proxies)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning",
                            access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Services:
    dsn: str
    auth_url: str
    query_url: str

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.dsn)
            try:
                for typ in ("json", "jsonb"):  # as the services' pool does (common/db.py)
                    await conn.set_type_codec(typ, encoder=dumps_json, decoder=json.loads, schema="pg_catalog")
                return await conn.fetch(query, *args)
            finally:
                await conn.close()

        return asyncio.run(go())


@contextmanager
def running_services(server_dsn: str, **overrides: Any) -> Iterator[Services]:
    from runyard_server.auth import create_app as create_auth
    from runyard_server.query import create_app as create_query

    with fresh_database(server_dsn) as dsn:
        overrides.setdefault("metrics_token", METRICS_TOKEN)
        settings = load_settings(database_url=dsn, db_pool_min=0, db_pool_max=4, ingest_port=18081,
                                 shutdown_grace_s=2, **overrides)
        with serve(create_auth(settings)) as auth_url, serve(create_query(settings)) as query_url:
            yield Services(dsn, auth_url, query_url)


