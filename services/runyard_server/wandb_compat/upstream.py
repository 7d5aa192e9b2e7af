"""The other services, as this component sees them: REST (auth, query, artifact) and gRPC (ingest).

Every call carries the caller's own API key, so the service that answers applies the one verifier and
its access rules (a project the caller may not read is "not found" there, and so here); this component
holds no credentials and no database connection of its own.

    up = Upstream(http_client, ingest_channel)
    run = await up.get(key, f"/api/v1/runs/{e}/{p}/{r}")               # REST, errors as RunyardError
    written = await up.write(key, open_run, build_records)               # one ingest stream

Errors: an upstream 4xx becomes the matching domain error with the upstream's message; a 5xx, a
timeout or a refused connection becomes `Unavailable` (HTTP 503 + Retry-After here, which the wandb
client retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from ..common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RunyardError,
    TooManyRequests,
    Unauthenticated,
)

__all__ = ["Unavailable", "Upstream", "Written"]

log = logging.getLogger("runyard.wandb")
BATCH = 5_000  # records per ingest batch (below ingest's RUNYARD_MAX_BATCH_RECORDS default of 20,000)

_BY_STATUS: dict[int, type[RunyardError]] = {
    400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound, 413: ResourceExhausted,
    422: InvalidArgument,
}
_BY_CODE: dict[str, type[RunyardError]] = {
    "already_exists": AlreadyExists, "failed_precondition": FailedPrecondition,
}
_BY_GRPC: dict[grpc.StatusCode, type[RunyardError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


class Unavailable(RunyardError):
    """A service this one depends on did not answer (or answered 5xx): try again later."""

    code, http, grpc = "unavailable", 503, "UNAVAILABLE"

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_from_response(resp: httpx.Response, what: str) -> RunyardError:
    try:
        body = resp.json()
        detail = str(body.get("detail") or resp.reason_phrase)
        code = str(body.get("code") or "")
    except ValueError:
        detail, code = resp.text[:200] or resp.reason_phrase, ""
    if resp.status_code == 429:
        return TooManyRequests(detail, int(resp.headers.get("retry-after", "1") or 1))
    if resp.status_code >= 500:
        return Unavailable(f"{what}: the server answered {resp.status_code}; try again")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(resp.status_code) or FailedPrecondition
    return cls(_for_wandb(detail))


def _for_wandb(message: str) -> str:
    """Hints in the services' messages name the Runyard CLI; a wandb user logs in with wandb's."""
    return message.replace("`runyard login`", "`wandb login --host`")


@dataclass
class Written:
    opened: pb.RunOpened                                 # the run as ingest opened it
    acked: int                                           # the main sequence's acknowledged highest
    rejected: list[str] = field(default_factory=list)    # reasons of records ingest refused (Ack.rejected)


class Upstream:
    def __init__(self, http: httpx.AsyncClient, ingest: grpc.aio.Channel, bucket: httpx.AsyncClient | None = None) -> None:
        self.http = http
        self.ingest = ingest
        self.bucket = bucket or httpx.AsyncClient(timeout=60, trust_env=False)  # presigned URLs of the bucket
        self._stub = pb_grpc.IngestStub(ingest)

    async def put_url(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """PUT bytes to a presigned URL (a scratch document of this protocol's bookkeeping)."""
        try:
            resp = await self.bucket.put(url, content=body, headers=headers or {})
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the bucket ({type(exc).__name__})") from None
        if resp.status_code >= 300:
            raise Unavailable(f"the bucket refused a write ({resp.status_code})")

    async def get_url(self, url: str) -> bytes | None:
        """GET a presigned URL; None when the object is not there."""
        try:
            resp = await self.bucket.get(url)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the bucket ({type(exc).__name__})") from None
        if resp.status_code == 404:
            return None
        if resp.status_code >= 300:
            raise Unavailable(f"the bucket refused a read ({resp.status_code})")
        return resp.content

    # ---- REST ----------------------------------------------------------------------------------------
    async def call(self, key: str, method: str, path: str, *, json: Any = None,
                   params: Any = None, ok404: bool = False) -> Any:
        """One REST call with the caller's key; the JSON body, or None for 204 (and for 404 with ok404)."""
        try:
            resp = await self.http.request(method, path, json=json, params=params,
                                           headers={"Authorization": f"Bearer {key}"} if key else None)
        except httpx.TimeoutException:
            raise Unavailable(f"{method} {path}: the server did not answer in time; try again") from None
        except httpx.TransportError as exc:
            raise Unavailable(f"{method} {path}: cannot reach the server ({type(exc).__name__})") from None
        if resp.status_code == 404 and ok404:
            return None
        if resp.status_code >= 400:
            raise error_from_response(resp, f"{method} {path}")
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def get(self, key: str, path: str, **kw: Any) -> Any:
        return await self.call(key, "GET", path, **kw)

    async def post(self, key: str, path: str, body: Any, **kw: Any) -> Any:
        return await self.call(key, "POST", path, json=body, **kw)

    # ---- ingest --------------------------------------------------------------------------------------
    async def write(
        self, key: str, open_run: pb.OpenRun,
        build: Callable[[pb.RunOpened], list[pb.Record]] | None = None, *, heartbeat: bool = False,
    ) -> Written:
        """Open (create or resume) a run on its own stream, write the records `build` makes from the
        RunOpened answer, wait for their acknowledgement, close.

        The records are settled when this returns (in batches of BATCH records, each acknowledged before
        the next): committed, skipped as replays, or refused alone for their content (`Written.rejected`,
        the reasons ingest gave). `heartbeat` also tells ingest the run is alive (a crashed run becomes
        running again).
        """
        call = self._stub.Stream(metadata=(("authorization", f"Bearer {key}"),))
        opened: pb.RunOpened | None = None
        try:
            await call.write(pb.ClientMessage(open=open_run))
            first = await call.read()
            if first is grpc.aio.EOF or first.WhichOneof("msg") != "opened":
                raise Unavailable("ingest closed the stream before it opened the run")
            opened = first.opened
            acked = opened.last_seq
            rejected: list[str] = []
            records = build(opened) if build is not None else []
            for i in range(0, len(records), BATCH):
                await call.write(pb.ClientMessage(batch=pb.RecordBatch(records=records[i:i + BATCH])))
                reply = await call.read()
                if reply is grpc.aio.EOF or reply.WhichOneof("msg") != "ack":
                    raise Unavailable("ingest closed the stream before it acknowledged the records")
                acked = reply.ack.seq
                rejected.extend(r.reason for r in reply.ack.rejected)
            if heartbeat:
                await call.write(pb.ClientMessage(heartbeat=pb.Heartbeat(time=time.time())))
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:  # the server ends the stream when it is done
                pass
            return Written(opened, acked, rejected)
        except grpc.aio.AioRpcError as exc:
            if opened is None and exc.code() in _CORE_FAILURES:
                # Ingest refuses a wrong key before it reads the first message; our write of OpenRun can race
                # that refusal and fail in gRPC core ("Internal error from Core"), which hides ingest's own
                # UNAUTHENTICATED. Ask the auth service, so a wrong key is a 401 and not a 503 the client
                # would retry forever (raises Unauthenticated when the key is the problem).
                await self.get(key, "/api/v1/viewer")
            raise _grpc_error(exc.code(), exc.details() or exc.code().name) from None
        finally:
            if not call.done():
                call.cancel()


_CORE_FAILURES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def _grpc_error(code: grpc.StatusCode, message: str) -> RunyardError:
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
                grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        log.warning("ingest call failed: %s %s", code.name, message)
        return Unavailable(f"the ingest service is not available ({code.name}); try again")
    return _BY_GRPC.get(code, InvalidArgument)(_for_wandb(message))
