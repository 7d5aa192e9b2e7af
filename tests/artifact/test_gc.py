"""`runyard-server gc`: objects go once nothing refers to them, never while an upload or commit needs them."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest

from runyard import artifacts as ra
from runyard.artifacts import Artifact
from runyard_server.artifact.gc import run_gc

from .harness import ArtifactEnv, MiB, random_file

pytestmark = [pytest.mark.local]


def gc(env: ArtifactEnv, grace_s: float, **kw: bool) -> object:
    return asyncio.run(run_gc(env.settings, grace_s=grace_s, **kw))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_deleting_a_run_or_a_version_frees_only_unshared_objects(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "p", "doomed")
    env.run_row("alice", "p", "keeper")
    (tmp_path / "only-run.txt").write_text("only in the run")
    (tmp_path / "shared.txt").write_text("in the run and in an artifact")
    (tmp_path / "only-v0.txt").write_text("only in v0")
    ra.upload_run_files(env.base_url, alice.key, "alice", "p", "doomed",
                        {"a.txt": tmp_path / "only-run.txt", "b.txt": tmp_path / "shared.txt"})
    art = Artifact("stuff", "data")
    art.add_file(tmp_path / "shared.txt")
    art.add_file(tmp_path / "only-v0.txt")
    ra.log_artifact(env.base_url, alice.key, "alice", "p", "keeper", art)
    art1 = Artifact("stuff", "data")
    art1.add_file(tmp_path / "shared.txt")
    ra.log_artifact(env.base_url, alice.key, "alice", "p", "keeper", art1)
    keys = {sha: f"objects/{alice.entity_id}/{sha[:2]}/{sha}" for sha in
            (_sha("only in the run"), _sha("in the run and in an artifact"), _sha("only in v0"))}
    assert set(keys.values()) <= set(env.bucket_keys())
    before = ra.project_storage(env.base_url, alice.key, "alice", "p")
    assert before["objects"] == 3 and before["run_files"]["objects"] == 2 and before["artifacts"]["objects"] == 2

    # what the query service does when a run is deleted: the row goes, run_files cascade
    env.sql("DELETE FROM runs WHERE run_id = 'doomed'")
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        assert c.delete(f"{env.base_url}/api/v1/artifacts/alice/p/stuff/v0").status_code == 204

    report = gc(env, grace_s=3600)  # touched a moment ago: inside the grace period, kept
    assert report.deleted_objects == 0  # type: ignore[attr-defined]
    report = gc(env, grace_s=0)
    assert report.deleted_objects == 2  # type: ignore[attr-defined]
    left = env.bucket_keys()
    assert keys[_sha("in the run and in an artifact")] in left
    assert keys[_sha("only in the run")] not in left and keys[_sha("only in v0")] not in left
    after = ra.project_storage(env.base_url, alice.key, "alice", "p")
    assert after["objects"] == 1 and after["bytes"] == len("in the run and in an artifact")
    # v1 still downloads
    got = ra.get_artifact(env.base_url, alice.key, "alice", "p", "stuff:latest")
    assert (Path(got.download(tmp_path / "dl")) / "shared.txt").read_text() == "in the run and in an artifact"


def test_unfinished_uploads_are_aborted_after_the_grace_period(env: ArtifactEnv, big_tmp: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "p", "half")
    src = random_file(big_tmp / "half.bin", 20 * MiB, seed=9)

    class Stop(Exception):
        pass

    def stop(number: int, size: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        ra.upload_run_files(env.base_url, alice.key, "alice", "p", "half", {"half.bin": src}, on_part=stop, workers=1)
    (row,) = env.sql("SELECT id, s3_upload_id FROM storage_objects WHERE state = 'pending'")
    assert gc(env, grace_s=3600).deleted_objects == 0  # type: ignore[attr-defined]
    report = gc(env, grace_s=0)
    assert report.aborted_uploads == 1 and report.deleted_objects == 1  # type: ignore[attr-defined]
    assert not env.sql("SELECT 1 FROM storage_objects WHERE id = $1", row["id"])
    # and the file can still be uploaded from scratch
    stats = ra.TransferStats()
    ra.upload_run_files(env.base_url, alice.key, "alice", "p", "half", {"half.bin": src}, stats=stats)
    assert stats.parts_uploaded == 3 and stats.parts_skipped == 0


def test_an_upload_meeting_the_gc_waits_and_goes_on(env: ArtifactEnv, tmp_path: Path) -> None:
    """An object the GC is deleting right now: begin answers 409, the SDK retries and uploads afresh."""
    alice = env.user("alice")
    env.run_row("alice", "p", "race")
    f = tmp_path / "race.txt"
    f.write_text("collected and re-uploaded")
    ra.upload_run_files(env.base_url, alice.key, "alice", "p", "race", {"race.txt": f})
    env.sql("DELETE FROM run_files WHERE path = 'race.txt'")
    env.sql("UPDATE storage_objects SET state = 'deleting' WHERE sha256 = $1", _sha("collected and re-uploaded"))
    # a commit never references an object in that state
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        r = c.post(f"{env.base_url}/api/v1/runs/alice/p/race/files",
                   json={"files": [{"path": "race.txt", "sha256": _sha("collected and re-uploaded")}]})
        assert r.status_code == 409

    def finish_gc() -> None:
        time.sleep(1.0)
        gc(env, grace_s=3600)  # finishes rows already marked `deleting`, whatever their age

    t = threading.Thread(target=finish_gc)
    t.start()
    stats = ra.TransferStats()
    ra.upload_run_files(env.base_url, alice.key, "alice", "p", "race", {"race.txt": f}, stats=stats)
    t.join()
    assert stats.uploaded == 1
    rec = ra.run_file_url(env.base_url, alice.key, "alice", "p", "race", "race.txt")
    assert httpx.get(rec["url"]).text == "collected and re-uploaded"


def test_sweep_removes_keys_no_row_knows(env: ArtifactEnv) -> None:
    client = env.s3.client()
    client.put_object(Bucket=env.bucket, Key="objects/999/ab/orphan", Body=b"left by a crash")
    assert gc(env, grace_s=0).swept_keys == 0  # type: ignore[attr-defined]
    assert gc(env, grace_s=0, sweep_bucket=True).swept_keys == 1  # type: ignore[attr-defined]
    assert "objects/999/ab/orphan" not in env.bucket_keys()


def test_an_object_referenced_after_marking_keeps_its_bytes(env: ArtifactEnv, tmp_path: Path) -> None:
    """The window `--grace 0` leaves: a reference committed between the GC's candidate scan and its
    deletion. Simulated by marking the row by hand after the reference exists."""
    alice = env.user("alice")
    env.run_row("alice", "p", "late")
    f = tmp_path / "late.txt"
    f.write_text("referenced just in time")
    ra.upload_run_files(env.base_url, alice.key, "alice", "p", "late", {"late.txt": f})
    env.sql("UPDATE storage_objects SET state = 'deleting' WHERE sha256 = $1", _sha("referenced just in time"))
    report = gc(env, grace_s=0)
    assert report.deleted_objects == 0  # type: ignore[attr-defined]
    (row,) = env.sql("SELECT state FROM storage_objects WHERE sha256 = $1", _sha("referenced just in time"))
    assert row["state"] == "ready"
    rec = ra.run_file_url(env.base_url, alice.key, "alice", "p", "late", "late.txt")
    assert httpx.get(rec["url"]).text == "referenced just in time"
