"""Redis killed or hung: logging, REST and API keys carry on; live views say they are not live.

Redis holds nothing that cannot be rebuilt, so a dead Redis may cost live updates, never data. A hung
Redis (SIGSTOP: it accepts connections and answers nothing) is the nastier case: the circuit breakers
skip it after one timeout, and open SSE streams end with `live: false` instead of staying silent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .chaos import Chaos, LogTail, wait_live_again
from .conftest import stored

pytestmark = pytest.mark.slow


def _events(base: str, key: str, entity: str, project: str, timeout: float = 30.0) -> Iterator[tuple[str, Any]]:
    """(event, data) of a project's SSE stream until it ends."""
    url = f"{base}/api/v1/projects/{entity}/{project}/events"
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        event = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])


def _hello(base: str, key: str, entity: str, project: str) -> bool:
    for event, data in _events(base, key, entity, project):
        if event == "hello":
            return bool(data["live"])
    raise AssertionError("the stream ended without hello")


@pytest.fixture(autouse=True)
def _live_again(server: Any, admin_key: str) -> Iterator[None]:
    """After each test (and after `chaos` brought Redis back): every breaker of the session's services
    closes again by itself, so the tests after these see live updates as usual."""
    yield
    wait_live_again(server, admin_key)


def test_redis_killed_changes_nothing_a_user_needs(server: Any, chaos: Chaos, sdk_env: dict[str, str], admin_key: str) -> None:
    import runyard

    ingest_log = LogTail(server.logs_dir / "ingest.log")
    run = runyard.init(project="faults-redis", name="redis-killed")
    entity = run.entity
    run.log({"x": 0.0}, step=0)
    with chaos.down("redis"):
        for step in range(1, 3_000):
            run.log({"x": float(step)}, step=step)
        run.finish()
        for _ in range(5):
            viewer = httpx.get(server.base_url + "/api/v1/viewer", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
            assert viewer.status_code == 200, viewer.text
        assert _hello(server.base_url, admin_key, entity, "faults-redis") is False  # the browser polls
        assert "ConnectionError" in ingest_log.wait_for("Redis publish failed")
    got = stored(server, run.id)
    assert got["run"]["state"] == "finished" and got["keys"]["x"]["steps"] == list(range(3_000))


def test_a_hung_redis_opens_the_breakers_and_ends_live_streams(server: Any, chaos: Chaos, sdk_env: dict[str, str], admin_key: str) -> None:
    import runyard

    run = runyard.init(project="faults-redis", name="redis-hung")
    run.log({"x": 1.0}, step=0)
    entity = run.entity
    front_log = LogTail(server.logs_dir / "frontdoor.log")
    seen: list[tuple[str, Any]] = []
    ended = threading.Event()

    def watch() -> None:
        try:
            for item in _events(server.base_url, admin_key, entity, "faults-redis", timeout=60):
                seen.append(item)
        finally:
            ended.set()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    deadline = time.monotonic() + 20
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen[:1] == [("hello", {"live": True})]
    with chaos.paused("redis"):
        ids = []
        for _ in range(10):  # API-key requests go on; the key cache is skipped after one timeout
            viewer = httpx.get(server.base_url + "/api/v1/viewer", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
            assert viewer.status_code == 200, viewer.text
            ids.append(viewer.headers["x-request-id"])
        # the open stream does not stay "live" and silent: it says so and ends, the browser polls
        assert ended.wait(30), f"the SSE stream stayed open on a hung Redis: {seen}"
        assert seen[-1] == ("hello", {"live": False})
        for step in range(1, 500):
            run.log({"x": float(step)}, step=step)
        run.finish()
    # one of the ten requests may have paid a timeout (0.25 s) and opened the breaker; the others skipped
    # Redis at once (bench/soak.py --faults redis-pause prints the latencies)
    opened = [line for line in front_log.text().splitlines()
              if "Redis (API-key cache) unavailable" in line and any(i in line for i in ids)]
    assert len(opened) <= 1, front_log.text()[-3000:]
    assert stored(server, run.id)["keys"]["x"]["steps"] == list(range(500))
