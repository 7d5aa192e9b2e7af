"""Fixtures of the W&B-compatibility tests: a clean RUNYARD_* environment, runs against the session stack,
and readers of what the server stores (over REST, not through the SDK under test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on torch here (no TensorFlow)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(("RUNYARD_", "WANDB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RUNYARD_SYSTEM_METRICS", "false")
    yield
    import runyard

    if runyard.run is not None:
        runyard.run.finish(timeout=10)


@pytest.fixture(scope="session")
def server(stack: Any, admin_key: str) -> Any:
    stack.start_http()
    stack.start_ingest()
    return stack


@pytest.fixture
def online(server: Any, admin_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """RUNYARD_* for runs against the session stack, run folders in tmp_path (also the working dir)."""
    env = {"RUNYARD_BASE_URL": server.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(tmp_path),
           "RUNYARD_HEARTBEAT_INTERVAL": "1", "RUNYARD_CAPTURE_REQUIREMENTS": "false", "RUNYARD_CAPTURE_GIT": "false"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    return env


class Rest:
    """Raw REST reads of the session stack, independent of `runyard.Api`."""

    def __init__(self, base_url: str, key: str) -> None:
        self.c = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def get(self, path: str, **params: Any) -> Any:
        r = self.c.get(path, params=params)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        return r.json()

    def run(self, run: Any) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/runs/{run.entity}/{run.project}/{run.id}"))

    def column(self, run: Any, key: str) -> list[Any]:
        """Every non-null value of a history key, in step order."""
        page = self.get(f"/api/v1/runs/{run.entity}/{run.project}/{run.id}/history/full", keys=key, limit=100000)
        return [v for v in page["columns"].get(key, []) if v is not None]

    def files(self, run: Any) -> dict[str, dict[str, Any]]:
        page = self.get(f"/api/v1/runs/{run.entity}/{run.project}/{run.id}/files", recursive="true", limit=10000)
        return {f["path"]: f for f in page["files"]}

    def file_bytes(self, run: Any, path: str) -> bytes:
        rec = self.get(f"/api/v1/runs/{run.entity}/{run.project}/{run.id}/files/{path}")
        with httpx.Client(timeout=60, trust_env=False) as c:
            return c.get(rec["url"]).content

    def artifact(self, entity: str, project: str, name: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/artifacts/{entity}/{project}/{name}"))


@pytest.fixture
def rest(server: Any, admin_key: str) -> Iterator[Rest]:
    r = Rest(server.base_url, admin_key)
    yield r
    r.c.close()
