"""The run's one background thread: queue -> records -> write-ahead log -> ingest stream.

`Run.log()` only appends items to the run's `Outbox` (`runyard._items`). The thread wakes every
`batch_interval` seconds (sooner when the queue grows), turns what is queued into records with
sequence numbers (`RecordBuilder`), appends them to the WAL, and - when online and connected - sends
them as `RecordBatch` messages. Records sent but not acknowledged are not kept in memory: after a
reconnect they are read back from the WAL (`WalCursor`), from the `last_seq` the server reports in
`RunOpened`. With the server away the WAL is the buffer; memory holds at most `queue_max` queued items
(log() waits for the disk beyond that) and a bounded window of messages handed to gRPC.

Numbering: the WAL numbers records 1, 2, ... (a resumed run: from the server's `last_seq + 1` when the
server answered before anything was logged). A run resumed while the server was away cannot know that
number, so its records are sent renumbered: `server seq = WAL seq + seq_offset`, the offset fixed at the
first RunOpened (`last_seq` then) and kept in the run folder for `runyard sync`. The server requires
`last_seq + 1` without gaps.

Failures:
- network: retried with capped exponential backoff, reset as soon as a stream opens the run; after three
  failed attempts in a row the front door is asked (in the background) whether ingest moved, while the
  known address is still tried;
- fatal statuses (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, a sequence gap, ...) stop the retries and
  are printed once; the records stay on disk;
- a record the server refuses (`Ack.rejected`, or a batch refused whole: see `runyard._refusals`) is
  reported with its reason and left out; the records after it go on;
- the WAL failing (disk full, read-only, over quota) switches to streaming from memory with one loud
  warning; nothing logged while the server is reachable is lost, and `finish()` says what is where.
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
from ._http import server_info
from ._items import Barrier, Outbox, QueueItem
from ._records import RecordBuilder
from ._refusals import Isolation, describe, stand_in
from ._wire import batch_message, heartbeat_message, open_message, renumber
from .errors import CommError, RunyardError, WalError
from .settings import Settings
from .wal import Frame, WalCursor, WalWriter

__all__ = ["FinishResult", "Refused", "Streamer"]

log = logging.getLogger("runyard")

_WINDOW = 4  # batch messages handed to gRPC and not yet taken by it
_RECENT_KEEP = 20_000  # frames kept in memory so that live sending needs no read-back ...
_RECENT_BYTES = 32 << 20  # ... and at most this many bytes of them (a history block is up to 256 KiB)
_STALL_TIMEOUT = 120.0  # records sent and no word from the server this long: reconnect
_BASE_BACKOFF = 0.5
_ISOLATE_DELAY = 0.2  # between the attempts that look for a refused record (the server is up)
_DISCOVER_AFTER = 3  # failed attempts in a row before the front door is asked where ingest is
MEMORY_CAP_BYTES = 512 << 20  # records held in memory when the WAL failed and the server is away


class Refused:
    """A record the server refused: its sequence number (the WAL's), what it was, and why."""

    __slots__ = ("reason", "record", "seq")

    def __init__(self, seq: int, record: str, reason: str) -> None:
        self.seq = seq
        self.record = record
        self.reason = reason

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "record": self.record, "reason": self.reason}


class FinishResult:
    """How `Streamer.finish()` ended.

    outcome: `acked` (everything settled on the server), `offline`, `timeout` or `fatal`; `unacked`: records
    not confirmed; `refused`: records the server refused; `memory_only`: records that never reached the
    WAL (it failed: `wal_error`), of which `lost` were not confirmed either, or never built (memory full)."""

    def __init__(self, outcome: str, unacked: int, error: RunyardError | None = None, *,
                 refused: list[Refused] | None = None, memory_only: int = 0, lost: int = 0,
                 wal_error: WalError | None = None) -> None:
        self.outcome = outcome
        self.unacked = unacked
        self.error = error
        self.refused = list(refused or [])
        self.memory_only = memory_only
        self.lost = lost
        self.wal_error = wal_error

    @property
    def on_disk_unacked(self) -> int:
        """Records `runyard sync` can still upload from the run folder."""
        return max(0, self.unacked - self.lost)

    def __repr__(self) -> str:
        return (f"FinishResult({self.outcome!r}, unacked={self.unacked}, refused={len(self.refused)}, "
                f"memory_only={self.memory_only}, lost={self.lost})")


