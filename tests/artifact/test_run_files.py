"""Run files through the real artifact app and the embedded S3: upload, list, download, limits."""

from __future__ import annotations

import filecmp
import hashlib
from pathlib import Path

import httpx
import pytest

from runyard import _transfer
from runyard import artifacts as ra
from runyard.errors import InvalidArgumentError, NotFoundError

from .harness import ArtifactEnv, MiB, random_file

pytestmark = [pytest.mark.local]


def test_small_files_upload_list_and_download(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "run1")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.yaml").write_text("lr: 0.1\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "media" / "b.png").write_bytes(b"\x89PNG fake")  # same bytes: stored once
    recs = ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "run1", {
        "config.yaml": tmp_path / "cfg" / "config.yaml",
        "requirements.txt": tmp_path / "requirements.txt",
        "media/images/a.png": tmp_path / "media" / "a.png",
        "media/images/b.png": tmp_path / "media" / "b.png",
    })
    assert {r["path"] for r in recs} == {"config.yaml", "requirements.txt", "media/images/a.png", "media/images/b.png"}
    by_path = {r["path"]: r for r in recs}
    assert by_path["media/images/a.png"]["content_type"] == "image/png"
    assert by_path["config.yaml"]["sha256"] == hashlib.sha256(b"lr: 0.1\n").hexdigest()

    root = ra.list_run_files(env.base_url, alice.key, "alice", "proj", "run1")
    assert [f["name"] for f in root["folders"]] == ["media"]
    assert root["folders"][0]["file_count"] == 2
    assert [f["path"] for f in root["files"]] == ["config.yaml", "requirements.txt"]
    sub = ra.list_run_files(env.base_url, alice.key, "alice", "proj", "run1", prefix="media/images")
    assert [f["path"] for f in sub["files"]] == ["media/images/a.png", "media/images/b.png"]
    everything = ra.list_run_files(env.base_url, alice.key, "alice", "proj", "run1", recursive=True)
    assert everything["total"] == 4

    out = ra.download_run_file(env.base_url, alice.key, "alice", "proj", "run1", "config.yaml",
                               tmp_path / "dl" / "config.yaml")
    assert out.read_text() == "lr: 0.1\n"
    # two paths, one object
    rows = env.sql("SELECT count(*) AS n FROM storage_objects WHERE sha256 = $1",
                   hashlib.sha256(b"\x89PNG fake").hexdigest())
    assert rows[0]["n"] == 1

    # a redirect for <img src>, and the bucket serves the right type
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        r = c.get(f"{env.base_url}/api/v1/runs/alice/proj/run1/files/media/images/a.png", params={"redirect": "true"})
        assert r.status_code == 307
        got = httpx.get(r.headers["location"])
        assert got.status_code == 200 and got.content == b"\x89PNG fake"

    # deleting a file
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        assert c.delete(f"{env.base_url}/api/v1/runs/alice/proj/run1/files/media/images/b.png").status_code == 204
        assert c.delete(f"{env.base_url}/api/v1/runs/alice/proj/run1/files/media/images/b.png").status_code == 404
    sub = ra.list_run_files(env.base_url, alice.key, "alice", "proj", "run1", prefix="media/images/")
    assert [f["path"] for f in sub["files"]] == ["media/images/a.png"]

    # saving a path again replaces it
    (tmp_path / "cfg" / "config.yaml").write_text("lr: 0.2\n")
    ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "run1", {"config.yaml": tmp_path / "cfg" / "config.yaml"})
    rec = ra.run_file_url(env.base_url, alice.key, "alice", "proj", "run1", "config.yaml")
    assert httpx.get(rec["url"]).text == "lr: 0.2\n"


@pytest.mark.slow
def test_200mb_file_uploads_in_parts_and_downloads_bit_identical(env: ArtifactEnv, big_tmp: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "big")
    src = random_file(big_tmp / "model.bin", 200 * MiB, seed=1)
    stats = ra.TransferStats()
    ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "big", {"model.bin": src}, stats=stats)
    assert stats.uploaded == 1 and stats.parts_uploaded == 25 and stats.parts_skipped == 0  # 8 MiB parts
    assert stats.bytes_uploaded == 200 * MiB
    dest = ra.download_run_file(env.base_url, alice.key, "alice", "proj", "big", "model.bin", big_tmp / "out" / "model.bin")
    assert dest.stat().st_size == 200 * MiB
    assert filecmp.cmp(src, dest, shallow=False)
    (key,) = [r["key"] for r in env.sql("SELECT key FROM storage_objects WHERE state = 'ready' AND size = $1", 200 * MiB)]
    assert env.bucket_keys()[key] == 200 * MiB


def test_bad_paths_and_sizes_are_refused_clearly(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "run2")
    f = tmp_path / "x.txt"
    f.write_text("x")
    h = _transfer.hash_file(f)
    with httpx.Client(headers={"Authorization": f"Bearer {alice.key}"}) as c:
        url = f"{env.base_url}/api/v1/runs/alice/proj/run2/files/uploads"
        for bad in ("../escape.txt", "/etc/passwd", "a//b", "a/./b", "C:/x", "a\\b"):
            r = c.post(url, json={"files": [{"path": bad, "size": h.size, "sha256": h.sha256, "md5": h.md5}]})
            assert r.status_code == 400, (bad, r.text)
            assert r.json()["code"] == "invalid_argument"
        r = c.post(url, json={"files": [{"path": "huge.bin", "size": env.settings.max_file_size + 1,
                                         "sha256": h.sha256, "md5": h.md5}]})
        assert r.status_code == 413
        assert "RUNYARD_MAX_FILE_SIZE" in r.json()["detail"] and "accepts files up to" in r.json()["detail"]
        # committing bytes that were never uploaded
        r = c.post(f"{env.base_url}/api/v1/runs/alice/proj/run2/files",
                   json={"files": [{"path": "x.txt", "sha256": "0" * 64}]})
        assert r.status_code == 409 and "not uploaded" in r.json()["detail"]
    with pytest.raises(InvalidArgumentError):
        ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "run2", {"ok.txt": f},
                                content_types={"ok.txt": "not a type"})
    with pytest.raises(NotFoundError):
        ra.upload_run_files(env.base_url, alice.key, "alice", "proj", "no-such-run", {"x.txt": f})


def test_save_glob_like_wandb(env: ArtifactEnv, tmp_path: Path) -> None:
    alice = env.user("alice")
    env.run_row("alice", "proj", "saved")
    for rel in ("logs/a.txt", "logs/b.txt", "logs/deep/c.txt", "logs/skip.bin"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    recs = ra.save_files(env.base_url, alice.key, "alice", "proj", "saved", str(tmp_path / "logs" / "*.txt"))
    assert sorted(r["path"] for r in recs) == ["a.txt", "b.txt"]
    recs = ra.save_files(env.base_url, alice.key, "alice", "proj", "saved", str(tmp_path / "logs" / "**" / "*.txt"),
                         base_path=str(tmp_path))
    assert sorted(r["path"] for r in recs) == ["logs/a.txt", "logs/b.txt", "logs/deep/c.txt"]
    assert ra.save_files(env.base_url, alice.key, "alice", "proj", "saved", str(tmp_path / "none*")) == []
