"""Interrupted multipart uploads resume without resending finished parts; identical bytes are stored once."""

from __future__ import annotations

import filecmp
import hashlib
from pathlib import Path

import httpx
import pytest

from runyard import _transfer
from runyard import artifacts as ra
from runyard.artifacts import Artifact

from .harness import ArtifactEnv, MiB, random_file

pytestmark = [pytest.mark.local]


class Interrupted(Exception):
    pass


def test_interrupted_upload_resumes_without_resending_finished_parts(env: ArtifactEnv, big_tmp: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "resume")
    src = random_file(big_tmp / "ckpt.bin", 80 * MiB + 12345, seed=2)  # 11 parts of 8 MiB, the last short
    sha = _transfer.hash_file(src).sha256
    finished: list[int] = []

    def stop_halfway(number: int, size: int) -> None:
        finished.append(number)
        if len(finished) == 5:
            raise Interrupted

    first = ra.TransferStats()
    with pytest.raises(Interrupted):
        ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "resume", {"ckpt.bin": src},
                            on_part=stop_halfway, stats=first)
    (row,) = env.sql("SELECT upload_token, state, s3_upload_id FROM storage_objects WHERE sha256 = $1", sha)
    assert row["state"] == "pending" and row["s3_upload_id"]
    assert not env.sql("SELECT 1 FROM run_files WHERE path = 'ckpt.bin'")

    # the service keeps the upload id and reports what the bucket holds (ListParts)
    status = httpx.get(f"{env.base_url}/api/v1/artifacts/_uploads/{row['upload_token']}",
                       headers={"Authorization": f"Bearer {alice.key}"}).json()
    done = {p["number"] for p in status["parts_done"]}
    assert status["part_count"] == 11
    assert 5 <= len(done) < 11, done
    assert len(done) == first.parts_uploaded  # parts still in flight at the interruption finished too

    second = ra.TransferStats()
    ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "resume", {"ckpt.bin": src}, stats=second)
    assert second.parts_skipped == len(done)
    assert second.parts_uploaded == 11 - len(done)
    assert first.parts_uploaded + second.parts_uploaded == 11
    assert second.bytes_uploaded == (80 * MiB + 12345) - sum(p["size"] for p in status["parts_done"])

    dest = ra.download_run_file(env.base_url, alice.key, "alice", "proj", "resume", "ckpt.bin", big_tmp / "dl.bin")
    assert filecmp.cmp(src, dest, shallow=False)


def test_a_file_changed_during_upload_is_not_completed(env: ArtifactEnv, big_tmp: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "changing")
    src = random_file(big_tmp / "moving.bin", 20 * MiB, seed=5)

    def mutate(number: int, size: int) -> None:
        if number == 1:
            with open(src, "r+b") as f:
                f.seek(20 * MiB - 10)
                f.write(b"0123456789")

    with pytest.raises(_transfer.IntegrityError):
        ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "changing", {"moving.bin": src},
                            on_part=mutate, workers=1)  # part 3 is read after part 1 is sent
    assert not env.sql("SELECT 1 FROM run_files WHERE path = 'moving.bin'")


