"""Serialized `runyard.v1.ClientMessage`s built straight from WAL frames.

A batch message is `ClientMessage{batch: RecordBatch{records: [...]}}`; since the WAL already holds each
Record serialized, the batch is assembled by protobuf framing (field tags and varint lengths) instead of
parsing and re-serializing every record. tests/sdk/test_wire.py checks the bytes against ingest_pb2.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from runyard_proto.v1 import ingest_pb2

__all__ = ["batch_message", "heartbeat_message", "open_message"]

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
    parts = []
    for rec in records:
        parts.append(_RECORDS_TAG)
        parts.append(_varint(len(rec)))
        parts.append(rec)
    body = b"".join(parts)
    return _BATCH_TAG + _varint(len(body)) + body


def open_message(open_run: ingest_pb2.OpenRun) -> bytes:
    return ingest_pb2.ClientMessage(open=open_run).SerializeToString()


def heartbeat_message() -> bytes:
    return ingest_pb2.ClientMessage(heartbeat=ingest_pb2.Heartbeat(time=time.time())).SerializeToString()
