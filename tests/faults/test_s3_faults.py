"""The bucket (S3) down: the artifact service answers 503 + Retry-After, and `log_artifact` waits the
outage out and goes on where it stopped, instead of raising into the training script."""

from __future__ import annotations

import filecmp
import hashlib
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard import artifacts as ra
from runyard_server.artifact import create_app
from runyard_server.common.settings import load_settings
from tests.artifact.harness import ArtifactEnv, MiB, random_file
from tests.support.asgi import serve
from tests.support.db import fresh_database

from .chaos import Chaos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(server: Any) -> Iterator[ArtifactEnv]:
    """The artifact service with 5 MiB parts (files above 5 MiB go up in parts), on a fresh database and
    a fresh bucket of the session's S3 (removed afterwards, unfinished uploads included)."""
    bucket = "faults-" + secrets.token_hex(4)
    server.s3.client().create_bucket(Bucket=bucket)
    try:
        with fresh_database(server.database_url, prefix="ry_faults_") as dsn:
            settings = load_settings(
                database_url=dsn, db_pool_min=0, db_pool_max=6, shutdown_grace_s=2,
                s3_endpoint=server.s3.endpoint, s3_access_key=server.s3.access_key,
                s3_secret_key=server.s3.secret_key, s3_bucket=bucket, s3_region=server.s3.region,
                s3_multipart_threshold=5 * MiB, s3_part_size=5 * MiB,
            )
            with serve(create_app(settings)) as url:
                yield ArtifactEnv(dsn, url, settings, server.s3, bucket)
    finally:
        shutil.rmtree(server.embedded.data.s3_root / bucket, ignore_errors=True)


def _later(seconds: float, fn: Any) -> threading.Thread:
    def go() -> None:
        time.sleep(seconds)
        fn()

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def test_complete_while_the_bucket_is_down_answers_503_then_works(env: ArtifactEnv, chaos: Chaos, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.project("alice", "faults")
    data = b"bytes that reach the bucket before it goes away\n" * 100
    sha, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    auth = {"Authorization": f"Bearer {alice.key}"}
    begin = httpx.post(f"{env.base_url}/api/v1/artifacts/alice/faults/_uploads", headers=auth, timeout=30,
                       json={"objects": [{"sha256": sha, "size": len(data), "md5": md5}]})
    assert begin.status_code == 200, begin.text
    item = begin.json()["objects"][0]
    put = httpx.put(item["url"], content=data, headers=item["headers"], timeout=30)
    assert put.status_code == 200, put.text
    complete = f"{env.base_url}/api/v1/artifacts/_uploads/{item['upload_id']}/complete"
    with chaos.down("s3"):
        resp = httpx.post(complete, headers=auth, json={}, timeout=60)
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "unavailable" and "object store" in resp.json()["detail"]
        assert int(resp.headers["retry-after"]) >= 1
    resp = httpx.post(complete, headers=auth, json={}, timeout=60)
    assert resp.status_code == 200, resp.text


def test_log_artifact_waits_out_a_bucket_outage_mid_upload(env: ArtifactEnv, chaos: Chaos, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    alice = env.user("alice")
    env.project("alice", "faults")
    src = random_file(tmp_path / "ckpt.bin", 15 * MiB + 7, seed=5)  # 4 parts of 5 MiB
    small = tmp_path / "notes.txt"
    small.write_text("a small file beside the big one\n")
    art = ra.Artifact("model", "model")
    art.add_file(src)
    art.add_file(small)
    restarted: list[threading.Thread] = []

    def on_part(number: int, size: int) -> None:
        if not restarted:  # the bucket dies after the first part is in, and is back 4 s later
            chaos.kill("s3")
            restarted.append(_later(4.0, lambda: chaos.start("s3")))

    logged = ra.log_artifact(env.base_url, alice.key, "alice", "faults", None, art, workers=2, on_part=on_part,
                             wait=120)
    restarted[0].join(30)
    err = capsys.readouterr().err
    assert "artifact model: the storage endpoint does not answer" in err, err
    assert "reachable again after" in err, err
    assert logged.stats.outages >= 1
    # the embedded bucket (rclone) forgets unfinished multipart uploads when it restarts: the upload
    # started again; a bucket that keeps them (S3, MinIO) resumes (see the test below)
    assert logged.stats.parts_uploaded >= 4
    got = ra.get_artifact(env.base_url, alice.key, "alice", "faults", "model:latest")
    out = Path(got.download(tmp_path / "dl"))
    assert filecmp.cmp(out / "ckpt.bin", src, shallow=False)
    assert (out / "notes.txt").read_text() == small.read_text()


def test_log_artifact_waits_out_a_server_outage_without_resending_a_part(
    env: ArtifactEnv, chaos: Chaos, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = env.user("alice")
    env.project("alice", "faults")
    src = random_file(tmp_path / "ckpt.bin", 15 * MiB + 9, seed=7)
    art = ra.Artifact("model3", "model")
    art.add_file(src)
    restarted: list[threading.Thread] = []

    def on_part(number: int, size: int) -> None:
        if not restarted:  # the database behind the server goes away after the first part
            chaos.kill("postgres")
            restarted.append(_later(3.0, lambda: chaos.start("postgres")))

    logged = ra.log_artifact(env.base_url, alice.key, "alice", "faults", None, art, workers=1, on_part=on_part,
                             wait=120)
    restarted[0].join(30)
    assert "does not answer (HTTP 503)" in capsys.readouterr().err
    assert logged.stats.parts_uploaded == 4 and logged.stats.parts_skipped == 0  # each part went up once
    assert logged.version == "v0"


def test_log_artifact_gives_up_after_its_wait_and_the_next_try_resumes(env: ArtifactEnv, chaos: Chaos, tmp_path: Path) -> None:
    from runyard.errors import CommError

    alice = env.user("alice")
    env.project("alice", "faults")
    src = random_file(tmp_path / "ckpt.bin", 15 * MiB + 11, seed=6)
    art = ra.Artifact("model2", "model")
    art.add_file(src)

    def on_part(number: int, size: int) -> None:
        chaos.kill("postgres")  # the server cannot hand out more part URLs

    try:
        with pytest.raises(CommError) as info:
            ra.log_artifact(env.base_url, alice.key, "alice", "faults", None, art, workers=1, on_part=on_part, wait=2)
    finally:
        chaos.start("postgres")
    assert "gave up after waiting 2 s" in str(info.value) and "RUNYARD_UPLOAD_WAIT" in str(info.value)
    again = ra.Artifact("model2", "model")
    again.add_file(src)
    logged = ra.log_artifact(env.base_url, alice.key, "alice", "faults", None, again, wait=60)
    assert logged.stats.parts_skipped >= 1  # what the bucket already had was not sent again
    assert logged.stats.parts_skipped + logged.stats.parts_uploaded == 4
