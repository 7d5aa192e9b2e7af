"""Resume across processes, Api filters/order/history, and editing a finished run, on the real stack."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.errors import NotFoundError, RunyardError, UsageError

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

QUIET = {"system_metrics": False, "capture_requirements": False, "capture_git": False, "console": "off"}


def _script(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # not the folder holding runyard/: with an editable install that folder would shadow the package
    cwd = cwd / "work"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_resume_continues_steps_and_sequence_numbers(sdk_env: dict[str, str], tmp_path: Path,
                                                     full_server: Any) -> None:
    first = f"""
import runyard
run = runyard.init(project="resume", id="resume-me", config={{"lr": 0.1}}, settings={QUIET!r})
for i in range(10):
    run.log({{"x": i}})
run.finish()
"""
    assert _script(first, sdk_env, tmp_path).returncode == 0
    with pytest.raises(RunyardError, match="already exists"):
        runyard.init(project="resume", id="resume-me", settings=QUIET)  # resume="never" by default
    with pytest.raises(NotFoundError, match="does not exist"):
        runyard.init(project="resume", id="no-such-run", resume="must", settings=QUIET)
    second = f"""
import runyard
run = runyard.init(project="resume", id="resume-me", resume="must", config={{"epochs": 2}}, tags=["again"],
                   settings={QUIET!r})
assert run.resumed and run.step == 10, (run.resumed, run.step)
for i in range(10, 15):
    run.log({{"x": i}})
run.summary["second"] = True
run.finish()
"""
    proc = _script(second, sdk_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "resumed" in proc.stderr
    r = runyard.Api().run("admin/resume/resume-me")
    assert r.state == "finished" and r.tags == ["again"] and r.config["lr"] == 0.1 and r.config["epochs"] == 2
    assert [row["x"] for row in r.scan_history(keys=["x"])] == list(range(15))
    assert [row["_step"] for row in r.scan_history(keys=["x"])] == list(range(15))
    assert r.summary["x"] == 14 and r.summary["second"] is True
    # resume="allow" with RUNYARD_RUN_ID/RUNYARD_RESUME from the environment, in this process
    os.environ["RUNYARD_RUN_ID"] = "resume-me"
    os.environ["RUNYARD_RESUME"] = "allow"
    try:
        run = runyard.init(project="resume", settings=QUIET)
        assert run.step == 15 and run.id == "resume-me"
        run.log({"x": 15})
        run.finish()
    finally:
        del os.environ["RUNYARD_RUN_ID"], os.environ["RUNYARD_RESUME"]
    assert run.finish_result is not None and run.finish_result.outcome == "acked"
    assert len(list(r.scan_history(keys=["x"]))) == 16


def test_runs_filters_order_and_errors(sdk_env: dict[str, str]) -> None:
    made = []
    for name, tag, group, fail in (("alpha-one", "red", "g1", False), ("beta-two", "blue", "g1", True),
                                   ("gamma-three", "red", "g2", False)):
        run = runyard.init(project="filters", name=name, tags=[tag], group=group, settings=QUIET)
        run.log({"v": 1})
        run.finish(1 if fail else 0)
        made.append(run.id)
    api = runyard.Api()
    names = lambda runs: sorted(r.name for r in runs)  # noqa: E731
    assert names(api.runs("admin/filters")) == ["alpha-one", "beta-two", "gamma-three"]
    assert names(api.runs("admin/filters", filters={"tags": "red"})) == ["alpha-one", "gamma-three"]
    assert names(api.runs("admin/filters", filters={"tags": {"$in": ["blue"]}})) == ["beta-two"]
    assert names(api.runs("admin/filters", filters={"state": "failed"})) == ["beta-two"]
    assert names(api.runs("admin/filters", filters={"state": ["failed", "finished"], "group": "g1"})) == [
        "alpha-one", "beta-two"]
    assert names(api.runs("filters", filters={"display_name": {"$regex": "GAMMA", "$options": "i"}})) == ["gamma-three"]
    assert [r.name for r in api.runs("admin/filters", order="+name")] == ["alpha-one", "beta-two", "gamma-three"]
    assert next(r.name for r in api.runs("admin/filters", order="-name")) == "gamma-three"
    with pytest.raises(UsageError, match="not supported"):
        api.runs("admin/filters", filters={"sweep": "abc"})
    with pytest.raises(UsageError, match="not supported"):
        api.runs("admin/filters", order="-sweep")


def test_edit_a_finished_run_through_the_api(sdk_env: dict[str, str]) -> None:
    run = runyard.init(project="edits", config={"lr": 0.1, "old": 1}, tags=["a"], settings=QUIET)
    for i in range(5):
        run.log({"x": i})
    run.finish()
    api = runyard.Api()
    r = api.run(run.path)
    assert r.state == "finished"
    finished_at = r.get("finished_at")
    r.config["lr"] = 0.2
    del r.config["old"]
    r.summary["best"] = 0.99
    r.summary["nan"] = float("nan")
    r.tags.append("edited")
    r.notes = "looked at it"
    r.name = "renamed"
    r.update()
    again = api.run(run.path)
    assert again.state == "finished" and again.get("finished_at") == finished_at
    assert again.config["lr"] == 0.2 and "old" not in again.config
    assert again.summary["best"] == 0.99 and again.summary["x"] == 4 and again.summary["nan"] != again.summary["nan"]
    assert again.tags == ["a", "edited"] and again.notes == "looked at it" and again.name == "renamed"
    assert [row["x"] for row in again.scan_history(keys=["x"])] == list(range(5))
    assert again.update() is again  # nothing changed: nothing sent

    live = runyard.init(project="edits", settings=QUIET)
    live.log({"y": 1})
    deadline = time.monotonic() + 20
    while api.run(live.path).state != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    lr = api.run(live.path)
    lr.config["z"] = 1
    lr.update()  # a live run is edited outside its stream (PATCH): both sides are kept
    live.log({"y": 2})
    live.finish()
    assert api.run(live.path).config["z"] == 1 and [row["y"] for row in api.run(live.path).scan_history(keys=["y"])] == [1, 2]


def test_threads_and_a_forked_worker_against_the_server(sdk_env: dict[str, str]) -> None:
    """8 threads x 1000 rows, and a forked child logging meanwhile: every parent row stored exactly once."""
    run = runyard.init(project="threads", settings=QUIET)

    def worker(t: int) -> None:
        for i in range(1000):
            run.log({f"t{t}": i})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    pid = os.fork()
    if pid == 0:
        try:
            import contextlib
            import io

            with contextlib.redirect_stderr(io.StringIO()):
                for i in range(100):
                    run.log({"t0": -i})
                run.finish()
        finally:
            os._exit(0)
    for th in threads:
        th.join()
    os.waitpid(pid, 0)
    run.finish()
    assert run.finish_result is not None and run.finish_result.outcome == "acked", run.finish_result
    r = runyard.Api().run(run.path)
    rows = list(r.scan_history())
    assert sorted(row["_step"] for row in rows) == list(range(8000))
    for t in range(8):
        assert sorted(row[f"t{t}"] for row in rows if f"t{t}" in row) == list(range(1000))
