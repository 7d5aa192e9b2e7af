"""Fixtures of the artifact-service tests (uses the session `stack` of tests/conftest.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import ArtifactEnv, artifact_env


@pytest.fixture(scope="module")
def env(stack: Any) -> Iterator[ArtifactEnv]:
    """The artifact app on a fresh database and bucket, shared by the tests of one module."""
    with artifact_env(stack) as e:
        yield e


@pytest.fixture
def big_tmp() -> Iterator[Path]:
    """A temp folder for big files (deleted afterwards, whatever happens)."""
    import shutil

    path = Path(tempfile.mkdtemp(prefix="runyard-art-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
