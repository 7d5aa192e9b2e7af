"""Framework integrations log through a real run into the real stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Keras 3 runs on the torch backend here (no TensorFlow); set before any test imports keras.
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture()
def online(stack: Any, admin_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """RUNYARD_* pointing at the session stack; yields the Api; finishes a run left open."""
    for key in list(os.environ):
        if key.startswith("RUNYARD_"):
            monkeypatch.delenv(key)
    stack.start_ingest()
    stack.start_http()
    monkeypatch.setenv("RUNYARD_BASE_URL", stack.base_url)
    monkeypatch.setenv("RUNYARD_API_KEY", admin_key)
    monkeypatch.setenv("RUNYARD_DIR", str(tmp_path))
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RUNYARD_SYSTEM_METRICS", "false")
    import runyard

    yield runyard.Api(base_url=stack.base_url, api_key=admin_key)
    if runyard.run is not None:
        runyard.run.finish(timeout=10)


def history(api: Any, run: Any) -> list[dict[str, Any]]:
    return list(api.run(f"{run.entity}/{run.project}/{run.id}").scan_history())
