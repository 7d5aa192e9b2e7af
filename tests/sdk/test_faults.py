"""Faults in the corners (issue 12): bad bytes, a failing disk, refused records, lost connections, SIGKILL.

Each test runs real SDK processes against the session stack and compares what the server stores with
what was logged.
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.cli import main as cli

from .conftest import REPO, history_keys, history_rows, only_run_dir, points_per_key, run_script, wal_records

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

NO_CAPTURE = {"RUNYARD_SYSTEM_METRICS": "false", "RUNYARD_CAPTURE_GIT": "false",
              "RUNYARD_CAPTURE_REQUIREMENTS": "false", "RUNYARD_SAVE_CODE": "false"}


def _run_id(stdout: str) -> str:
    return stdout.split("ID ", 1)[1].split()[0]


def _output(stack: Any, key: str, path: str) -> list[str]:
    import httpx

    resp = httpx.get(f"{stack.base_url}/api/v1/runs/{path}/output", params={"limit": 10_000},
                     headers={"Authorization": f"Bearer {key}"}, timeout=30)
    resp.raise_for_status()
    return [line["line"] for line in resp.json()["lines"]]


def test_nul_and_lone_surrogates_are_cleaned_or_refused_and_never_wedge_the_run(
    full_server: Any, sdk_env: dict[str, str], admin_key: str
) -> None:
    """A NUL in a key, a value, printed output, config, summary, tags, name or notes: one warning naming
    the key; keys are refused, text is stored with U+FFFD; every other record arrives and the run ends."""
    proc = run_script(r'''
import runyard
run = runyard.init(project="faults-nul", name="na\x00me", notes="no\x00tes", tags=["t\x00ag", "ok"],
                   config={"c\x00k": "v\x00", "lr": 0.1})
print("ID", run.id, flush=True)
for i in range(200):
    row = {"loss": i * 0.5, "text": "a\x00b" if i == 50 else "fine", "odd": "x\udc80y"}
    if i == 60:
        row["bad\x00key"] = 1.0
    run.log(row)
print("pri\x00nted")
run.summary["s\x00"] = "v\x00"
run.config.update({"later": "x\x00y"})
run.update(group="g\x00", job_type="j\x00")
run.finish()
''', {**sdk_env, **NO_CAPTURE})
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "everything is saved" in err, err
    assert "the key 'bad\\x00key' is not storable: it holds a NUL character" in err, err
    assert "the config key 'c\\x00k'" in err and "the summary key 's\\x00'" in err, err
    assert "name 'na\\x00me'" in err and "notes 'no\\x00tes'" in err and "a tag 't\\x00ag'" in err, err
    assert "printed output on stdout holds NUL" in err, err
    run_id = _run_id(proc.stdout)
    r = runyard.Api().run(f"admin/faults-nul/{run_id}")
    fix = "\ufffd"
    assert r.state == "finished"
    assert (r.name, r.notes, r.tags, r.group, r.job_type) == (f"na{fix}me", f"no{fix}tes", [f"t{fix}ag", "ok"],
                                                             f"g{fix}", f"j{fix}")
    assert r.config == {f"c{fix}k": f"v{fix}", "lr": 0.1, "later": f"x{fix}y"}
    assert r.summary[f"s{fix}"] == f"v{fix}" and r.summary["loss"] == 199 * 0.5
    rows = list(r.scan_history(keys=["loss", "text", "odd"]))
    assert [row["loss"] for row in rows] == [i * 0.5 for i in range(200)]
    assert rows[50]["text"] == f"a{fix}b" and rows[51]["text"] == "fine" and rows[0]["odd"] == f"x{fix}y"
    assert not any("bad" in k for k in r.history_keys)
    assert f"pri{fix}nted" in _output(full_server, admin_key, f"admin/faults-nul/{run_id}")


@contextlib.contextmanager
def _small_disk(path: Path, size_mb: int) -> Iterator[dict[str, Any]]:
    """A real full disk when this process may mount a tmpfs (root); else a file-size limit (EFBIG) in
    the child. Yields extra subprocess.run arguments."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                                 capture_output=True).returncode == 0
    try:
        if mounted:
            yield {}
        else:
            import resource

            limit = size_mb << 20

            def cap() -> None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            yield {"preexec_fn": cap}
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_degrades_to_streaming_from_memory(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path
) -> None:
    steps, nkeys = 30_000, 10
    disk = tmp_path / "small"
    with _small_disk(disk, 2) as extra:
        proc = run_script(f'''
import runyard
run = runyard.init(project="faults-disk")
print("ID", run.id, flush=True)
for step in range({steps}):
    run.log({{f"k{{j}}": step * 10 + j for j in range({nkeys})}})
run.finish()
''', {**sdk_env, **NO_CAPTURE, "RUNYARD_DIR": str(disk), "RUNYARD_CONSOLE": "off",
             "RUNYARD_FINISH_TIMEOUT": "180"}, timeout=400, **extra)
        run_dir = only_run_dir(disk)
        on_disk = len(wal_records(run_dir))
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert err.count("keeps its records in memory") == 1, err  # one loud warning, once
    assert "everything is saved" not in err and "kept in memory only" in err, err
    assert f"runyard sync {disk}" not in err, err  # never pointed at for records that are not on disk
    assert 0 < on_disk < steps, on_disk  # the disk really filled up part-way
    run_id = _run_id(proc.stdout)
    counts = points_per_key(full_server, run_id, "faults-disk")
    assert counts == {**{f"k{j}": steps for j in range(nkeys)}, "_timestamp": steps}, counts
    r = runyard.Api().run(f"admin/faults-disk/{run_id}")
    assert r.state == "finished" and r.summary["k3"] == (steps - 1) * 10 + 3


