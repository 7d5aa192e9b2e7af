"""Helpers for the SDK tests: a clean RUNYARD_* environment per test, and run-folder readers."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runyard.v1 import ingest_pb2 as pb
from runyard.wal import iter_frames


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


def wal_records(run_dir: Path | str) -> list[pb.Record]:
    return [pb.Record.FromString(data) for _, data in iter_frames(Path(run_dir) / "wal")]


def only_run_dir(root: Path) -> Path:
    dirs = glob.glob(str(root / "runyard" / "run-*"))
    assert len(dirs) == 1, dirs
    return Path(dirs[0])
