"""The front door: auth paths to the auth app, the rest to the query app, both lifespans run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from runyard_server.local.frontdoor import FrontDoor, is_auth_path


def _app(name: str, events: list[str], *, with_state: bool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        events.append(f"{name} start")
        app.state.resource = f"{name}-pool"
        try:
            if with_state:
                yield {"who": name}
            else:
                yield
        finally:
            events.append(f"{name} stop")

    app = FastAPI(lifespan=lifespan)

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def echo(path: str, request: Request) -> dict[str, Any]:
        state = getattr(request.state, "who", None)
        return {"app": name, "path": request.url.path, "resource": request.app.state.resource, "state": state}

    return app


async def _lifespan(app: FrontDoor, queue_in: asyncio.Queue[Any], queue_out: asyncio.Queue[Any]) -> None:
    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue_in.get, queue_out.put)


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/api/v1/auth/signup", True),
        ("/api/v1/auth/login", True),
        ("/api/v1/viewer", True),
        ("/api/v1/viewers", False),
        ("/api/v1/authx", False),
        ("/api/v1/server-info", False),
        ("/", False),
    ],
)
def test_auth_paths(path: str, auth: bool) -> None:
    assert is_auth_path(path) is auth


async def test_dispatch_and_lifespans() -> None:
    events: list[str] = []
    door = FrontDoor(_app("auth", events, with_state=True), _app("query", events, with_state=False))
    q_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    q_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(_lifespan(door, q_in, q_out))
    await q_in.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(q_out.get(), 5))["type"] == "lifespan.startup.complete"
    assert events == ["auth start", "query start"]

    transport = httpx.ASGITransport(app=door)
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor") as client:
        r = (await client.post("/api/v1/auth/signup")).json()
        assert r == {"app": "auth", "path": "/api/v1/auth/signup", "resource": "auth-pool", "state": "auth"}
        r = (await client.get("/api/v1/viewer")).json()
        assert r["app"] == "auth" and r["path"] == "/api/v1/viewer"
        r = (await client.get("/api/v1/server-info")).json()
        assert r == {"app": "query", "path": "/api/v1/server-info", "resource": "query-pool", "state": None}
        r = (await client.get("/index.html")).json()
        assert r["app"] == "query"

    await q_in.put({"type": "lifespan.shutdown"})
    assert (await asyncio.wait_for(q_out.get(), 5))["type"] == "lifespan.shutdown.complete"
    await task
    assert events == ["auth start", "query start", "query stop", "auth stop"]


async def test_a_failing_startup_is_reported() -> None:
    @asynccontextmanager
    async def broken(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield

    events: list[str] = []
    door = FrontDoor(_app("auth", events, with_state=False), FastAPI(lifespan=broken))
    q_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    q_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(_lifespan(door, q_in, q_out))
    await q_in.put({"type": "lifespan.startup"})
    msg = await asyncio.wait_for(q_out.get(), 5)
    assert msg["type"] == "lifespan.startup.failed"
    assert "database unreachable" in msg["message"]
    try:
        await task
    except RuntimeError:
        pass
    assert events == ["auth start", "auth stop"]  # what started is closed again
