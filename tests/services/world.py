"""A whole instance on one fresh database for the access tests: auth, query, artifact (presigned URLs)
and ingest (gRPC), all in-process on real sockets, with the session's Redis and S3.

`World.actor(name)` holds an API key; users, teams and roles are made through the REST API itself
(the first sign-up is the instance admin `root`), so the tests exercise the real routes.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
import httpx

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc
from runyard_server.common.settings import Settings, load_settings
from tests.support import db

from .harness import serve

ROOT_PASSWORD = "root-password-1"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def serve_ingest(settings: Settings) -> Iterator[str]:
    """The ingest gRPC server on 127.0.0.1:0 in a thread with its own event loop; yields host:port."""
    from runyard_server.ingest.server import create_server

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ingest-test", daemon=True)
    thread.start()
    srv = asyncio.run_coroutine_threadsafe(create_server(settings, port=0), loop).result(30)
    try:
        yield f"127.0.0.1:{srv.port}"
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class World:
    dsn: str
    settings: Settings
    auth_url: str
    query_url: str
    artifact_url: str | None
    ingest_address: str
    keys: dict[str, str] = field(default_factory=dict)

    # ---- plumbing ------------------------------------------------------------------------------
    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return db.fetch(self.dsn, query, *args)

    def call(self, who: str | None, method: str, path: str, *, service: str = "auth", **kw: Any) -> httpx.Response:
        base = {"auth": self.auth_url, "query": self.query_url, "artifact": self.artifact_url}[service]
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers.update(bearer(self.keys[who]))
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kw)

    # ---- making the population through the API ------------------------------------------------
    def signup_root(self) -> None:
        r = httpx.post(f"{self.auth_url}/api/v1/auth/signup", json={"username": "root", "password": ROOT_PASSWORD})
        assert r.status_code == 201, r.text
        self.keys["root"] = r.json()["api_key"]

    def user(self, name: str, password: str | None = None) -> str:
        r = self.call("root", "POST", "/api/v1/admin/users", json={"username": name, "password": password})
        assert r.status_code == 201, r.text
        self.keys[name] = r.json()["api_key"]
        return self.keys[name]

    def team(self, name: str, admin: str, members: dict[str, str]) -> None:
        r = self.call(admin, "POST", "/api/v1/teams", json={"name": name})
        assert r.status_code == 201, r.text
        for username, role in members.items():
            r = self.call(admin, "POST", f"/api/v1/teams/{name}/members", json={"username": username, "role": role})
            assert r.status_code == 200, r.text

    def service_account(self, team: str, name: str, by: str, role: str = "member") -> str:
        r = self.call(by, "POST", f"/api/v1/teams/{team}/service-accounts", json={"name": name, "role": role})
        assert r.status_code == 201, r.text
        self.keys[name] = r.json()["api_key"]
        return self.keys[name]

    # ---- ingest --------------------------------------------------------------------------------
    def open_run(self, who: str, entity: str, project: str, run_id: str | None = None,
                 rows: int = 3) -> tuple[grpc.StatusCode | None, str]:
        """Open a run and log `rows` steps; (None, run id) on success, else (status code, details)."""
        run_id = run_id or secrets.token_hex(5)
        msgs = [pb.ClientMessage(open=pb.OpenRun(entity=entity, project=project, run_id=run_id))]
        if rows:
            recs = [pb.Record(seq=i + 1, history=pb.HistoryRow(step=i, timestamp=1.7e9 + i, keys=["loss"],
                                                               values=[1.0 / (i + 1)])) for i in range(rows)]
            msgs.append(pb.ClientMessage(batch=pb.RecordBatch(records=recs)))
        with grpc.insecure_channel(self.ingest_address) as channel:
            call = pb_grpc.IngestStub(channel).Stream(iter(msgs), metadata=[("authorization", f"Bearer {self.keys[who]}")],
                                                      timeout=30)
            try:
                out = list(call)
            except grpc.RpcError as err:
                return err.code(), err.details() or ""
        assert out and out[0].opened.run_id == run_id
        return None, run_id


@contextmanager
def running_world(stack: Any, *, artifact: bool = True, **overrides: Any) -> Iterator[World]:
    bucket = "acc-" + secrets.token_hex(5)
    s3: dict[str, Any] = {}
    if artifact:
        stack.s3.client().create_bucket(Bucket=bucket)
        s3 = dict(s3_endpoint=stack.s3.endpoint, s3_access_key=stack.s3.access_key,
                  s3_secret_key=stack.s3.secret_key, s3_bucket=bucket, s3_region=stack.s3.region)
    with db.fresh_database(stack.database_url, prefix="ry_svc_") as dsn:
        base = dict(database_url=dsn, redis_url=stack.redis_url, db_pool_min=0, db_pool_max=4, shutdown_grace_s=2,
                    **s3)
        base.update(overrides)
        with serve_ingest(load_settings(**base, ingest_host="127.0.0.1")) as ingest_address:
            settings = load_settings(**base, public_ingest_address=ingest_address)
            from runyard_server.auth import create_app as create_auth
            from runyard_server.query import create_app as create_query

            with serve(create_auth(settings)) as auth_url, serve(create_query(settings)) as query_url:
                if artifact:
                    from runyard_server.artifact import create_app as create_artifact

                    with serve(create_artifact(settings)) as artifact_url:
                        yield World(dsn, settings, auth_url, query_url, artifact_url, ingest_address)
                else:
                    yield World(dsn, settings, auth_url, query_url, None, ingest_address)
