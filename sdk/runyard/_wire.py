"""Serialized `runyard.v1.ClientMessage`s built straight from WAL frames.

A batch message is `ClientMessage{batch: RecordBatch{records: [...]}}`; since the WAL already holds each
Record serialized, the batch is assembled by protobuf framing (field tags and varint lengths) instead of
parsing and re-serializing every record. tests/sdk/test_wire.py checks the bytes against ingest_pb2.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from runyard_proto.v1 import ingest_pb2

from ._encode import varint

__all__ = ["batch_message", "heartbeat_message", "is_history_block", "open_message", "renumber"]

_RECORDS_TAG = b"\x0a"  # RecordBatch.records: field 1, length-delimited
_BATCH_TAG = b"\x12"  # ClientMessage.batch: field 2, length-delimited


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def batch_message(records: Sequence[bytes]) -> bytes:
    parts: list[bytes] = []
    extend = parts.extend
    for rec in records:
        extend((_RECORDS_TAG, varint(len(rec)), rec))
    body = b"".join(parts)
    return _BATCH_TAG + varint(len(body)) + body


def open_message(open_run: ingest_pb2.OpenRun) -> bytes:
    return ingest_pb2.ClientMessage(open=open_run).SerializeToString()


def heartbeat_message() -> bytes:
    return ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(time=time.time())).SerializeToString()


def renumber(payload: bytes, seq: int) -> bytes:
    """A serialized Record with its sequence number (field 1, written first) replaced by `seq`.

    The WAL numbers records from where the folder's own log starts; a run resumed while the server was
    away learns only later which number the server expects next, so its records are renumbered as they
    are sent (see `Streamer`, `runyard sync`)."""
    if not payload or payload[0] != 0x08:
        raise ValueError("a Record without a leading sequence number")
    i = 1
    while payload[i] & 0x80:
        i += 1
    return b"\x08" + _varint(seq) + payload[i + 1:]


def is_history_block(payload: bytes) -> bool:
    """Whether a serialized Record (sequence number first, as the SDK writes them) is a HistoryBlock
    (field 11, length-delimited: tag 0x5a)."""
    if not payload or payload[0] != 0x08:
        return False
    i = 1
    while i < len(payload) and payload[i] & 0x80:
        i += 1
    return i + 1 < len(payload) and payload[i + 1] == 0x5A
