"""Ingest SIGKILLed in the middle of commits: nothing lost, nothing doubled, the run ends finished."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .chaos import Chaos
from .conftest import stored

pytestmark = pytest.mark.slow

STEPS = 30_000
KEYS = ["loss", "acc", "lr"]


def test_ingest_killed_three_times_mid_run_loses_and_doubles_nothing(server: Any, chaos: Chaos, sdk_env: dict[str, str]) -> None:
    import runyard

    run = runyard.init(project="faults", name="kill-ingest", settings={"batch_max_records": 500})
    kills = 0
    for step in range(STEPS):
        run.log({k: step + i / 10 for i, k in enumerate(KEYS)}, step=step)
        if step % 200 == 199:
            time.sleep(0.01)  # spread the logging over a few seconds, so the kills land mid-stream
        if step in (7_000, 15_000, 23_000):
            chaos.ingest_killed()  # SIGKILL: whatever batch was being committed is lost to the server
            kills += 1
    run.finish()
    assert kills == 3
    got = stored(server, run.id)
    assert got["run"]["state"] == "finished"
    for i, key in enumerate(KEYS):
        entry = got["keys"][key]
        assert entry["n"] == STEPS, f"{key}: {entry['n']} points stored for {STEPS} logged (doubled or lost)"
        assert entry["steps"] == list(range(STEPS))
        assert entry["vals"][:3] == [0 + i / 10, 1 + i / 10, 2 + i / 10]
