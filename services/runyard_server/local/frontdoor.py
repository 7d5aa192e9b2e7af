"""One HTTP port for local mode: the auth, artifact and query apps behind a path dispatcher.

Auth paths (`/api/v1/auth`, `/viewer`, `/teams`, `/entities`, `/admin`: `auth.app.ROUTE_PREFIXES`) go
to the auth service; `/api/v1/artifacts/...` and a run's
`files`/`artifacts` paths to the artifact service; `/tensorboard/...` to the TensorBoard component (when
the bucket is configured); `/graphql` and `/files/.../file_stream` (the W&B client protocol,
`wandb_compat.owns_path`) to the W&B compatibility service, which calls the others back in process;
`/api/v1/transfers...` and `/api/v1/admin/remotes...` to the copy-job routes (`transfer_jobs`);
everything else (REST, SSE, the UI) to the query service. Requests pass through untouched (no path
rewriting, no root_path). The composite
lifespan enters each sub-app's own lifespan, so each opens its pools exactly as it does when it runs
alone; state a lifespan yields (Starlette's lifespan state) stays with the sub-app that yielded it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..common.settings import Settings

__all__ = ["FrontDoor", "create_app", "is_auth_path"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

def is_auth_path(path: str) -> bool:
    """Paths the auth service answers (sign-up, sessions, keys, teams, entities, admin)."""
    from ..auth.app import owns_path

    return owns_path(path)


class FrontDoor:
    """An ASGI app sending auth paths to `auth`, artifact paths to `artifact` (when given), the rest
    to `query`; runs every lifespan."""

    def __init__(self, auth: Any, query: Any, artifact: Any = None,
                 is_artifact_path: Callable[[str], bool] | None = None, tensorboard: Any = None,
                 is_tensorboard_path: Callable[[str], bool] | None = None, wandb: Any = None,
                 is_wandb_path: Callable[[str], bool] | None = None, transfers: Any = None,
                 is_transfer_path: Callable[[str], bool] | None = None) -> None:
        self.auth = auth
        self.transfers = transfers
        self._is_transfer_path = is_transfer_path or (lambda _path: False)
        self.query = query
        self.artifact = artifact
        self.tensorboard = tensorboard
        self.wandb = wandb
        self._is_artifact_path = is_artifact_path or (lambda _path: False)
        self._is_tensorboard_path = is_tensorboard_path or (lambda _path: False)
        self._is_wandb_path = is_wandb_path or (lambda _path: False)
        # the W&B app's lifespan goes last: it calls the others, so they start before and stop after it
        self.apps = [a for a in (auth, artifact, tensorboard, transfers, query, wandb) if a is not None]
        self._states: dict[int, dict[str, Any] | None] = {id(a): None for a in self.apps}

    def route(self, path: str) -> Any:
        if self.transfers is not None and self._is_transfer_path(path):  # before auth: /api/v1/admin/remotes
            return self.transfers
        if is_auth_path(path):
            return self.auth
        if self.artifact is not None and self._is_artifact_path(path):
            return self.artifact
        if self.tensorboard is not None and self._is_tensorboard_path(path):
            return self.tensorboard
        if self.wandb is not None and self._is_wandb_path(path):
            return self.wandb
        return self.query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        app = self.route(scope.get("path", ""))
        state = self._states.get(id(app))
        if state is not None:
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), **state}
        await app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with contextlib.AsyncExitStack() as stack:
                for app in self.apps:
                    ctx = app.router.lifespan_context(app)
                    state = await stack.enter_async_context(ctx)
                    self._states[id(app)] = dict(state) if state else None
                await send({"type": "lifespan.startup.complete"})
                started = True
                message = await receive()
                assert message["type"] == "lifespan.shutdown"
        except BaseException as exc:
            kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": kind, "message": f"{type(exc).__name__}: {exc}"})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def create_app(settings: Settings) -> FrontDoor:
    """The front door of `runyard-server local`: auth, artifact and query apps from the same settings.

    The artifact service and the TensorBoard component need an S3 endpoint; without one
    (RUNYARD_S3_ENDPOINT empty) the front door serves auth, query and the W&B protocol only, and file and
    TensorBoard paths answer 404 from the query service (TensorBoard paths too with
    RUNYARD_TENSORBOARD_ENABLED=false). The W&B compatibility service reaches the others through this front
    door, in process, and ingest at RUNYARD_INGEST_PORT.
    """
    from .. import transfer_jobs
    from ..auth.app import create_app as create_auth_app
    from ..query.app import create_app as create_query_app
    from ..wandb_compat import create_app as create_wandb_app
    from ..wandb_compat import load_wandb_settings, owns_path

    artifact: Any = None
    artifact_paths: Callable[[str], bool] | None = None
    tensorboard: Any = None
    if settings.s3_endpoint:
        from .. import tensorboard as tensorboard_app
        from ..artifact import app as artifact_app

        artifact = artifact_app.create_app(settings)
        artifact_paths = artifact_app.is_artifact_path
        if settings.tensorboard_enabled:
            tensorboard = tensorboard_app.create_app(settings)
    door: FrontDoor | None = None
    wandb = create_wandb_app(settings, load_wandb_settings(), upstream_app=lambda: door)
    door = FrontDoor(create_auth_app(settings), create_query_app(settings), artifact, artifact_paths,
                     tensorboard=tensorboard,
                     is_tensorboard_path=tensorboard_app.is_tensorboard_path if tensorboard is not None else None,
                     wandb=wandb, is_wandb_path=owns_path,
                     transfers=transfer_jobs.create_app(settings), is_transfer_path=transfer_jobs.is_transfer_path)
    return door
