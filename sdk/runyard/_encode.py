"""Hand-rolled protobuf encoding of the hot records, `Record{seq, history_block: HistoryBlock}` (rows of
numbers in columns) and `Record{seq, history: HistoryRow}` (one row).

Building a `HistoryRow` message object costs several µs per row in Python; the streamer thread shares
the GIL with the training loop, so rows are encoded straight to wire bytes here: the encoded keys of a
row's key set are cached (training loops log the same keys every step) and the values are packed with
one `struct.pack`. tests/sdk/test_wire.py checks the bytes against `ingest_pb2`.

HistoryRow fields: 1 step (varint), 2 timestamp (fixed64 double), 3 keys (string), 4 values (packed
double), 5 json_keys (string), 6 json_values (string). HistoryBlock fields: 1 keys (string), 2 rows
(bytes: per row a little-endian int64 step, float64 timestamp and float64 values). Record: 1 seq (varint), 2 history,
11 history_block (message).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["block_record", "encode_keys", "history_body", "history_record", "numeric_history_record", "values_prefix", "varint"]

_DOUBLE = struct.Struct("<d")
_ZERO = bytes(8)


_SMALL = [bytes((i,)) for i in range(0x80)]


def varint(n: int) -> bytes:
    """Protobuf varint of a non-negative int."""
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0x200000:
        return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(tag: bytes, text: str) -> bytes:
    data = text.encode("utf-8")
    return tag + varint(len(data)) + data


def encode_keys(keys: Sequence[str], tag: bytes = b"\x1a") -> bytes:
    return b"".join(_string(tag, k) for k in keys)


def history_body(
    step: int, timestamp: float, keys_blob: bytes, packed_values: bytes,
    jkeys: Sequence[str] = (), jvalues: Sequence[str] = (),
) -> bytes:
    # proto3 leaves out zero values; doing the same keeps the bytes identical to protobuf's own
    parts = [b"\x08", varint(step)] if step else []
    ts = _DOUBLE.pack(timestamp)
    if ts != _ZERO:
        parts += [b"\x11", ts]
    parts.append(keys_blob)
    if packed_values:
        parts += [b"\x22", varint(len(packed_values)), packed_values]
    for k in jkeys:
        parts.append(_string(b"\x2a", k))
    for v in jvalues:
        parts.append(_string(b"\x32", v))
    return b"".join(parts)


def history_record(seq: int, body: bytes) -> bytes:
    return b"".join((b"\x08", varint(seq), b"\x12", varint(len(body)), body))


def values_prefix(keys: Sequence[str]) -> bytes:
    """Encoded keys plus the header of `len(keys)` packed doubles: everything of a numeric row's
    body after step and timestamp, except the packed values themselves."""
    blob = encode_keys(keys)
    if keys:
        blob += b"\x22" + varint(8 * len(keys))
    return blob


def numeric_history_record(seq: int, step: int, timestamp: float, prefix: bytes, packed: bytes) -> bytes:
    """history_record(seq, history_body(...)) for a row of numbers only, in two joins."""
    body = b"".join((b"\x08", varint(step), b"\x11", _DOUBLE.pack(timestamp), prefix, packed)) if step else (
        b"".join((b"\x11", _DOUBLE.pack(timestamp), prefix, packed)))
    return b"".join((b"\x08", varint(seq), b"\x12", varint(len(body)), body))


def block_record(seq: int, keys_blob: bytes, rows: bytes | bytearray) -> bytes:
    """`Record{1: seq, 11: HistoryBlock{1: keys (`keys_blob`, tag 0x0a), 2: rows}}`; `rows` not empty."""
    rows_len = varint(len(rows))
    body_len = len(keys_blob) + 1 + len(rows_len) + len(rows)
    return b"".join((b"\x08", varint(seq), b"\x5a", varint(body_len), keys_blob, b"\x12", rows_len, rows))
