"""Session fixtures shared by every cross-part test.

- `stack`: embedded PostgreSQL, Redis and S3 started once per session in a temp folder, migrations
  applied; services started on demand as real subprocesses (`stack.start_ingest()`,
  `stack.start_http()`), see tests/support/stack.py. Everything stops at session end, also after
  failures; a failing test that used the stack gets the end of every service log in its report.
- `admin_key`: the first user (an admin) signed up through the front door; its API key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support.stack import TestStack

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"

_session_stack: TestStack | None = None


def _data_tmp(prefix: str) -> Iterator[Path]:
    # Not under pytest's basetemp: as root, PostgreSQL runs as the `pgserver` user, which must reach
    # its folder, and every new pytest session resets /tmp/pytest-of-root to 0700 (a second session
    # started beside this one would cut off our PostgreSQL). RUNYARD_TEST_KEEP=1 keeps the folder.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o701)
    try:
        yield path
    finally:
        if os.environ.get("RUNYARD_TEST_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_tmp() -> Iterator[Path]:
    """A fresh temp folder for an embedded stack or a `runyard-server local` data dir."""
    yield from _data_tmp("runyard-test-")


@pytest.fixture(scope="session")
def stack() -> Iterator[TestStack]:
    global _session_stack
    for root in _data_tmp("runyard-stack-"):
        test_stack = TestStack(root)
        try:
            test_stack.start()
            _session_stack = test_stack
            yield test_stack
        finally:
            _session_stack = None
            test_stack.close()


@pytest.fixture(scope="session")
def admin_key(stack: TestStack) -> str:
    """Sign up the first user (admin) on the session's front door; returns its API key."""
    import httpx

    stack.start_http()
    resp = httpx.post(
        stack.base_url + "/api/v1/auth/signup",
        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    assert resp.status_code == 201, f"signup failed: {resp.status_code} {resp.text}"
    key = resp.json()["api_key"]
    assert isinstance(key, str) and key
    return key


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _session_stack is not None and "stack" in getattr(item, "fixturenames", ()):
        logs = _session_stack.recent_logs()
        if logs:
            report.sections.append(("runyard service logs (last lines; RUNYARD_TEST_KEEP=1 keeps the files)", logs))
    return report
