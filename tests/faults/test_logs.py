"""What an operator reads during a fault: the services log under their own logger tree (`runyard_server`,
never hidden by the SDK's `runyard` tree), readable lines locally and JSON with `RUNYARD_LOG_FORMAT=json`,
each line with the run, stream and request ids it belongs to."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc
from runyard_server.local.processes import free_port, spawn, wait_until

from .chaos import Chaos, LogTail, wait_live_again

pytestmark = pytest.mark.slow


def _stream(address: str, key: str, messages: list[pb.ClientMessage]) -> list[pb.ServerMessage]:
    with grpc.insecure_channel(address) as channel:
        return list(pb_grpc.IngestStub(channel).Stream(iter(messages), metadata=[("authorization", f"Bearer {key}")],
                                                       timeout=30))


def _rows(first: int, n: int) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=[
        pb.Record(seq=first + i, history=pb.HistoryRow(step=first + i, keys=["x"], values=[1.0])) for i in range(n)
    ]))


def test_the_lines_an_operator_needs_appear_during_faults(server: Any, chaos: Chaos, admin_key: str) -> None:
    log = LogTail(server.logs_dir / "ingest.log")
    addr, project = server.ingest_address, "faults-logs"
    # a run that stops sending heartbeats (its process died): "marked crashed" within the 5 s test timeout
    lost = uuid.uuid4().hex[:10]
    _stream(addr, admin_key, [pb.ClientMessage(open=pb.OpenRun(project=project, run_id=lost)), _rows(1, 3)])
    opened = log.wait_for("stream opened")
    assert f"/{project}/{lost}" in opened and "stream=s-" in opened
    # compaction that cannot merge a run's chunks (two unreadable ones) says so; the data is not touched
    broken = uuid.uuid4().hex[:10]
    _stream(addr, admin_key, [pb.ClientMessage(open=pb.OpenRun(project=project, run_id=broken)), _rows(1, 2)])
    server.fetch(
        """INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals)
           SELECT id, 99, 0, 0, 1, '\\x010203'::bytea, '\\x010203'::bytea FROM runs, generate_series(1, 2)
            WHERE run_id = $1""",
        broken,
    )
    _stream(addr, admin_key, [pb.ClientMessage(open=pb.OpenRun(project=project, run_id=broken)),
                              pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=3, finish=pb.Finish())]))])
    assert "ValueError" in log.wait_for("compaction failed")
    # Redis away: the live publish fails, logging goes on
    with chaos.down("redis"):
        other = uuid.uuid4().hex[:10]
        out = _stream(addr, admin_key, [pb.ClientMessage(open=pb.OpenRun(project=project, run_id=other)), _rows(1, 5)])
        assert out[-1].ack.seq == 5
        failed = log.wait_for("Redis publish failed")
        assert f"/{project}/{other}" in failed  # the line names the run it was about
    crashed = log.wait_for("marked crashed", timeout=30)
    assert lost in crashed
    assert {r["state"] for r in server.fetch("SELECT state FROM runs WHERE run_id = $1", lost)} == {"crashed"}
    wait_live_again(server, admin_key)


def test_json_logs_carry_the_run_and_stream_ids(server: Any, admin_key: str) -> None:
    port = free_port()
    log_path = server.logs_dir / "ingest-json.log"
    child = spawn("ingest-json", [__import__("sys").executable, "-m", "runyard_server.cli", "ingest"], log_path,
                  env=server.service_env({"RUNYARD_INGEST_PORT": str(port), "RUNYARD_LOG_FORMAT": "json"}))
    try:
        wait_until(child, lambda: _connects(port), timeout=60, what="the JSON-logging ingest")
        rid = uuid.uuid4().hex[:10]
        _stream(f"127.0.0.1:{port}", admin_key, [pb.ClientMessage(open=pb.OpenRun(project="faults-logs", run_id=rid)),
                                                  _rows(1, 2)])
        deadline = time.monotonic() + 20
        while True:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            opened = [d for d in lines if d.get("message", "").startswith("stream opened")]
            if opened or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert opened, log_path.read_text()[-2000:]
        entry = opened[0]
        assert entry["logger"] == "runyard_server.ingest" and entry["level"] == "INFO"
        assert entry["run"].endswith(f"/faults-logs/{rid}") and entry["stream"].startswith("s-")
        assert entry["ts"].endswith("Z")  # UTC, like every timestamp the services write
        assert any(d.get("message", "").startswith("ingest listening") and d.get("port") == port for d in lines)
    finally:
        child.stop(10)


def _connects(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def test_the_sdk_in_the_same_process_hides_no_service_line(caplog: pytest.LogCaptureFixture) -> None:
    import runyard  # noqa: F401  (sets its own `runyard` logger to a NullHandler without propagation)
    from runyard_server.common import logs
    from runyard_server.ingest import live, servicer
    from runyard_server.ingest import server as ingest_server

    assert logging.getLogger("runyard").propagate is False
    for module_log in (servicer.log, ingest_server.log, live.log):
        assert module_log.name.startswith("runyard_server.")
    caplog.handler.addFilter(logs.ContextFilter())  # what configure() puts on the service's handler
    with caplog.at_level(logging.INFO):
        token = logs.RUN.set("team/proj/abc123")
        try:
            servicer.log.warning("marked crashed: a test line", extra={"runs": 1})
        finally:
            logs.RUN.reset(token)
    (record,) = [r for r in caplog.records if r.getMessage() == "marked crashed: a test line"]
    text = logs.TextFormatter().format(record)
    assert "WARNING runyard_server.ingest: marked crashed: a test line [run=team/proj/abc123 runs=1]" in text
    as_json = json.loads(logs.JsonFormatter().format(record))
    assert as_json["logger"] == "runyard_server.ingest" and as_json["message"] == "marked crashed: a test line"
    assert as_json["run"] == "team/proj/abc123" and as_json["runs"] == 1


def test_a_librarys_warning_is_one_line_and_an_error_keeps_its_traceback() -> None:
    import io

    from runyard_server.common import logs

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.TextFormatter())
    handler.addFilter(logs.OneLineWarnings())
    lib = logging.getLogger("asyncpg.pool")
    lib.addHandler(handler)
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            lib.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
            lib.error("a real error", exc_info=True)
    finally:
        lib.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("Failed to restore the pool connection floor; retrying: ConnectionRefusedError: "
                             "[Errno 111] Connection refused")
    assert "a real error" in lines[1] and "Traceback (most recent call last):" in lines[2]
