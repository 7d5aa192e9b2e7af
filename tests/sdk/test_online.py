"""The SDK against the real embedded stack (the session `stack` fixture): no mocks of the server."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.errors import AuthenticationError, RunyardError

from .conftest import only_run_dir

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(full_server: Any) -> Any:
    return full_server


def _run_script(code: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _value(step: int, k: int) -> float:
    """Deterministic test values: awkward doubles and non-finite ones."""
    if k == 7 and step % 97 == 0:
        return math.nan
    if k == 8 and step % 89 == 0:
        return math.inf
    if k == 9 and step % 83 == 0:
        return -math.inf
    return math.sin(step * 0.37 + k) * 10 ** ((k % 5) - 2) + 1e-17 * step


VALUE_SRC = textwrap.dedent('''
import math
def _value(step, k):
    if k == 7 and step % 97 == 0:
        return math.nan
    if k == 8 and step % 89 == 0:
        return math.inf
    if k == 9 and step % 83 == 0:
        return -math.inf
    return math.sin(step * 0.37 + k) * 10 ** ((k % 5) - 2) + 1e-17 * step
''')


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or _bits(a) == _bits(b)


def test_roundtrip_5000_steps_bit_for_bit(sdk_env: dict[str, str], tmp_path: Path) -> None:
    steps, nkeys = 5000, 10
    proc = _run_script(VALUE_SRC + f'''
import runyard
run = runyard.init(project="sdk-roundtrip", config={{"lr": 0.001, "layers": [64, 32]}}, tags=["t1"])
for step in range({steps}):
    run.log({{f"m{{k}}": _value(step, k) for k in range({nkeys})}}, step=step)
run.summary["best"] = 1.5
print("PATH", run.path, run.name, flush=True)
run.finish()
''', sdk_env)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PATH "))
    _, path, name = line.split()
    assert path.startswith("admin/sdk-roundtrip/")
    parts = name.split("-")
    assert len(parts) == 3 and parts[2].isdigit(), name
    assert "everything is saved" in proc.stderr
    run_dir = only_run_dir(tmp_path)
    segments = [p.name for p in (run_dir / "wal").iterdir()]
    assert segments and all(n.endswith(".wal.gz") for n in segments), "the record log is kept, compressed"

    api = runyard.Api()
    r = api.run(path)
    assert (r.entity, r.project, r.name, r.state) == ("admin", "sdk-roundtrip", name, "finished")
    assert r.config == {"lr": 0.001, "layers": [64, 32]}
    assert r.tags == ["t1"]
    assert r.summary["best"] == 1.5
    assert _same(r.summary["m3"], _value(steps - 1, 3))
    rows = list(r.scan_history(page_size=1500))
    assert [row["_step"] for row in rows] == list(range(steps))
    bad = 0
    for row in rows:
        step = row["_step"]
        assert isinstance(row["_timestamp"], float)
        for k in range(nkeys):
            if not _same(row[f"m{k}"], _value(step, k)):
                bad += 1
    assert bad == 0
    nonfinite = sum(1 for row in rows for k in (7, 8, 9) if not math.isfinite(row[f"m{k}"]))
    assert nonfinite == len(range(0, steps, 97)) + len(range(0, steps, 89)) + len(range(0, steps, 83))
    only = list(r.scan_history(keys=["m7"], page_size=777))
    assert len(only) == steps and set(only[0]) == {"_step", "_timestamp", "_runtime", "m7"}
    assert any(x.id == r.id for x in api.runs("admin/sdk-roundtrip"))


def _points_per_key(server: Any, run_id: str) -> dict[str, int]:
    rows = server.fetch(
        """SELECT k.key, sum(c.n)::bigint AS n FROM history_chunks c
           JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
           JOIN runs r ON r.id = c.run_id WHERE r.run_id = $1 GROUP BY k.key""",
        run_id,
    )
    return {r["key"]: r["n"] for r in rows}


@pytest.mark.parametrize("kill", [True, False], ids=["sigkill", "sigterm"])
def test_ingest_killed_and_restarted_while_logging(
    server: Any, sdk_env: dict[str, str], tmp_path: Path, kill: bool
) -> None:
    steps = 3000
    env = dict(sdk_env, RUNYARD_MAX_BACKOFF="1", RUNYARD_FINISH_TIMEOUT="120")
    script = f'''
import sys, time, runyard
run = runyard.init(project="sdk-kill", config={{"lr": 0.1}})
print("ID", run.id, flush=True)
for step in range({steps}):
    run.log({{"a": float(step), "b": step * 0.5, "c": -step}})
    if step == 100:
        run.config.update({{"lr": 0.2}}, allow_val_change=True)
    if step == 300:
        print("STARTED", flush=True)
    time.sleep(0.001)
run.finish()
print("DONE", flush=True)
'''
    full = dict(os.environ)
    full.update(env)
    proc = subprocess.Popen([sys.executable, "-c", script], env=full, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().split()[1]
        assert proc.stdout.readline().strip() == "STARTED"
        server.stop_ingest(kill=kill)
        time.sleep(1.5)
        server.start_ingest()
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.start_ingest()
    assert proc.returncode == 0, err
    assert "DONE" in out
    assert "everything is saved" in err, err
    assert "again" in err, err  # it did lose the stream and reconnect
    counts = _points_per_key(server, run_id)
    assert counts == {"a": steps, "b": steps, "c": steps, "_timestamp": steps}
    r = runyard.Api().run(f"admin/sdk-kill/{run_id}")
    assert r.state == "finished"
    assert r.config == {"lr": 0.2}  # the reconnect did not bring the initial value back
    rows = list(r.scan_history(keys=["a", "c"]))
    assert [row["_step"] for row in rows] == list(range(steps))
    assert all(row["a"] == row["_step"] and row["c"] == -row["_step"] for row in rows)


def test_wrong_api_key_fails_fast_and_clearly(sdk_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_API_KEY", "ry_wrong_key_0000000000")
    start = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        runyard.init(project="sdk-auth")
    took = time.monotonic() - start
    assert took < 5, took
    msg = str(info.value)
    assert "refused" in msg and sdk_env["RUNYARD_BASE_URL"] in msg and "runyard login" in msg
    assert runyard.run is None


def test_refused_entity_is_reported_by_init(sdk_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(RunyardError) as info:
        runyard.init(project="p", entity="nobody-such-entity")
    assert "nobody-such-entity" in str(info.value) or "entity" in str(info.value).lower()
    assert runyard.run is None
    assert list((tmp_path / "runyard-runs").glob("run-*")) == []  # no folder left for a run that never was


def test_in_process_run_with_ingest_down_at_start(server: Any, sdk_env: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The front door answers but ingest is away at init(): one warning, logging goes on, data arrives."""
    import runyard._items
    import runyard.streamer

    monkeypatch.setattr(runyard._items, "ROWS_PER_BLOCK", 1)  # a record per row: the log spans segments
    monkeypatch.setenv("RUNYARD_MAX_BACKOFF", "1")
    monkeypatch.setenv("RUNYARD_SEGMENT_BYTES", "2048")  # the replay crosses segments, pruned as acked
    monkeypatch.setenv("RUNYARD_BATCH_MAX_RECORDS", "32")
    monkeypatch.setattr(runyard.streamer, "_RECENT_KEEP", 20)  # so the replay reads the WAL back
    server.stop_ingest()
    try:
        run = runyard.init(project="sdk-late", name="late-run", config={"x": 1})
        assert run.name == "late-run"
        for i in range(200):
            run.log({"v": i})
        run.summary["explicit"] = "yes"
        t = threading.Timer(1.0, server.start_ingest)
        t.start()
        run.finish(timeout=60)
        t.join()
    finally:
        server.start_ingest()
    assert run.finish_result is not None and run.finish_result.outcome == "acked", run.finish_result
    assert run._streamer is not None and run._streamer._cursor._next > 150  # replayed from the WAL
    r = runyard.Api().run(f"admin/sdk-late/{run.id}")
    assert r.name == "late-run" and r.state == "finished" and r.config == {"x": 1}
    assert r.summary["v"] == 199 and r.summary["explicit"] == "yes"
    assert [row["v"] for row in r.scan_history(keys=["v"])] == list(range(200))


