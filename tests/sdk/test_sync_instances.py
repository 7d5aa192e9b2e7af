"""`runyard sync RUN_DIR --host B` recreates a run on another instance from its folder (issue 16): the
record log is kept (compressed) after the server acknowledged it. Two real instances: the session stack
(A) and `instance_b` (its own database, bucket, ingest and front door)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import runyard
from runyard.cli import main as cli

from .conftest import REPO, only_run_dir, points_per_key, run_script

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

SCRIPT = '''
import math, sys, time
import numpy as np
import runyard
run = runyard.init(project="moving", name="the-original", config={"lr": 0.1, "layers": [8, 4]},
                   tags=["a", "b"], notes="first try", group="g1", job_type="train",
                   settings={"system_interval": 0.3, "capture_requirements": False})
print("ID", run.id, flush=True)
for step in range(300):
    v = math.nan if step == 7 else (math.inf if step == 8 else (-math.inf if step == 9 else step * 0.25))
    run.log({"loss": v, "acc": {"train": 1 - 1 / (step + 1)}})
    if step % 50 == 0:
        print(f"step {step}", flush=True)
run.log({"late": 42.0}, step=5)                                  # a past step: stored, never dropped
run.log({"img": runyard.Image(np.full((8, 8), 200, dtype=np.uint8), caption="c"),
         "tbl": runyard.Table(columns=["a"], data=[[1], [2]])})
run.config.update({"lr": 0.2}, allow_val_change=True)
run.summary["best"] = 0.99
run.tags = ["a", "b", "c"]
run.notes = "second thoughts"
open("weights.bin", "wb").write(b"w" * 1000)
run.save("weights.bin", policy="now")
time.sleep(1.0)                                                  # a few system samples
sys.exit(3)
'''


def _api(base_url: str, key: str) -> runyard.Api:
    return runyard.Api(base_url=base_url, api_key=key)


def _output(base_url: str, key: str, path: str) -> list[tuple[str, str]]:
    resp = httpx.get(f"{base_url}/api/v1/runs/{path}/output", params={"limit": 10_000},
                     headers={"Authorization": f"Bearer {key}"}, timeout=30)
    resp.raise_for_status()
    return [(line["stream"], line["line"]) for line in resp.json()["lines"]]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


def _history(r: Any) -> list[dict[str, Any]]:
    return list(r.scan_history(page_size=5000))


def test_sync_recreates_an_online_run_on_another_instance(
    full_server: Any, instance_b: Any, sdk_env: dict[str, str], admin_key: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, **sdk_env},
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 3, proc.stderr
    assert "everything is saved" in proc.stderr, proc.stderr
    run_id = proc.stdout.split("ID ", 1)[1].split()[0]
    run_dir = only_run_dir(tmp_path)
    segments = sorted(p.name for p in (run_dir / "wal").iterdir())
    assert segments and all(n.endswith(".wal.gz") for n in segments), segments  # kept, compacted

    capsys.readouterr()
    assert cli(["sync", str(run_dir), "--host", instance_b.base_url, "--api-key", instance_b.api_key]) == 0
    out = capsys.readouterr().out
    assert "records sent" in out and "files uploaded" in out, out

    a = _api(full_server.base_url, admin_key).run(f"admin/moving/{run_id}")
    b = _api(instance_b.base_url, instance_b.api_key).run(f"admin/moving/{run_id}")
    for field in ("name", "state", "exit_code", "config", "tags", "notes", "group", "job_type"):
        assert getattr(b, field) == getattr(a, field), field
    assert (b.name, b.state, b.exit_code, b.notes) == ("the-original", "failed", 3, "second thoughts")
    assert b.tags == ["a", "b", "c"] and b.config == {"lr": 0.2, "layers": [8, 4]}
    assert set(b.summary) == set(a.summary) and all(_same(b.summary[k], a.summary[k]) for k in a.summary)
    for field in ("created_at", "finished_at"):  # timestamps and so the runtime: the run's, not the sync's
        assert b.get(field) == a.get(field), field
    rows_a, rows_b = _history(a), _history(b)
    assert len(rows_b) == len(rows_a) and [r["_step"] for r in rows_b][:301] == list(range(301))  # + system rows
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra.keys() == rb.keys() and all(_same(ra[k], rb[k]) for k in ra), (ra, rb)
    assert math.isnan(rows_b[7]["loss"]) and rows_b[8]["loss"] == math.inf and rows_b[5]["late"] == 42.0
    sys_a = points_per_key(full_server, run_id, "moving")
    sys_b = {r["key"]: int(r["n"]) for r in instance_b.fetch(
        """SELECT k.key, sum(c.n)::bigint AS n FROM history_chunks c JOIN history_keys k
           ON k.run_id = c.run_id AND k.key_id = c.key_id JOIN runs r ON r.id = c.run_id
           WHERE r.run_id = $1 GROUP BY k.key""", run_id)}
    assert sys_b == sys_a and any(k.startswith("system/") for k in sys_b)  # system metrics too
    out_a = _output(full_server.base_url, admin_key, f"admin/moving/{run_id}")
    out_b = _output(instance_b.base_url, instance_b.api_key, f"admin/moving/{run_id}")
    assert out_b == out_a and ("stdout", "step 250") in out_b
    files_a = {f.name: f.sha256 for f in a.files()}
    files_b = {f.name: f.sha256 for f in b.files()}
    assert files_b == files_a
    assert {"weights.bin", "code/train.py", "metadata.json", "output.log"} <= set(files_b)
    assert sum(n.startswith("media/images/img_") for n in files_b) == 1
    assert sum(n.startswith("media/tables/tbl_") for n in files_b) == 1

    # again: nothing twice
    (before,) = instance_b.fetch("SELECT last_seq, output_lines, updated_at FROM runs WHERE run_id = $1", run_id)
    capsys.readouterr()
    assert cli(["sync", str(run_dir), "--host", instance_b.base_url, "--api-key", instance_b.api_key]) == 0
    out = capsys.readouterr().out
    assert "no new records" in out and "files up to date" in out, out
    (after,) = instance_b.fetch("SELECT last_seq, output_lines, updated_at FROM runs WHERE run_id = $1", run_id)
    assert after == before
    assert len(_history(_api(instance_b.base_url, instance_b.api_key).run(f"admin/moving/{run_id}"))) == len(rows_a)


def test_a_folder_without_its_log_says_what_is_missing_and_creates_nothing(
    full_server: Any, instance_b: Any, sdk_env: dict[str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc = run_script('''
import runyard
run = runyard.init(project="moving-nolog", settings={"segment_bytes": 4096, "system_metrics": False})
print("ID", run.id, flush=True)
for i in range(2000):
    run.log({"x": i})
run.finish()
''', {**sdk_env, "RUNYARD_KEEP_LOG": "false"})
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split("ID ", 1)[1].split()[0]
    run_dir = only_run_dir(Path(sdk_env["RUNYARD_DIR"]))
    assert not list((run_dir / "wal").iterdir())  # the log was deleted as the server acknowledged it
    capsys.readouterr()
    assert cli(["sync", str(run_dir), "--host", instance_b.base_url, "--api-key", instance_b.api_key]) == 1
    err = capsys.readouterr().err
    assert "records 1-" in err and "RUNYARD_KEEP_LOG=false deleted them" in err and "nothing was created" in err, err
    assert instance_b.fetch("SELECT id FROM runs WHERE run_id = $1", run_id) == []
    capsys.readouterr()
    assert cli(["sync", str(run_dir)]) == 0  # to the server that has it, there is nothing to do


def test_sync_never_flips_a_crashed_run_back_to_running(
    full_server: Any, instance_b: Any, sdk_env: dict[str, str], admin_key: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run whose process was killed: A marks it crashed (no heartbeat); syncing its folder to A leaves
    it crashed, and syncing it to B makes a crashed run there too, with every record."""
    code = textwrap.dedent('''
        import time, runyard
        run = runyard.init(project="moving-crash", settings={"system_metrics": False})
        print("ID", run.id, flush=True)
        for i in range(500):
            run.log({"x": i})
        time.sleep(0.5)
        print("LOGGED", flush=True)
        time.sleep(600)
    ''')
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **sdk_env},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().split()[1]
        assert child.stdout.readline().strip() == "LOGGED"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    api_a = _api(full_server.base_url, admin_key)
    deadline = time.monotonic() + 60
    while api_a.run(f"admin/moving-crash/{run_id}").state != "crashed" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert api_a.run(f"admin/moving-crash/{run_id}").state == "crashed"
    run_dir = only_run_dir(Path(sdk_env["RUNYARD_DIR"]))
    (run_dir / ".live").unlink(missing_ok=True)  # what a killed process leaves; sync checks the pid anyway
    assert cli(["sync", str(run_dir)]) == 0
    assert api_a.run(f"admin/moving-crash/{run_id}").state == "crashed"
    assert cli(["sync", str(run_dir), "--host", instance_b.base_url, "--api-key", instance_b.api_key]) == 0
    b = _api(instance_b.base_url, instance_b.api_key).run(f"admin/moving-crash/{run_id}")
    assert b.state == "crashed"
    assert [row["x"] for row in b.scan_history(keys=["x"])] == list(range(500))


