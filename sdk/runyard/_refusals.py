"""Records the server refuses: each one is settled alone, and the records after it go on.

A server that refuses a record for its own content answers in one of two ways:
- it lists the record in `Ack.rejected` (seq + reason) and acknowledges the rest: the record is settled,
  the client warns once and never resends it;
- an older server (or a batch-level limit) ends the stream with INVALID_ARGUMENT or RESOURCE_EXHAUSTED
  while the batch is in flight, or with UNKNOWN for a value PostgreSQL could not store. Resending the
  same batch would fail forever, so `Isolation` finds the record at fault: it resends the failed range in
  halves, one batch at a time, until a single record fails; that record is then replaced by a stand-in
  (an empty RunUpdate with the same sequence number, which changes nothing on the server). If the stand-in
  is acknowledged, the record was the problem: it is reported as refused and sending goes on. If the
  stand-in fails too, the server is failing, not the record: nothing is skipped, and the streamer retries
  with its normal backoff. UNKNOWN starts isolating only after it repeated three times at the same record,
  so a passing server fault (PostgreSQL restarting) never costs a record.

Sequence numbers here are the client's own (the WAL's); `runyard.streamer` and `runyard._sync` map them.
"""

from __future__ import annotations

import struct

from runyard_proto.v1 import ingest_pb2 as pb

__all__ = ["Isolation", "describe", "stand_in"]

UNKNOWN_REPEATS = 3  # UNKNOWN at the same record this often in a row: isolate it


def stand_in(seq: int) -> bytes:
    """The record sent in place of a refused one: an empty RunUpdate, which the server stores as nothing
    but which takes the sequence number, so the records after it follow without a gap."""
    return pb.Record(seq=seq, update=pb.RunUpdate()).SerializeToString()


def describe(payload: bytes) -> str:
    """A record as a person recognises it: "history row at step 12 (keys loss, acc)"."""
    try:
        rec = pb.Record.FromString(payload)
    except Exception:
        return "an unreadable record"
    kind = rec.WhichOneof("payload")
    if kind == "history":
        keys = [*rec.history.keys, *rec.history.json_keys]
        shown = ", ".join(repr(k[:40]) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"history row at step {rec.history.step} (keys {shown})"
    if kind == "history_block":
        block = rec.history_block
        keys = list(block.keys)
        shown = ", ".join(repr(k[:40]) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
        width = 8 * (2 + len(keys))
        steps = [step for step, *_ in struct.iter_unpack(f"<qd{len(keys)}d", block.rows[: len(block.rows) // width * width])]
        if len(steps) == 1:
            return f"history row at step {steps[0]} (keys {shown})"
        where = f"steps {min(steps)}-{max(steps)}" if steps else "no steps"
        return f"{len(steps)} history rows at {where} (keys {shown})"
    if kind in ("summary", "config"):
        upd = rec.summary if kind == "summary" else rec.config
        return f"{kind} update ({len(upd.set_json)} bytes of JSON)"
    if kind == "output":
        return f"{len(rec.output.lines)} lines of console output"
    if kind == "system":
        return "system metrics sample"
    if kind == "file":
        return f"file notice for {rec.file.path!r}"
    if kind == "finish":
        return f"the run's end (exit code {rec.finish.exit_code})"
    if kind == "update":
        return "a change of the run's name, notes, group, job type or tags"
    return f"a {kind or 'empty'} record"


class Isolation:
    """The state of finding a refused record (see the module docstring). One per stream of records."""

    def __init__(self) -> None:
        self.limit: int | None = None  # batch size while isolating (None: normal batches)
        self.upto = 0  # isolation lasts until this record is acknowledged
        self.stand_in: int | None = None  # the record to replace by a stand-in next
        self.reason = ""  # the server's words for the failure being isolated
        self._unknown_at = 0
        self._unknown_count = 0

    @property
    def active(self) -> bool:
        return self.limit is not None or self.stand_in is not None

    def failed(self, first: int, last: int, *, refused: bool, server_failed: bool, reason: str) -> bool:
        """The stream ended with records first..last sent and not acknowledged. Returns True when the
        next attempt should come soon (isolating), False for the normal backoff."""
        if last < first or not (refused or server_failed):
            return False
        if self.stand_in is not None and first == self.stand_in:
            # even the empty stand-in failed: the server is failing, not the record
            self.reset()
            return False
        if server_failed and not refused and not self.active:
            if first == self._unknown_at:
                self._unknown_count += 1
            else:
                self._unknown_at, self._unknown_count = first, 1
            if self._unknown_count < UNKNOWN_REPEATS:
                return False
        self.reason = reason
        self.upto = max(self.upto, last)
        if last == first:
            self.stand_in = first
        else:
            self.limit = max(1, (last - first + 1) // 2)
        return True

    def batch_size(self, normal: int) -> int:
        return normal if self.limit is None else min(self.limit, normal)

    def acked(self, acked: int) -> int | None:
        """Everything up to `acked` is settled. Returns the record found refused, if its stand-in is
        among them."""
        found = None
        if self.stand_in is not None and acked >= self.stand_in:
            found, self.stand_in = self.stand_in, None
        if self.limit is not None:
            self.limit = self.limit * 2  # the range so far went through: grow back
        if self.upto and acked >= self.upto:
            self.limit, self.upto = None, 0
        if acked >= self._unknown_at:
            self._unknown_at, self._unknown_count = 0, 0
        return found

    def reset(self) -> None:
        self.limit, self.upto, self.stand_in = None, 0, None
        self._unknown_at, self._unknown_count = 0, 0
