"""Helpers shared by the browser tests (tests/ui) and the render benchmark (bench/ui_render.py).

Everything here uses the real parts: PostgreSQL with the shipped migrations, the `runyard-server frontdoor`
process serving the built UI and the REST API, and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from runyard_server.common import history_codec
from runyard_server.common.security import new_api_key
from runyard_server.local import run_coro
from runyard_server.local.processes import free_port, spawn, wait_until
from tests.support import db

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "services" / "web"
DIST = WEB / "dist"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("RUNYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# ---------------------------------------------------------------- the built UI

def _newest_source_mtime() -> float:
    paths = [WEB / "index.html", WEB / "package.json", WEB / "package-lock.json", WEB / "vite.config.ts"]
    paths += list((WEB / "src").rglob("*"))
    return max(p.stat().st_mtime for p in paths if p.is_file())


def ensure_dist() -> Path:
    """The built UI, (re)built with npm when missing or older than its sources."""
    index = DIST / "index.html"
    if index.exists() and index.stat().st_mtime >= _newest_source_mtime():
        return DIST
    if not (WEB / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True)
    return DIST


# ---------------------------------------------------------------- front door

@contextmanager
def frontdoor(
    env: Mapping[str, str], dsn: str, dist: Path, logs_dir: Path, ingest_address: str | None = None
) -> Iterator[str]:
    """`runyard-server frontdoor` (auth + query on one port, serving the built UI) on database `dsn`.

    `env` is the service environment (e.g. `stack.service_env()`); `ingest_address` is what
    server-info advertises to the SDK. Yields the base URL.
    """
    port = free_port()
    full = dict(env)
    if ingest_address:
        full["RUNYARD_PUBLIC_INGEST_ADDRESS"] = ingest_address
    full.update(
        RUNYARD_DATABASE_URL=dsn,
        RUNYARD_HTTP_HOST="127.0.0.1",
        RUNYARD_HTTP_PORT=str(port),
        RUNYARD_WEB_DIST=str(dist),
        PYTHONUNBUFFERED="1",
    )
    # the UI's address, as the local launcher prints it: `localhost`, never the bucket's host (127.0.0.1),
    # whose page requests the UI moves to `localhost` (cookies ignore ports; docs/security.md)
    base_url = f"http://localhost:{port}"
    child = spawn(
        "frontdoor", [sys.executable, "-m", "runyard_server.cli", "frontdoor"], logs_dir / f"frontdoor-ui-{port}.log", env=full
    )
    try:
        wait_until(child, lambda: http_json("GET", base_url + "/api/v1/server-info")[0] == 200, timeout=60,
                   what=f"the front door ({base_url})")
        yield base_url
    finally:
        child.stop(15)


def http_json(method: str, url: str, body: object | None = None, headers: dict[str, str] | None = None) -> tuple[int, object]:
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def ensure_admin(base_url: str, username: str, password: str) -> str | None:
    """Sign the first admin up through the API when the server still needs setup; the API key, or None."""
    status, info = http_json("GET", base_url + "/api/v1/server-info")
    assert status == 200, info
    if not info["needs_setup"]:  # type: ignore[index]
        return None
    status, body = http_json("POST", base_url + "/api/v1/auth/signup", {"username": username, "password": password})
    assert status == 201, body
    return body["api_key"]  # type: ignore[index]


# ---------------------------------------------------------------- seeding through SQL

@dataclass
class SeededRun:
    run_id: str
    name: str
    state: str
    tags: list[str]
    config: dict
    summary: dict


def metric_values(run_index: int, metric_index: int, steps: np.ndarray) -> np.ndarray:
    """Deterministic, chart-like curves (decaying loss-like and rising accuracy-like lines with noise)."""
    rng = np.random.default_rng(run_index * 1009 + metric_index)
    scale = 1.0 + 0.5 * rng.random()
    tau = 150.0 + 400.0 * rng.random()
    curve = scale * np.exp(-steps / tau) + 0.03 * rng.standard_normal(steps.size)
    if metric_index % 2 == 1:
        curve = 1.0 - curve / (2 * scale)
    return curve.astype(np.float64)


async def _seed(
    dsn: str, entity: str, project: str, n_runs: int, metrics: list[str], n_steps: int, nan_steps: dict[int, list[int]]
) -> list[SeededRun]:
    async with db.connect(dsn) as conn:
        ent = await conn.fetchval("SELECT id FROM entities WHERE name = $1", entity)
        if ent is None:
            raise RuntimeError(f"entity {entity!r} does not exist (sign the user up first)")
        user = await conn.fetchval("SELECT user_id FROM entities WHERE id = $1", ent)
        pid = await conn.fetchval(
            "INSERT INTO projects (entity_id, name) VALUES ($1, $2) RETURNING id", ent, project
        )
        now = dt.datetime.now(dt.timezone.utc)
        adjectives = ["honest", "brave", "quiet", "misty", "solar", "fancy", "lucky", "dark", "bold", "calm"]
        nouns = ["wind", "river", "moon", "field", "pine", "wave", "star", "leaf", "snow", "dune"]
        tag_pool = ["baseline", "sweep", "aug", "v2"]
        states = ["finished", "finished", "finished", "failed", "crashed", "running"]
        steps = np.arange(n_steps, dtype=np.int64)
        runs: list[SeededRun] = []
        run_rows = []
        for i in range(n_runs):
            final = {m: float(metric_values(i, j, steps[-1:])[0]) for j, m in enumerate(metrics)}
            run = SeededRun(
                run_id=f"run{i:05d}",
                name=f"{adjectives[i % 10]}-{nouns[(i // 10) % 10]}-{i + 1}",
                state=states[i % len(states)],
                tags=[tag_pool[k] for k in range(len(tag_pool)) if (i >> k) & 1 and k < 2 + (i % 3)],
                config={"lr": round(10 ** -(1 + (i % 7) * 0.5), 8), "batch_size": [32, 64, 128][i % 3],
                        "optimizer": {"name": ["adam", "sgd"][i % 2], "momentum": 0.9}},
                summary={**final, "_step": n_steps - 1},
            )
            runs.append(run)
            created = now - dt.timedelta(minutes=5 * (n_runs - i))
            finished = None if run.state == "running" else created + dt.timedelta(minutes=4)
            run_rows.append((pid, run.run_id, run.name, i + 1, run.state, run.config, run.summary,
                             run.tags, f"host-{i % 4}", user, created, created + dt.timedelta(minutes=4),
                             created + dt.timedelta(minutes=4), finished, 1 if run.state == "failed" else None,
                             n_steps))
        await conn.executemany(
            """INSERT INTO runs (project_id, run_id, name, run_number, state, config, summary, tags, host, created_by,
                                 created_at, updated_at, heartbeat_at, finished_at, exit_code, next_step)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
            run_rows,
        )
        ids = dict(await conn.fetch("SELECT run_id, id FROM runs WHERE project_id = $1", pid))
        key_rows, chunk_rows = [], []
        for i, run in enumerate(runs):
            rid = ids[run.run_id]
            for j, m in enumerate(metrics):
                key_rows.append((rid, j, m))
                vals = metric_values(i, j, steps)
                for s in nan_steps.get(i, []):
                    vals[s] = math.nan
                sblob, vblob = history_codec.encode(steps, vals)
                chunk_rows.append((rid, j, int(steps[0]), int(steps[-1]), int(n_steps), sblob, vblob))
        await conn.copy_records_to_table("history_keys", records=key_rows, columns=["run_id", "key_id", "key"])
        for k in range(0, len(chunk_rows), 2000):
            await conn.copy_records_to_table(
                "history_chunks", records=chunk_rows[k:k + 2000],
                columns=["run_id", "key_id", "min_step", "max_step", "n", "steps", "vals"],
            )
        await conn.execute("UPDATE projects SET updated_at = now() WHERE id = $1", pid)
        return runs