def test_an_offline_run_on_a_full_disk_keeps_a_prefix_and_says_the_rest_is_lost(tmp_path: Path) -> None:
    """Offline, a full disk leaves nothing to stream to: the run says so once, log() goes on without
    failing, the log holds the rows written before the disk filled (no hole), and the end says rows were
    lost (the blocks that could not be written are counted, not crashed on)."""
    steps = 60_000
    disk = tmp_path / "small"
    with _small_disk(disk, 2) as extra:
        proc = run_script(f'''
import runyard
run = runyard.init(project="faults-offline-disk", mode="offline")
for step in range({steps}):
    run.log({{"a": float(step), "b": step * 0.5, "c": 1.0, "d": 2.0}})
run.finish()
print("DONE", flush=True)
''', {**NO_CAPTURE, "RUNYARD_DIR": str(disk), "RUNYARD_CONSOLE": "off"}, timeout=300, **extra)
        rows = history_rows(wal_records(only_run_dir(disk)))
    assert proc.returncode == 0 and "DONE" in proc.stdout, proc.stderr
    err = proc.stderr
    assert err.count("cannot save anything more") == 1, err
    assert "background writer failed" not in err, err
    assert "records are lost" in err, err
    logged = [int(r.values[0]) for r in rows]
    assert 0 < len(logged) < steps and logged == list(range(len(logged))), len(logged)


