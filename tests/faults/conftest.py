"""Fixtures of the fault-injection suite (tests/faults): the session stack with its services, a clean
SDK environment per test, the `chaos` helper, and readers of what PostgreSQL really stored."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runyard_server.common import history_codec

from .chaos import Chaos


@pytest.fixture(scope="session")
def server(stack: Any, admin_key: str) -> Any:
    stack.start_http()
    stack.start_ingest()
    return stack


@pytest.fixture
def chaos(server: Any) -> Iterator[Chaos]:
    c = Chaos(server)
    yield c
    for name in ("postgres", "redis", "s3"):  # whatever a failed test left down comes back
        c.start(name)
    server.start_ingest()


@pytest.fixture
def sdk_env(server: Any, admin_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    for key in list(os.environ):
        if key.startswith("RUNYARD_"):
            monkeypatch.delenv(key)
    env = {
        "RUNYARD_BASE_URL": server.base_url,
        "RUNYARD_API_KEY": admin_key,
        "RUNYARD_DIR": str(tmp_path),
        "RUNYARD_CONFIG_DIR": str(tmp_path / "config"),
        "RUNYARD_HEARTBEAT_INTERVAL": "1",
        "RUNYARD_SYSTEM_METRICS": "false",
        "RUNYARD_SAVE_CODE": "false",
        "RUNYARD_CAPTURE_GIT": "false",
        "RUNYARD_CAPTURE_REQUIREMENTS": "false",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield env
    import runyard

    if runyard.run is not None:
        runyard.run.finish(timeout=5)


def stored(stack: Any, run_id: str) -> dict[str, Any]:
    """What PostgreSQL holds for a run: its row, and per key the points as stored (`n`: every point
    of every chunk, so a doubled point shows; `steps`: the distinct steps a reader sees)."""
    (run,) = stack.fetch("SELECT * FROM runs WHERE run_id = $1", run_id)
    for column in ("config", "summary"):  # dicts already when the helper decodes JSON
        if isinstance(run[column], str):
            run[column] = json.loads(run[column])
    rows = stack.fetch(
        """SELECT k.key, c.steps, c.vals, c.n FROM history_chunks c
             JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
            WHERE c.run_id = $1 ORDER BY c.id""",
        run["id"],
    )
    keys: dict[str, Any] = {}
    for r in rows:
        entry = keys.setdefault(r["key"], {"n": 0, "chunks": []})
        entry["n"] += r["n"]
        entry["chunks"].append((r["steps"], r["vals"]))
    for entry in keys.values():
        steps, vals = history_codec.merge(entry.pop("chunks"))
        entry["steps"], entry["vals"] = steps.tolist(), vals.tolist()
    return {"run": run, "keys": keys}
