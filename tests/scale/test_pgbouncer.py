"""PostgreSQL behind Debian's PgBouncer in transaction pooling: 3 server connections shared by every
client, so consecutive transactions of one client land on different server connections.

asyncpg's named prepared statements live on one server connection; with RUNYARD_DB_STATEMENT_CACHE_SIZE=0
the services send them unnamed, parsed in the round trip that runs them. The control test shows the
default breaks there (so the setting is what makes it work), the others run migrations, ingest and
query through PgBouncer with concurrent writers and readers, and count exactly.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from runyard_server.common.db import create_pool
from runyard_server.common.migrate import apply_migrations, load_migrations
from runyard_server.local import run_coro
from tests.support import db
from tests.support.stack import TestStack

from .support import Bouncer, history_messages, last_ack, start_frontdoor, start_ingest, stream

pytestmark = pytest.mark.slow

KEYS = ["loss", "acc"]
_STATEMENT_ERRORS = (asyncpg.exceptions.DuplicatePreparedStatementError,
                     asyncpg.exceptions.InvalidSQLStatementNameError)


async def _hammer(dsn: str, statement_cache_size: int, rounds: int = 30, clients: int = 8) -> list[str]:
    """`clients` pooled connections each run a few different statements `rounds` times; the errors seen."""
    pool = await create_pool(dsn, min_size=clients, max_size=clients, statement_cache_size=statement_cache_size)
    errors: list[str] = []

    async def client(i: int) -> None:
        for r in range(rounds):
            async with pool.acquire() as conn:
                try:
                    assert await conn.fetchval("SELECT $1::int + 1", r) == r + 1
                    assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version > $1", -i) > 0
                    assert await conn.fetchval("SELECT $1::text || 'x'", str(i)) == f"{i}x"
                except _STATEMENT_ERRORS as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        await pool.close()
    return errors


def test_control_default_statement_cache_breaks_behind_transaction_pooling(pgbouncer: Bouncer) -> None:
    errors = run_coro(_hammer(pgbouncer.dsn(), statement_cache_size=100))
    assert errors, "named prepared statements survived transaction pooling: the control proves nothing"


def test_no_statement_cache_copes_with_transaction_pooling(pgbouncer: Bouncer) -> None:
    assert run_coro(_hammer(pgbouncer.dsn(), statement_cache_size=0)) == []


def test_migrations_apply_through_pgbouncer(stack: TestStack, pgbouncer: Bouncer) -> None:
    name = f"ry_bouncer_{uuid.uuid4().hex[:8]}"
    db.execute(stack.database_url.rsplit("/", 1)[0] + "/postgres", f'CREATE DATABASE "{name}"')
    try:
        dsn = pgbouncer.dsn(name)
        applied = run_coro(apply_migrations(dsn, statement_cache_size=0))
        assert applied == [m.version for m in load_migrations()]
        assert run_coro(apply_migrations(dsn, statement_cache_size=0)) == []  # a second start: nothing to do
        assert db.fetchval(dsn, "SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        db.execute(stack.database_url.rsplit("/", 1)[0] + "/postgres", f'DROP DATABASE "{name}" WITH (FORCE)')


def test_ingest_and_query_through_pgbouncer(stack: TestStack, admin_key: str, pgbouncer: Bouncer) -> None:
    """Writers and readers at once, each service with more pooled connections than PgBouncer has
    server connections: every write lands exactly once, every read answers."""
    env = {"RUNYARD_DATABASE_URL": pgbouncer.dsn(), "RUNYARD_DB_STATEMENT_CACHE_SIZE": "0",
           "RUNYARD_DB_POOL_MIN": "2", "RUNYARD_DB_POOL_MAX": "8"}
    ingest = start_ingest(stack, "ingest-bouncer", env)
    try:
        front = start_frontdoor(stack, "frontdoor-bouncer", env)
        try:
            _write_and_read(stack, admin_key, ingest.address, front.base_url)
        finally:
            front.stop()
    finally:
        ingest.stop()


def _write_and_read(stack: TestStack, key: str, ingest_address: str, base_url: str) -> None:
    project, steps = f"bouncer-{uuid.uuid4().hex[:6]}", 2_000
    runs = [f"b{i}-{uuid.uuid4().hex[:6]}" for i in range(6)]
    done = threading.Event()
    reads: list[int] = []
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}

    def reader() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
            while not done.is_set():
                for path, params in (
                    (f"/api/v1/projects/admin/{project}/runs",
                     {"order": "-summary.acc", "filter": "state = running or state = finished", "limit": 50}),
                    (f"/api/v1/runs/admin/{project}/{runs[0]}/history", {"keys": "loss", "samples": 100}),
                ):
                    resp = http.get(path, params=params)
                    if resp.status_code not in (200, 404):  # 404 until the project / run exists
                        failures.append(f"{path}: {resp.status_code} {resp.text[:200]}")
                    reads.append(resp.status_code)

    with ThreadPoolExecutor(len(runs) + 3) as pool:
        readers = [pool.submit(reader) for _ in range(3)]
        writers = [pool.submit(stream, ingest_address, key, history_messages(project, rid, steps, KEYS, 100))
                   for rid in runs]
        acks = [last_ack(w.result()) for w in writers]
        done.set()
        for r in readers:
            r.result()
    assert acks == [steps + 1] * len(runs)
    assert failures == []
    assert reads.count(200) > 0
    stored = stack.fetch(
        """SELECT r.run_id, r.state, r.last_seq, sum(c.n) AS points FROM runs r
             JOIN projects p ON p.id = r.project_id JOIN history_chunks c ON c.run_id = r.id
             JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id
            WHERE p.name = $1 AND k.key = 'loss' GROUP BY r.run_id, r.state, r.last_seq ORDER BY r.run_id""",
        project)
    assert stored == [{"run_id": rid, "state": "finished", "last_seq": steps + 1, "points": steps}
                      for rid in sorted(runs)]
    # the whole read path through PgBouncer: the SDK's public Api, every row back exactly
    import runyard

    api = runyard.Api(base_url=base_url, api_key=key)
    rows = list(api.run(f"admin/{project}/{runs[0]}").scan_history(keys=["loss"]))
    assert [r["_step"] for r in rows] == list(range(steps))
    assert [r["loss"] for r in rows[:3]] == [0.0, 1.0, 2.0]
    listed = httpx.get(f"{base_url}/api/v1/projects/admin/{project}/runs", headers=headers,
                       params={"order": "name", "fields": "name,state"}, timeout=30).json()
    assert listed["total"] == len(runs) and {r["state"] for r in listed["runs"]} == {"finished"}
