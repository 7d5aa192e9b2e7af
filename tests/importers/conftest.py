"""Fixtures of the importer tests: the session stack (instance A, whose front door also answers the W&B
API) and a second real instance (C: its own database, bucket, ingest and front door) to import into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sdk.conftest import InstanceB, run_script

__all__ = ["get", "run_script"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    import os

    for key in list(os.environ):
        if key.startswith(("RUNYARD_", "WANDB_", "MLFLOW_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    yield


@pytest.fixture(scope="session")
def full_server(stack: Any, admin_key: str) -> Any:
    stack.start_http()
    stack.start_ingest()
    return stack


@pytest.fixture(scope="session")
def instance_c(full_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstanceB]:
    c = InstanceB(full_server, tmp_path_factory.mktemp("instance-c"), name="c", redis_db=2)
    try:
        yield c.start()
    finally:
        c.stop()


def get(base_url: str, key: str, path: str, **params: Any) -> Any:
    resp = httpx.get(base_url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    resp.raise_for_status()
    return resp.json()