def test_sync_names_an_unreadable_record_and_stores_the_rest(
    full_server: Any, instance_b: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """One flipped byte in the kept log: sync names the record it cannot read, sends everything else
    (the order kept with a stand-in), and exits non-zero."""
    import runyard._items

    monkeypatch.setattr(runyard._items, "ROWS_PER_BLOCK", 10)  # blocks of 10 rows, 5 a write: many segments
    run = runyard.init(project="moving-damaged", mode="offline", dir=tmp_path,
                       settings={"system_metrics": False, "console": "off", "segment_bytes": 8_000,
                                 "batch_max_records": 5})
    for i in range(3000):
        run.log({"x": float(i), "noise": math.sin(i) * 1e-3})
    run.finish()
    assert run.folder is not None
    segments = sorted((run.folder / "wal").iterdir())
    assert len(segments) > 3 and all(p.name.endswith(".gz") for p in segments)
    victim = segments[len(segments) // 2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x20
    victim.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli(["sync", str(run.folder), "--host", instance_b.base_url, "--api-key", instance_b.api_key]) == 1
    captured = capsys.readouterr()
    assert victim.name in captured.out and "damaged" in captured.out, captured.out
    assert "lacks what this folder does not hold" in captured.err, captured.err
    b = _api(instance_b.base_url, instance_b.api_key).run(f"admin/moving-damaged/{run.id}")
    xs = [row["x"] for row in b.scan_history(keys=["x"])]
    assert 2000 < len(xs) < 3000 and xs == sorted(xs) and xs[-1] == 2999.0  # everything after the damage too
    assert b.state == "finished"