def seed_project(
    dsn: str,
    entity: str,
    project: str,
    *,
    n_runs: int,
    metrics: list[str],
    n_steps: int,
    nan_steps: dict[int, list[int]] | None = None,
) -> list[SeededRun]:
    """Insert a project with runs and numeric history straight into PostgreSQL, in the ingest's layout."""
    return run_coro(_seed(dsn, entity, project, n_runs, metrics, n_steps, nan_steps or {}))


# ---------------------------------------------------------------- browser

def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


async def _project_pk(conn: asyncpg.Connection, entity: str, project: str) -> int:
    return int(await conn.fetchval(
        "SELECT p.id FROM projects p JOIN entities e ON e.id = p.entity_id WHERE e.name = $1 AND p.name = $2",
        entity, project))


async def _run_pk(conn: asyncpg.Connection, entity: str, project: str, run_id: str) -> int:
    return int(await conn.fetchval(
        """SELECT r.id FROM runs r JOIN projects p ON p.id = r.project_id JOIN entities e ON e.id = p.entity_id
            WHERE e.name = $1 AND p.name = $2 AND r.run_id = $3""", entity, project, run_id))


async def _new_history_key(conn: asyncpg.Connection, run_pk: int, key: str) -> int:
    """The next key id of a run, registered for `key` (as the ingest service numbers them)."""
    key_id = int(await conn.fetchval(
        "SELECT coalesce(max(key_id), -1) + 1 FROM history_keys WHERE run_id = $1", run_pk))
    await conn.execute("INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, $2, $3)", run_pk, key_id, key)
    return key_id


async def _add_run(dsn: str, entity: str, project: str, run_id: str, name: str) -> None:
    async with db.connect(dsn) as conn:
        pid = await _project_pk(conn, entity, project)
        await conn.execute(
            """INSERT INTO runs (project_id, run_id, name, run_number, state, heartbeat_at)
               VALUES ($1, $2, $3, (SELECT coalesce(max(run_number), 0) + 1 FROM runs WHERE project_id = $1),
                       'running', now())""",
            pid, run_id, name,
        )


def add_run(dsn: str, entity: str, project: str, run_id: str, name: str) -> None:
    """A new running run, as if a script had just started one (no history yet)."""
    run_coro(_add_run(dsn, entity, project, run_id, name))


