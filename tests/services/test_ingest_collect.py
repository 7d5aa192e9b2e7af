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
