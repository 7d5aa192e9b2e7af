"""Reading TensorBoard event files while they are written (TFRecord framing, no TensorFlow).

An event file is a sequence of records:

    uint64 LE  length
    uint32 LE  masked CRC-32C of the 8 length bytes
    bytes      the payload (a serialized `tensorboard.Event`)
    uint32 LE  masked CRC-32C of the payload

`EventFileTail` reads the complete records added since the last call and remembers where it stopped: a
record whose bytes are not all written yet is left for the next call, so a writer that is busy flushing is
never misread. A record whose length CRC does not match ends the readable part of the file (what TensorBoard
does too). The payload CRC is checked too when a C implementation of CRC-32C is installed (`google-crc32c`
or `crc32c`); TensorBoard's pure-Python one would triple the cost of reading (bench/tensorboard_sync.py),
and a damaged payload still fails to parse as an event and is skipped.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["EventFileTail", "iter_records"]

log = logging.getLogger("runyard")

_HEAD = struct.Struct("<QI")
_FOOT = struct.Struct("<I")
MAX_RECORD_BYTES = 256 << 20  # a longer length field is corruption, not an event


def _masked_crc_fn() -> Callable[[bytes], int] | None:
    try:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

        return masked_crc32c  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        from tensorboardX.record_writer import masked_crc32c as tbx_masked

        return tbx_masked  # type: ignore[no-any-return]
    except ImportError:
        return None


_MASK_DELTA = 0xA282EAD8


def _fast_masked_crc_fn() -> Callable[[bytes], int] | None:
    """A masked CRC-32C in C, when one is installed."""
    crc_fn: Callable[[bytes], int] | None = None
    try:
        import google_crc32c  # type: ignore[import-not-found]

        crc_fn = google_crc32c.value
    except ImportError:
        try:
            import crc32c  # type: ignore[import-not-found]

            crc_fn = crc32c.crc32c
        except ImportError:
            return None

    def masked(data: bytes) -> int:
        assert crc_fn is not None
        crc = crc_fn(data) & 0xFFFFFFFF
        return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF

    return masked


class EventFileTail:
    """Incremental reader of one event file. `read()` returns the payloads of the records completed since
    the previous call; `offset` is where the whole records end (what is safe to copy)."""

    def __init__(self, path: str | os.PathLike[str], check_payload_crc: bool = True) -> None:
        self.path = Path(path)
        self.offset = 0
        self.broken: str | None = None  # why reading stopped for good (corrupt record)
        self._crc = _masked_crc_fn()
        self._payload_crc = _fast_masked_crc_fn() if check_payload_crc else None

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def read(self, max_bytes: int = 64 << 20) -> list[bytes]:
        """The payloads of the complete records after `offset` (at most about `max_bytes` of them)."""
        if self.broken is not None:
            return []
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size <= self.offset:
            return []
        out: list[bytes] = []
        taken = 0
        with open(self.path, "rb", buffering=1 << 20) as fh:
            fh.seek(self.offset)
            while taken < max_bytes and size - self.offset >= _HEAD.size:
                head = fh.read(_HEAD.size)
                length, len_crc = _HEAD.unpack(head)
                if length > MAX_RECORD_BYTES or (self._crc is not None and self._crc(head[:8]) != len_crc):
                    self._give_up(f"corrupt record header at byte {self.offset}")
                    break
                total = _HEAD.size + length + _FOOT.size
                if self.offset + total > size:
                    break  # not all written yet: next time
                body = fh.read(length + _FOOT.size)
                payload = body[:length]
                if self._payload_crc is not None:
                    if self._payload_crc(payload) != _FOOT.unpack_from(body, length)[0]:
                        self._give_up(f"corrupt record at byte {self.offset}")
                        break
                out.append(payload)
                self.offset += total
                taken += total
        return out

    def _give_up(self, why: str) -> None:
        self.broken = why
        log.warning("tensorboard: %s: %s; the rest of the file is not read", self.path, why)


def iter_records(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Every complete record of a finished event file, in order."""
    tail = EventFileTail(path)
    while True:
        batch = tail.read()
        if not batch:
            return
        yield from batch
