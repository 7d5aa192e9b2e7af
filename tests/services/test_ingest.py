"""The ingest contract over a real gRPC socket into the real embedded PostgreSQL."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc
from runyard_server.common import history_codec
from runyard_server.local import run_coro
from tests.support import db


def _rid() -> str:
    return uuid.uuid4().hex[:10]


def _stream(address: str, key: str, messages: list[pb.ClientMessage]) -> list[pb.ServerMessage]:
    with grpc.insecure_channel(address) as channel:
        call = pb_grpc.IngestStub(channel).Stream(
            iter(messages), metadata=[("authorization", f"Bearer {key}")], timeout=30
        )
        return list(call)


def _open(run_id: str, **kw: object) -> pb.ClientMessage:
    return pb.ClientMessage(open=pb.OpenRun(project=kw.pop("project", "ingest-tests"), run_id=run_id, **kw))  # type: ignore[arg-type]


def _rows(first_seq: int, steps: range, keys: list[str], value=lambda s, i: s + i / 10) -> pb.ClientMessage:  # type: ignore[no-untyped-def]
    records = [
        pb.Record(
            seq=first_seq + n,
            history=pb.HistoryRow(step=s, timestamp=1.7e9 + s, keys=keys, values=[value(s, i) for i in range(len(keys))]),
        )
        for n, s in enumerate(steps)
    ]
    return pb.ClientMessage(batch=pb.RecordBatch(records=records))


def _finish(seq: int, code: int = 0) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=seq, finish=pb.Finish(exit_code=code))]))


def _points(dsn: str, run_id: str, key: str) -> tuple[list[int], list[float]]:
    rows = db.fetch(
        dsn,
        """SELECT c.steps, c.vals FROM history_chunks c
             JOIN runs r ON r.id = c.run_id JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id
            WHERE r.run_id = $1 AND k.key = $2 ORDER BY c.id""",
        run_id, key,
    )
    steps, vals = history_codec.merge([(r["steps"], r["vals"]) for r in rows])
    return steps.tolist(), vals.tolist()


@pytest.fixture()
def ingest(stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    stack.start_ingest()
    yield stack.ingest_address


def test_batches_are_acknowledged_and_stored(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    keys = ["loss", "acc"]
    out = _stream(ingest, admin_key, [
        _open(rid, config_json=json.dumps({"lr": 0.1})),
        _rows(1, range(0, 500), keys),
        _rows(501, range(500, 1000), keys),
        _finish(1001),
    ])
    assert out[0].opened.run_id == rid and not out[0].opened.resumed
    assert [m.ack.seq for m in out[1:]] == [500, 1000, 1001]
    name = out[0].opened.name
    adjective, noun, number = name.split("-")
    assert adjective and noun and int(number) >= 1
    steps, vals = _points(stack.database_url, rid, "acc")
    assert steps == list(range(1000)) and vals == [s + 0.1 for s in range(1000)]
    run = db.fetch(stack.database_url, "SELECT state, config, exit_code, next_step FROM runs WHERE run_id = $1", rid)[0]
    assert (run["state"], run["config"], run["exit_code"], run["next_step"]) == ("finished", {"lr": 0.1}, 0, 1000)


def test_replay_after_reconnect_neither_loses_nor_doubles(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    first = _stream(ingest, admin_key, [_open(rid), _rows(1, range(0, 300), ["x"])])
    assert first[-1].ack.seq == 300
    # The client lost the ack of 201..300 and replays from 201, then goes on.
    second = _stream(ingest, admin_key, [_open(rid), _rows(201, range(200, 600), ["x"]), _finish(601)])
    assert second[0].opened.resumed and second[0].opened.last_seq == 300
    assert second[-1].ack.seq == 601
    steps, _ = _points(stack.database_url, rid, "x")
    assert steps == list(range(600))
    count = db.fetch(
        stack.database_url,
        "SELECT sum(c.n) AS n FROM history_chunks c JOIN runs r ON r.id = c.run_id "
        "JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id WHERE r.run_id = $1 AND k.key = 'x'",
        rid,
    )[0]["n"]
    assert count == 600  # stored once each, even before any dedup on read


def test_reconnect_after_finish_keeps_the_run_finished(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    _stream(ingest, admin_key, [_open(rid), _rows(1, range(10), ["x"]), _finish(11)])
    _stream(ingest, admin_key, [_open(rid), _rows(1, range(10), ["x"]), _finish(11)])
    assert db.fetch(stack.database_url, "SELECT state FROM runs WHERE run_id = $1", rid)[0]["state"] == "finished"


def test_nan_inf_and_lower_steps_are_kept_bit_for_bit(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    weird = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    records = [
        pb.Record(seq=i + 1, history=pb.HistoryRow(step=s, timestamp=0, keys=["v"], values=[v]))
        for i, (s, v) in enumerate(zip([10, 11, 12, 3, 4, 5], weird))
    ]
    _stream(ingest, admin_key, [_open(rid), pb.ClientMessage(batch=pb.RecordBatch(records=records))])
    steps, vals = _points(stack.database_url, rid, "v")
    assert steps == [3, 4, 5, 10, 11, 12]  # the lower steps are stored, not dropped
    by_step = dict(zip(steps, vals))
    expected = dict(zip([10, 11, 12, 3, 4, 5], weird))
    for s in steps:
        assert struct.pack("<d", by_step[s]) == struct.pack("<d", expected[s])


def test_wrong_key_is_refused_with_a_clear_status(ingest) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, "ry_000000000000_not-a-real-key", [_open(_rid())])
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "API key" in info.value.details()


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        (pb.ClientMessage(heartbeat=pb.Heartbeat()), grpc.StatusCode.INVALID_ARGUMENT, "first message"),
        (_open("bad id!"), grpc.StatusCode.INVALID_ARGUMENT, "run id"),
        (_open(_rid(), resume="must"), grpc.StatusCode.NOT_FOUND, "resume='must'"),
    ],
)
def test_bad_open_gets_a_clear_error(ingest, admin_key, message, code, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [message])
    assert info.value.code() == code
    assert text in info.value.details()


def test_resume_never_refuses_an_existing_run(ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    _stream(ingest, admin_key, [_open(rid)])
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(rid, resume="never")])
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_a_row_with_an_oversized_key_is_rejected_alone(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    batch = _rows(1, range(3), ["ok"])
    batch.batch.records.insert(1, pb.Record(seq=2, history=pb.HistoryRow(step=7, keys=["ok", "k" * 1000], values=[1, 2])))
    for n, rec in enumerate(batch.batch.records):
        rec.seq = n + 1
    out = _stream(ingest, admin_key, [_open(rid), batch])
    ack = out[-1].ack
    assert ack.seq == 4 and [r.seq for r in ack.rejected] == [2]
    assert "record 2 (history row at step 7)" in ack.rejected[0].reason and "1000 characters" in ack.rejected[0].reason
    assert _points(stack.database_url, rid, "ok") == ([0, 1, 2], [0.0, 1.0, 2.0])  # the others are stored


def test_summary_config_and_output_are_stored(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    records = [
        pb.Record(seq=1, summary=pb.SummaryUpdate(set_json=json.dumps({"best": 0.5, "gone": 1}))),
        pb.Record(seq=2, summary=pb.SummaryUpdate(set_json=json.dumps({"best": 0.9}), remove=["gone"])),
        pb.Record(seq=3, config=pb.ConfigUpdate(set_json=json.dumps({"layers": 3}))),
        pb.Record(seq=4, output=pb.OutputLines(timestamp=1.0, stream="stdout", lines=["epoch 1", "epoch 2"])),
        pb.Record(seq=5, update=pb.RunUpdate(notes="tuned", set_tags=True, tags=["best"])),
    ]
    _stream(ingest, admin_key, [_open(rid, config_json='{"lr": 1}'), pb.ClientMessage(batch=pb.RecordBatch(records=records)), _finish(6, code=3)])
    run = db.fetch(stack.database_url, "SELECT * FROM runs WHERE run_id = $1", rid)[0]
    assert run["summary"] == {"best": 0.9}
    assert run["config"] == {"lr": 1, "layers": 3}
    assert (run["notes"], run["tags"], run["state"], run["exit_code"]) == ("tuned", ["best"], "failed", 3)
    lines = db.fetch(stack.database_url, "SELECT line FROM run_output WHERE run_id = $1 ORDER BY line_no", run["id"])
    assert [r["line"] for r in lines] == ["epoch 1", "epoch 2"]


def test_many_small_batches_are_compacted(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    msgs = [_open(rid)] + [_rows(1 + i * 2, range(i * 2, i * 2 + 2), ["a"]) for i in range(200)]
    _stream(ingest, admin_key, msgs)
    def chunks() -> int:
        return int(db.fetch(
            stack.database_url,
            "SELECT count(*) AS c FROM history_chunks c JOIN runs r ON r.id = c.run_id WHERE r.run_id = $1",
            rid,
        )[0]["c"])

    deadline = time.monotonic() + 10  # compaction runs in the background, after the acks
    while chunks() >= 100 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert chunks() < 100  # 400 chunks were written (200 batches x 2 keys); compaction merged them
    steps, vals = _points(stack.database_url, rid, "a")
    assert steps == list(range(400)) and vals == [float(s) for s in range(400)]


def test_run_without_heartbeat_becomes_crashed(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    # The test ingest runs with RUNYARD_HEARTBEAT_TIMEOUT_S=5 and a 1 s check interval.
    rid, alive = _rid(), _rid()
    _stream(ingest, admin_key, [_open(rid), _rows(1, range(3), ["x"])])

    def keep_alive() -> Iterator[pb.ClientMessage]:
        yield _open(alive)
        for _ in range(9):
            time.sleep(1)
            yield pb.ClientMessage(heartbeat=pb.Heartbeat(time=time.time()))

    with grpc.insecure_channel(ingest) as channel:
        call = pb_grpc.IngestStub(channel).Stream(keep_alive(), metadata=[("authorization", f"Bearer {admin_key}")])
        list(call)
    states = {r["run_id"]: r["state"] for r in db.fetch(stack.database_url, "SELECT run_id, state FROM runs WHERE run_id = ANY($1)", [rid, alive])}
    assert states == {rid: "crashed", alive: "running"}


def test_migrate_is_idempotent_and_safe_from_two_processes(stack) -> None:  # type: ignore[no-untyped-def]
    name = "mig_" + uuid.uuid4().hex[:8]
    db.execute(stack.database_url, f"CREATE DATABASE {name}")
    dsn = db.database_url(stack.database_url, name)
    env = {"RUNYARD_DATABASE_URL": dsn, "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "runyard_server.cli", "migrate"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted("schema up to date" in o for o in outs) == [False, True], outs
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert "schema up to date" in again.stdout
    versions = db.fetch(dsn, "SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in versions] == sorted({r["version"] for r in versions})


def test_a_key_revoked_mid_stream_is_refused_within_5_seconds(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    from runyard_server.common.security import new_api_key

    key, prefix, digest = new_api_key()
    db.execute(
        stack.database_url,
        "INSERT INTO api_keys (user_id, prefix, key_hash, name) "
        "SELECT u.id, $1, $2, 'revoke-me' FROM users u WHERE u.is_admin ORDER BY u.id LIMIT 1",
        prefix, digest,
    )
    rid = _rid()
    revoked_at: list[float] = []

    def messages() -> Iterator[pb.ClientMessage]:
        yield _open(rid)
        for i in range(40):
            if i == 4:
                db.execute(stack.database_url, "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", prefix)
                revoked_at.append(time.monotonic())
            yield _rows(1 + i, range(i, i + 1), ["x"])
            time.sleep(0.25)

    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, key, messages())  # type: ignore[arg-type]
    refused_after = time.monotonic() - revoked_at[0]
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in info.value.details()
    assert refused_after < 5.0


def test_editing_a_finished_run_keeps_it_finished_and_logging_resumes_it(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    _stream(ingest, admin_key, [_open(rid), _rows(1, range(3), ["x"]), _finish(4)])
    edit = pb.Record(seq=5, config=pb.ConfigUpdate(set_json='{"note": "edited later"}'))
    tags = pb.Record(seq=6, update=pb.RunUpdate(set_tags=True, tags=["reviewed"]))
    _stream(ingest, admin_key, [_open(rid, resume="must"), pb.ClientMessage(batch=pb.RecordBatch(records=[edit, tags]))])
    run = db.fetch(stack.database_url, "SELECT state, config, tags FROM runs WHERE run_id = $1", rid)[0]
    assert (run["state"], run["config"]["note"], run["tags"]) == ("finished", "edited later", ["reviewed"])
    _stream(ingest, admin_key, [_open(rid, resume="must"), _rows(7, range(3, 5), ["x"])])
    assert db.fetch(stack.database_url, "SELECT state FROM runs WHERE run_id = $1", rid)[0]["state"] == "running"


def test_rows_with_different_key_sets_keep_arrival_order(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    rows = [(0, {"a": 1.0, "b": 2.0}), (0, {"a": 5.0}), (1, {"b": 8.0, "a": 7.0}), (1, {"a": 9.0, "c": 3.0})]
    records = [
        pb.Record(seq=i + 1, history=pb.HistoryRow(step=s, timestamp=0, keys=list(r), values=list(r.values())))
        for i, (s, r) in enumerate(rows)
    ]
    _stream(ingest, admin_key, [_open(rid), pb.ClientMessage(batch=pb.RecordBatch(records=records))])
    assert _points(stack.database_url, rid, "a") == ([0, 1], [5.0, 9.0])  # the later point of a step wins
    assert _points(stack.database_url, rid, "b") == ([0, 1], [2.0, 8.0])
    assert _points(stack.database_url, rid, "c") == ([1], [3.0])


def test_a_row_naming_a_key_twice_is_rejected_alone(ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    row = pb.HistoryRow(step=0, timestamp=0, keys=["a", "a"], values=[1.0, 2.0])
    out = _stream(ingest, admin_key, [_open(_rid()), pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=1, history=row)]))])
    assert out[-1].ack.seq == 1 and "twice" in out[-1].ack.rejected[0].reason


def test_a_member_made_viewer_mid_stream_stops_writing_within_5_seconds(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    from runyard_server.common.security import hash_password, new_api_key

    suffix = uuid.uuid4().hex[:6]
    user, team = f"member-{suffix}", f"team-{suffix}"
    key, prefix, digest = new_api_key()
    db.execute(
        stack.database_url,
        """WITH u AS (INSERT INTO users (username, password_hash) VALUES ($1, $3) RETURNING id),
                e AS (INSERT INTO entities (name, kind, user_id) SELECT $1, 'user', id FROM u),
                t AS (INSERT INTO entities (name, kind) VALUES ($2, 'team') RETURNING id),
                k AS (INSERT INTO api_keys (user_id, prefix, key_hash) SELECT id, $4, $5 FROM u)
           INSERT INTO team_members (team_id, user_id, role) SELECT t.id, u.id, 'member' FROM t, u""",
        user, team, hash_password("x" * 12), prefix, digest,
    )
    rid = _rid()
    demoted_at: list[float] = []

    def messages() -> Iterator[pb.ClientMessage]:
        yield _open(rid, entity=team)
        for i in range(40):
            if i == 4:
                db.execute(
                    stack.database_url,
                    "UPDATE team_members SET role = 'viewer' WHERE user_id = (SELECT id FROM users WHERE username = $1)",
                    user,
                )
                demoted_at.append(time.monotonic())
            yield _rows(1 + i, range(i, i + 1), ["x"])
            time.sleep(0.25)

    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, key, messages())  # type: ignore[arg-type]
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "no longer write" in info.value.details() and "viewer" in info.value.details()
    assert time.monotonic() - demoted_at[0] < 5.0
    assert len(_points(stack.database_url, rid, "x")[0]) >= 4  # what came before stays stored


def test_reopening_a_run_changes_neither_its_config_nor_updated_at(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    _stream(ingest, admin_key, [_open(rid, config_json='{"lr": 1}'), _rows(1, range(2), ["x"]), _finish(3)])
    before = db.fetch(stack.database_url, "SELECT config, updated_at FROM runs WHERE run_id = $1", rid)[0]
    _stream(ingest, admin_key, [_open(rid, config_json='{"lr": 2}', sync=True), _rows(1, range(2), ["x"])])
    after = db.fetch(stack.database_url, "SELECT config, updated_at, state FROM runs WHERE run_id = $1", rid)[0]
    assert after["config"] == {"lr": 1} and after["updated_at"] == before["updated_at"]
    assert after["state"] == "finished"


def _batch(*records: pb.Record) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=list(records)))


def _state(stack, rid: str) -> str:  # type: ignore[no-untyped-def]
    return str(db.fetch(stack.database_url, "SELECT state FROM runs WHERE run_id = $1", rid)[0]["state"])


@pytest.mark.parametrize(
    ("first_seqs", "text"),
    [
        ([1, 2, 5], "got 5 after 2; the next record must be 3"),
        ([2], "got 2 after 0; the next record must be 1"),
        ([1, 0], "seq 0 came after 1"),
        ([1, 2, 2], "got 2 after 2"),
    ],
)
def test_a_sequence_gap_ends_the_stream_and_stores_nothing_of_its_batch(stack, ingest, admin_key, first_seqs, text) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    records = [pb.Record(seq=q, history=pb.HistoryRow(step=i, keys=["x"], values=[i])) for i, q in enumerate(first_seqs)]
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(rid), _batch(*records)])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert text in info.value.details()
    assert _points(stack.database_url, rid, "x") == ([], [])
    assert db.fetch(stack.database_url, "SELECT last_seq FROM runs WHERE run_id = $1", rid)[0]["last_seq"] == 0


def test_replays_below_last_seq_are_skipped_and_the_next_record_continues(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    _stream(ingest, admin_key, [_open(rid), _rows(1, range(5), ["x"])])
    out = _stream(ingest, admin_key, [_open(rid), _rows(3, range(2, 8), ["x"])])  # 3..5 again, then 6..8
    assert out[-1].ack.seq == 8 and not out[-1].ack.rejected
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(rid), _rows(10, range(9, 10), ["x"])])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "got 10 after 8" in info.value.details()
    assert _points(stack.database_url, rid, "x")[0] == list(range(8))


@pytest.mark.parametrize(
    ("open_kw", "code", "text"),
    [
        ({"name": "a\x00b"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.name"),
        ({"name": "n" * 10_000_000}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.name is 10,000,000 characters; the limit is 256"),
        ({"notes": "x\x00"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.notes contains a NUL"),
        ({"tags": ["ok", "bad\x00"]}, grpc.StatusCode.INVALID_ARGUMENT, "tag"),
        ({"tags": [f"t{i}" for i in range(300)]}, grpc.StatusCode.INVALID_ARGUMENT, "300 tags; the limit is 256"),
        ({"group": "g\x00"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.group"),
        ({"job_type": "j" * 500}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.job_type"),
        ({"host": "h\x00"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.host"),
        ({"entity": "e\x00"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.entity"),
        ({"start_time": math.nan}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.start_time must be unix seconds"),
        ({"start_time": 1e300}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.start_time"),
        ({"config_json": "[" * 5000 + "]" * 5000}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.config_json"),
        ({"config_json": json.dumps({"deep": json.loads("[" * 100 + "]" * 100)})},
         grpc.StatusCode.INVALID_ARGUMENT, "nested more than 64 levels"),
        ({"config_json": json.dumps({"k": "v\x00"})}, grpc.StatusCode.INVALID_ARGUMENT, "NUL"),
        ({"config_json": '{"k": "\\ud800"}'}, grpc.StatusCode.INVALID_ARGUMENT, "not valid Unicode"),
        ({"config_json": json.dumps({"big": "x" * 20_000_000})}, grpc.StatusCode.RESOURCE_EXHAUSTED, "the limit is 1,000,000"),
        ({"config_json": "{not json"}, grpc.StatusCode.INVALID_ARGUMENT, "OpenRun.config_json is not valid JSON"),
        ({"config_json": "[1]"}, grpc.StatusCode.INVALID_ARGUMENT, "must be a JSON object"),
    ],
    ids=lambda v: repr(v)[:40] if not isinstance(v, grpc.StatusCode) else v.name,
)
def test_malformed_open_answers_a_clear_status_naming_the_field(ingest, admin_key, open_kw, code, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(_rid(), **open_kw)])
    assert info.value.code() == code, info.value.details()
    assert text in info.value.details()
    assert "Traceback" not in info.value.details() and "<class" not in info.value.details()


def test_sync_never_changes_a_runs_state_except_by_its_finish(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    crashed = _rid()
    _stream(ingest, admin_key, [_open(crashed), _rows(1, range(3), ["x"])])
    db.fetch(stack.database_url, "UPDATE runs SET state = 'crashed' WHERE run_id = $1", crashed)
    # a sync of the same folder later: more records and heartbeats, but no Finish -> still crashed
    _stream(ingest, admin_key, [_open(crashed, sync=True), _rows(4, range(3, 6), ["x"]),
                                pb.ClientMessage(heartbeat=pb.Heartbeat(time=time.time()))])
    assert _state(stack, crashed) == "crashed"
    assert _points(stack.database_url, crashed, "x")[0] == list(range(6))
    # a run that only a sync ever saw starts crashed (nobody reports for it) and its Finish finishes it
    fresh, done = _rid(), _rid()
    _stream(ingest, admin_key, [_open(fresh, sync=True), _rows(1, range(3), ["x"])])
    _stream(ingest, admin_key, [_open(done, sync=True), _rows(1, range(3), ["x"]), _finish(4, code=2)])
    assert (_state(stack, fresh), _state(stack, done)) == ("crashed", "failed")
    # a live stream (not sync) resuming the crashed run does make it running again
    _stream(ingest, admin_key, [_open(crashed), _rows(7, range(6, 7), ["x"])])
    assert _state(stack, crashed) == "running"


def test_a_value_postgresql_refuses_is_isolated_and_the_rest_of_the_batch_commits(stack, admin_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Validation catches every value we know PostgreSQL refuses; should one slip through, the batch is
    bisected under savepoints and only that record is rejected (here validation is switched off for NUL)."""
    from runyard_server.common.verifier import authenticate
    from runyard_server.ingest import validate, writer

    monkeypatch.setattr(validate, "text", lambda field, value, limit, single_line=True: value)
    monkeypatch.setattr(validate, "_bad_string", lambda s: "")
    records = [pb.Record(seq=i + 1, history=pb.HistoryRow(step=i, keys=["x"], values=[i])) for i in range(10)]
    records[3] = pb.Record(seq=4, output=pb.OutputLines(timestamp=1.0, lines=["fine", "bad\x00line"]))
    records[6] = pb.Record(seq=7, summary=pb.SummaryUpdate(set_json='{"s": "nul\\u0000"}'))
    records.append(pb.Record(seq=11, output=pb.OutputLines(timestamp=2.0, lines=["after"])))
    rid = _rid()

    async def go() -> writer.BatchResult:
        async with db.connect(stack.database_url) as conn:
            who = await authenticate(conn, admin_key)
            run = await writer.open_run(conn, who, pb.OpenRun(project="ingest-tests", run_id=rid), writer.Limits())
            result = await writer.write_batch(conn, run, records, writer.Limits())
            again = await writer.write_batch(conn, run, [pb.Record(seq=12, history=pb.HistoryRow(step=20, keys=["x"], values=[20]))], writer.Limits())
            assert again.seq == 12 and not again.rejected  # keys and state stayed consistent
            return result

    result = run_coro(go())
    assert result.seq == 11 and [seq for seq, _, _ in result.rejected] == [4, 7]
    assert "record 4 (console output)" in result.rejected[0][1] and "NUL" in result.rejected[0][1]
    assert "record 7 (summary update)" in result.rejected[1][1]
    steps, _ = _points(stack.database_url, rid, "x")
    assert steps == [0, 1, 2, 4, 5, 7, 8, 9, 20]
    run = db.fetch(stack.database_url, "SELECT id, last_seq, summary FROM runs WHERE run_id = $1", rid)[0]
    assert run["last_seq"] == 12 and "s" not in run["summary"]
    lines = db.fetch(stack.database_url, "SELECT line_no, line FROM run_output WHERE run_id = $1 ORDER BY line_no", run["id"])
    assert [(r["line_no"], r["line"]) for r in lines] == [(0, "after")]
