"""Helpers for the SDK tests: a clean RUNYARD_* environment per test, and run-folder readers."""

from __future__ import annotations

import glob
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runyard.wal import iter_frames
from runyard_proto.v1 import ingest_pb2 as pb


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("RUNYARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    yield
    import runyard

    if runyard.run is not None:
        runyard.run.finish(timeout=5)


@pytest.fixture(params=["compiled", "python"])
def packer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """log()'s row packer for this test: the C one this install built (its absence fails here, so CI
    notices a lost compiler), or its Python twin, as an SDK installed without a compiler runs it."""
    from runyard import _items, _run

    if request.param == "python":
        monkeypatch.setattr(_run, "_PACK_ROW", _items.pack_row)
    else:
        assert _run._PACK_ROW is not _items.pack_row, "runyard._speedups was not built"
    return str(request.param)


@pytest.fixture(scope="session")
def full_server(stack: Any, admin_key: str) -> Any:
    """The session stack with ingest and the front door (auth, query and the artifact service's run-file
    routes on one port) running."""
    stack.start_http()
    stack.start_ingest()
    return stack


@pytest.fixture
def sdk_env(full_server: Any, admin_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """RUNYARD_* for a run against the session stack, run folders in tmp_path."""
    env = {
        "RUNYARD_BASE_URL": full_server.base_url,
        "RUNYARD_API_KEY": admin_key,
        "RUNYARD_DIR": str(tmp_path),
        "RUNYARD_HEARTBEAT_INTERVAL": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def wal_records(run_dir: Path | str) -> list[pb.Record]:
    return [pb.Record.FromString(data) for _, data in iter_frames(Path(run_dir) / "wal")]


def history_rows(records: Any) -> list[pb.HistoryRow]:
    """The history rows of `records` in order: HistoryRows as they are, each HistoryBlock unpacked into
    one HistoryRow per row."""
    out: list[pb.HistoryRow] = []
    for rec in records:
        kind = rec.WhichOneof("payload")
        if kind == "history":
            out.append(rec.history)
        elif kind == "history_block":
            b = rec.history_block
            out += [pb.HistoryRow(step=step, timestamp=ts, keys=b.keys, values=values)
                    for step, ts, *values in struct.iter_unpack(f"<qd{len(b.keys)}d", b.rows)]
    return out


def history_keys(rec: pb.Record) -> list[str]:
    """The keys of a HistoryRow or HistoryBlock record (none for other records)."""
    kind = rec.WhichOneof("payload")
    if kind == "history":
        return [*rec.history.keys, *rec.history.json_keys]
    return list(rec.history_block.keys) if kind == "history_block" else []


def only_run_dir(root: Path) -> Path:
    dirs = glob.glob(str(root / "runyard-runs" / "run-*"))
    assert len(dirs) == 1, dirs
    return Path(dirs[0])


REPO = Path(__file__).resolve().parents[2]


def run_script(code: str, env: dict[str, str], *, timeout: float = 240, cwd: Path | None = None,
               **kwargs: Any) -> Any:
    """Run `code` in a fresh Python process with the environment plus `env`; returns CompletedProcess."""
    import subprocess
    import sys
    import textwrap

    full = dict(os.environ)
    full.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def points_per_key(stack: Any, run_id: str, project: str) -> dict[str, int]:
    """{history key: number of stored points} of one run, straight from PostgreSQL."""
    rows = stack.fetch(
        """SELECT k.key, sum(c.n)::bigint AS n FROM history_chunks c
           JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
           JOIN runs r ON r.id = c.run_id JOIN projects p ON p.id = r.project_id
           WHERE r.run_id = $1 AND p.name = $2 GROUP BY k.key""",
        run_id, project,
    )
    return {r["key"]: int(r["n"]) for r in rows}


class InstanceB:
    """A second Runyard instance for `runyard sync --host B` tests: its own database on the session's
    PostgreSQL, its own bucket, Redis database, ingest and front door processes."""

    def __init__(self, stack: Any, root: Path, name: str = "b", redis_db: int = 1) -> None:
        from runyard_server.local.processes import free_port

        self.stack = stack
        self.root = root
        self.name, self.redis_db = name, redis_db  # database runyard_<name>, bucket runyard-<name>
        self.database_url = stack.database_url.rsplit("/", 1)[0] + f"/runyard_{name}"
        self.ingest_port = free_port()
        self.http_port = free_port()
        self.children: list[Any] = []
        self.api_key = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> InstanceB:
        import sys
        import urllib.request

        import httpx

        from runyard_server.common.migrate import apply_migrations
        from runyard_server.local import run_coro
        from runyard_server.local.processes import spawn, wait_until

        async def create() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.stack.database_url)
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", f"runyard_{self.name}"):
                    await conn.execute(f"CREATE DATABASE runyard_{self.name}")
            finally:
                await conn.close()

        run_coro(create())
        run_coro(apply_migrations(self.database_url))
        redis_b = self.stack.redis_url.rsplit("/", 1)[0] + f"/{self.redis_db}"
        env = self.stack.service_env({
            "RUNYARD_DATABASE_URL": self.database_url, "RUNYARD_REDIS_URL": redis_b,
            "RUNYARD_S3_BUCKET": f"runyard-{self.name}", "RUNYARD_INGEST_PORT": str(self.ingest_port),
            "RUNYARD_HTTP_PORT": str(self.http_port), "RUNYARD_PUBLIC_INGEST_ADDRESS": f"127.0.0.1:{self.ingest_port}",
        })
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def http_ok() -> bool:
            try:
                with opener.open(self.base_url + "/api/v1/server-info", timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        def tcp_ok() -> bool:
            import socket

            with socket.create_connection(("127.0.0.1", self.ingest_port), timeout=1):
                return True

        for name, ready in (("ingest", tcp_ok), ("frontdoor", http_ok)):
            child = spawn(f"{name}-b", [sys.executable, "-m", "runyard_server.cli", name],
                          self.root / f"{name}-b.log", env=env)
            self.children.append(child)
            wait_until(child, ready, timeout=60, what=f"instance B's {name}")
        resp = httpx.post(self.base_url + "/api/v1/auth/signup",
                          json={"username": "admin", "password": "admin-password-b"}, timeout=30)
        assert resp.status_code == 201, resp.text
        self.api_key = resp.json()["api_key"]
        return self

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(15.0)

    def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        from runyard_server.local import run_coro

        async def go() -> list[dict[str, Any]]:
            import asyncpg

            conn = await asyncpg.connect(self.database_url)
            try:
                return [dict(r) for r in await conn.fetch(sql, *args)]
            finally:
                await conn.close()

        return run_coro(go())


@pytest.fixture(scope="session")
def instance_b(full_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstanceB]:
    b = InstanceB(full_server, tmp_path_factory.mktemp("instance-b"))
    try:
        yield b.start()
    finally:
        b.stop()
