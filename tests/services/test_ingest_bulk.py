"""Ingest.Bulk (many runs in one stream) through the SDK's BulkWriter, against real ingest + PostgreSQL:
counts and sequences land exactly, a bad record or a refused run stays alone, replays add nothing, and
write access is decided per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from .world import World, running_world


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    with running_world(stack, artifact=False) as w:
        w.signup_root()
        w.user("alice")
        w.user("bob")
        w.user("carol")
        w.team("vision", "root", {"alice": "member", "carol": "viewer"})
        w.team("secret", "bob", {})
        yield w


def _rows(first_seq: int, steps: range, keys: tuple[str, ...] = ("loss", "acc")) -> list[bytes]:
    return [pb.Record(seq=first_seq + n, history=pb.HistoryRow(
        step=s, timestamp=1.7e9 + s, keys=list(keys), values=[s + i / 10 for i in range(len(keys))]
    )).SerializeToString() for n, s in enumerate(steps)]


def _finish(seq: int) -> bytes:
    return pb.Record(seq=seq, finish=pb.Finish(exit_code=0, time=1.7e9)).SerializeToString()


def _writer(w: World, who: str, **kw: Any) -> Any:
    from runyard._bulk import BulkWriter

    return BulkWriter("http://unused.invalid", w.keys[who], ingest_address=w.ingest_address, **kw)


def _groups(outcome: str) -> float:
    """Ingest.Bulk groups of more than one request so far (the world's ingest runs in this process)."""
    from runyard_server.ingest import metrics

    return float(metrics.BULK_GROUPS.labels(outcome)._value.get())


def _stored(w: World, project: str) -> dict[str, dict[str, Any]]:
    rows = w.sql("""SELECT r.run_id, r.last_seq, r.state, r.next_step,
                           (SELECT coalesce(sum(c.n), 0) FROM history_chunks c JOIN history_keys k
                              ON k.run_id = c.run_id AND k.key_id = c.key_id
                             WHERE c.run_id = r.id AND k.key <> '_timestamp') AS points
                      FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1""", project)
    return {r["run_id"]: dict(r) for r in rows}


def test_many_runs_land_exactly_and_a_replay_adds_nothing(world: World) -> None:
    runs = {f"bulk-{i:03d}": 30 + i for i in range(40)}  # run id -> steps
    runs["bulk-long"] = 5_000  # cut into several requests (max_records below)

    def write_all() -> list[Any]:
        with _writer(world, "alice", max_records=1_000, window=8) as bulk:
            for rid, steps in runs.items():
                bulk.write(pb.OpenRun(project="bulk", run_id=rid, config_json=json.dumps({"steps": steps}),
                                      tags=["bulk"], resume="allow"),
                           [*_rows(1, range(steps)), _finish(steps + 1)])
        return list(bulk.runs)

    committed = _groups("committed")
    first = write_all()
    assert _groups("committed") > committed  # several runs went in one transaction
    assert [r.ok for r in first] == [True] * len(runs)
    assert {r.run_id: r.acked for r in first} == {rid: steps + 1 for rid, steps in runs.items()}
    stored = _stored(world, "bulk")
    want = {rid: {"last_seq": steps + 1, "state": "finished", "next_step": steps, "points": 2 * steps}
            for rid, steps in runs.items()}
    assert {rid: {k: r[k] for k in ("last_seq", "state", "next_step", "points")} for rid, r in stored.items()} == want

    again = write_all()  # the same records again: every one is a replay
    assert all(r.ok and r.opened is not None and r.opened.resumed for r in again)
    assert _stored(world, "bulk") == stored


def test_a_bad_record_or_a_gap_stays_in_its_own_run(world: World) -> None:
    bad = pb.Record(seq=3, history=pb.HistoryRow(step=2, timestamp=1.7e9, keys=["_step"], values=[1.0]))
    with _writer(world, "alice") as bulk:
        ok = bulk.write(pb.OpenRun(project="bulk-bad", run_id="fine"), _rows(1, range(10)))
        rejected = bulk.write(pb.OpenRun(project="bulk-bad", run_id="one-bad"),
                              [*_rows(1, range(2)), bad.SerializeToString(), *_rows(4, range(3, 10))])
        gap = bulk.write(pb.OpenRun(project="bulk-bad", run_id="gap"), [*_rows(1, range(3)), *_rows(7, range(3, 5))])
        after = bulk.write(pb.OpenRun(project="bulk-bad", run_id="after"), _rows(1, range(4)))
    assert ok.ok and after.ok and rejected.ok
    assert [seq for seq, _ in rejected.rejected] == [3] and "reserved" in rejected.rejected[0][1]
    assert rejected.acked == 10
    assert gap.code == "FAILED_PRECONDITION" and "gap" in gap.refused
    stored = _stored(world, "bulk-bad")
    assert {rid: (r["last_seq"], r["points"]) for rid, r in stored.items()} == {
        "fine": (10, 20), "one-bad": (10, 18), "after": (4, 8), "gap": (0, 0)}  # opened, no records stored


def test_write_access_is_decided_per_run_as_a_stream_decides_it(world: World) -> None:
    with _writer(world, "alice") as bulk:
        own = bulk.write(pb.OpenRun(project="mixed", run_id="own"), _rows(1, range(5)))
        team = bulk.write(pb.OpenRun(entity="vision", project="mixed", run_id="team"), _rows(1, range(5)))
        other = bulk.write(pb.OpenRun(entity="secret", project="mixed", run_id="nope"), _rows(1, range(5)))
        last = bulk.write(pb.OpenRun(project="mixed", run_id="last"), _rows(1, range(5)))
    with _writer(world, "alice") as bulk:  # (runs of one stream may be applied in any order: a later stream)
        never = bulk.write(pb.OpenRun(project="mixed", run_id="own", resume="never"), _rows(1, range(5)))
        again = bulk.write(pb.OpenRun(project="mixed", run_id="again"), _rows(1, range(5)))
    with _writer(world, "carol") as bulk:
        viewer = bulk.write(pb.OpenRun(entity="vision", project="mixed", run_id="viewed"), _rows(1, range(5)))
        mine = bulk.write(pb.OpenRun(project="mixed", run_id="carols"), _rows(1, range(5)))
    assert own.ok and team.ok and last.ok and mine.ok and again.ok
    assert never.code == "ALREADY_EXISTS" and never.done
    # the same answers as a Stream of its own: 404 for an entity the key cannot see, 403 for a viewer
    assert other.code == world.open_run("alice", "secret", "mixed")[0].name == "NOT_FOUND"  # type: ignore[union-attr]
    assert viewer.code == world.open_run("carol", "vision", "mixed")[0].name == "PERMISSION_DENIED"  # type: ignore[union-attr]
    assert "viewer" in viewer.refused
    assert not world.sql("SELECT 1 FROM runs WHERE run_id IN ('nope', 'viewed')")
    assert sorted(r["run_id"] for r in world.sql(
        "SELECT r.run_id FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = 'mixed'")) == [
        "again", "carols", "last", "own", "team"]


def test_a_bad_key_ends_the_stream(world: World) -> None:
    with grpc.insecure_channel(world.ingest_address) as channel:
        call = pb_grpc.IngestStub(channel).Bulk(
            iter([pb.BulkRequest(ref=1, open=pb.OpenRun(project="x", run_id="y"))]),
            metadata=[("authorization", "Bearer ry-nope_bad")], timeout=30)
        with pytest.raises(grpc.RpcError) as err:
            list(call)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
