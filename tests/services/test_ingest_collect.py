"""The writer's fast path for history rows (rows compared as bytes with the key set before them) keeps
exactly what the per-row path keeps: same points in the same order, the same rejections (no server)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_server.ingest import writer


def _row(seq: int, step: int, ts: float, keys: list[str], values: list[float], **json: str) -> pb.Record:
    return pb.Record(seq=seq, history=pb.HistoryRow(step=step, timestamp=ts, keys=keys, values=values,
                                                    json_keys=list(json), json_values=list(json.values())))


def test_fast_path_keeps_what_the_row_by_row_path_keeps() -> None:
    ab = ["a", "b"]
    rows = [
        _row(1, 0, 0.0, ab, [1.0, 2.0]),                 # step 0 and timestamp 0: fields left out
        _row(2, 1, 1.7e9, ab, [math.nan, math.inf]),
        _row(3, 200, 1.7e9, ab, [-0.0, 1e308]),
        _row(4, 2**40, 1.7e9, ab, [3.0, 4.0]),           # a long step varint
        _row(5, 5, 1.7e9, ["x", *ab], [9.0, 1.0, 2.0]),  # the key set's bytes as a suffix of another
        _row(6, 6, 1.7e9, ab, [5.0, 6.0], img='{"k": 1}'),  # same numbers, plus JSON after them
        _row(7, 7, 1.7e9, ["b", "a"], [7.0, 8.0]),       # same keys, other order
        _row(8, 8, -1.0, ab, [1.0, 1.0]),                # a bad timestamp: rejected alone
        _row(9, -1, 1.7e9, ab, [1.0, 1.0]),              # a bad step: rejected alone
        _row(10, 10, 1.7e9, ab, [0.5]),                  # keys and values differ in length
        _row(11, 11, 1.7e9, ["a", "a"], [1.0, 1.0]),     # a key twice
        _row(12, 12, 1.7e9, ab, [10.0, 11.0]),
    ]
    limits = writer.Limits()
    batch = writer._collect(rows, limits)
    got = {k: (s.tolist(), v.tobytes()) for k, (s, v) in batch.columns().items()}

    want: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    rejected = []
    for rec in rows:  # one batch per row: the fast path never applies
        one = writer._collect([rec], limits)
        rejected += [seq for seq, _, _ in one.rejected]
        for k, (s, v) in one.columns().items():
            want[k][0].extend(s.tolist())
            want[k][1].extend(v.tolist())
    assert got == {k: (s, np.asarray(v, dtype="<f8").tobytes()) for k, (s, v) in want.items()}
    assert [seq for seq, _, _ in batch.rejected] == rejected == [8, 9, 10, 11]
    assert [p[:2] for p in batch.json_points] == [("img", 6)]
    assert batch.max_step == 2**40
    assert batch.fast is not None and len(batch.fast[0]) == len(b"\x1a\x01a\x1a\x01b\x22\x10")


def _block(seq: int, steps: list[int], ts: list[float], keys: list[str], rows: list[list[float]]) -> pb.Record:
    dtype = np.dtype([("step", "<i8"), ("ts", "<f8"), ("v", "<f8", (len(keys),))])
    packed = np.array(list(zip(steps, ts, [tuple(r) for r in rows])), dtype=dtype).tobytes()
    return pb.Record(seq=seq, history_block=pb.HistoryBlock(keys=keys, rows=packed))


def test_history_blocks_keep_what_the_same_rows_keep_in_arrival_order() -> None:
    """Blocks and rows mixed in one batch store the points rows alone would, in arrival order (a step
    logged twice keeps its later value), timestamps included."""
    ab = ["a", "b"]
    as_rows = [
        _row(1, 0, 1.7e9, ab, [1.0, 2.0]),
        _row(2, 1, 1.7e9 + 1, ab, [math.nan, math.inf]),
        _row(3, 2, 1.7e9 + 2, ["a"], [5.0], img='{"k": 1}'),
        _row(4, 1, 1.7e9 + 3, ["b", "c"], [7.0, 8.0]),   # step 1 again: later wins
        _row(5, 3, 1.7e9 + 4, ab, [3.0, 4.0]),
        _row(6, 4, 1.7e9 + 5, ab, [-0.0, 1e308]),
    ]
    mixed = [
        _block(1, [0, 1], [1.7e9, 1.7e9 + 1], ab, [[1.0, 2.0], [math.nan, math.inf]]),
        as_rows[2],
        _block(3, [1], [1.7e9 + 3], ["b", "c"], [[7.0, 8.0]]),
        _block(4, [3, 4], [1.7e9 + 4, 1.7e9 + 5], ab, [[3.0, 4.0], [-0.0, 1e308]]),
    ]
    limits = writer.Limits()

    def stored(records: list[pb.Record]) -> dict[str, tuple[list[int], bytes]]:
        batch = writer._collect(records, limits)
        assert not batch.rejected
        cols = batch.columns()
        last: dict[str, dict[int, float]] = defaultdict(dict)  # what a reader sees: the later point of a step
        for k, (s, v) in cols.items():
            for step, value in zip(s.tolist(), v.tolist()):
                last[k][step] = value
        assert last["b"][1] == 7.0 and last["_timestamp"][1] == 1.7e9 + 3
        return {k: (s.tolist(), v.tobytes()) for k, (s, v) in cols.items()}

    assert stored(mixed) == stored(as_rows)
    assert writer._collect(mixed, limits).max_step == 4


def test_a_bad_history_block_is_refused_whole_and_named() -> None:
    limits = writer.Limits()
    good = _block(1, [0], [1.7e9], ["a"], [[1.0]])
    bad = [
        _block(2, [5, -1], [1.7e9, 1.7e9], ["a"], [[1.0], [2.0]]),
        _block(3, [5, 6], [1.7e9, math.nan], ["a"], [[1.0], [2.0]]),
        pb.Record(seq=4, history_block=pb.HistoryBlock(keys=["a", "b"], rows=bytes(40))),
        _block(5, [5], [1.7e9], ["_step"], [[1.0]]),
        pb.Record(seq=6, history_block=pb.HistoryBlock(keys=["a"])),
        pb.Record(seq=7),
    ]
    batch = writer._collect([good, *bad], limits)
    reasons = {seq: reason for seq, reason, _ in batch.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "history block of 2 rows from step 5" in reasons[2] and "step must be between 0" in reasons[2]
    assert "the timestamp of HistoryBlock row 1" in reasons[3]
    assert "HistoryBlock.rows holds 40 bytes; with 2 keys a row is 32 bytes" in reasons[4]
    assert "reserved" in reasons[5]
    assert "HistoryBlock.rows holds 0 bytes" in reasons[6]
    assert "no payload this server knows" in reasons[7]
    assert {k: s.tolist() for k, (s, _) in batch.columns().items()} == {"a": [0], "_timestamp": [0]}
