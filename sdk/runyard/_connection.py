"""One attempt at the ingest stream (`runyard.v1.Ingest/Stream`), run by its own reader thread.

The streamer thread never blocks on the network: it creates a `Connection`, hands it serialized
`ClientMessage`s with `send()` (a queue that gRPC's request iterator drains under flow control), and
looks at `opened`, `acked`, `last_activity` and `error` when it wakes. Everything that can block (the
server-info lookup, the call itself, reading acknowledgements) happens on the reader thread, which calls
`notify()` whenever something changed.

Sequence numbers here are the server's (`acked`, `rejected`); the streamer maps them to its own.
A status that ends the stream is sorted into one of three kinds:
- `fatal`: the run itself is refused (bad key, no permission, bad OpenRun, a sequence gap): stop;
- `refused`: INVALID_ARGUMENT or RESOURCE_EXHAUSTED after RunOpened: the batch in flight was refused as a
  whole; the streamer finds the record at fault (`runyard._refusals`) and goes on without it;
- anything else is transient (retry with backoff); `server_failed` marks UNKNOWN/INTERNAL, which an
  older server answers for a record PostgreSQL refuses, and which the streamer also isolates when it
  repeats at the same record.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import grpc

from runyard_proto.v1 import ingest_pb2 as pb

from ._http import LOGIN_HINT, server_info
from .errors import CommError, RunyardError, ServerError, error_for_grpc_code

__all__ = ["FATAL_AFTER_OPEN", "FATAL_CODES", "Connection"]

log = logging.getLogger("runyard")

_METHOD = "/runyard.v1.Ingest/Stream"
FATAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,  # resending the same batch would fail the same way
    }
)
# after RunOpened: the key stopped working, the run vanished, or our numbering broke (a gap)
FATAL_AFTER_OPEN = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
_REFUSED_BATCH = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED})
_SERVER_FAILED = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS})
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 << 20),
    # notice a peer that vanished without closing the connection (the server allows pings every 10 s)
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 500),
]


def _identity(data: bytes) -> bytes:
    return data


class Connection:
    def __init__(
        self,
        *,
        base_url: str,
        ingest_address: str | None,
        ingest_tls: bool,
        api_key: str,
        open_message: bytes,
        http_timeout: float,
        notify: Callable[[], None],
    ) -> None:
        self.base_url = base_url
        self.address = ingest_address
        self.tls = ingest_tls
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._http_timeout = http_timeout
        self._notify = notify
        self._out: queue.Queue[bytes | None] = queue.Queue()
        self._out.put(open_message)
        self.opened: pb.RunOpened | None = None
        self.acked = 0  # the server's sequence numbers
        self.rejected: deque[tuple[int, str]] = deque()  # (server seq, reason) from Ack.rejected
        self.sent_seq = 0  # set by the streamer thread only (the streamer's own numbering)
        self.started = time.monotonic()
        self.last_activity = self.started
        self.error: RunyardError | None = None
        self.code: str | None = None  # the gRPC status that ended the stream
        self.fatal = False
        self.refused = False
        self.server_failed = False
        self.done = threading.Event()
        self._closing = False
        self._call: grpc.Future | None = None  # type: ignore[type-arg]
        self._channel: grpc.Channel | None = None
        self._thread = threading.Thread(target=self._run, name="runyard-ingest-reader", daemon=True)
        self._thread.start()

    # ---- used by the streamer thread
    def send(self, message: bytes) -> None:
        self._out.put(message)

    def backlog(self) -> int:
        """Messages handed over but not yet taken by gRPC."""
        return self._out.qsize()

    @property
    def is_open(self) -> bool:
        return self.opened is not None and not self.done.is_set()

    def half_close(self) -> None:
        """No more messages: the server ends the stream once it has answered everything."""
        self._out.put(None)

    def close(self) -> None:
        self._closing = True
        self._out.put(None)
        call = self._call
        if call is not None:
            call.cancel()
        channel = self._channel
        if channel is not None:
            channel.close()

    # ---- reader thread
    def _requests(self) -> Iterator[bytes]:
        while True:
            item = self._out.get()
            if item is None:
                return
            yield item

    def _run(self) -> None:
        try:
            if not self.address:
                info = server_info(self.base_url, self._http_timeout)
                self.address, self.tls = info.ingest_address, info.ingest_tls
            if self._closing:
                return
            if self.tls:
                channel = grpc.secure_channel(self.address, grpc.ssl_channel_credentials(), _CHANNEL_OPTIONS)
            else:
                channel = grpc.insecure_channel(self.address, _CHANNEL_OPTIONS)
            self._channel = channel
            stream = channel.stream_stream(
                _METHOD, request_serializer=_identity, response_deserializer=pb.ServerMessage.FromString
            )
            call = stream(self._requests(), metadata=self._metadata)
            self._call = call
            for msg in call:
                self.last_activity = time.monotonic()
                which = msg.WhichOneof("msg")
                if which == "ack":
                    for r in msg.ack.rejected:
                        self.rejected.append((r.seq, r.reason))
                    if msg.ack.seq > self.acked:
                        self.acked = msg.ack.seq
                elif which == "opened":
                    if msg.opened.last_seq > self.acked:
                        self.acked = msg.opened.last_seq
                    self.opened = msg.opened
                self._notify()
            if not self._closing:
                self.error = CommError(f"the ingest server at {self.address} ended the stream")
        except grpc.RpcError as exc:
            if not self._closing:
                self._set_rpc_error(exc)
        except CommError as exc:
            self.error = exc
        except Exception as exc:
            log.exception("ingest stream failed")
            self.error = ServerError(f"the ingest stream to {self.address} failed: {exc!r}")
        finally:
            self.done.set()
            if self._channel is not None:
                self._channel.close()
            self._notify()

    def _set_rpc_error(self, exc: grpc.RpcError) -> None:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        details = (exc.details() if hasattr(exc, "details") else "") or ""
        self.code = code.name
        if self.opened is not None and code not in FATAL_AFTER_OPEN:
            self.refused = code in _REFUSED_BATCH
            self.server_failed = code in _SERVER_FAILED
            self.error = CommError(f"ingest stream to {self.address}: {code.name}: {details}")
            return
        if code in FATAL_CODES:
            self.fatal = True
            message = f"the ingest server {self.address} refused the run ({code.name}): {details.rstrip('.')}"
            if code == grpc.StatusCode.UNAUTHENTICATED:
                message += ". " + LOGIN_HINT.format(base=self.base_url).rstrip(".")
            self.error = error_for_grpc_code(code.name, message, detail=details)
        else:
            self.error = CommError(f"ingest stream to {self.address}: {code.name}: {details}")
