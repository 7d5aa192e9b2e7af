"""The run's one background thread: queue -> records -> write-ahead log -> ingest stream.

`Run.log()` only appends items to the run's `Outbox` (`runyard._items`). The thread wakes every
`batch_interval` seconds (sooner when the queue grows), turns what is queued into records with
sequence numbers (`RecordBuilder`), appends them to the WAL, and - when online and connected - sends
them as `RecordBatch` messages. Acknowledged segments are deleted. Records sent but not acknowledged are
not kept in memory: after a reconnect they are read back from the WAL (`WalCursor`) with their original
sequence numbers, from the `last_seq` the server reports in `RunOpened`. With the server away the WAL
is the buffer; memory holds at most `queue_max` queued items (log() waits for the disk beyond that) and
a bounded window of messages handed to gRPC.

Network failures are retried with capped exponential backoff; fatal statuses (UNAUTHENTICATED,
PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, ...) stop the retries and are printed once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runyard_proto.v1 import ingest_pb2 as pb

from . import _console
from ._connection import Connection
from ._items import Outbox, QueueItem
from ._records import RecordBuilder
from ._wire import batch_message, heartbeat_message, open_message
from .errors import CommError, RunyardError, WalError
from .settings import Settings
from .wal import Frame, WalCursor, WalWriter

__all__ = ["FinishResult", "Streamer"]

log = logging.getLogger("runyard")

_WINDOW = 4  # batch messages handed to gRPC and not yet taken by it
_RECENT_KEEP = 20_000  # frames kept in memory so that live sending needs no read-back
_STALL_TIMEOUT = 120.0  # records sent and no word from the server this long: reconnect
_BASE_BACKOFF = 0.5


class FinishResult:
    """How `Streamer.finish()` ended: `acked` (all durable on the server), `offline`, `timeout` or `fatal`."""

    def __init__(self, outcome: str, unacked: int, error: RunyardError | None = None) -> None:
        self.outcome = outcome
        self.unacked = unacked
        self.error = error

    def __repr__(self) -> str:
        return f"FinishResult({self.outcome!r}, unacked={self.unacked})"


class Streamer:
    """`outbox` is the run's queue; `builder` turns its items into records (numbered from where the
    WAL in `run_dir` ends, or from `seq_base` if that is higher); `on_open` is called on this thread
    with every RunOpened (the first and each after a reconnect)."""

    def __init__(
        self,
        settings: Settings,
        run_dir: Path,
        open_run: pb.OpenRun,
        outbox: Outbox,
        builder: RecordBuilder,
        *,
        online: bool,
        ingest_address: str | None = None,
        ingest_tls: bool = False,
        first_resume: str = "never",
        seq_base: int = 0,
        on_open: Callable[[pb.RunOpened], None] | None = None,
    ) -> None:
        self.settings = settings
        self._first_resume = first_resume
        self.run_dir = run_dir
        self.online = online
        self.outbox = outbox
        self.queue = outbox.queue
        self.wal = WalWriter(run_dir / "wal", settings.segment_bytes)
        self.builder = builder
        builder.next_seq = max(builder.next_seq, self.wal.last_seq + 1, seq_base)
        self._cursor = WalCursor(run_dir / "wal")
        self._recent: list[Frame] = []
        self._open_run = open_run
        self._ingest = (ingest_address, ingest_tls)
        self.acked = 0
        self.conn: Connection | None = None
        self.opened: pb.RunOpened | None = None
        self.fatal_error: RunyardError | None = None
        self.last_error: RunyardError | None = None
        self.connect_attempts = 0
        self._failures = 0  # failed attempts in a row
        self._attempt_open = False  # some attempt got RunOpened
        self._next_attempt = 0.0
        self._backoff = _BASE_BACKOFF
        self._outage_reported = False
        self._last_heartbeat = 0.0
        self._wake = threading.Event()
        self._opened_or_fatal = threading.Event()
        self._finish_requested = False
        self._finish_seq = 0
        self._abort = False
        self._wal_broken = False
        self.done = threading.Event()
        self._on_open = on_open
        self._thread = threading.Thread(target=self._main, name="runyard-streamer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ caller side (any thread)
    def wake(self) -> None:
        self._wake.set()

    def wait_for_room(self) -> None:
        """Called by log() when the queue is full: wait until the disk writer caught up (never the network)."""
        self._wake.set()
        low = self.settings.queue_max // 2
        while len(self.queue) > low and not self.done.is_set():
            time.sleep(0.001)

    def wait_opened(self, timeout: float) -> pb.RunOpened | None:
        """The first RunOpened; None after `timeout` or when the first attempt failed (then `last_error`
        says why). Raises the fatal error if the server refused the run."""
        self._opened_or_fatal.wait(timeout)
        if self.fatal_error is not None and self.opened is None:
            raise self.fatal_error
        return self.opened

    def number_at_least(self, seq: int) -> None:
        """Number the records not yet built from `seq` on (at least): a resumed run whose server could
        not be asked numbers above anything an earlier process may have sent."""
        self.builder.next_seq = max(self.builder.next_seq, seq)

    @property
    def written_seq(self) -> int:
        return self.wal.last_seq

    def unacked(self) -> int:
        return max(0, self.builder.next_seq - 1 - self.acked) + len(self.queue)

    def finish(self, exit_code: int, error: str | None, timeout: float) -> FinishResult:
        """Queue the Finish record and wait (bounded) until the server acknowledged everything."""
        self.outbox.finish(exit_code, error, time.time())
        self._finish_requested = True
        self._backoff = min(self._backoff, 1.0)
        self._next_attempt = min(self._next_attempt, time.monotonic())
        self._wake.set()
        start = time.monotonic()
        deadline = start + timeout
        next_note = start + 2.0
        while not self.done.wait(0.1):
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_note and self.online:
                _console.say(
                    f"waiting for the server to confirm {self.unacked()} records "
                    f"({deadline - now:.0f} s left; RUNYARD_FINISH_TIMEOUT sets the limit)"
                )
                next_note = now + 10.0
        unacked = self.unacked()
        if not self.done.is_set():
            self._abort = True
            self._wake.set()
            self.done.wait(5.0)
            unacked = self.unacked()
            return FinishResult("timeout", unacked, self.last_error)
        if not self.online:
            return FinishResult("offline", unacked)
        if self.fatal_error is not None:
            return FinishResult("fatal", unacked, self.fatal_error)
        return FinishResult("acked" if unacked == 0 else "timeout", unacked, self.last_error)

    def stop(self) -> None:
        """Stop at once (no waiting for acknowledgements); what is queued still reaches the WAL."""
        self._finish_requested = True
        self._abort = True
        self._wake.set()
        self.done.wait(5.0)

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        try:
            while True:
                self._wake.wait(self.settings.batch_interval)
                self._wake.clear()
                self._drain()
                if self.online:
                    self._network()
                if self._finish_requested and not self.queue:
                    if self._finish_seq == 0:
                        self._finish_seq = self.wal.last_seq
                    if self._abort or not self.online or self.fatal_error is not None or self._wal_broken:
                        break
                    if self.acked >= self._finish_seq:
                        break
        except Exception as exc:
            log.exception("runyard streamer crashed")
            _console.error(f"the background writer failed: {exc!r}; what was logged so far is in {self.run_dir}")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            if self.acked >= self.wal.last_seq:
                conn.half_close()
                conn.done.wait(1.0)
            conn.close()
        self._cursor.close()
        try:
            self.wal.close(self.acked if self.online else 0)
        except OSError:
            log.exception("closing the WAL failed")
        self._opened_or_fatal.set()
        self.done.set()

    def _drain(self) -> None:
        q = self.queue
        cap = self.settings.batch_max_records
        while q:
            items: list[QueueItem] = []
            popleft = q.popleft
            while q and len(items) < cap:
                items.append(popleft())
            if self._wal_broken:
                continue
            frames = self.builder.build(items)
            try:
                self.wal.append(frames)
            except WalError as exc:
                self._wal_broken = True
                self.fatal_error = exc
                _console.error(f"{exc.message}; nothing more from this run is saved")
                continue
            recent = self._recent
            recent.extend(frames)
            if len(recent) > 2 * _RECENT_KEEP:
                del recent[: len(recent) - _RECENT_KEEP]
            if self.online and q:
                self._network()

    # ------------------------------------------------------------------ network
    def _open_message(self) -> bytes:
        msg = pb.OpenRun()
        msg.CopyFrom(self._open_run)
        # the very first attempt creates the run (an id clash is an error) unless init() asked to resume;
        # later attempts resume it
        msg.resume = "allow" if self.connect_attempts > 1 or self._attempt_open else self._first_resume
        return open_message(msg)

    def _connect(self) -> None:
        self.connect_attempts += 1
        address, tls = self._ingest
        try:
            self._start_connection(address, tls)
        except RuntimeError as exc:  # e.g. "can't create new thread at interpreter shutdown" (3.12+)
            self.last_error = CommError(f"cannot open a connection now ({exc})")
            self._abort = True

    def _start_connection(self, address: str | None, tls: bool) -> None:
        self.conn = Connection(
            base_url=self.settings.base_url,
            ingest_address=address,
            ingest_tls=tls,
            api_key=self.settings.api_key or "",
            open_message=self._open_message(),
            http_timeout=self.settings.http_timeout,
            notify=self._wake.set,
        )

    def outage_reported(self) -> None:
        """init() already told the user the server is unreachable: no second warning for this outage."""
        self._outage_reported = True

    def _lost(self, conn: Connection) -> None:
        self.conn = None
        conn.close()
        self._failures = 0 if conn.opened is not None else self._failures + 1
        if conn.address and self._failures < 3:
            self._ingest = (conn.address, conn.tls)
        else:  # the ingest address may have moved: ask the front door again
            self._ingest = (None, False)
        err = conn.error
        if conn.fatal and err is not None:
            self.fatal_error = err
            self._opened_or_fatal.set()
            where = self.run_dir
            _console.error(f"{err.message}. Stopped sending; the run's records stay in {where}")
            return
        self.last_error = err
        if self.opened is None:
            self._opened_or_fatal.set()  # init() stops waiting: the first attempt failed
        if conn.opened is not None and time.monotonic() - conn.started > 10:
            self._backoff = _BASE_BACKOFF
        cap = 1.0 if self._finish_requested else self.settings.max_backoff
        delay = min(self._backoff, cap) * (0.75 + random.random() / 2)
        self._next_attempt = time.monotonic() + delay
        self._backoff = min(self._backoff * 2, self.settings.max_backoff)
        log.info("ingest stream lost (%s); retrying in %.1f s", err.message if err else "closed", delay)
        if not self._outage_reported and (self._attempt_open or self.connect_attempts >= 2):
            self._outage_reported = True
            _console.warn(
                f"cannot reach the server ({err.message if err else 'stream closed'}); "
                f"still logging to {self.run_dir} and retrying in the background"
            )

    def _opened(self, conn: Connection) -> None:
        assert conn.opened is not None
        opened = conn.opened
        first = self.opened is None
        self.opened = opened
        self._attempt_open = True
        if first and self.wal.last_seq == 0 and opened.last_seq >= self.builder.next_seq:
            # a resumed run: nothing written yet, so number on from what the server holds
            self.builder.next_seq = opened.last_seq + 1
        elif opened.last_seq > self.wal.last_seq and first:
            _console.warn(
                f"the server already holds records up to {opened.last_seq} for run {opened.run_id}; "
                "records of this process with lower sequence numbers will be ignored"
            )
        if opened.last_seq > self.acked:
            self.acked = opened.last_seq
            self.wal.prune(self.acked)
        conn.sent_seq = self.acked
        if self._outage_reported:
            again = " again" if not first else ""
            _console.say(f"connected to {conn.address}{again}; sending what was logged meanwhile")
            self._outage_reported = False
        self._last_heartbeat = time.monotonic()
        if self._on_open is not None:
            self._on_open(opened)
        self._opened_or_fatal.set()

    def _network(self) -> None:
        if self.fatal_error is not None:
            return
        now = time.monotonic()
        conn = self.conn
        if conn is not None and conn.done.is_set():
            self._lost(conn)
            conn = None
            if self.fatal_error is not None:
                return
        if conn is None:
            if now >= self._next_attempt and not self._abort:
                self._connect()
            return
        if conn.opened is None:
            return
        if self.opened is not conn.opened:
            self._opened(conn)
        if conn.acked > self.acked:
            self.acked = conn.acked
            self.wal.prune(self.acked)
        if conn.sent_seq > conn.acked and now - conn.last_activity > _STALL_TIMEOUT:
            log.info("no acknowledgement for %.0f s; reconnecting", now - conn.last_activity)
            conn.close()
            return
        self._pump(conn)
        if now - self._last_heartbeat >= self.settings.heartbeat_interval:
            self._last_heartbeat = now
            conn.send(heartbeat_message())

    def _take(self, first: int, upto: int) -> list[Frame]:
        limit, max_bytes = self.settings.batch_max_records, self.settings.batch_max_bytes
        recent = self._recent
        if recent and recent[0][0] <= first:
            start = first - recent[0][0]
            out: list[Frame] = []
            size = 0
            for frame in recent[start : start + limit]:
                if frame[0] > upto or (out and size + len(frame[1]) > max_bytes):
                    break
                out.append(frame)
                size += len(frame[1])
            return out
        return self._cursor.read(first, upto, limit, max_bytes)

    def _pump(self, conn: Connection) -> None:
        upto = self.wal.last_seq
        while conn.sent_seq < upto and conn.backlog() < _WINDOW:
            frames = self._take(conn.sent_seq + 1, upto)
            if not frames:
                break
            conn.send(batch_message([f[1] for f in frames]))
            conn.sent_seq = frames[-1][0]
