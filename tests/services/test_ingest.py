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


def test_oversized_key_is_refused_and_nothing_of_the_batch_is_stored(stack, ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    rid = _rid()
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(rid), _rows(1, range(3), ["ok", "k" * 1000])])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1000 characters" in info.value.details()
    assert _points(stack.database_url, rid, "ok") == ([], [])


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


def test_a_row_naming_a_key_twice_is_refused(ingest, admin_key) -> None:  # type: ignore[no-untyped-def]
    row = pb.HistoryRow(step=0, timestamp=0, keys=["a", "a"], values=[1.0, 2.0])
    with pytest.raises(grpc.RpcError) as info:
        _stream(ingest, admin_key, [_open(_rid()), pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=1, history=row)]))])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "twice" in info.value.details()


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
