"""Batches assembled from WAL frames parse as the protobuf ClientMessage (no server)."""

from __future__ import annotations

import math

from runyard._items import ConfigItem, FinishItem, HistoryItem, SummaryItem
from runyard._records import RecordBuilder
from runyard._wire import batch_message
from runyard_proto.v1 import ingest_pb2 as pb


def test_batch_message_matches_protobuf() -> None:
    b = RecordBuilder()
    items = [HistoryItem(i, 1000.0 + i, {"a": float(i), "big": "x" * (200 * i)}) for i in range(5)]
    frames = b.build(items)
    raw = batch_message([f[1] for f in frames])
    msg = pb.ClientMessage.FromString(raw)
    assert msg.WhichOneof("msg") == "batch"
    expected = pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record.FromString(f[1]) for f in frames]))
    assert msg == expected
    assert raw == expected.SerializeToString()
    assert [r.seq for r in msg.batch.records] == list(range(1, len(frames) + 1))


def test_builder_summary_and_order() -> None:
    b = RecordBuilder()
    frames = b.build(
        [
            HistoryItem(0, 1.0, {"loss": 1.0, "acc": math.nan}),
            SummaryItem({"loss": 0.5}, []),
            HistoryItem(1, 2.0, {"loss": 2.0, "acc": 0.9, "_step": 3, "system/x": 1, "k" * 300: 1}),
            ConfigItem({"lr": 0.1}, []),
            FinishItem(0, None, 3.0),
        ]
    )
    recs = [pb.Record.FromString(f[1]) for f in frames]
    kinds = [r.WhichOneof("payload") for r in recs]
    # auto summary of rows before the explicit set comes first, so the explicit value wins on the server
    assert kinds == ["history", "summary", "summary", "history", "config", "summary", "finish"]
    assert recs[1].summary.set_json == '{"loss":1.0,"acc":"NaN"}'
    assert recs[2].summary.set_json == '{"loss":0.5}'
    assert list(recs[3].history.keys) == ["loss", "acc"]  # refused keys dropped
    assert recs[5].summary.set_json == '{"acc":0.9}'  # loss is explicit now
    assert [r.seq for r in recs] == list(range(1, 8))


def test_fast_and_slow_paths_agree() -> None:
    """Rows of plain numbers take the hand-encoded fast path; mixed rows the protobuf-object path.
    Both must give what protobuf itself would."""
    import numpy as np

    b = RecordBuilder()
    rows = [
        {"a": 1, "b": 2.5, "c": True, "d": np.float32(0.1), "e": np.int64(-3)},  # fast path
        {"a": 1, "b": 2.5, "c": True, "d": np.float32(0.1), "e": "text"},  # same keys, not all numbers
        {"a": math.nan, "_runtime": 1.0, "x": [1, 2], "y": None},  # refused key, json values
        {"a": 10**400},  # too big for a double: JSON
    ]
    frames = b.build([HistoryItem(i * 7, 100.0 + i, r) for i, r in enumerate(rows)])
    recs = [pb.Record.FromString(f[1]) for f in frames]
    h = [r.history for r in recs if r.WhichOneof("payload") == "history"]
    assert len(h) == 4
    assert (h[0].step, h[0].timestamp) == (0, 100.0)
    assert list(h[0].keys) == ["a", "b", "c", "d", "e"]
    assert list(h[0].values) == [1.0, 2.5, 1.0, float(np.float32(0.1)), -3.0]
    assert list(h[1].keys) == ["a", "b", "c", "d"] and list(h[1].json_keys) == ["e"]
    assert list(h[1].json_values) == ['"text"']
    assert list(h[2].keys) == ["a"] and math.isnan(h[2].values[0])
    assert list(h[2].json_keys) == ["x", "y"] and list(h[2].json_values) == ["[1,2]", "null"]
    assert h[3].step == 21 and list(h[3].json_keys) == ["a"] and not h[3].keys
    for f in frames:  # canonical: identical to protobuf's own serialization
        assert f[1] == pb.Record.FromString(f[1]).SerializeToString()


def test_bulk_request_matches_protobuf() -> None:
    from runyard._bulk import bulk_request

    frames = RecordBuilder().build([HistoryItem(i, 1000.0 + i, {"a": float(i)}) for i in range(3)])
    open_run = pb.OpenRun(project="p", run_id="r", tags=["t"])
    for ref, close in ((1, True), (300, False), (0, False)):
        raw = bulk_request(ref, open_run=open_run.SerializeToString(), records=[f[1] for f in frames], close=close)
        expected = pb.BulkRequest(ref=ref, open=open_run, records=[pb.Record.FromString(f[1]) for f in frames],
                                  close=close)
        assert pb.BulkRequest.FromString(raw) == expected
        assert raw == expected.SerializeToString()
