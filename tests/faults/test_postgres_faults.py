"""PostgreSQL paused and restarted under a logging run, and what clients hear while it is away."""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
import httpx
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from .chaos import Chaos, LogTail
from .conftest import stored

pytestmark = pytest.mark.slow


def _log_rows(run: Any, start: int, stop: int) -> None:
    for step in range(start, stop):
        run.log({"x": float(step), "y": step * 2.0}, step=step)


def test_postgres_paused_mid_run_loses_nothing(server: Any, chaos: Chaos, sdk_env: dict[str, str]) -> None:
    import runyard

    run = runyard.init(project="faults", name="pg-paused")
    _log_rows(run, 0, 5_000)
    with chaos.paused("postgres"):
        _log_rows(run, 5_000, 10_000)  # log() never waits on the server
        time.sleep(4)  # batches and heartbeats wait on a database that answers nothing
    _log_rows(run, 10_000, 12_000)
    run.finish()
    got = stored(server, run.id)
    assert got["run"]["state"] == "finished"
    assert got["keys"]["x"]["n"] == 12_000 and got["keys"]["x"]["steps"] == list(range(12_000))
    assert got["keys"]["y"]["n"] == 12_000


def test_postgres_down_answers_503_and_unavailable_then_the_run_goes_on(
    server: Any, chaos: Chaos, sdk_env: dict[str, str], admin_key: str
) -> None:
    import runyard

    ingest_log = LogTail(server.logs_dir / "ingest.log")
    front_log = LogTail(server.logs_dir / "frontdoor.log")
    run = runyard.init(project="faults", name="pg-restarted")
    _log_rows(run, 0, 3_000)
    entity = run.entity
    with chaos.down("postgres"):
        _log_rows(run, 3_000, 6_000)
        # REST: a 503 with Retry-After and a message for a person, never a 500
        resp = httpx.get(f"{server.base_url}/api/v1/projects/{entity}/faults/runs",
                         headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
        assert resp.status_code == 503, resp.text
        assert resp.headers["retry-after"].isdigit()
        body = resp.json()
        assert body["code"] == "unavailable" and "database is not reachable" in body["detail"]
        assert resp.headers["x-request-id"]
        # gRPC: UNAVAILABLE with the same message, never UNKNOWN with an exception's text
        with grpc.insecure_channel(server.ingest_address) as channel:
            call = pb_grpc.IngestStub(channel).Stream(
                iter([pb.ClientMessage(open=pb.OpenRun(project="faults", run_id=uuid.uuid4().hex[:10]))]),
                metadata=[("authorization", f"Bearer {admin_key}")], timeout=30,
            )
            with pytest.raises(grpc.RpcError) as info:
                list(call)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value.details()
        assert "database is not reachable" in info.value.details()
        assert "<class" not in info.value.details() and "Error" not in info.value.details()
    _log_rows(run, 6_000, 8_000)
    run.finish()  # the SDK reconnected by itself and replayed what the server had not committed
    got = stored(server, run.id)
    assert got["run"]["state"] == "finished"
    assert got["keys"]["x"]["n"] == 8_000 and got["keys"]["x"]["steps"] == list(range(8_000))
    # the operator sees why: the failed request with its id, and the stream that ended
    assert "database is not reachable" in front_log.wait_for(resp.headers["x-request-id"])
    assert "stream ended" in ingest_log.wait_for("database is not reachable")
