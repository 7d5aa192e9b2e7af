"""Batches assembled from WAL frames parse as the protobuf ClientMessage (no server)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runyard._items import ConfigItem, FinishItem, HistoryItem, SummaryItem
from runyard._records import RecordBuilder
from runyard._wire import batch_message
from runyard.wal import iter_frames
from runyard_proto.v1 import ingest_pb2 as pb

from .conftest import history_rows


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
    b.blocks = False  # as for a server without HistoryBlock
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


def test_history_blocks_hold_what_was_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packer: str) -> None:
    """log()'s hot path: rows with the keys of the row before join one block, written as HistoryBlocks.
    Unpacked, the run's log holds exactly the rows logged, in order; a value that is not a number sends
    its row alone and the rows around it stay in blocks; other keys, a summary set by hand or a step that
    goes back close the block; the automatic summary is the last row's. The same with the C packer and
    with its Python twin (an install without a C compiler)."""
    import numpy as np

    import runyard
    from runyard import _items, _records
    monkeypatch.setattr(_items, "ROWS_PER_BLOCK", 4)
    monkeypatch.setattr(_records, "MIN_BLOCK_ROWS", 1)  # blocks of any size as blocks here
    logged: list[tuple[int, dict[str, object]]] = []
    run = runyard.init(project="p", mode="offline", dir=tmp_path, settings={"console": "off",
                                                                         "system_metrics": False})

    def log(row: dict[str, object], step: int | None = None) -> None:
        logged.append((run.step if step is None else step, dict(row)))
        run.log(row, step=step)

    for i in range(6):
        log({"loss": 1.0 / (i + 1), "acc": i, "lr": np.float32(0.5)})
    log({"lr": 0.25, "acc": 6.0, "loss": 0.1})  # the same keys in another order: the same block
    log({"loss": 0.2, "acc": 7.0, "lr": "warm"})  # not a number: alone
    log({"loss": 0.3, "acc": 8.0, "lr": 0.1})
    log({"x": 1.0})  # other keys
    log({"x": 2.0}, step=20)
    log({"x": 3.0}, step=5)  # back in time: stored there, alone
    run.summary["x"] = -1.0
    log({"x": 4.0, "y": math.inf}, step=21)
    run.finish()
    frames = list(iter_frames(run.folder / "wal"))  # type: ignore[operator]
    records = [pb.Record.FromString(data) for _, data in frames]
    blocks = [len(r.history_block.rows) // (8 * (2 + len(r.history_block.keys))) for r in records
              if r.WhichOneof("payload") == "history_block"]
    # 4 rows at most a block here: rows 0-3, 4-6, (7 alone, a HistoryRow), 8, x at 9 and 20, x at 5, x/y at 21
    assert blocks == [4, 3, 1, 2, 1, 1], blocks
    assert [r.history.step for r in records if r.WhichOneof("payload") == "history"] == [7]
    rows = [(h.step, {**dict(zip(h.keys, h.values)), **{k: json.loads(v) for k, v in zip(h.json_keys, h.json_values)}})
            for h in history_rows(records)]
    assert rows == [(step, {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()})  # type: ignore
                    for step, row in logged]
    summaries = [json.loads(r.summary.set_json) for r in records if r.WhichOneof("payload") == "summary"]
    assert summaries[-1] == {"y": math.inf} or summaries[-1] == {"y": "Infinity"}
    assert summaries[-2] == {"x": -1.0}
    assert {"loss": 0.3, "acc": 8.0, "lr": 0.1, "x": 3.0}.items() <= summaries[-3].items()


def test_short_blocks_go_as_rows(tmp_path: Path) -> None:
    """Rows that change keys every step (or a loop with define_metric) make blocks of one row; those go as
    HistoryRows, which ingest reads far cheaper than a block each. The summary keeps ints as logged."""
    import runyard

    run = runyard.init(project="p", mode="offline", dir=tmp_path, settings={"console": "off",
                                                                         "system_metrics": False})
    for i in range(40):
        run.log({"a": float(i)} if i % 2 else {"b": i})  # the keys change every row
    for i in range(40, 100):
        run.log({"a": float(i), "epoch": 3})
    run.finish()
    records = [pb.Record.FromString(data) for _, data in iter_frames(run.folder / "wal")]  # type: ignore[operator]
    kinds = [r.WhichOneof("payload") for r in records]
    assert kinds.count("history") == 40 and kinds.count("history_block") == 1, kinds
    assert [h.step for h in history_rows(records)] == list(range(100))
    summary = json.loads([r for r in records if r.WhichOneof("payload") == "summary"][-1].summary.set_json)
    assert summary["epoch"] == 3 and isinstance(summary["epoch"], int) and summary["b"] == 38
