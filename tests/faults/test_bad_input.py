"""NUL and other bad bytes everywhere a user can type, through raw gRPC streams and through the SDK:
each bad record is refused alone with a reason naming it, the records around it are stored, the run
finishes, and neither the stream nor `runyard sync` wedges. Raw streams with gaps and garbage end with
a clear status, never UNKNOWN."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from .conftest import stored

pytestmark = pytest.mark.slow

NUL = "\x00"

# (record payload, words the rejection reason must hold)
BAD: list[tuple[dict[str, Any], list[str]]] = [
    ({"history": pb.HistoryRow(step=1, keys=[f"a{NUL}b"], values=[1.0])}, ["history row at step 1", "NUL"]),
    ({"history": pb.HistoryRow(step=1, keys=["ok"], values=[1.0], json_keys=["t"], json_values=['"x\\u0000y"'])}, ["value of 't'", "NUL"]),
    ({"history": pb.HistoryRow(step=1, keys=["ok"], values=[1.0], json_keys=["t"], json_values=['"\\udc80"'])}, ["value of 't'", "Unicode"]),
    ({"history": pb.HistoryRow(step=1, keys=["ok"], values=[1.0], json_keys=["t"], json_values=["[" * 70 + "]" * 70])}, ["nested more than 64"]),
    ({"history": pb.HistoryRow(step=1, keys=["ok"], values=[1.0], json_keys=["t"], json_values=["{nope"])}, ["not valid JSON"]),
    ({"history": pb.HistoryRow(step=2**63 - 1, keys=["ok"], values=[1.0])}, ["step must be between 0 and 9007199254740991"]),
    ({"history": pb.HistoryRow(step=-5, keys=["ok"], values=[1.0])}, ["step must be between"]),
    ({"history": pb.HistoryRow(step=1, timestamp=math.nan, keys=["ok"], values=[1.0])}, ["HistoryRow.timestamp", "nan"]),
    ({"history": pb.HistoryRow(step=1, keys=["_step"], values=[1.0])}, ["reserved"]),
    ({"history": pb.HistoryRow(step=1, keys=["system/cpu"], values=[1.0])}, ["'system/' namespace"]),
    ({"history": pb.HistoryRow(step=1, keys=["a", "b"], values=[1.0])}, ["differ in length"]),
    ({"summary": pb.SummaryUpdate(set_json=json.dumps({"s": f"x{NUL}"}))}, ["summary update", "NUL"]),
    ({"summary": pb.SummaryUpdate(remove=[f"k{NUL}"])}, ["summary key to remove", "NUL"]),
    ({"summary": pb.SummaryUpdate(set_json="[1, 2]")}, ["summary must be a JSON object"]),
    ({"config": pb.ConfigUpdate(set_json=json.dumps({f"k{NUL}": 1}))}, ["config update", "NUL"]),
    ({"config": pb.ConfigUpdate(set_json=json.dumps({"big": "x" * 1_100_000}))}, ["config is 1,100,011 bytes", "limit is 1,000,000"]),
    ({"output": pb.OutputLines(timestamp=1.0, lines=["fine", f"bad{NUL}"])}, ["console output", "console line 2", "NUL"]),
    ({"output": pb.OutputLines(timestamp=1.0, stream=f"std{NUL}", lines=["x"])}, ["OutputLines.stream"]),
    ({"output": pb.OutputLines(timestamp=math.inf, lines=["x"])}, ["OutputLines.timestamp"]),
    ({"system": pb.SystemMetrics(timestamp=math.nan, keys=["cpu"], values=[1.0])}, ["SystemMetrics.timestamp"]),
    ({"system": pb.SystemMetrics(timestamp=1.7e9, keys=[f"c{NUL}pu"], values=[1.0])}, ["system metrics", "NUL"]),
    ({"update": pb.RunUpdate(name=f"n{NUL}")}, ["run update", "RunUpdate.name", "U+0000"]),
    ({"update": pb.RunUpdate(name="x" * 300)}, ["RunUpdate.name is 300 characters; the limit is 256"]),
    ({"update": pb.RunUpdate(notes=f"n{NUL}")}, ["RunUpdate.notes", "NUL"]),
    ({"update": pb.RunUpdate(group="g\n")}, ["RunUpdate.group", "U+000A"]),
    ({"update": pb.RunUpdate(job_type=f"j{NUL}")}, ["RunUpdate.job_type"]),
    ({"update": pb.RunUpdate(set_tags=True, tags=["ok", f"t{NUL}"])}, ["tag", "U+0000"]),
    ({"finish": pb.Finish(exit_code=1, error=f"Traceback{NUL}")}, ["finish", "Finish.error", "NUL"]),
]


def _call(address: str, key: str, messages: Iterator[Any], raw: bool = False) -> list[pb.ServerMessage]:
    with grpc.insecure_channel(address) as channel:
        if raw:
            stream = channel.stream_stream("/runyard.v1.Ingest/Stream", request_serializer=lambda b: b,
                                           response_deserializer=pb.ServerMessage.FromString)
        else:
            stream = pb_grpc.IngestStub(channel).Stream
        return list(stream(messages, metadata=[("authorization", f"Bearer {key}")], timeout=60))


def _good(seq: int, step: int) -> pb.Record:
    return pb.Record(seq=seq, history=pb.HistoryRow(step=step, timestamp=1.7e9, keys=["good"], values=[float(step)]))


def test_each_bad_record_is_rejected_alone_with_a_reason_naming_it(server: Any, admin_key: str) -> None:
    rid = uuid.uuid4().hex[:10]
    records, bad_seqs = [], {}
    for i, (payload, words) in enumerate(BAD):
        records.append(_good(len(records) + 1, i))
        bad = pb.Record(seq=len(records) + 1, **payload)
        records.append(bad)
        bad_seqs[bad.seq] = words
    records.append(_good(len(records) + 1, len(BAD)))
    records.append(pb.Record(seq=len(records) + 1, finish=pb.Finish(exit_code=0)))
    out = _call(server.ingest_address, admin_key, iter([
        pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid)),
        pb.ClientMessage(batch=pb.RecordBatch(records=records)),
    ]))
    ack = out[-1].ack
    assert ack.seq == len(records)
    reasons = {r.seq: r.reason for r in ack.rejected}
    assert sorted(reasons) == sorted(bad_seqs), reasons
    for seq, words in bad_seqs.items():
        assert f"record {seq} (" in reasons[seq], reasons[seq]
        for word in words:
            assert word in reasons[seq], (word, reasons[seq])
    got = stored(server, rid)
    assert got["keys"]["good"]["steps"] == list(range(len(BAD) + 1))  # every good row around them
    assert got["run"]["state"] == "finished" and got["run"]["last_seq"] == len(records)
    assert got["run"]["error"] == ""  # the refused Finish.error was not stored; the later Finish was


def test_garbage_and_broken_streams_end_with_a_clear_status(server: Any, admin_key: str) -> None:
    rid = uuid.uuid4().hex[:10]
    opener = pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid)).SerializeToString()
    batch = pb.ClientMessage(batch=pb.RecordBatch(records=[_good(1, 0)])).SerializeToString()
    garbage = [
        (b"\xff\xfe\x00garbage", grpc.StatusCode.INVALID_ARGUMENT, "not a valid runyard.v1.ClientMessage"),
        (b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, "not a valid"),
        # parses, but as a record with seq 0 (protobuf skips what it does not know)
        (b"\x12\x05\x0a\x03\x0a\x01\xff", grpc.StatusCode.FAILED_PRECONDITION, "seq 0"),
    ]
    for data, code, text in garbage:
        with pytest.raises(grpc.RpcError) as info:
            _call(server.ingest_address, admin_key, iter([opener, batch, data]), raw=True)
        assert info.value.code() == code and text in info.value.details(), info.value
    assert stored(server, rid)["keys"]["good"]["steps"] == [0]  # what came before the garbage stays
    # a gap after good records, a second OpenRun, a batch first: each a clear status, the server carries on
    cases = [
        ([pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid)),
          pb.ClientMessage(batch=pb.RecordBatch(records=[_good(2, 1), _good(4, 2)]))],
         grpc.StatusCode.FAILED_PRECONDITION, "got 4 after 2; the next record must be 3"),
        ([pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid)),
          pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid))],
         grpc.StatusCode.INVALID_ARGUMENT, "OpenRun may only be the first message"),
        ([pb.ClientMessage(batch=pb.RecordBatch(records=[_good(1, 0)]))],
         grpc.StatusCode.INVALID_ARGUMENT, "the first message of a stream must be OpenRun"),
    ]
    for messages, code, text in cases:
        with pytest.raises(grpc.RpcError) as info:
            _call(server.ingest_address, admin_key, iter(messages))
        assert info.value.code() == code and text in info.value.details(), info.value
    assert stored(server, rid)["keys"]["good"]["steps"] == [0]
    out = _call(server.ingest_address, admin_key, iter([
        pb.ClientMessage(open=pb.OpenRun(project="faults-bad", run_id=rid)),
        pb.ClientMessage(batch=pb.RecordBatch(records=[_good(2, 1), _good(3, 2)])),
    ]))
    assert out[-1].ack.seq == 3 and stored(server, rid)["keys"]["good"]["steps"] == [0, 1, 2]


def test_nul_typed_everywhere_through_the_sdk_never_wedges_a_run(server: Any, sdk_env: dict[str, str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import runyard

    run = runyard.init(project="faults-bad", name="nul-everywhere", config={"lr": 0.1})
    for step in range(500):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.log({f"bad{NUL}key": 1.0, "loss": 0.5}, step=500)
    run.log({"text": f"a{NUL}b"}, step=501)
    run.config["note"] = f"x{NUL}y"
    run.summary[f"s{NUL}"] = 1
    run.summary["best"] = 0.25
    print(f"console line with a NUL {NUL} in it")
    run.name = f"renamed{NUL}"
    run.tags = ["ok", f"t{NUL}"]
    for step in range(502, 2_000):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    got = stored(server, run.id)
    assert got["run"]["state"] == "finished"  # finish() was acknowledged: nothing wedged
    steps = got["keys"]["loss"]["steps"]
    # the row with the NUL key is cleaned by the SDK or refused by the server; every other row is stored
    assert [s for s in steps if s != 500] == [s for s in range(2_000) if s not in (500, 501)]
    assert got["run"]["summary"]["best"] == 0.25
    assert got["run"]["config"]["lr"] == 0.1
    assert all(NUL not in json.dumps(v) for v in (got["run"]["summary"], got["run"]["config"], got["run"]["name"]))


def test_sync_of_a_folder_holding_nul_records_uploads_the_rest(server: Any, sdk_env: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import runyard
    from runyard._sync import sync_run
    from runyard.settings import resolve

    monkeypatch.setenv("RUNYARD_MODE", "offline")
    run = runyard.init(project="faults-bad", name="offline-nul")
    for step in range(300):
        run.log({"x": float(step)}, step=step)
        if step == 150:
            run.log({f"k{NUL}": 1.0}, step=step)
            run.summary[f"s{NUL}"] = 2
    run.finish()
    monkeypatch.delenv("RUNYARD_MODE")
    folder = next((tmp_path / "runyard-runs").glob("run-*"))
    result = sync_run(folder, settings=resolve({"mode": "online"}), say=lambda _m: None)
    assert result["last_seq"] > 0
    got = stored(server, result["run_id"])
    assert got["keys"]["x"]["steps"] == list(range(300))
    assert got["run"]["state"] == "finished"
