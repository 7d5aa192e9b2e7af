"""The W&B file stream (`POST /files/{entity}/{project}/{run}/file_stream`) as ingest records.

A request carries runs of lines for four "files", each with its own offset:

    {"files": {"wandb-history.jsonl": {"offset": 12, "content": ["{...}", ...]},
               "wandb-events.jsonl":  {"offset": 3,  "content": [...]},      # system metrics
               "wandb-summary.json":  {"offset": 0,  "content": ["{...}"]},  # the whole summary
               "output.log":          {"offset": 40, "content": [...]}},     # console lines, rewritable
     "uploaded": ["media/images/x.png"], "preempting": true, "complete": true, "exitcode": 0}

The client sends one request at a time and resends the same request after a failure, so what a request
writes must follow from the request alone:

- History and events lines are append-only and numbered contiguously per file, each file on its own.
  Each goes to ingest on a channel of its own (pb.Record.channel `wandb/history`, `wandb/events`) with
  sequence = its line offset + 1, so a resent line is at or below its channel's highest sequence and is
  skipped: nothing is doubled, and the run's main sequence (the Runyard SDK's) is not touched. Channels
  are strict like every ingest sequence (+1, no gaps), so a line that is not stored (it cannot be read, or
  W&B's step rule drops it) keeps its number with a no-op stand-in (an empty RunUpdate); a line ingest
  refuses for its content is settled there and named in the Ack, which is logged here.
- Summary, console lines and the final state are idempotent: the summary is the whole summary
  (top-level keys replaced), a console line is written *at its line number* (W&B rewrites lines for
  progress bars; ingest's `OutputLines.first_line`), and the exit code is a state. They travel
  unsequenced (sequence 0: applied on every (re)send, never skipped), so a resend changes nothing and
  the client's own `upsertBucket` edits, written beside the stream, never race it for numbers. (Ingest
  allows seq 0 only for such idempotent edits.)

A resuming client is told each channel's highest sequence as its line count (`RunResumeStatus`), and its
later offsets continue from there. A new history line at a step the run already has is dropped, as W&B
does: the client's steps only rise, so such a line is a replay under new offsets (`wandb sync` of a run
that was synced before appends the whole history again).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from runyard_proto.v1 import ingest_pb2 as pb

from ..common.errors import InvalidArgument
from . import translate

__all__ = ["EVENTS_CHANNEL", "HISTORY_CHANNEL", "UNSEQUENCED", "FileStreamRequest", "build_records",
           "parse_request"]

log = logging.getLogger("runyard.wandb")

UNSEQUENCED = 0  # ingest applies a record with sequence 0 every time (idempotent records only)
HISTORY_CHANNEL = "wandb/history"
EVENTS_CHANNEL = "wandb/events"
HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
OUTPUT = "output.log"
KNOWN_FILES = (HISTORY, EVENTS, SUMMARY, OUTPUT)


@dataclass
class Chunk:
    offset: int
    content: list[str]


@dataclass
class FileStreamRequest:
    history: Chunk | None = None
    events: Chunk | None = None
    summary: Chunk | None = None
    output: Chunk | None = None
    uploaded: list[str] = field(default_factory=list)
    preempting: bool = False
    complete: bool = False
    exitcode: int | None = None
    unknown_files: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{name}@{c.offset}+{len(c.content)}" for name, c in (("history", self.history), ("events", self.events),
                 ("summary", self.summary), ("output", self.output)) if c is not None]
        if self.uploaded:
            parts.append(f"uploaded={len(self.uploaded)}")
        if self.complete:
            parts.append(f"complete exitcode={self.exitcode}")
        return " ".join(parts) or "heartbeat"

    @property
    def has_data(self) -> bool:
        return any((self.history, self.events, self.summary, self.output, self.complete))


def _chunk(raw: Any, name: str) -> Chunk:
    if not isinstance(raw, dict):
        raise InvalidArgument(f"files.{name} must be an object with offset and content")
    offset = raw.get("offset", 0)
    content = raw.get("content") or []
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidArgument(f"files.{name}.offset must be an integer >= 0")
    if not isinstance(content, list) or not all(isinstance(line, str) for line in content):
        raise InvalidArgument(f"files.{name}.content must be a list of strings")
    return Chunk(offset, content)


def parse_request(body: Any) -> FileStreamRequest:
    if not isinstance(body, dict):
        raise InvalidArgument("the file_stream body must be a JSON object")
    req = FileStreamRequest()
    files = body.get("files") or {}
    if not isinstance(files, dict):
        raise InvalidArgument("files must be an object")
    for name, raw in files.items():
        chunk = _chunk(raw, name)
        if name == HISTORY:
            req.history = chunk
        elif name == EVENTS:
            req.events = chunk
        elif name == SUMMARY:
            req.summary = chunk
        elif name == OUTPUT:
            req.output = chunk
        else:
            req.unknown_files.append(str(name))
    uploaded = body.get("uploaded") or []
    if not isinstance(uploaded, list) or not all(isinstance(p, str) for p in uploaded):
        raise InvalidArgument("uploaded must be a list of file names")
    req.uploaded = uploaded
    req.preempting = bool(body.get("preempting"))
    req.complete = bool(body.get("complete"))
    code = body.get("exitcode")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise InvalidArgument("exitcode must be an integer")
    req.exitcode = code
    return req


@dataclass
class Built:
    records: list[pb.Record]
    refused: list[str]  # one message per line that could not be read (the others still go in)


def build_records(req: FileStreamRequest, opened: pb.RunOpened, *, now: float | None = None) -> Built:
    """The ingest records of one request, numbered for the run `opened` describes (module docstring)."""
    now = time.time() if now is None else now
    records: list[pb.Record] = []
    refused: list[str] = []
    h_off = req.history.offset if req.history else 0
    e_off = req.events.offset if req.events else 0
    stored_steps = max(0, int(opened.next_step))
    fallback_step = stored_steps
    history_seen = int(opened.channel_seqs.get(HISTORY_CHANNEL, 0))
    for i, line in enumerate(req.history.content if req.history else ()):
        seq = h_off + i + 1
        try:
            row = translate.parse_history_line(line, fallback_step)
        except ValueError as exc:
            refused.append(f"history line {h_off + i}: {exc}")
            records.append(_stand_in(seq, HISTORY_CHANNEL))
            continue
        fallback_step = row.step + 1
        if seq > history_seen and row.step < stored_steps:
            # W&B's step rule, which the client relies on: its steps only rise, so a new line at a step
            # already stored is a replay (`wandb sync` of a run synced before appends its whole history
            # again); W&B drops it, and so do we. (Runyard's own SDK may log lower steps; see
            # docs/decisions.md.)
            records.append(_stand_in(seq, HISTORY_CHANNEL))
            continue
        records.append(pb.Record(seq=seq, channel=HISTORY_CHANNEL, history=pb.HistoryRow(
            step=row.step, timestamp=row.timestamp or now, keys=row.keys, values=row.values,
            json_keys=row.json_keys, json_values=row.json_values)))
    for i, line in enumerate(req.events.content if req.events else ()):
        seq = e_off + i + 1
        try:
            ev = translate.parse_events_line(line)
        except ValueError as exc:
            refused.append(f"events line {e_off + i}: {exc}")
            records.append(_stand_in(seq, EVENTS_CHANNEL))
            continue
        if ev.keys:
            records.append(pb.Record(seq=seq, channel=EVENTS_CHANNEL, system=pb.SystemMetrics(
                timestamp=ev.timestamp or now, keys=ev.keys, values=ev.values)))
        else:
            records.append(_stand_in(seq, EVENTS_CHANNEL))
    records.extend(_idempotent_records(req, now, refused))
    return Built(records, refused)


def _stand_in(seq: int, channel: str) -> pb.Record:
    """A line that is not stored keeps its number in its channel: an empty RunUpdate changes nothing."""
    return pb.Record(seq=seq, channel=channel, update=pb.RunUpdate())


def _idempotent_records(req: FileStreamRequest, now: float, refused: list[str]) -> list[pb.Record]:
    out: list[pb.Record] = []
    if req.output and req.output.content:
        by_stream: list[tuple[int, str, float, str]] = []
        for i, line in enumerate(req.output.content):
            stream, ts, text = translate.parse_output_line(line, now)
            by_stream.append((req.output.offset + i, stream, ts, text))
        # one record per line: each keeps its own stream and time, and is written at its line number
        for line_no, stream, ts, text in by_stream:
            out.append(pb.Record(output=pb.OutputLines(timestamp=ts, stream=stream, lines=[text],
                                                       first_line=line_no)))
    if req.summary and req.summary.content:
        try:
            summary = translate.loads(req.summary.content[-1])
            if not isinstance(summary, dict):
                raise ValueError("the summary must be a JSON object")
            out.append(pb.Record(summary=pb.SummaryUpdate(set_json=translate.dumps(summary))))
        except ValueError as exc:
            refused.append(f"summary: {exc}")
    if req.complete:
        code = int(req.exitcode or 0)
        out.append(pb.Record(finish=pb.Finish(
            exit_code=code, error="" if code == 0 else f"the script exited with code {code}", time=now)))
    return out
