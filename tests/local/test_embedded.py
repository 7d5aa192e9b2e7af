"""The embedded storage of local mode: PostgreSQL, Redis and S3 from one data folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from runyard_server.local import EmbeddedStack, S3Config, StartupError
from tests.support import db
from tests.support.stack import TestStack

pytestmark = pytest.mark.local


def _pids_gone(pids: list[int]) -> bool:
    import psutil

    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def test_data_survives_stop_and_start(data_tmp: Path) -> None:
    data = data_tmp / "data"
    first = EmbeddedStack(data, durable=False)
    first.start()
    try:
        assert first.database_url.startswith("postgresql://postgres:")
        assert "@127.0.0.1:" in first.database_url and first.database_url.endswith("/runyard")
        db.execute(first.database_url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
        first.s3.client().put_object(Bucket="runyard", Key="runs/a/file.txt", Body=b"bytes kept")
        import redis

        r = redis.Redis.from_url(first.redis_url)
        r.set("cache-key", "v")
        r.close()

        # one stack per folder: a second one is refused with a clear message
        with pytest.raises(StartupError, match="in use by another"):
            EmbeddedStack(data).start()

        creds = data / "credentials.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        creds_before = creds.read_text()
        pids = list(first.pids().values())
        assert len(pids) == 3
    finally:
        first.stop()
    assert _pids_gone(pids)

    second = EmbeddedStack(data, durable=False)
    second.start()
    try:
        assert db.fetchval(second.database_url, "SELECT v FROM kept") == "hello"
        body = second.s3.client().get_object(Bucket="runyard", Key="runs/a/file.txt")["Body"].read()
        assert body == b"bytes kept"
        assert (data / "credentials.json").read_text() == creds_before
        import redis

        r = redis.Redis.from_url(second.redis_url)
        assert r.get("cache-key") == b"v"  # the snapshot written at stop
        r.close()
        for name in ("postgresql", "redis", "s3"):
            assert second.log_path(name).exists()
    finally:
        second.stop()


def test_wrong_credentials_are_refused(stack: TestStack) -> None:
    import asyncpg
    import botocore.exceptions

    bad_dsn = stack.database_url.replace("postgres:", "postgres:wrong", 1)
    with pytest.raises(asyncpg.InvalidPasswordError):
        db.fetchval(bad_dsn, "SELECT 1")

    s3 = stack.s3
    wrong = S3Config(s3.endpoint, s3.access_key, s3.secret_key + "x")
    with pytest.raises(botocore.exceptions.ClientError):
        wrong.client().put_object(Bucket=s3.bucket, Key="nope", Body=b"x")


def test_presigned_put_then_get_and_tampering(stack: TestStack) -> None:
    client = stack.s3.client()
    key = "presign/object.bin"
    payload = os.urandom(70_000)
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": stack.s3.bucket, "Key": key}, ExpiresIn=300
    )
    resp = httpx.put(put_url, content=payload, timeout=30)
    assert resp.status_code == 200, resp.text

    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": stack.s3.bucket, "Key": key}, ExpiresIn=300
    )
    resp = httpx.get(get_url, timeout=30)
    assert resp.status_code == 200
    assert resp.content == payload

    # a changed signature, or a valid signature used for another key, is refused
    parts = urlsplit(get_url)
    query = dict(parse_qsl(parts.query))
    sig = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    tampered = urlunsplit(parts._replace(query=urlencode(query)))
    assert httpx.get(tampered, timeout=30).status_code == 403
    other_key = urlunsplit(parts._replace(path=parts.path.replace("object.bin", "other.bin")))
    assert httpx.get(other_key, timeout=30).status_code == 403
    # and without any signature: no anonymous access (rclone answers 400 for a missing signature)
    anonymous = httpx.get(f"{stack.s3.endpoint}/{stack.s3.bucket}/{key}", timeout=30)
    assert anonymous.status_code in (400, 403)
    assert anonymous.content != payload