def test_same_50mb_artifact_twice_stores_bytes_once_and_creates_no_new_version(env: ArtifactEnv,
                                                                                 big_tmp: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "r1")
    env.run_row("alice", "proj", "r2")
    data = random_file(big_tmp / "data" / "shard.bin", 50 * MiB, seed=3)
    (big_tmp / "data" / "labels.txt").write_text("cat\ndog\n")
    sha = hashlib.sha256(data.read_bytes()).hexdigest()

    first = Artifact("mnist", "dataset")
    first.add_dir(big_tmp / "data")
    ra.log_artifact(env.base_url, alice.key, "alice", "proj", "r1", first)
    assert (first.version, first.created) == ("v0", True)
    assert first.stats is not None and first.stats.uploaded == 2
    assert first.stats.bytes_uploaded == 50 * MiB + len("cat\ndog\n")

    second = Artifact("mnist", "dataset")
    second.add_dir(big_tmp / "data")
    ra.log_artifact(env.base_url, alice.key, "alice", "proj", "r2", second, aliases=["prod"])
    assert (second.version, second.created) == ("v0", False)
    assert second.stats is not None
    assert second.stats.uploaded == 0 and second.stats.deduplicated == 2 and second.stats.bytes_uploaded == 0
    assert set(second.aliases) == {"latest", "prod"}

    versions = env.sql("SELECT v.version FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id "
                       "WHERE a.name = 'mnist'")
    assert [v["version"] for v in versions] == [0]
    keys = [k for k in env.bucket_keys() if k.endswith(sha)]
    assert len(keys) == 1 and env.bucket_keys()[keys[0]] == 50 * MiB

    # the same bytes in another artifact: still one object
    other = Artifact("mnist-copy", "dataset")
    other.add_file(data, "renamed/shard.bin")
    ra.log_artifact(env.base_url, alice.key, "alice", "proj", "r2", other)
    assert other.stats is not None and other.stats.bytes_uploaded == 0
    assert len([k for k in env.bucket_keys() if k.endswith(sha)]) == 1
    usage = ra.project_storage(env.base_url, alice.key, "alice", "proj")
    assert usage["artifacts"]["bytes"] == 50 * MiB + len("cat\ndog\n")
    assert usage["artifacts"]["logical_bytes"] == 2 * 50 * MiB + len("cat\ndog\n")


def test_a_small_file_changed_after_hashing_is_refused_by_the_bucket(env: ArtifactEnv, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "small-change")
    f = tmp_path / "notes.txt"
    f.write_text("version one")
    real = _transfer._file_chunks

    def changed_first(path: Path, size: int):  # type: ignore[no-untyped-def]
        path.write_text("version two")  # same length, other bytes: only the signed MD5 notices
        return real(path, size)

    monkeypatch.setattr(_transfer, "_file_chunks", changed_first)
    with pytest.raises(_transfer.IntegrityError):
        ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "small-change", {"notes.txt": f})
    assert not env.sql("SELECT 1 FROM storage_objects WHERE sha256 = $1", hashlib.sha256(b"version one").hexdigest())


def test_a_conflicting_declaration_waits_for_an_idle_upload(env: ArtifactEnv) -> None:
    """Two clients claim the same sha256 with different MD5s (one of them is wrong): the second is refused
    while the first upload is active, and may restart it once that one is idle for an hour."""
    alice = env.user("alice")
    env.project("alice", "proj")
    sha = hashlib.sha256(b"contested").hexdigest()
    url = f"{env.base_url}/api/v1/artifacts/alice/proj/_uploads"
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        first = c.post(url, json={"objects": [{"sha256": sha, "size": 9, "md5": "a" * 32}]})
        assert first.status_code == 200 and first.json()["objects"][0]["state"] == "pending"
        again = c.post(url, json={"objects": [{"sha256": sha, "size": 9, "md5": "a" * 32}]})
        assert again.json()["objects"][0]["upload_id"] == first.json()["objects"][0]["upload_id"]  # resumed
        other = c.post(url, json={"objects": [{"sha256": sha, "size": 9, "md5": "b" * 32}]})
        assert other.status_code == 409
        env.sql("UPDATE storage_objects SET touched_at = now() - interval '2 hours' WHERE sha256 = $1", sha)
        taken = c.post(url, json={"objects": [{"sha256": sha, "size": 9, "md5": "b" * 32}]})
        assert taken.status_code == 200
        assert taken.json()["objects"][0]["upload_id"] != first.json()["objects"][0]["upload_id"]
        assert c.get(f"{env.base_url}/api/v1/artifacts/_uploads/{first.json()['objects'][0]['upload_id']}"
                     ).status_code == 404
