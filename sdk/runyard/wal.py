"""The write-ahead log of a run: every record lands here before it is sent.

Layout: `<run dir>/wal/<first seq, 20 digits>.wal`, one file per segment. A segment starts with the
8-byte magic `RYWAL001`, then frames:

    uint32 LE  payload length
    uint32 LE  CRC-32 of the payload
    uint64 LE  record sequence number (the same as `Record.seq` inside the payload)
    payload    a serialized `runyard.v1.Record`

Sequence numbers rise by one from frame to frame across segments. A torn tail (a crash in the middle of
a write) ends the log at the last good frame; the writer cuts it off when it opens the log again.

The log is the run's record, kept after the server acknowledged it (as W&B keeps its `.wandb` file) so
that `runyard sync` can recreate the run anywhere: closed segments are compressed to `<first>.wal.gz`
(gzip of the same bytes) in the background once the server has them, and the rest when the run closes
(`WalWriter.compact`, `close(keep=True)`). With `keep_log` off a segment is deleted instead once every
record in it is acknowledged (`WalWriter.prune`). Only the streamer thread writes; `WalCursor` reads back
unacknowledged records for replay; `LogReader` reads a whole log and reports damage (a flipped byte, a
missing segment) instead of stopping there; `iter_frames` is its frames.
"""

from __future__ import annotations

import gzip
import logging
import os
import queue
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from .errors import WalError

__all__ = ["MAGIC", "Damage", "Frame", "LogReader", "WalCursor", "WalWriter", "compress_segment", "iter_frames",
           "list_segments"]

log = logging.getLogger("runyard")

MAGIC = b"RYWAL001"
_HEAD = struct.Struct("<IIQ")
_MAX_PAYLOAD = 64 << 20

Frame = tuple[int, bytes]  # (seq, serialized Record)


GZ = ".gz"


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}.wal"


def list_segments(wal_dir: Path) -> list[tuple[int, Path]]:
    """Segments as (first seq, path), oldest first; a compressed one (`.wal.gz`) where it was compacted."""
    try:
        names = os.listdir(wal_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: dict[int, Path] = {}
    for name in names:
        stem, _, ext = name.partition(".")
        if ext in ("wal", "wal.gz") and stem.isdigit():
            first = int(stem)
            if ext == "wal" or first not in found:  # both exist for a moment while compacting: same bytes
                found[first] = wal_dir / name
    return sorted(found.items())


def _open_segment_read(path: Path) -> IO[bytes]:
    if path.name.endswith(GZ):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


_GZ_BLOCK = 64 << 10  # input bytes between full flushes: a damaged spot costs at most about this much


def compress_segment(path: Path) -> Path:
    """`<first>.wal` -> `<first>.wal.gz` (written aside, synced, renamed; then the original goes).

    An ordinary gzip file, fully flushed every 64 KiB of input: a damaged byte in it costs the records
    of that block only, because reading restarts at the next flush point (`_inflate_salvaging`)."""
    target = path.with_name(path.name + GZ)
    tmp = path.with_name(path.name + GZ + ".tmp")
    with open(path, "rb") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, compresslevel=6, mtime=0) as dst:
            while block := src.read(_GZ_BLOCK):
                dst.write(block)
                dst.flush(zlib.Z_FULL_FLUSH)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, target)
    path.unlink()
    return target


_SYNC_MARK = b"\x00\x00\xff\xff"  # ends every full flush of a deflate stream


