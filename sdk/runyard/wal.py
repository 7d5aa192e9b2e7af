"""The write-ahead log of a run: every record lands here before it is sent.

Layout: `<run dir>/wal/<first seq, 20 digits>.wal`, one file per segment. A segment starts with the
8-byte magic `RYWAL001`, then frames:

    uint32 LE  payload length
    uint32 LE  CRC-32 of the payload
    uint64 LE  record sequence number (the same as `Record.seq` inside the payload)
    payload    a serialized `runyard.v1.Record`

Sequence numbers rise by one from frame to frame across segments. A torn or corrupt tail (a crash in
the middle of a write) ends the log at the last good frame. A segment is deleted once every record in it
is acknowledged by the server (`WalWriter.prune`); the active segment goes when the run is closed fully
acknowledged. Only the streamer thread writes; `WalCursor` reads back unacknowledged records for replay,
and `iter_frames` reads a whole log (tests, `runyard sync`).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import WalError

__all__ = ["MAGIC", "Frame", "WalCursor", "WalWriter", "iter_frames", "list_segments"]

MAGIC = b"RYWAL001"
_HEAD = struct.Struct("<IIQ")
_MAX_PAYLOAD = 64 << 20

Frame = tuple[int, bytes]  # (seq, serialized Record)


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}.wal"


def list_segments(wal_dir: Path) -> list[tuple[int, Path]]:
    """Segments as (first seq, path), oldest first."""
    try:
        names = os.listdir(wal_dir)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        stem, _, ext = name.partition(".")
        if ext == "wal" and stem.isdigit():
            out.append((int(stem), wal_dir / name))
    out.sort()
    return out


def _read_frames(fh: BinaryIO, path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(seq, offset after the frame, payload) of each good frame; stops at a torn or corrupt tail."""
    if fh.read(len(MAGIC)) != MAGIC:
        return
    while True:
        head = fh.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        size, crc, seq = _HEAD.unpack(head)
        if size > _MAX_PAYLOAD:
            return
        payload = fh.read(size)
        if len(payload) < size or zlib.crc32(payload) != crc:
            return
        yield seq, fh.tell(), payload


def iter_frames(wal_dir: str | os.PathLike[str], after_seq: int = 0) -> Iterator[Frame]:
    """Every good frame with seq > after_seq, in order."""
    for _, path in list_segments(Path(wal_dir)):
        with open(path, "rb") as fh:
            for seq, _, payload in _read_frames(fh, path):
                if seq > after_seq:
                    yield seq, payload


