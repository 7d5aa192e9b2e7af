"""Many runs through one ingest stream (`runyard.v1.Ingest/Bulk`), for importers, transfers and seeding.

    with BulkWriter(base_url, api_key) as bulk:
        for run in runs:
            bulk.write(open_run_of(run), records_of(run))      # serialized Records, numbered 1, 2, ...
    for r in bulk.runs: ...                                       # r.refused, r.rejected, r.acked

Each run is opened, written and closed under a handle (`ref`) of the stream, following the rules of a
Stream of its own (proto "Bulk"): strict sequencing per run, replays skipped by the server, a record the
server refuses reported alone (`BulkRun.rejected`), a run the server refuses (no write access, resume rules,
a bad OpenRun, a gap) reported alone (`BulkRun.refused`) while the other runs go on. A short run is one
message (open, records and close together); a long one is cut into batches of `max_records`/`max_bytes`.
Up to `window` requests are in flight; `write()` blocks while the window is full, so memory stays bounded.

A stream that fails (network, server restart, key revoked) raises `CommError` from the next call and from
`close()`; every run not `done` then is incomplete, and writing it again is safe: the server skips what
it already holds (replays), so a caller retries those runs on a new BulkWriter.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import grpc

from runyard_proto.v1 import ingest_pb2 as pb

from ._connection import _CHANNEL_OPTIONS
from ._encode import varint
from ._http import server_info
from .errors import CommError, RunyardError, error_for_grpc_code

__all__ = ["BulkRun", "BulkWriter", "bulk_request"]

_METHOD = "/runyard.v1.Ingest/Bulk"
_OPTIONS = [*_CHANNEL_OPTIONS, ("grpc.max_send_message_length", 64 << 20)]


def bulk_request(ref: int, *, open_run: bytes = b"", records: Iterable[bytes] = (), close: bool = False) -> bytes:
    """A serialized BulkRequest from a serialized OpenRun and serialized Records (protobuf framing only;
    tests/sdk checks the bytes against ingest_pb2)."""
    parts = [b"\x08", varint(ref)] if ref else []
    if open_run:
        parts += [b"\x12", varint(len(open_run)), open_run]
    for rec in records:
        parts += [b"\x1a", varint(len(rec)), rec]
    if close:
        parts.append(b"\x20\x01")
    return b"".join(parts)


@dataclass
class BulkRun:
    """One run of a Bulk stream, as the server answered it so far."""

    ref: int
    run_id: str
    opened: pb.RunOpened | None = None
    acked: int = 0                      # highest main-sequence record the server settled
    sent: int = 0                       # records handed to the stream
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (seq, reason): records refused alone
    refused: str = ""                   # the run refused: "CODE: message" (nothing more of it is written)
    code: str = ""                      # that refusal's gRPC status name (PERMISSION_DENIED, ...)
    done: bool = False                  # the server closed the ref (written and closed, or refused)

    @property
    def ok(self) -> bool:
        return self.done and not self.refused


class BulkWriter:
    """One Bulk stream to a server; thread-safe for one writing thread (replies are read on another)."""

    def __init__(self, base_url: str, api_key: str, *, ingest_address: str | None = None, ingest_tls: bool = False,
                 http_timeout: float = 10.0, window: int = 64, max_records: int = 2000,
                 max_bytes: int = 4 << 20) -> None:
        if not ingest_address:
            info = server_info(base_url, http_timeout)
            ingest_address, ingest_tls = info.ingest_address, info.ingest_tls
        self.address = ingest_address
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.runs: list[BulkRun] = []
        self._open: dict[int, BulkRun] = {}
        self._next_ref = 1
        self._window = threading.BoundedSemaphore(window)
        self._out: queue.Queue[bytes | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self.error: RunyardError | None = None
        self._done = threading.Event()
        if ingest_tls:
            self._channel = grpc.secure_channel(ingest_address, grpc.ssl_channel_credentials(), _OPTIONS)
        else:
            self._channel = grpc.insecure_channel(ingest_address, _OPTIONS)
        call = self._channel.stream_stream(_METHOD, request_serializer=lambda b: b,
                                           response_deserializer=pb.BulkReply.FromString)
        self._call = call(self._requests(), metadata=(("authorization", f"Bearer {api_key}"),))
        self._reader = threading.Thread(target=self._read, name="runyard-bulk-reader", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ writing
    def write(self, open_run: pb.OpenRun | bytes, records: Iterable[bytes], *, run_id: str = "") -> BulkRun:
        """Open a run, send its serialized Records in batches, close it; returns at once after handing the
        last batch to the stream (the answer arrives in the returned BulkRun; `wait()` waits for all)."""
        raw = open_run if isinstance(open_run, bytes) else open_run.SerializeToString()
        if not run_id and isinstance(open_run, pb.OpenRun):
            run_id = open_run.run_id
        with self._lock:
            ref = self._next_ref
            self._next_ref = ref % 0xFFFFFFFF + 1
            run = BulkRun(ref, run_id)
            self.runs.append(run)
            self._open[ref] = run
        first = True
        for batch, last in _batches(records, self.max_records, self.max_bytes):
            self._send(run, bulk_request(ref, open_run=raw if first else b"", records=batch, close=last), len(batch))
            first = False
        if first:  # no records: open and close
            self._send(run, bulk_request(ref, open_run=raw, close=True), 0)
        return run

    def _send(self, run: BulkRun, message: bytes, n: int) -> None:
        while not self._window.acquire(timeout=0.5):
            self._check()
        self._check()
        with self._lock:
            self._inflight += 1
        run.sent += n
        self._out.put(message)

    def _check(self) -> None:
        if self.error is not None:
            raise self.error
        if self._done.is_set():
            raise CommError(f"the bulk stream to {self.address} ended")

    def wait(self, timeout: float = 600.0) -> None:
        """Wait until every request sent so far is answered; raises the stream's error."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._inflight == 0 or self._done.is_set(), timeout):
                raise CommError(f"the ingest server {self.address} did not answer within {timeout:.0f} s")
        if self._inflight:
            self._check()

    def close(self, timeout: float = 600.0) -> None:
        """Wait for every answer, end the stream, and raise the stream's error if it failed."""
        try:
            if not self._done.is_set():
                self.wait(timeout)
        finally:
            self._out.put(None)
            self._done.wait(5.0)
            self._call.cancel()
            self._channel.close()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._out.put(None)
            self._call.cancel()
            self._channel.close()

    # ------------------------------------------------------------------ the stream
    def _requests(self) -> Iterator[bytes]:
        while True:
            item = self._out.get()
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for reply in self._call:
                self._settle(reply)
            with self._lock:
                if self._inflight:
                    self.error = CommError(f"the bulk stream to {self.address} ended with "
                                           f"{self._inflight} request(s) unanswered")
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            if code != grpc.StatusCode.CANCELLED or self.error is None:
                details = (exc.details() if hasattr(exc, "details") else "") or ""
                if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                            grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
                    self.error = error_for_grpc_code(code.name, f"the ingest server {self.address} ended the "
                                                     f"bulk stream ({code.name}): {details}", detail=details)
                elif code != grpc.StatusCode.CANCELLED:
                    self.error = CommError(f"bulk stream to {self.address}: {code.name}: {details}")
        except Exception as exc:  # pragma: no cover - a bug in the reader
            self.error = CommError(f"the bulk stream to {self.address} failed: {exc!r}")
        finally:
            self._done.set()
            with self._idle:
                self._idle.notify_all()

    def _settle(self, reply: pb.BulkReply) -> None:
        with self._lock:
            run = self._open.get(reply.ref)
            self._inflight -= 1
        self._window.release()
        if run is not None:
            if reply.HasField("opened"):
                run.opened = reply.opened
                run.acked = max(run.acked, reply.opened.last_seq)
            if reply.HasField("ack"):
                run.acked = max(run.acked, reply.ack.seq)
                run.rejected.extend((r.seq, r.reason) for r in reply.ack.rejected)
            if reply.HasField("refused"):
                run.code = reply.refused.code
                run.refused = f"{reply.refused.code}: {reply.refused.message}"
            if reply.done:
                run.done = True
                with self._lock:
                    if self._open.get(reply.ref) is run:
                        del self._open[reply.ref]
        with self._idle:
            if self._inflight == 0:
                self._idle.notify_all()


def _batches(records: Iterable[bytes], max_records: int, max_bytes: int) -> Iterator[tuple[list[bytes], bool]]:
    """(batch, is_last) in order; one batch look-ahead so the last one carries the close."""
    batch: list[bytes] = []
    size = 0
    pending: list[bytes] | None = None
    for rec in records:
        if batch and (len(batch) >= max_records or size + len(rec) > max_bytes):
            if pending is not None:
                yield pending, False
            pending, batch, size = batch, [], 0
        batch.append(rec)
        size += len(rec)
    if pending is not None:
        yield pending, not batch
    if batch:
        yield batch, True