def _gzip_body_start(raw: bytes) -> int:
    """Offset of the deflate data in a gzip member (after the header and its optional fields)."""
    if raw[:3] != b"\x1f\x8b\x08" or len(raw) < 10:
        raise OSError("not a gzip file")
    flags, pos = raw[3], 10
    if flags & 4:  # FEXTRA
        pos += 2 + int.from_bytes(raw[pos:pos + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            pos = raw.index(b"\x00", pos) + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos


def _inflate_salvaging(raw: bytes) -> tuple[bytes, list[int]]:
    """The bytes of a compressed segment, going past damage: where inflating fails, it restarts at the
    next full-flush point. Returns (data, offsets in the data where something was skipped). The gzip
    trailer's checksum is not checked: every frame carries its own."""
    pos = _gzip_body_start(raw)
    out: list[bytes] = []
    size = 0
    skipped: list[int] = []
    while pos < len(raw):
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        failed_at = None
        for start in range(pos, len(raw), 4096):
            try:
                chunk = d.decompress(raw[start:start + 4096])
            except zlib.error:
                failed_at = start
                break
            out.append(chunk)
            size += len(chunk)
            if d.eof:
                return b"".join(out), skipped
        if failed_at is None:
            try:
                tail = d.flush()
            except zlib.error:
                tail = b""
            out.append(tail)
            size += len(tail)
            if not d.eof:
                skipped.append(size)  # cut short
            return b"".join(out), skipped
        skipped.append(size)
        nxt = raw.find(_SYNC_MARK, failed_at)
        if nxt == -1:
            break
        pos = nxt + len(_SYNC_MARK)
    return b"".join(out), skipped


def _read_segment(path: Path) -> tuple[bytes, list[int]]:
    """A segment's bytes (decompressed), and where damage made reading skip something."""
    raw = path.read_bytes()
    if not path.name.endswith(GZ):
        return raw, []
    try:
        return gzip.decompress(raw), []
    except (OSError, EOFError, zlib.error):
        return _inflate_salvaging(raw)


class _Compactor:
    """One daemon thread that compresses closed segments, so the run does not pay for it at the end."""

    def __init__(self) -> None:
        self._todo: queue.Queue[Path | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def submit(self, path: Path) -> None:
        self._idle.clear()
        self._todo.put(path)
        if self._thread is None:
            try:
                self._thread = threading.Thread(target=self._main, name="runyard-wal-compact", daemon=True)
                self._thread.start()
            except RuntimeError:  # interpreter shutting down: compact() at close does it
                self._thread = None
                self._todo.get_nowait()
                self._idle.set()

    def _main(self) -> None:
        while True:
            path = self._todo.get()
            if path is None:
                return
            try:
                if path.exists():
                    compress_segment(path)
            except OSError as exc:  # a full disk: the segment stays as it is, still readable
                log.info("compressing %s failed: %s", path, exc)
            finally:
                if self._todo.empty():
                    self._idle.set()

    def wait(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._todo.put(None)


def _read_frames(fh: IO[bytes], path: Path) -> Iterator[tuple[int, int, bytes]]:
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
    """Every readable frame with seq > after_seq, in order (see `LogReader` for what could not be read)."""
    return LogReader(wal_dir).frames(after_seq)


@dataclass
class Damage:
    """Records of a log that cannot be read: `first`..`last` (None: up to the end of `segment`)."""

    segment: str
    first: int
    last: int | None
    offset: int
    why: str

    def describe(self) -> str:
        which = f"record {self.first}" if self.last == self.first else (
            f"records {self.first}-{self.last}" if self.last is not None else f"records from {self.first} on")
        return f"{which} in {self.segment} (byte {self.offset}): {self.why}"


_MAX_RESYNC = 64  # frames in a row a damaged spot may swallow before the rest of its segment is given up


class LogReader:
    """Reads a whole log, frame by frame, and notes what it cannot read instead of stopping there.

    A frame whose checksum, length or number is wrong is damage: reading goes on at the next frame that
    checks out (found by its sequence number), and `damage` names the records lost. Only an incomplete
    last frame of the last segment is a normal torn tail (the process died while writing it): `torn`."""

    def __init__(self, wal_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(wal_dir)
        self.damage: list[Damage] = []
        self.torn = False
        self.first_seq: int | None = None  # the first record the log holds
        self.last_seq = 0  # the last record read

    def frames(self, after_seq: int = 0) -> Iterator[Frame]:
        self.damage, self.torn, self.first_seq, self.last_seq = [], False, None, 0
        segments = list_segments(self.dir)
        expected: int | None = None
        for i, (first, path) in enumerate(segments):
            if self.damage and self.damage[-1].last is None:
                self.damage[-1].last = first - 1  # damage ran to the end of the previous segment
            if expected is not None and first > expected:
                self.damage.append(Damage(path.name, expected, first - 1, 0, "a segment of the log is missing"))
            elif expected is not None and first < expected:
                first = expected  # overlapping segments (should not happen): skip what was read
            if self.first_seq is None:
                self.first_seq = first
            try:
                data, skipped = _read_segment(path)
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                self.damage.append(Damage(path.name, first, None, 0, f"the segment cannot be read ({exc})"))
                expected = None
                continue
            last_segment = i == len(segments) - 1
            expected = first
            damage_before = len(self.damage)
            for seq, payload in self._segment(path.name, data, first, last_segment and not skipped):
                expected = seq + 1
                self.last_seq = seq
                if seq > after_seq:
                    yield seq, payload
            if skipped and len(self.damage) == damage_before:
                # the compressed data broke off and no frame after it checks out: the rest is unknown
                self.damage.append(Damage(path.name, expected, None, skipped[0],
                                          "the compressed segment is damaged"))
            if self.damage and self.damage[-1].segment == path.name and self.damage[-1].last is None:
                expected = None  # the end of this segment is unknown: the next segment says where to go on

    def _segment(self, name: str, data: bytes, first: int, last_segment: bool) -> Iterator[Frame]:
        if not data.startswith(MAGIC):
            self.damage.append(Damage(name, first, None, 0, "the segment does not start like a log segment"))
            return
        pos, expected, end_of_data = len(MAGIC), first, len(data)
        while pos < end_of_data:
            if pos + _HEAD.size > end_of_data:
                if last_segment:
                    self.torn = True
                else:
                    self.damage.append(Damage(name, expected, None, pos, "the segment ends inside a frame"))
                return
            size, crc, seq = _HEAD.unpack_from(data, pos)
            end = pos + _HEAD.size + size
            if size <= _MAX_PAYLOAD and end <= end_of_data and seq == expected:
                payload = data[pos + _HEAD.size:end]
                if zlib.crc32(payload) == crc:
                    yield seq, payload
                    expected, pos = seq + 1, end
                    continue
            found = self._resync(data, pos, expected)
            if found is None and last_segment and seq == expected and size <= _MAX_PAYLOAD and end > end_of_data:
                self.torn = True  # the final frame was being written when the process died
                return
            if found is None:
                self.damage.append(Damage(name, expected, None, pos, "a frame is damaged (checksum, length "
                                          "or number wrong) and no later frame of the segment checks out"))
                return
            pos, nxt = found
            self.damage.append(Damage(name, expected, nxt - 1, pos, "a frame is damaged (checksum, length or "
                                      "number wrong)"))
            expected = nxt

    @staticmethod
    def _resync(data: bytes, pos: int, expected: int) -> tuple[int, int] | None:
        """(offset, seq) of the next frame after `pos` that checks out, numbered after `expected`."""
        for nxt in range(expected + 1, expected + 1 + _MAX_RESYNC):
            needle = struct.pack("<Q", nxt)
            at = data.find(needle, pos + 1)
            while at != -1:
                start = at - 8  # the number is the last field of the header
                if start > pos:
                    size, crc, _ = _HEAD.unpack_from(data, start)
                    end = start + _HEAD.size + size
                    if size <= _MAX_PAYLOAD and end <= len(data) and zlib.crc32(data[start + _HEAD.size:end]) == crc:
                        return start, nxt
                at = data.find(needle, at + 1)
        return None


class WalWriter:
    """Appends frames to the active segment; rotates at `segment_bytes`; prunes (deletes) or compacts
    (compresses) acknowledged segments."""

    def __init__(self, wal_dir: str | os.PathLike[str], segment_bytes: int = 4 << 20) -> None:
        self.dir = Path(wal_dir)
        self.segment_bytes = segment_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self.last_seq = 0  # highest seq written
        self._compactor: _Compactor | None = None
        self._compacted: set[int] = set()  # segments (by first seq) handed to the compactor
        self._fh: BinaryIO | None = None
        self._size = 0
        self._segments: list[tuple[int, Path]] = list_segments(self.dir)
        if self._segments:
            self._recover()

    def _recover(self) -> None:
        first, path = self._segments[-1]
        if path.name.endswith(GZ):  # the log was closed and compacted: go on in a new segment
            with _open_segment_read(path) as fh:
                for seq, _, _ in _read_frames(fh, path):
                    self.last_seq = seq
            return
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
            first, path = self._segments[0]
            try:
                for p in (path, self.dir / (_segment_name(first) + GZ)):
                    if p.exists():
                        p.unlink()
            except OSError:
                break  # e.g. still open elsewhere on Windows; try again at the next ack
            self._segments.pop(0)
            deleted += 1
        return deleted

    def compact(self, upto_seq: int) -> int:
        """Compress, in the background, closed segments whose records are all <= upto_seq (acknowledged,
        or never to be sent by this process). Returns how many were handed over."""
        handed = 0
        for i, (first, path) in enumerate(self._segments[:-1]):
            if self._segments[i + 1][0] - 1 > upto_seq:
                break
            if first in self._compacted or path.name.endswith(GZ):
                continue
            if self._compactor is None:
                self._compactor = _Compactor()
            self._compacted.add(first)
            self._compactor.submit(path)
            handed += 1
        return handed

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def close(self, acked_seq: int = 0, *, keep: bool = False, timeout: float = 30.0) -> None:
        """Close the active segment. `keep`: the log stays, every segment compressed (within `timeout`;
        what is left stays readable as it is); else, when everything written is acknowledged, the log is
        deleted."""
        if self._fh is not None:
            try:
                self.sync()
            finally:
                self._fh.close()
                self._fh = None
        if keep:
            compactor = self._compactor
            if compactor is not None:
                compactor.wait(timeout)
                compactor.stop()
            for first, _ in list_segments(self.dir):
                path = self.dir / _segment_name(first)
                if path.exists():
                    try:
                        compress_segment(path)
                    except OSError as exc:
                        log.info("compressing %s failed: %s", path, exc)
            return
        self.prune(acked_seq)
        if self._segments and acked_seq >= self.last_seq:
            for first, _ in self._segments:
                for p in (self.dir / _segment_name(first), self.dir / (_segment_name(first) + GZ)):
                    try:
                        p.unlink()
                    except OSError:
                        pass
            self._segments.clear()


class WalCursor:
    """Sequential reader of frames from a given seq, for replaying unacknowledged records.

    Keeps its file open between calls, so reading on from where it stopped costs no rescan."""

    def __init__(self, wal_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(wal_dir)
        self._fh: IO[bytes] | None = None
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
        fh = _open_segment_read(path)
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
            path = self.dir / (_segment_name(seq) + GZ)
            if not path.exists():
                return False
        self.close()
        fh = _open_segment_read(path)
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
