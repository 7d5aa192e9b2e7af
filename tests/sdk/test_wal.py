"""The write-ahead log: framing, segments, pruning, torn tails, read-back (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.errors import WalError
from runyard.wal import LogReader, WalCursor, WalWriter, iter_frames, list_segments


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


def test_a_damaged_last_frame_is_reported_not_taken_for_a_torn_tail(tmp_path: Path) -> None:
    w = WalWriter(tmp_path)
    w.append(_frames(1, 3))
    w.close()
    seg = list_segments(tmp_path)[-1][1]
    data = bytearray(seg.read_bytes())
    data[-5] ^= 0xFF  # flip a byte in the last payload: complete, but its checksum is wrong
    seg.write_bytes(bytes(data))
    reader = LogReader(tmp_path)
    assert [s for s, _ in reader.frames()] == [1, 2]
    assert [(d.first, d.last) for d in reader.damage] == [(3, None)] and not reader.torn


def test_one_flipped_byte_costs_one_record_and_reading_goes_on(tmp_path: Path) -> None:
    """A flipped byte in the middle of a segment (payload or header) is damage: the reader names the
    records it cannot read and goes on with the next frame that checks out."""
    w = WalWriter(tmp_path, segment_bytes=3000)
    for i in range(6):
        w.append(_frames(1 + i * 10, 10))
    w.close()
    first, seg = list_segments(tmp_path)[1]
    data = bytearray(seg.read_bytes())
    data[8 + 16 + 100 + 16 + 40] ^= 0x01  # inside the payload of the segment's second frame
    data[8 + 3 * (16 + 100) + 2] ^= 0xFF  # inside the length field of its fourth frame
    seg.write_bytes(bytes(data))
    reader = LogReader(tmp_path)
    seqs = [s for s, _ in reader.frames()]
    lost = {first + 1, first + 3}
    assert seqs == [s for s in range(1, 61) if s not in lost]
    assert [(d.first, d.last) for d in reader.damage] == [(first + 1, first + 1), (first + 3, first + 3)]
    assert all(seg.name in d.describe() for d in reader.damage)


def test_a_missing_segment_is_named(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, segment_bytes=1000)
    for i in range(8):
        w.append(_frames(1 + i * 5, 5))
    w.close()
    segs = list_segments(tmp_path)
    segs[1][1].unlink()
    reader = LogReader(tmp_path)
    got = [s for s, _ in reader.frames()]
    assert [(d.first, d.last, d.why) for d in reader.damage] == [
        (segs[1][0], segs[2][0] - 1, "a segment of the log is missing")]
    assert got == [s for s in range(1, 41) if not segs[1][0] <= s < segs[2][0]]


def test_a_kept_log_is_compressed_and_still_reads(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, segment_bytes=1000)
    for i in range(6):
        w.append(_frames(1 + i * 5, 5))
    assert w.compact(10_000) == len(list_segments(tmp_path)) - 1  # closed segments, in the background
    w.append(_frames(31, 20))
    cur = WalCursor(tmp_path)
    assert cur.read(5, 40, 100, 1 << 20) == _frames(5, 36)  # the cursor reads compressed segments too
    cur.close()
    w.close(keep=True)
    names = [p.name for _, p in list_segments(tmp_path)]
    assert names and all(n.endswith(".wal.gz") for n in names)
    assert list(iter_frames(tmp_path)) == _frames(1, 50)
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 50 * 100 // 2
    w2 = WalWriter(tmp_path, segment_bytes=1000)  # opening a compacted log goes on after it
    assert w2.last_seq == 50
    w2.append(_frames(51, 2))
    w2.close(keep=True)
    assert list(iter_frames(tmp_path)) == _frames(1, 52)


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


def test_a_flipped_byte_in_a_compressed_segment_costs_one_block(tmp_path: Path) -> None:
    """Compressed segments are flushed every 64 KiB: reading restarts at the next flush point, so one bad
    byte costs the records of about one block, which are named; the rest of the segment is read."""
    import random

    rng = random.Random(1)
    w = WalWriter(tmp_path, segment_bytes=400_000)
    frames = [(s, rng.randbytes(100)) for s in range(1, 10_001)]  # incompressible, so blocks stay large
    for i in range(0, 10_000, 500):
        w.append(frames[i:i + 500])
    w.close(keep=True)
    segs = list_segments(tmp_path)
    assert len(segs) >= 3 and all(p.name.endswith(".gz") for _, p in segs)
    seg = segs[1][1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x55
    seg.write_bytes(bytes(data))
    reader = LogReader(tmp_path)
    got = dict(reader.frames())
    lost = [s for s in range(1, 10_001) if s not in got]
    assert reader.damage and all(seg.name in d.describe() for d in reader.damage)
    named = {s for d in reader.damage for s in range(d.first, (d.last or d.first) + 1)}
    assert set(lost) <= named and 0 < len(lost) < 1500  # about one 64 KiB block of 116-byte frames
    assert all(got[s] == frames[s - 1][1] for s in got)  # what is read is exact
    assert max(got) == 10_000
