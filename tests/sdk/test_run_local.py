"""Run behaviour that needs no server: offline and disabled modes, log semantics, settings errors."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from runyard.errors import AuthenticationError, SettingsError, UsageError

from .conftest import history_rows, only_run_dir, wal_records


def _history(records: list) -> list[tuple[int, dict]]:
    out = []
    for h in history_rows(records):
        row = dict(zip(h.keys, h.values))
        row.update({k: json.loads(v) for k, v in zip(h.json_keys, h.json_values)})
        out.append((h.step, row))
    return out


def test_offline_run_writes_everything_to_the_wal(tmp_path: Path) -> None:
    run = runyard.init(project="p", config={"lr": 0.1, "opt": {"name": "adam"}}, mode="offline", dir=tmp_path)
    assert runyard.run is run and runyard.config is run.config and runyard.summary is run.summary
    assert (len(run.id) == 8 and run.id.isalnum() and run.id.islower()) or run.id.isdigit()
    run.log({"a": 1, "nested": {"b": 2.5}})
    run.log({"a": 2}, commit=False)
    run.log({"c": "text"})  # commits step 1 with a and c
    run.log({"a": 5}, step=10)
    run.log({"n": math.nan, "i": math.inf})
    runyard.log({"a": 7})
    run.config.batch = 32
    run.config.update({"epochs": 3})
    run.summary["best"] = 0.5
    assert run.config.lr == 0.1 and run.config["batch"] == 32
    assert run.summary["a"] == 7 and run.summary["best"] == 0.5
    run_dir = run.folder
    runyard.finish()
    assert runyard.run is None
    with pytest.raises(UsageError):
        runyard.config.lr  # noqa: B018
    records = wal_records(run_dir)
    hist = _history(records)
    assert [s for s, _ in hist] == [0, 1, 10, 11, 12]
    assert hist[0][1] == {"a": 1.0, "nested/b": 2.5}
    assert hist[1][1] == {"a": 2.0, "c": "text"}
    assert math.isnan(hist[3][1]["n"]) and hist[3][1]["i"] == math.inf
    assert records[-1].WhichOneof("payload") == "finish" and records[-1].finish.exit_code == 0
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    info = json.loads((run_dir / "run.json").read_text())
    assert info["run_id"] == run.id and info["project"] == "p" and info["config"]["opt"] == {"name": "adam"}
    assert (tmp_path / "runyard-runs" / "latest-run").resolve() == run_dir.resolve()


def test_context_manager_marks_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with runyard.init(project="p", mode="offline", dir=tmp_path) as run:
            run.log({"x": 1})
            raise RuntimeError("boom")
    fin = wal_records(run.folder)[-1].finish
    assert fin.exit_code == 1 and "boom" in fin.error
    with pytest.raises(UsageError):
        run.log({"x": 2})


def test_disabled_mode_touches_nothing(tmp_path: Path) -> None:
    run = runyard.init(project="p", mode="disabled", dir=tmp_path)
    run.log({"x": 1})
    assert run.summary["x"] == 1
    run.finish()
    assert not (tmp_path / "runyard-runs").exists()


def test_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(AuthenticationError, match=r"no API key.*runyard login"):
        runyard.init(project="p", dir=tmp_path, settings={"base_url": "http://127.0.0.1:9"})
    assert time.monotonic() - start < 2


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        runyard.init(project="bad project", mode="offline", dir=tmp_path)
    with pytest.raises(SettingsError):
        runyard.init(project="p", id="no/slash", mode="offline", dir=tmp_path)
    run = runyard.init(project="p", mode="offline", dir=tmp_path)
    with pytest.raises(TypeError):
        run.log([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run.log({"x": 1}, step=-1)
    run.finish()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_does_not_fail_init(tmp_path: Path) -> None:
    """init() warns once and keeps logging to disk; finish() waits its bound, then prints the sync command."""
    script = f"""
import runyard
run = runyard.init(project="p", dir={str(tmp_path)!r})
for i in range(100):
    run.log({{"x": i}})
print("DIR", run.folder)
"""
    env = {"RUNYARD_API_KEY": "k", "RUNYARD_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
           "RUNYARD_FINISH_TIMEOUT": "3", "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert took < 20
    err = proc.stderr
    assert err.count("WARNING cannot reach") == 1, err
    run_dir = only_run_dir(tmp_path)
    assert f"runyard sync {run_dir}" in err
    recs = wal_records(run_dir)
    assert len(history_rows(recs)) == 100
    assert recs[-1].WhichOneof("payload") == "finish"


def test_uncaught_exception_finishes_with_exit_code_1(tmp_path: Path) -> None:
    script = f"""
import runyard
run = runyard.init(project="p", mode="offline", dir={str(tmp_path)!r})
run.log({{"x": 1}})
raise SystemError("crashed here")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "crashed here" in proc.stderr
    fin = wal_records(only_run_dir(tmp_path))[-1].finish
    assert fin.exit_code == 1 and "crashed here" in fin.error


def test_atexit_finishes_an_unfinished_run(tmp_path: Path) -> None:
    script = f"""
import runyard
runyard.init(project="p", mode="offline", dir={str(tmp_path)!r})
runyard.log({{"x": 1}})
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    recs = wal_records(only_run_dir(tmp_path))
    assert recs[-1].WhichOneof("payload") == "finish" and recs[-1].finish.exit_code == 0


def test_queue_stays_bounded_and_the_wal_is_the_buffer(tmp_path: Path) -> None:
    """With nothing draining to the network, memory holds at most queue_max items; the rest is on disk."""
    run = runyard.init(project="p", mode="offline", dir=tmp_path,
                       settings={"queue_max": 500, "batch_max_records": 100, "segment_bytes": 64 * 1024})
    peak = 0
    for i in range(20_000):
        run.log({"x": i, "y": {"z": i * 2}})
        peak = max(peak, len(run._queue))
    assert peak <= 500
    run.finish()
    recs = wal_records(run.folder)
    assert [h.step for h in history_rows(recs)] == list(range(20_000))
    assert len(list((run.folder / "wal").iterdir())) > 5  # rotated into segments, none pruned offline


def test_sys_exit_code_is_the_runs_exit_code(tmp_path: Path) -> None:
    script = f"""
import sys, runyard
runyard.init(project="p", mode="offline", dir={str(tmp_path)!r})
runyard.log({{"x": 1}})
sys.exit(3)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 3, proc.stderr
    assert wal_records(only_run_dir(tmp_path))[-1].finish.exit_code == 3
