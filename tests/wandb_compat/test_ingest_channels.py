"""The ingest additions the W&B protocol uses, over a real gRPC stream: channels, unsequenced records,
console lines written at a line number (the contract in runyard_proto/v1/ingest.proto)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

pytestmark = pytest.mark.e2e
PROJECT = "ingest-channels"


def _stream(stack: Any, key: str, run_id: str, *batches: list[pb.Record]) -> list[pb.ServerMessage]:
    messages = [pb.ClientMessage(open=pb.OpenRun(project=PROJECT, run_id=run_id))]
    messages += [pb.ClientMessage(batch=pb.RecordBatch(records=b)) for b in batches]
    with grpc.insecure_channel(stack.ingest_address) as channel:
        return list(pb_grpc.IngestStub(channel).Stream(iter(messages), metadata=[("authorization", f"Bearer {key}")],
                                                       timeout=30))


def _row(seq: int, step: int, value: float, channel: str = "") -> pb.Record:
    return pb.Record(seq=seq, channel=channel, history=pb.HistoryRow(step=step, timestamp=1.7e9, keys=["y"],
                                                                     values=[value]))


def _points(stack: Any, run_id: str) -> int:
    rows = stack.fetch("""SELECT coalesce(sum(c.n), 0) AS n FROM history_chunks c JOIN runs r ON r.id = c.run_id
                           JOIN history_keys k ON k.run_id = r.id AND k.key_id = c.key_id
                          WHERE r.run_id = $1 AND k.key = 'y'""", run_id)
    return int(rows[0]["n"])


def _refused(stack: Any, key: str, run_id: str, records: list[pb.Record]) -> str:
    with pytest.raises(grpc.RpcError) as err:
        _stream(stack, key, run_id, records)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value
    return err.value.details() or ""


def test_channels_are_strict_sequences_with_their_own_replay_guard(stack: Any, admin_key: str) -> None:
    stack.start_ingest()
    run_id = uuid.uuid4().hex[:10]
    first = _stream(stack, admin_key, run_id, [_row(1, 0, 1.0, "a"), _row(2, 1, 2.0, "a"), _row(1, 2, 3.0, "b")],
                    [_row(1, 3, 4.0)])
    acks = [m.ack for m in first if m.HasField("ack")]
    assert dict(acks[0].channel_seqs) == {"a": 2, "b": 1} and acks[0].seq == 0  # the main sequence did not move
    assert acks[1].seq == 1 and not acks[1].channel_seqs
    # resent: every sequence skips what it has (the main one too); the new a:3 goes in
    replies = _stream(stack, admin_key, run_id, [_row(1, 0, 1.0, "a"), _row(2, 1, 2.0, "a"), _row(1, 2, 3.0, "b"),
                                                 _row(1, 3, 4.0), _row(3, 4, 5.0, "a")])
    opened = replies[0].opened
    assert dict(opened.channel_seqs) == {"a": 2, "b": 1} and opened.last_seq == 1
    assert dict(replies[-1].ack.channel_seqs) == {"a": 3}
    assert _points(stack, run_id) == 5  # steps 0..3 once each, plus a:3
    run = stack.fetch("SELECT last_seq, channel_seqs FROM runs WHERE run_id = $1", run_id)[0]
    assert run["last_seq"] == 1 and run["channel_seqs"] == {"a": 3, "b": 1}
    # each sequence is strict on its own: a gap in a channel, or in the main sequence, ends the stream and
    # stores nothing of its batch; a channel record needs a number
    assert "gap on channel 'a': got 7 after 5; the next record must be 6" in _refused(
        stack, admin_key, run_id, [_row(4, 5, 0.0, "a"), _row(5, 6, 0.0, "a"), _row(7, 7, 0.0, "a")])
    assert "got 3 after 1; the next record must be 2" in _refused(
        stack, admin_key, run_id, [_row(1, 8, 0.0, "c"), _row(3, 9, 0.0)])
    assert "needs a sequence number" in _refused(stack, admin_key, run_id, [_row(0, 10, 0.0, "a")])
    assert _points(stack, run_id) == 5
    assert "at most 64 characters" in _refused(stack, admin_key, run_id, [_row(1, 11, 0.0, "x" * 65)])


def test_a_refused_channel_record_is_settled_and_named_with_its_channel(stack: Any, admin_key: str) -> None:
    stack.start_ingest()
    run_id = uuid.uuid4().hex[:10]
    bad = pb.Record(seq=2, channel="a", history=pb.HistoryRow(step=1, timestamp=1.7e9, keys=["k" * 300], values=[1.0]))
    replies = _stream(stack, admin_key, run_id, [_row(1, 0, 1.0, "a"), bad, _row(3, 2, 3.0, "a")])
    ack = replies[-1].ack
    assert dict(ack.channel_seqs) == {"a": 3}
    (rejected,) = ack.rejected
    assert (rejected.seq, rejected.channel) == (2, "a")
    assert "record 2 of channel 'a' (history row at step 1)" in rejected.reason and "256" in rejected.reason
    assert _points(stack, run_id) == 2


def test_unsequenced_records_apply_every_time_and_only_idempotent_kinds(stack: Any, admin_key: str) -> None:
    stack.start_ingest()
    run_id = uuid.uuid4().hex[:10]
    out = [pb.Record(seq=0, output=pb.OutputLines(timestamp=1.0, stream="stdout", lines=["a", "b"], first_line=0))]
    summary = [pb.Record(seq=0, summary=pb.SummaryUpdate(set_json='{"s": 1}'))]
    _stream(stack, admin_key, run_id, out + summary)
    # rewritten line 1 (a progress bar), resent line 0: replaced in place, never appended
    replies = _stream(stack, admin_key, run_id, [
        pb.Record(seq=0, output=pb.OutputLines(timestamp=2.0, stream="stderr", lines=["a", "b done"], first_line=0)),
        pb.Record(seq=0, summary=pb.SummaryUpdate(set_json='{"s": 2}')),
    ])
    assert replies[-1].ack.seq == 0  # nothing sequenced: the main sequence did not move
    lines = stack.fetch("SELECT o.line_no, o.stream, o.line FROM run_output o JOIN runs r ON r.id = o.run_id "
                        "WHERE r.run_id = $1 ORDER BY o.line_no", run_id)
    assert [(r["line_no"], r["stream"], r["line"]) for r in lines] == [(0, "stderr", "a"), (1, "stderr", "b done")]
    run = stack.fetch("SELECT output_lines, summary, last_seq FROM runs WHERE run_id = $1", run_id)[0]
    assert (run["output_lines"], run["summary"], run["last_seq"]) == (2, {"s": 2}, 0)
    # seq 0 is only for idempotent edits: a history row or appended console lines need a number (main's rule)
    for record in (_row(0, 0, 1.0), pb.Record(seq=0, output=pb.OutputLines(lines=["appended"]))):
        assert "seq 0 is only for idempotent edits" in _refused(stack, admin_key, run_id, [record])
