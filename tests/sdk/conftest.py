"""Helpers for the SDK tests: a clean RUNYARD_* environment per test, and run-folder readers."""

from __future__ import annotations

import glob
import os
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