class Streamer:
    """`outbox` is the run's queue; `builder` turns its items into records (numbered on from where the
    WAL in `run_dir` ends). `anchored`: the WAL's numbers are the server's (a new run, or a resumed run
    whose server answers before anything is logged); otherwise the offset is fixed at the first
    RunOpened. `on_open` is called on this thread with every RunOpened (the first and each after a
    reconnect), after `seq_offset` is known."""

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
        anchored: bool = True,
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
        builder.next_seq = max(builder.next_seq, self.wal.last_seq + 1)
        self.seq_offset: int | None = 0 if anchored else None
        # "server": the WAL's numbers are the run's on every server (sync sends them as they are);
        # "folder": they start at 1 in this folder and each server gets its own offset
        self.numbering = "server" if anchored else "folder"
        self._cursor = WalCursor(run_dir / "wal")
        self._recent: list[Frame] = []  # the newest frames, contiguous; all unacked ones without a WAL
        self._recent_bytes = 0
        self._open_run = open_run
        self._ingest = (ingest_address, ingest_tls)
        self._discovered: tuple[str, bool] | None = None
        self._discovering = False
        self.acked = 0  # the highest of our records the server settled (stored, or refused)
        self.built = self.wal.last_seq  # the highest record built (in the WAL, or only in memory)
        self._first_built = 0  # the first record this process built
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
        self.refused: list[Refused] = []
        self._isolation = Isolation()
        # the WAL failed: records from `_memory_from` on live only in memory until acknowledged
        self.wal_error: WalError | None = None
        self._memory_from = 0
        self._memory_bytes = 0
        self.dropped_items = 0  # items never built: the WAL failed, the server was away, memory was full
        self.done = threading.Event()
        self._on_open = on_open
        self._thread = threading.Thread(target=self._main, name="runyard-streamer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ caller side (any thread)
    def wake(self) -> None:
        if not self._wake.is_set():  # log() calls this for every row while the queue is long: no lock then
            self._wake.set()

    def wait_for_room(self, low: int | None = None) -> None:
        """Called by log() when the queue is full: wait until the disk writer caught up to `low` queued
        items (never the network)."""
        self._wake.set()
        low = self.settings.queue_max // 2 if low is None else low
        while len(self.queue) > low and not self.done.is_set():
            time.sleep(0.001)

    def wait_opened(self, timeout: float) -> pb.RunOpened | None:
        """The first RunOpened; None after `timeout` or when the first attempt failed (then `last_error`
        says why). Raises the fatal error if the server refused the run."""
        self._opened_or_fatal.wait(timeout)
        if self.fatal_error is not None and self.opened is None:
            raise self.fatal_error
        return self.opened

    @property
    def first_seq(self) -> int:
        """The number of this process's first record (built, or the next one to be built)."""
        return self._first_built or self.builder.next_seq

    @property
    def written_seq(self) -> int:
        """The highest record built so far (on disk, or only in memory when the WAL failed)."""
        return self.built

    def unacked(self) -> int:
        return max(0, self.builder.next_seq - 1 - self.acked) + len(self.queue)

    def memory_only_unacked(self) -> int:
        """Records neither in the WAL nor settled by the server (and items dropped unbuilt)."""
        if self.wal_error is None:
            return 0
        return max(0, self.built - max(self.acked, self._memory_from - 1)) + len(self.queue) + self.dropped_items

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call is built: media bound (its files written) and
        the records in the WAL. False when that took longer than `timeout` or the thread is gone."""
        if self.done.is_set():
            return False
        done = self.outbox.barrier()
        self._wake.set()
        while not done.wait(0.05):
            timeout -= 0.05
            if timeout <= 0 or self.done.is_set():
                return done.is_set()
        return True

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
        timed_out = not self.done.is_set()
        if timed_out:
            self._abort = True
            self._wake.set()
            self.done.wait(5.0)
        unacked = self.unacked()
        problem: RunyardError | None
        if timed_out:
            outcome, problem = "timeout", self.last_error
        elif not self.online:
            outcome, problem = "offline", None
        elif self.fatal_error is not None:
            outcome, problem = "fatal", self.fatal_error
        else:
            outcome, problem = ("acked" if unacked == 0 else "timeout"), self.last_error
        return FinishResult(outcome, unacked, problem, refused=self.refused, memory_only=self._memory_count(),
                            lost=self.memory_only_unacked(), wal_error=self.wal_error)

    def stop(self) -> None:
        """Stop at once (no waiting for acknowledgements); what is queued still reaches the WAL."""
        self._finish_requested = True
        self._abort = True
        self._wake.set()
        self.done.wait(5.0)

    def _memory_count(self) -> int:
        return 0 if self.wal_error is None else max(0, self.built - self._memory_from + 1)

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
                        self._finish_seq = self.built
                    if self._abort or not self.online or self.fatal_error is not None:
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
            if self.acked >= self.built:
                conn.half_close()
                conn.done.wait(1.0)
            conn.close()
        self._cursor.close()
        # the log stays (compressed) unless keep_log is off and the server has every record of it
        keep = (self.settings.keep_log or not self.online or self.wal_error is not None
                or self.acked < self.wal.last_seq)
        try:
            self.wal.close(self.acked, keep=keep)
        except (OSError, WalError):
            log.exception("closing the WAL failed")
        self._opened_or_fatal.set()
        self.done.set()

    def _drain(self) -> None:
        q = self.queue
        popleft = q.popleft
        cap = self.settings.batch_max_records
        outbox = self.outbox
        ready = 0  # items queued before the last seal: no thread adds to them any more
        sealed = False
        while True:
            if not ready:
                # once around, then wait for the next wake-up unless much is queued: rows logged meanwhile
                # gather into one block instead of a record for every few rows
                if sealed and len(q) < cap and not self._finish_requested:
                    return
                with outbox.lock:
                    ready = outbox.seal()
                sealed = True
                if not ready:
                    return
            take = min(ready, cap)
            items: list[QueueItem] = [popleft() for _ in range(take)]  # only this thread takes items
            ready -= take
            if self.wal_error is not None and (not self.online or self._memory_bytes > MEMORY_CAP_BYTES):
                self._drop(items)
            else:
                frames = self.builder.build(items)
                if frames:
                    self._keep(frames)
            for barrier in self.builder.take_barriers():  # flush(): everything before it is built
                barrier.set()
            if self.online and (ready or q):
                self._network()

    def _keep(self, frames: list[Frame]) -> None:
        if self.wal_error is None:
            try:
                self.wal.append(frames)
            except WalError as exc:
                self._wal_failed(exc, frames[0][0])
        self.built = frames[-1][0]
        if not self._first_built:
            self._first_built = frames[0][0]
        recent = self._recent
        recent.extend(frames)
        size = sum(len(f[1]) for f in frames)
        if self.wal_error is not None:
            self._memory_bytes += size
            self._trim_memory()
            return
        self._recent_bytes += size
        if len(recent) > 2 * _RECENT_KEEP or self._recent_bytes > 2 * _RECENT_BYTES:
            # keep the newest: at most _RECENT_KEEP frames and _RECENT_BYTES bytes (the rest is in the WAL)
            keep = 0
            kept_bytes = 0
            for frame in reversed(recent):
                if keep >= _RECENT_KEEP or kept_bytes + len(frame[1]) > _RECENT_BYTES:
                    break
                keep += 1
                kept_bytes += len(frame[1])
            del recent[: len(recent) - keep]
            self._recent_bytes = kept_bytes

    def _wal_failed(self, exc: WalError, first_seq: int) -> None:
        self.wal_error = exc
        self._memory_from = first_seq
        if self.online:
            _console.error(
                f"{exc.message}. From record {first_seq} on, this run keeps its records in memory and streams "
                "them to the server (up to 512 MiB while the server is away); they are not in the run folder, "
                "so `runyard sync` cannot upload them. Free the disk for the next run."
            )
        else:
            _console.error(f"{exc.message}. This offline run cannot save anything more: free the disk and "
                           "run it again (or run it online)")

    def _drop(self, items: list[QueueItem]) -> None:
        first = not self.dropped_items
        self.dropped_items += sum(1 for item in items if not isinstance(item, Barrier))  # a block: one record
        for item in items:
            if isinstance(item, Barrier):
                item.done.set()
        if first and self.online:
            _console.error(f"the run's log failed ({self.wal_error.message if self.wal_error else ''}) and "
                           f"{MEMORY_CAP_BYTES >> 20} MiB of records wait in memory for the server: "
                           "what is logged from now on is lost until the server confirms them")

    def _trim_memory(self) -> None:
        """Without a working WAL, memory holds every record that is not on disk and not settled."""
        recent = self._recent
        keep_from = max(self.acked, self.wal.last_seq) + 1
        if recent and recent[0][0] < keep_from:
            cut = min(len(recent), keep_from - recent[0][0])
            self._memory_bytes -= sum(len(f[1]) for f in recent[:cut] if f[0] >= self._memory_from)
            del recent[:cut]

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
        if self._discovered is not None:
            self._ingest, self._discovered = self._discovered, None
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

    def _discover(self) -> None:
        """Ask the front door, on a thread of its own, where ingest is now; the next attempt uses it.
        Attempts at the known address go on meanwhile (the front door may be the one that is down)."""
        if self._discovering:
            return
        self._discovering = True

        def ask() -> None:
            try:
                info = server_info(self.settings.base_url, self.settings.http_timeout)
                if (info.ingest_address, info.ingest_tls) != self._ingest:
                    self._discovered = (info.ingest_address, info.ingest_tls)
            except Exception as exc:
                log.info("asking %s where ingest is failed: %s", self.settings.base_url, exc)
            finally:
                self._discovering = False

        try:
            threading.Thread(target=ask, name="runyard-discover", daemon=True).start()
        except RuntimeError:
            self._discovering = False

    def _lost(self, conn: Connection) -> None:
        self.conn = None
        conn.close()
        if conn.opened is not None and self.opened is not conn.opened:
            self._opened(conn)
        self._settle(conn)  # acks and rejections that arrived before the end
        self._failures = 0 if conn.opened is not None else self._failures + 1
        if conn.address:
            self._ingest = (conn.address, conn.tls)
        if self._failures >= _DISCOVER_AFTER:
            self._discover()
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
        if conn.opened is not None and self._isolation.failed(
            self.acked + 1, conn.sent_seq, refused=conn.refused, server_failed=conn.server_failed,
            reason=err.message if err is not None else "the server ended the stream",
        ):
            self._next_attempt = time.monotonic() + _ISOLATE_DELAY
            log.info("a batch was refused (%s); looking for the record at fault", err.message if err else "")
            return
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
        if self.builder.blocks and "history_block" not in opened.features:
            self.builder.blocks = False  # an older server: rows one record each (records already built stay)
            _console.warn(f"the server at {conn.address} is older than this SDK; history goes to it row by row, "
                          "which costs more CPU on both sides: update the server")
        self._backoff = _BASE_BACKOFF  # a stream works again: the next outage starts from a short wait
        self._failures = 0
        if self.seq_offset is None:
            if self.built == 0 and not self.queue:
                # a resumed run that logged nothing yet: number on from what the server holds
                self.builder.next_seq = max(self.builder.next_seq, opened.last_seq + 1)
                self.seq_offset = 0
                self.numbering = "server"
            else:
                # a run resumed while the server was away: our record 1 is the server's last_seq + 1
                self.seq_offset = opened.last_seq - self.acked
        elif first and opened.last_seq > self.built + self.seq_offset:
            _console.warn(
                f"the server already holds records up to {opened.last_seq} for run {opened.run_id}; "
                "records of this process with lower sequence numbers will be ignored"
            )
        acked = opened.last_seq - self.seq_offset
        if acked > self.acked:
            self._set_acked(acked)
        conn.sent_seq = self.acked
        if self._outage_reported:
            again = " again" if not first else ""
            _console.say(f"connected to {conn.address}{again}; sending what was logged meanwhile")
            self._outage_reported = False
        self._last_heartbeat = time.monotonic()
        if self._on_open is not None:
            self._on_open(opened)
        self._opened_or_fatal.set()

    def _set_acked(self, acked: int) -> None:
        self.acked = acked
        if self.wal_error is not None:
            self._trim_memory()
        elif not self.settings.keep_log:
            self.wal.prune(acked)
        found = self._isolation.acked(acked)
        if found is not None:
            self._note_refused(found, self._isolation.reason)

    def _settle(self, conn: Connection) -> None:
        """Take over what the connection's reader saw: acknowledgements and refused records."""
        offset = self.seq_offset or 0
        while conn.rejected:
            seq, reason = conn.rejected.popleft()
            self._note_refused(seq - offset, reason)
        acked = conn.acked - offset
        if acked > self.acked and conn.opened is not None and self.opened is conn.opened:
            self._set_acked(acked)

    def _note_refused(self, seq: int, reason: str) -> None:
        payload = self._payload(seq)
        what = describe(payload) if payload is not None else f"record {seq}"
        self.refused.append(Refused(seq, what, reason))
        _console.warn(f"the server refused record {seq} ({what}): {reason}. It is left out; the records after "
                      "it are stored")

    def _payload(self, seq: int) -> bytes | None:
        recent = self._recent
        if recent and recent[0][0] <= seq <= recent[-1][0]:
            return recent[seq - recent[0][0]][1]
        if seq <= self.wal.last_seq:
            try:
                frames = WalCursor(self.run_dir / "wal").read(seq, seq, 1, 1 << 30)
                return frames[0][1] if frames else None
            except (OSError, WalError):
                return None
        return None

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
        self._settle(conn)
        if conn.sent_seq > self.acked and now - conn.last_activity > _STALL_TIMEOUT:
            log.info("no acknowledgement for %.0f s; reconnecting", now - conn.last_activity)
            conn.close()
            return
        self._pump(conn)
        if now - self._last_heartbeat >= self.settings.heartbeat_interval:
            self._last_heartbeat = now
            conn.send(heartbeat_message())

    def _take(self, first: int, upto: int, limit: int) -> list[Frame]:
        max_bytes = self.settings.batch_max_bytes
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
        return self._cursor.read(first, min(upto, self.wal.last_seq), limit, max_bytes)

    def _pump(self, conn: Connection) -> None:
        upto = self.built
        iso = self._isolation
        offset = self.seq_offset or 0
        window = 1 if iso.active else _WINDOW
        while conn.sent_seq < upto and conn.backlog() < window:
            if iso.active and conn.sent_seq > self.acked:
                return  # while looking for a refused record: one batch at a time
            nxt = conn.sent_seq + 1
            if iso.stand_in == nxt:
                conn.send(batch_message([stand_in(nxt + offset)]))
                conn.sent_seq = nxt
                continue
            frames = self._take(nxt, upto, iso.batch_size(self.settings.batch_max_records))
            if not frames:
                break
            if iso.stand_in is not None:
                frames = [f for f in frames if f[0] < iso.stand_in]
            payloads = [f[1] for f in frames] if not offset else [renumber(f[1], f[0] + offset) for f in frames]
            conn.send(batch_message(payloads))
            conn.sent_seq = frames[-1][0]