@pytest.mark.parametrize("keep_log", [False, True])
def test_acknowledged_segments_are_deleted_or_compacted_while_running(sdk_env: dict[str, str], keep_log: bool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """RUNYARD_KEEP_LOG=false: acknowledged segments go, then the whole log at the end. By default the
    log stays (for `runyard sync` anywhere), compressed when the run ends."""
    import runyard._items

    monkeypatch.setattr(runyard._items, "ROWS_PER_BLOCK", 1)  # a record per row: the log spans segments
    run = runyard.init(project="sdk-prune", settings={"segment_bytes": 8192, "keep_log": keep_log})
    for i in range(5000):
        run.log({"x": i, "y": -i})
    streamer = run._streamer
    assert streamer is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (streamer.queue or streamer.acked < streamer.written_seq):
        time.sleep(0.05)
    assert streamer.acked == streamer.written_seq > 5000
    names = sorted(p.name for p in (run.folder / "wal").iterdir())
    if keep_log:
        assert len(names) > 1 and all(n.endswith(".wal") for n in names), names  # all kept, as written
    else:
        assert len(names) == 1, names  # only the active one is left
    run.finish()
    assert run.finish_result is not None and run.finish_result.outcome == "acked"
    names = [p.name for p in (run.folder / "wal").iterdir()]
    if keep_log:
        assert names and all(n.endswith(".wal.gz") for n in names)
        from runyard.wal import iter_frames

        assert sum(1 for _ in iter_frames(run.folder / "wal")) == streamer.written_seq
    else:
        assert names == []
    r = runyard.Api().run(run.path)
    assert r.summary["x"] == 4999 and r.summary["y"] == -4999


def test_key_revoked_mid_run_stops_retries_and_is_reported(
    server: Any, sdk_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fatal status (UNAUTHENTICATED) is printed once, not retried, and finish() says so without waiting."""
    from runyard_server.common.security import new_api_key

    key, prefix, digest = new_api_key()
    server.fetch(
        "INSERT INTO api_keys (user_id, prefix, key_hash, name) "
        "SELECT id, $1, $2, 'sdk-test' FROM users WHERE username = 'admin' RETURNING id",
        prefix, digest,
    )
    monkeypatch.setenv("RUNYARD_API_KEY", key)
    run = runyard.init(project="sdk-revoked")
    run.log({"x": 1})
    server.fetch("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 RETURNING id", prefix)
    streamer = run._streamer
    assert streamer is not None
    deadline = time.monotonic() + 30
    i = 0
    while streamer.fatal_error is None and time.monotonic() < deadline:
        i += 1
        run.log({"x": i})
        time.sleep(0.05)
    assert streamer.fatal_error is not None
    attempts = streamer.connect_attempts
    time.sleep(1.5)
    assert streamer.connect_attempts == attempts  # no retries after a fatal status
    start = time.monotonic()
    run.finish()
    assert time.monotonic() - start < 5
    assert run.finish_result is not None and run.finish_result.outcome == "fatal"
    err = capsys.readouterr().err
    assert err.count("revoked") >= 2, err  # when it happened, and again from finish()
    assert f"runyard sync {run.folder}" in err


def test_heartbeats_keep_an_idle_run_running(server: Any, sdk_env: dict[str, str]) -> None:
    """The test stack marks a run crashed after 5 s without heartbeat; the SDK beats every 1 s here."""
    run = runyard.init(project="sdk-idle")
    run.log({"x": 1})
    time.sleep(7)
    api = runyard.Api()
    assert api.run(run.path).state == "running"
    run.finish()
    assert api.run(run.path).state == "finished"


def test_api_errors_are_typed(sdk_env: dict[str, str]) -> None:
    from runyard.errors import NotFoundError, UsageError

    api = runyard.Api()
    with pytest.raises(NotFoundError):
        api.run("admin/no-such-project/abc")
    with pytest.raises(UsageError):
        api.run("too/many/parts/here")
    with pytest.raises(AuthenticationError, match="refused"):
        runyard.Api(api_key="ry_wrong_0000").run("admin/p/x")
