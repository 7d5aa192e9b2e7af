"""Fixtures for the auth and query service tests: auth + query apps on a fresh database (harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Services, running_services


@pytest.fixture(scope="module")
def services(stack: Any) -> Iterator[Services]:
    """Auth + query on a fresh database, shared by the tests of one module."""
    with running_services(stack.database_url) as svc:
        yield svc


@pytest.fixture()
def fresh_services(stack: Any) -> Iterator[Services]:
    """Auth + query on a fresh database of their own, for one test."""
    with running_services(stack.database_url) as svc:
        yield svc
