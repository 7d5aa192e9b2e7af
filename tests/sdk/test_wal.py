"""The write-ahead log: framing, segments, pruning, torn tails, read-back (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.errors import WalError
from runyard.wal import WalCursor, WalWriter, iter_frames, list_segments


def _frames(first: int, n: int, size: int = 100) -> list[tuple[int, bytes]]:
    return [(s, bytes([s % 251]) * size) for s in range(first, first + n)]


def test_roundtrip_and_rotation(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, segment_bytes=1000)
    for i in range(10):
        w.append(_frames(1 + i * 5, 5))
    assert w.last_seq == 50
    segs = list_segments(tmp_path)
    assert len(segs) > 3
    assert [f for f, _ in segs] == sorted(f for f, _ in segs)
    got = list(iter_frames(tmp_path))
    assert got == _frames(1, 50)
    assert list(iter_frames(tmp_path, after_seq=45)) == _frames(46, 5)
    w.close(acked_seq=0)
    assert list(iter_frames(tmp_path)) == _frames(1, 50)


def test_prune_deletes_only_fully_acked_segments(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, segment_bytes=1000)
    for i in range(10):
        w.append(_frames(1 + i * 5, 5))
    firsts = [f for f, _ in list_segments(tmp_path)]
    # acknowledge up to one before the end of the second segment: only the first goes
    w.prune(firsts[2] - 2)
    assert [f for f, _ in list_segments(tmp_path)] == firsts[1:]
    w.prune(firsts[2] - 1)
    assert [f for f, _ in list_segments(tmp_path)] == firsts[2:]
    assert next(iter(iter_frames(tmp_path)))[0] == firsts[2]
    w.prune(10_000)  # the active segment stays while open
    assert len(list_segments(tmp_path)) == 1
    w.close(acked_seq=49)  # not everything acknowledged: kept
    assert len(list_segments(tmp_path)) == 1
    w2 = WalWriter(tmp_path, segment_bytes=1000)
    assert w2.last_seq == 50
    w2.close(acked_seq=50)
    assert list_segments(tmp_path) == []


def test_torn_tail_is_cut_and_writing_continues(tmp_path: Path) -> None:
    w = WalWriter(tmp_path)
    w.append(_frames(1, 3))
    w.close()
    seg = list_segments(tmp_path)[-1][1]
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a crash in the middle of the last frame
    assert [s for s, _ in iter_frames(tmp_path)] == [1, 2]
    w2 = WalWriter(tmp_path)
    assert w2.last_seq == 2
    w2.append(_frames(3, 2))
    w2.close()
    assert list(iter_frames(tmp_path)) == _frames(1, 4)


def test_corrupt_frame_stops_reading(tmp_path: Path) -> None:
    w = WalWriter(tmp_path)
    w.append(_frames(1, 3))
    w.close()
    seg = list_segments(tmp_path)[-1][1]
    data = bytearray(seg.read_bytes())
    data[-5] ^= 0xFF  # flip a byte in the last payload
    seg.write_bytes(bytes(data))
    assert [s for s, _ in iter_frames(tmp_path)] == [1, 2]


def test_cursor_reads_across_segments_and_while_writing(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, segment_bytes=700)
    w.append(_frames(1, 20))
    cur = WalCursor(tmp_path)
    got = []
    nxt = 1
    while nxt <= 20:
        chunk = cur.read(nxt, 20, max_records=3, max_bytes=10_000)
        assert chunk
        got.extend(chunk)
        nxt = chunk[-1][0] + 1
    assert got == _frames(1, 20)
    w.append(_frames(21, 10))  # more arrives; the cursor goes on from where it stopped
    assert cur.read(21, 30, 100, 1 << 20) == _frames(21, 10)
    assert cur.read(5, 6, 100, 1 << 20) == _frames(5, 2)  # jumping back reopens
    assert cur.read(31, 30, 100, 1 << 20) == []
    assert len(cur.read(1, 30, 100, max_bytes=250)) == 3  # byte cap (stops once reached)
    w.prune(25)
    with pytest.raises(WalError):
        cur.read(2, 30, 100, 1 << 20)
    cur.close()
    w.close()


def test_sequence_gap_is_refused(tmp_path: Path) -> None:
    w = WalWriter(tmp_path)
    w.append(_frames(1, 2))
    with pytest.raises(WalError):
        w.append(_frames(5, 1))
    w.close()
