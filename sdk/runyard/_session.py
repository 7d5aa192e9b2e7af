"""A short, blocking ingest stream for `runyard sync` and for `Api` edits of a stored run.

Opens the run (OpenRun), then sends records with given sequence numbers and waits for their
acknowledgement. The server ignores records with a sequence it already has (`runs.last_seq`), so
sending the same WAL twice changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from runyard_proto.v1 import ingest_pb2 as pb

from ._connection import Connection
from ._wire import batch_message, open_message
from .errors import CommError
from .wal import Frame

__all__ = ["StreamSession"]

_WINDOW = 4


class StreamSession:
    def __init__(self, base_url: str, api_key: str, open_run: pb.OpenRun, *, http_timeout: float = 10.0) -> None:
        self._event = threading.Event()
        self.conn = Connection(
            base_url=base_url, ingest_address=None, ingest_tls=False, api_key=api_key,
            open_message=open_message(open_run), http_timeout=http_timeout, notify=self._event.set,
        )

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.conn.done.is_set():
                if ready():
                    return
                raise self.conn.error or CommError(f"the ingest stream ended while {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommError(f"the server did not answer within {timeout:.0f} s while {what}")
            self._event.wait(min(left, 0.5))
            self._event.clear()

    def opened(self, timeout: float = 30.0) -> pb.RunOpened:
        self._wait(lambda: self.conn.opened is not None, timeout, "opening the run")
        assert self.conn.opened is not None
        return self.conn.opened

    def send_message(self, message: bytes, *, window: int = _WINDOW, timeout: float = 120.0) -> None:
        """Hand one serialized ClientMessage over once fewer than `window` are waiting for gRPC."""
        self._wait(lambda: self.conn.backlog() < window, timeout, "sending records")
        self.conn.send(message)

    def wait_acked(self, seq: int, timeout: float = 120.0) -> int:
        """Wait until the server acknowledged its sequence number `seq`; returns the highest acked."""
        self._wait(lambda: self.conn.acked >= seq, timeout, "waiting for the acknowledgement")
        return self.conn.acked

    def send(self, frames: Iterable[Frame], *, max_records: int = 2000, max_bytes: int = 1 << 20,
             timeout: float = 120.0, progress: Callable[[int], None] | None = None) -> int:
        """Send frames (seq, serialized Record) in batches; returns the highest seq acknowledged."""
        batch: list[bytes] = []
        size = 0
        last = 0
        sent = 0

        def flush() -> None:
            nonlocal batch, size, sent
            if not batch:
                return
            self._wait(lambda: self.conn.backlog() < _WINDOW, timeout, "sending records")
            self.conn.send(batch_message(batch))
            sent += len(batch)
            if progress is not None:
                progress(sent)
            batch, size = [], 0

        for seq, payload in frames:
            if batch and (len(batch) >= max_records or size + len(payload) > max_bytes):
                flush()
            batch.append(payload)
            size += len(payload)
            last = seq
        flush()
        if last:
            self._wait(lambda: self.conn.acked >= last, timeout, "waiting for the acknowledgement")
        return self.conn.acked

    def close(self) -> None:
        self.conn.half_close()
        self.conn.done.wait(2.0)
        self.conn.close()

    def __enter__(self) -> StreamSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_edit(base_url: str, api_key: str, entity: str, project: str, run_id: str,
              records: list[pb.Record], *, timeout: float = 30.0) -> int:
    """Apply config/summary/run-field records to a stored run (resume='must'); returns the acked seq."""
    open_run = pb.OpenRun(entity=entity, project=project, run_id=run_id, resume="must", sync=True)
    with StreamSession(base_url, api_key, open_run) as session:
        opened = session.opened(timeout)
        frames = []
        seq = opened.last_seq
        for rec in records:
            seq += 1
            rec.seq = seq
            frames.append((seq, rec.SerializeToString()))
        return session.send(frames, timeout=timeout)