async def _create_api_key(dsn: str, username: str) -> str:
    async with db.connect(dsn) as conn:
        uid = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
        key, prefix, digest = new_api_key()
        await conn.execute(
            "INSERT INTO api_keys (user_id, prefix, key_hash, name) VALUES ($1, $2, $3, 'ui-tests')", uid, prefix, digest
        )
        return key


def create_api_key(dsn: str, username: str) -> str:
    """A new API key for an existing user, stored the way the auth service stores keys."""
    return run_coro(_create_api_key(dsn, username))


@contextmanager
def ingest(env: Mapping[str, str], dsn: str, port: int, logs_dir: Path) -> Iterator[str]:
    """The gRPC ingest service on database `dsn`, listening on `port`; yields its address."""
    full = dict(env)
    full.update(RUNYARD_DATABASE_URL=dsn, RUNYARD_INGEST_HOST="127.0.0.1", RUNYARD_INGEST_PORT=str(port),
                PYTHONUNBUFFERED="1")
    child = spawn("ingest", [sys.executable, "-m", "runyard_server.cli", "ingest"], logs_dir / f"ingest-ui-{port}.log",
                  env=full)
    address = f"127.0.0.1:{port}"

    def ready() -> bool:
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        wait_until(child, ready, timeout=60, what=f"the ingest service ({address})")
        yield address
    finally:
        child.stop(15)


def publish_run_change(env: Mapping[str, str], dsn: str, entity: str, project: str, run_id: str, next_step: int = 0) -> None:
    """What the ingest service publishes after a committed batch (Redis `runyard:project:{pk}`)."""
    import redis

    async def project_pk() -> int:
        async with db.connect(dsn) as conn:
            return await _project_pk(conn, entity, project)

    pk = run_coro(project_pk())
    client = redis.Redis.from_url(env["RUNYARD_REDIS_URL"])
    try:
        client.publish(f"runyard:project:{pk}", json.dumps(
            {"run_id": run_id, "project": project, "entity": entity, "next_step": next_step}))
    finally:
        client.close()


async def _put_history(dsn: str, entity: str, project: str, run_id: str, key: str, steps: np.ndarray,
                       values: np.ndarray) -> None:
    async with db.connect(dsn) as conn:
        pk = await _run_pk(conn, entity, project, run_id)
        key_id = await _new_history_key(conn, pk, key)
        s, v = history_codec.encode(steps.astype(np.int64), values.astype(np.float64))
        await conn.execute(
            """INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            pk, key_id, int(steps.min()), int(steps.max()), int(steps.size), s, v)


def put_history(dsn: str, entity: str, project: str, run_id: str, key: str, steps: np.ndarray, values: np.ndarray) -> None:
    """Add one numeric history key to a seeded run (e.g. `_timestamp` for the time x-axes)."""
    run_coro(_put_history(dsn, entity, project, run_id, key, steps, values))


async def _put_output(dsn: str, entity: str, project: str, run_id: str, lines: list[tuple[str, str]], first: int) -> None:
    async with db.connect(dsn) as conn:
        pk = await _run_pk(conn, entity, project, run_id)
        await conn.executemany(
            "INSERT INTO run_output (run_id, line_no, ts, stream, line) VALUES ($1, $2, $3, $4, $5)",
            [(pk, first + i, 1.7e9 + first + i, stream, line) for i, (stream, line) in enumerate(lines)])
        await conn.execute("UPDATE runs SET output_lines = output_lines + $2, updated_at = now() WHERE id = $1",
                           pk, len(lines))


def put_output(dsn: str, entity: str, project: str, run_id: str, lines: list[tuple[str, str]], first: int) -> None:
    """Console lines (stream, text) of a run, numbered from `first`, as the ingest service stores them."""
    run_coro(_put_output(dsn, entity, project, run_id, lines, first))


async def _put_json_history(dsn: str, entity: str, project: str, run_id: str, key: str,
                            points: list[tuple[int, object]]) -> None:
    async with db.connect(dsn) as conn:
        pk = await _run_pk(conn, entity, project, run_id)
        key_id = await _new_history_key(conn, pk, key)
        await conn.executemany(
            "INSERT INTO history_json (run_id, key_id, step, value) VALUES ($1, $2, $3, $4::jsonb)",
            [(pk, key_id, step, value) for step, value in points])


def put_json_history(dsn: str, entity: str, project: str, run_id: str, key: str, points: list[tuple[int, object]]) -> None:
    """JSON-valued history (media descriptors, tables, histograms) of a run, one value per step."""
    run_coro(_put_json_history(dsn, entity, project, run_id, key, points))


def wait_js(page: Any, expression: str, timeout: float = 30_000) -> None:
    """Wait until a JavaScript expression is truthy in the page. Polls through `page.evaluate` (DevTools
    evaluation), because Playwright's `wait_for_function` evaluates its string with `eval` inside the page,
    which the UI's Content-Security-Policy (script-src 'self', no 'unsafe-eval') rightly refuses."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while True:
        if page.evaluate(f"() => Boolean({expression})"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout / 1000:.0f} s for {expression}")
        page.wait_for_timeout(50)