class WalWriter:
    """Appends frames to the active segment; rotates at `segment_bytes`; prunes acknowledged segments."""

    def __init__(self, wal_dir: str | os.PathLike[str], segment_bytes: int = 4 << 20) -> None:
        self.dir = Path(wal_dir)
        self.segment_bytes = segment_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self.last_seq = 0  # highest seq written
        self._fh: BinaryIO | None = None
        self._size = 0
        self._segments: list[tuple[int, Path]] = list_segments(self.dir)
        if self._segments:
            self._recover()

    def _recover(self) -> None:
        first, path = self._segments[-1]
        good = len(MAGIC)
        last = first - 1
        with open(path, "rb") as fh:
            for seq, end, _ in _read_frames(fh, path):
                last, good = seq, end
        fh2 = open(path, "r+b", buffering=0)
        if os.path.getsize(path) < len(MAGIC):
            fh2.write(MAGIC)
        fh2.truncate(good)
        fh2.seek(good)
        self._fh, self._size, self.last_seq = fh2, good, last

    def _open_segment(self, first_seq: int) -> None:
        if self._fh is not None:
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise WalError(f"cannot write the run's log in {self.dir}: {exc}") from exc
            self._fh.close()
            self._fh = None
        path = self.dir / _segment_name(first_seq)
        try:
            fh = open(path, "wb", buffering=0)  # unbuffered: a failed write leaves nothing behind to flush
        except OSError as exc:
            raise WalError(f"cannot write the run's log segment {path}: {exc}") from exc
        self._fh = fh
        self._size = 0
        self._segments.append((first_seq, path))
        self._write(MAGIC)

    def append(self, frames: list[Frame]) -> None:
        """Write frames (seq must continue `last_seq` + 1) and flush them to the OS."""
        if not frames:
            return
        if frames[0][0] != self.last_seq + 1 and self.last_seq:
            raise WalError(f"log sequence gap: {self.last_seq} then {frames[0][0]}")
        if self._fh is None or self._size >= self.segment_bytes:
            self._open_segment(frames[0][0])
        assert self._fh is not None
        parts = []
        for seq, payload in frames:
            parts.append(_HEAD.pack(len(payload), zlib.crc32(payload), seq))
            parts.append(payload)
        self._write(b"".join(parts))
        self.last_seq = frames[-1][0]

    def _write(self, blob: bytes) -> None:
        """Write all of `blob` (to the OS: it survives the process) or nothing: after a failure (disk full,
        read-only, over quota or a file-size limit) the segment is cut back to its last whole frame."""
        fh = self._fh
        assert fh is not None
        view = memoryview(blob)
        try:
            while view:
                n = fh.write(view)
                if not n:
                    raise OSError(28, "no space left on device")
                view = view[n:]
        except OSError as exc:
            try:
                fh.truncate(self._size)
                fh.seek(self._size)
            except OSError:
                pass
            raise WalError(f"cannot write the run's log in {self.dir}: {exc}") from exc
        self._size += len(blob)

    def sync(self) -> None:
        if self._fh is not None:
            os.fsync(self._fh.fileno())

    def prune(self, acked_seq: int) -> int:
        """Delete closed segments whose records are all acknowledged; returns how many were deleted."""
        deleted = 0
        while len(self._segments) > 1 and self._segments[1][0] - 1 <= acked_seq:
            _, path = self._segments[0]
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                break  # e.g. still open elsewhere on Windows; try again at the next ack
            self._segments.pop(0)
            deleted += 1
        return deleted

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def close(self, acked_seq: int = 0) -> None:
        """Close the active segment; when everything written is acknowledged, delete the log."""
        if self._fh is not None:
            try:
                self.sync()
            finally:
                self._fh.close()
                self._fh = None
        self.prune(acked_seq)
        if self._segments and acked_seq >= self.last_seq:
            for _, path in self._segments:
                try:
                    path.unlink()
                except OSError:
                    pass
            self._segments.clear()


class WalCursor:
    """Sequential reader of frames from a given seq, for replaying unacknowledged records.

    Keeps its file open between calls, so reading on from where it stopped costs no rescan."""

    def __init__(self, wal_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(wal_dir)
        self._fh: BinaryIO | None = None
        self._seg_first = 0
        self._next = 0  # seq of the next frame at the file position

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _open_at(self, seq: int) -> bool:
        self.close()
        segments = list_segments(self.dir)
        chosen = None
        for first, path in segments:
            if first <= seq:
                chosen = (first, path)
        if chosen is None:
            return False
        first, path = chosen
        fh = open(path, "rb")
        if fh.read(len(MAGIC)) != MAGIC:
            fh.close()
            return False
        self._fh, self._seg_first, self._next = fh, first, first
        while self._next < seq:  # skip frames before seq
            head = fh.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return self._next_segment(seq)
            size, _, fseq = _HEAD.unpack(head)
            fh.seek(size, os.SEEK_CUR)
            self._next = fseq + 1
        return True

    def _next_segment(self, seq: int) -> bool:
        path = self.dir / _segment_name(seq)
        if not path.exists():
            return False
        self.close()
        fh = open(path, "rb")
        if fh.read(len(MAGIC)) != MAGIC:
            fh.close()
            return False
        self._fh, self._seg_first, self._next = fh, seq, seq
        return True

    def read(self, from_seq: int, upto_seq: int, max_records: int, max_bytes: int) -> list[Frame]:
        """Frames with from_seq <= seq <= upto_seq (all written and flushed), within the limits."""
        out: list[Frame] = []
        if from_seq > upto_seq:
            return out
        if self._fh is None or self._next != from_seq:
            if not self._open_at(from_seq):
                raise WalError(f"record {from_seq} is missing from the run's log in {self.dir}")
        total = 0
        while self._next <= upto_seq and len(out) < max_records and total < max_bytes:
            assert self._fh is not None
            head = self._fh.read(_HEAD.size)
            if len(head) < _HEAD.size:
                pos = self._fh.tell() - len(head)
                if not self._next_segment(self._next):
                    self._fh.seek(pos)
                    break
                continue
            size, crc, seq = _HEAD.unpack(head)
            payload = self._fh.read(size)
            if len(payload) < size or zlib.crc32(payload) != crc or seq != self._next:
                raise WalError(f"the run's log in {self.dir} is corrupt at record {self._next}")
            out.append((seq, payload))
            total += size
            self._next = seq + 1
        return out