def test_a_record_the_server_cannot_store_is_left_out_and_the_rest_arrives(
    full_server: Any, sdk_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SDK that did not clean a NUL key (simulated by turning the check off) sends a record PostgreSQL
    refuses: the stream fails at that record; the SDK finds it, leaves it out, names it, and goes on."""
    import runyard._records

    monkeypatch.setattr(runyard._records, "key_problem", lambda key: None)
    monkeypatch.setenv("RUNYARD_MAX_BACKOFF", "1")
    run = runyard.init(project="faults-refused", settings={"system_metrics": False, "console": "off"})
    for i in range(300):
        row: dict[str, Any] = {"x": float(i)}
        if i == 120:
            row["nul\x00key"] = 1.0
        run.log(row)
    run.finish(timeout=120)
    result = run.finish_result
    assert result is not None and result.outcome == "acked", result
    assert [(r.seq, r.record) for r in result.refused] == [(result.refused[0].seq, "history row at step 120 "
                                                            "(keys 'x', 'nul\\x00key')")]
    err = capsys.readouterr().err
    assert "refused record" in err and "step 120" in err and "everything is saved" not in err, err
    r = runyard.Api().run(run.path)
    assert r.state == "finished"
    assert [row["x"] for row in r.scan_history(keys=["x"])] == [float(i) for i in range(300) if i != 120]
    assert points_per_key(full_server, run.id, "faults-refused") == {"x": 299, "_timestamp": 299}


def test_sync_leaves_out_a_refused_record_and_stores_the_rest(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runyard.wal import WalWriter
    from runyard_proto.v1 import ingest_pb2 as pb

    run = runyard.init(project="faults-sync-refused", mode="offline",
                       settings={"system_metrics": False, "console": "off"})
    for i in range(50):
        run.log({"x": float(i)})
    run.finish()
    assert run.folder is not None
    # append a record the server refuses (keys and values differ in length), then good ones, as if logged
    wal = WalWriter(run.folder / "wal")
    bad = wal.last_seq + 1
    recs = [pb.Record(seq=bad, history=pb.HistoryRow(step=50, keys=["x", "y"], values=[1.0]))]
    recs += [pb.Record(seq=bad + k, history=pb.HistoryRow(step=50 + k, keys=["x"], values=[50.0 + k]))
             for k in range(1, 11)]
    wal.append([(rec.seq, rec.SerializeToString()) for rec in recs])
    wal.close()
    capsys.readouterr()
    assert cli(["sync", str(run.folder)]) == 0
    out = capsys.readouterr().out
    assert f"refused record {bad}" in out and "history row at step 50" in out, out
    r = runyard.Api().run(f"admin/faults-sync-refused/{run.id}")
    assert [row["x"] for row in r.scan_history(keys=["x"])] == [float(i) for i in range(50)] + [
        50.0 + k for k in range(1, 11)]
    state = json.loads((run.folder / "sync.json").read_text())[full_server.base_url]
    assert [x["seq"] for x in state["refused"]] == [bad]
    capsys.readouterr()
    assert cli(["sync", str(run.folder)]) == 0  # nothing twice, nothing refused again
    assert "no new records" in capsys.readouterr().out
    assert points_per_key(full_server, run.id, "faults-sync-refused")["x"] == 60


def test_a_run_resumed_while_the_server_was_away_numbers_on_without_a_gap(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path
) -> None:
    """The server accepts only last_seq + 1: the records of a process that resumed offline are sent
    renumbered after the server's, live and by `runyard sync`."""
    first = run_script('''
import runyard
run = runyard.init(project="faults-resume", id="resumegap1", config={"a": 1})
for i in range(100):
    run.log({"x": i})
run.finish()
''', sdk_env)
    assert first.returncode == 0, first.stderr
    (stored,) = full_server.fetch("SELECT last_seq FROM runs WHERE run_id = 'resumegap1'")
    second = run_script('''
import runyard
run = runyard.init(project="faults-resume", id="resumegap1", resume="allow")
for i in range(40):
    run.log({"x": 1000 + i})
run.finish()
''', {**sdk_env, "RUNYARD_BASE_URL": "http://127.0.0.1:9", "RUNYARD_FINISH_TIMEOUT": "1"})
    assert second.returncode == 0, second.stderr
    folders = sorted((tmp_path / "runyard-runs").glob("run-*-resumegap1*"))
    assert len(folders) == 2
    offline_records = len(wal_records(folders[1]))
    assert cli(["sync", str(folders[1])]) == 0
    (after,) = full_server.fetch("SELECT last_seq FROM runs WHERE run_id = 'resumegap1'")
    assert after["last_seq"] == stored["last_seq"] + offline_records  # gap-free: exactly one after another
    r = runyard.Api().run("admin/faults-resume/resumegap1")
    xs = [row["x"] for row in r.scan_history(keys=["x"])]
    assert xs == list(range(100)) + [1000 + i for i in range(40)]
    state = json.loads((folders[1] / "sync.json").read_text())[full_server.base_url]
    assert state["seq_offset"] == stored["last_seq"]
    assert cli(["sync", str(folders[1])]) == 0  # a second sync sends nothing
    (again,) = full_server.fetch("SELECT last_seq FROM runs WHERE run_id = 'resumegap1'")
    assert again == after


def test_reconnects_to_ingest_while_the_front_door_is_down(
    full_server: Any, sdk_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After three failed attempts the front door is asked where ingest went, without holding up the
    attempts at the known address: ingest back, front door still down, the stream is back."""
    monkeypatch.setenv("RUNYARD_MAX_BACKOFF", "1")
    run = runyard.init(project="faults-frontdoor", settings={"system_metrics": False, "console": "off"})
    run.log({"x": 0})
    streamer = run._streamer
    assert streamer is not None
    try:
        full_server.stop_ingest()
        full_server.stop_http()
        before = streamer.connect_attempts
        for i in range(1, 200):
            run.log({"x": i})
            time.sleep(0.02)
        deadline = time.monotonic() + 60
        while streamer.connect_attempts < before + 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert streamer.connect_attempts >= before + 4
        full_server.start_ingest()
        deadline = time.monotonic() + 60
        while (streamer.queue or streamer.acked < streamer.written_seq) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert streamer.acked == streamer.written_seq, "did not reconnect while the front door was down"
        assert streamer._backoff == 0.5  # a working stream resets the backoff at once
    finally:
        full_server.start_ingest()
        full_server.start_http()
    run.finish()
    assert points_per_key(full_server, run.id, "faults-frontdoor")["x"] == 200


SIGKILL_BOUND_S = 1.0  # generous against docs/sdk.md's 0.1 s, for a busy test machine


def test_sigkill_loses_at_most_the_last_batch_interval(tmp_path: Path) -> None:
    """docs/sdk.md: a SIGKILL loses only rows still in memory, logged in the last `batch_interval`
    (0.1 s) before it. The child logs ~1000 rows/s and notes the last step it logged in shared memory."""
    counter = tmp_path / "counter"
    counter.write_bytes(bytes(8))
    code = textwrap.dedent(f'''
        import mmap, struct, time, runyard
        f = open({str(counter)!r}, "r+b")
        mm = mmap.mmap(f.fileno(), 8)
        run = runyard.init(project="faults-kill", mode="offline", dir={str(tmp_path)!r})
        print("READY", flush=True)
        step = 0
        while True:
            run.log({{"t": time.time(), "step": step}})
            mm[0:8] = struct.pack("<q", step)
            step += 1
            time.sleep(0.001)
    ''')
    env = {**os.environ, **NO_CAPTURE, "RUNYARD_CONSOLE": "off"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY", proc.stderr
        time.sleep(2.0)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open(counter, "r+b") as f, mmap.mmap(f.fileno(), 8) as mm:
        last_logged = struct.unpack("<q", mm[0:8])[0]
    rows = history_rows(wal_records(only_run_dir(tmp_path)))
    steps = [int(h.values[list(h.keys).index("step")]) for h in rows]
    assert steps == list(range(len(steps))), "the WAL holds a prefix of what was logged, without holes"
    last_on_disk = rows[-1].values[list(rows[-1].keys).index("t")]
    lost = last_logged - steps[-1]
    print(f"SIGKILL after {last_logged + 1} rows: {lost} rows lost, the newest row on disk was logged "
          f"{killed_at - last_on_disk:.3f} s before the kill")
    assert last_logged > 500 and not math.isnan(last_on_disk)
    assert killed_at - last_on_disk < SIGKILL_BOUND_S, (lost, killed_at - last_on_disk)


@contextlib.contextmanager
def _streamer_against(servicer: Any, run_dir: Path, **settings: Any) -> Iterator[tuple[Any, Any]]:
    """(outbox, streamer) of a run streaming to a real gRPC server with `servicer` (a fake ingest that
    speaks the wire contract); the server stops when the block ends."""
    from concurrent import futures

    import grpc

    from runyard._items import Outbox
    from runyard._records import RecordBuilder
    from runyard.settings import resolve
    from runyard.streamer import Streamer
    from runyard_proto.v1 import ingest_pb2 as pb
    from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_IngestServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        run_dir.mkdir()
        outbox = Outbox()
        streamer = Streamer(resolve({"api_key": "k", "base_url": "http://127.0.0.1:9", **settings}), run_dir,
                            pb.OpenRun(project="p", run_id="r1"), outbox, RecordBuilder(), online=True,
                            ingest_address=f"127.0.0.1:{port}")
        yield outbox, streamer
    finally:
        server.stop(0)


def test_ack_rejected_records_are_settled_not_resent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The wire contract's per-record refusal (Ack.rejected), against a real gRPC server that speaks
    the contract and refuses every row holding the key `refuse`: warned once with the reason, never
    resent, the rest stored and numbered without a gap."""


    from runyard_proto.v1 import ingest_pb2 as pb
    from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

    received: list[int] = []

    class Ingest(pb_grpc.IngestServicer):
        def Stream(self, requests: Any, context: Any) -> Any:  # noqa: N802
            first = next(requests)
            yield pb.ServerMessage(opened=pb.RunOpened(run_id=first.open.run_id, entity="e",
                                                       project=first.open.project, last_seq=0,
                                                       features=["history_block"]))
            for msg in requests:
                if msg.WhichOneof("msg") != "batch":
                    continue
                rejected = []
                for rec in msg.batch.records:
                    received.append(rec.seq)
                    if "refuse" in history_keys(rec):
                        rejected.append(pb.Rejected(seq=rec.seq, reason="history key 'refuse' is not allowed here"))
                yield pb.ServerMessage(ack=pb.Ack(seq=msg.batch.records[-1].seq, rejected=rejected))

    with _streamer_against(Ingest(), tmp_path / "run") as (outbox, streamer):
        for step in range(100):
            outbox.history(step, 1.0, {"x": float(step), **({"refuse": 1.0} if step in (10, 70) else {})})
        result = streamer.finish(0, None, 30)
    assert result.outcome == "acked", result
    assert [r.record for r in result.refused] == ["history row at step 10 (keys 'x', 'refuse')",
                                                  "history row at step 70 (keys 'x', 'refuse')"]
    assert all(r.reason == "history key 'refuse' is not allowed here" for r in result.refused)
    assert received == list(range(1, len(received) + 1)), "each record once, in order, without a gap"
    err = capsys.readouterr().err
    assert err.count("refused record") == 2 and "step 70" in err, err


def test_a_server_without_history_blocks_gets_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that does not name `history_block` in RunOpened.features (an older one) gets every row as a
    HistoryRow, values and order intact, after one warning."""


    from runyard_proto.v1 import ingest_pb2 as pb
    from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

    received: list[pb.Record] = []

    class OldIngest(pb_grpc.IngestServicer):
        def Stream(self, requests: Any, context: Any) -> Any:  # noqa: N802
            first = next(requests)
            yield pb.ServerMessage(opened=pb.RunOpened(run_id=first.open.run_id, project="p", last_seq=0))
            for msg in requests:
                if msg.WhichOneof("msg") == "batch":
                    received.extend(msg.batch.records)
                    yield pb.ServerMessage(ack=pb.Ack(seq=msg.batch.records[-1].seq))

    with _streamer_against(OldIngest(), tmp_path / "run") as (outbox, streamer):
        assert streamer.wait_opened(30) is not None
        with outbox.lock:
            for step in range(50):
                outbox.history(step, 1000.0 + step, {"x": float(step), "y": -step})
        result = streamer.finish(0, None, 30)
    assert result.outcome == "acked", result
    kinds = {r.WhichOneof("payload") for r in received}
    assert "history_block" not in kinds and "history" in kinds, kinds
    rows = [(r.history.step, r.history.timestamp, list(r.history.keys), list(r.history.values))
            for r in received if r.WhichOneof("payload") == "history"]
    assert rows == [(s, 1000.0 + s, ["x", "y"], [float(s), float(-s)]) for s in range(50)]
    assert capsys.readouterr().err.count("is older than this SDK") == 1


@pytest.mark.parametrize("code", ["INVALID_ARGUMENT", "UNKNOWN"])
def test_a_batch_refused_whole_is_split_until_the_record_at_fault_stands_alone(
    tmp_path: Path, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older server refuses a whole batch (ends the stream) when one record in it is bad. Against a real
    gRPC server that does that (and checks strict numbering), the SDK finds the record, sends an empty
    stand-in under its number, names it, and stores everything else; with UNKNOWN only after it repeated."""

    import grpc

    from runyard_proto.v1 import ingest_pb2 as pb
    from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

    stored: dict[int, pb.Record] = {}
    streams = [0]

    class OldIngest(pb_grpc.IngestServicer):
        def Stream(self, requests: Any, context: Any) -> Any:  # noqa: N802
            streams[0] += 1
            first = next(requests)
            last = max(stored, default=0)
            yield pb.ServerMessage(opened=pb.RunOpened(run_id=first.open.run_id, project="p", last_seq=last,
                                                       features=["history_block"]))
            for msg in requests:
                if msg.WhichOneof("msg") != "batch":
                    continue
                fresh = [r for r in msg.batch.records if r.seq > last]
                for r in fresh:
                    if r.seq != last + 1:
                        context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"gap: {r.seq} after {last}")
                    if "bad" in history_keys(r):
                        context.abort(getattr(grpc.StatusCode, code), "value out of range in a row")
                    last = r.seq
                for r in fresh:
                    stored[r.seq] = r
                yield pb.ServerMessage(ack=pb.Ack(seq=last))

    with _streamer_against(OldIngest(), tmp_path / "run", max_backoff=0.2) as (outbox, streamer):
        for step in range(400):
            outbox.history(step, 1.0, {"x": float(step), **({"bad": 1.0} if step == 333 else {})})
        result = streamer.finish(0, None, 60)
    assert result.outcome == "acked", result
    assert [r.record for r in result.refused] == ["history row at step 333 (keys 'x', 'bad')"]
    assert code in result.refused[0].reason
    rows = history_rows(stored[seq] for seq in sorted(stored))
    assert [h.step for h in rows] == [s for s in range(400) if s != 333]
    stand_in = stored[result.refused[0].seq]
    assert stand_in.WhichOneof("payload") == "update" and not stand_in.update.ListFields()
    assert streams[0] < 40  # halving, not one stream per record
    assert "refused record" in capsys.readouterr().err
