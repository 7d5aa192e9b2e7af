"""The shared `stack` and `admin_key` fixtures do what the other tests rely on."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.support.stack import TestStack

pytestmark = pytest.mark.local


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_ingest_restarts_on_the_same_port(stack: TestStack) -> None:
    port = stack.start_ingest()
    assert stack.ingest_address == f"127.0.0.1:{port}"
    pid = stack.ingest_pid
    assert pid is not None
    env = _environ(pid)
    assert env["RUNYARD_HEARTBEAT_TIMEOUT_S"] == "5"
    assert env["RUNYARD_CRASH_CHECK_INTERVAL_S"] == "1"
    assert env["RUNYARD_DATABASE_URL"] == stack.database_url
    assert env["RUNYARD_S3_BUCKET"] == stack.s3.bucket

    assert stack.stop_ingest(kill=True) == -signal.SIGKILL
    assert stack.ingest_pid is None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0

    assert stack.start_ingest() == port
    assert stack.ingest_pid not in (None, pid)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert stack.stop_ingest() == 0  # SIGTERM: a graceful stop
    stack.start_ingest()


def test_front_door_and_admin_key(stack: TestStack, admin_key: str) -> None:
    info = httpx.get(stack.base_url + "/api/v1/server-info", timeout=30).json()
    assert info["ingest_address"] == stack.ingest_address
    assert info["needs_setup"] is False
    viewer = httpx.get(
        stack.base_url + "/api/v1/viewer", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    )
    assert viewer.status_code == 200, viewer.text
    assert viewer.json()["is_admin"] is True
    rows = stack.fetch("SELECT username, is_admin FROM users")
    assert rows == [{"username": "admin", "is_admin": True}]
