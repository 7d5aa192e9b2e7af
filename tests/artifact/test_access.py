"""URLs go only to callers the shared verifier allows, and the bucket refuses tampered or expired URLs."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from runyard import _transfer
from runyard import artifacts as ra
from runyard.artifacts import Artifact
from runyard.errors import NotFoundError, PermissionDeniedError
from runyard_server.artifact.storage import Storage

from .harness import ArtifactEnv

pytestmark = [pytest.mark.local]


def _client(key: str | None = None) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=30)


@pytest.fixture(scope="module")
def shared(env: ArtifactEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """bob owns a private project with a file and an artifact, and an internal one with a file."""
    bob = env.user("bob")
    env.run_row("bob", "secret", "r1")
    env.project("bob", "open", visibility="internal")
    env.run_row("bob", "open", "r1")
    d = tmp_path_factory.mktemp("bob")
    (d / "notes.txt").write_text("bob's private notes")
    ra.upload_run_files(env.base_url, bob.key, "bob", "secret", "r1", {"notes.txt": d / "notes.txt"})
    ra.upload_run_files(env.base_url, bob.key, "bob", "open", "r1", {"notes.txt": d / "notes.txt"})
    art = Artifact("weights", "model")
    art.add_file(d / "notes.txt")
    ra.log_artifact(env.base_url, bob.key, "bob", "secret", "r1", art)
    return {"file": str(d / "notes.txt")}


def test_another_users_private_file_is_refused(env: ArtifactEnv, shared: dict[str, str]) -> None:
    alice = env.user("alice")
    with _client(alice.key) as c:
        for path in ("/api/v1/runs/bob/secret/r1/files/notes.txt", "/api/v1/runs/bob/secret/r1/files",
                     "/api/v1/artifacts/bob/secret/weights/latest/files?urls=true",
                     "/api/v1/artifacts/bob/secret/weights/v0/files/notes.txt?redirect=true",
                     "/api/v1/artifacts/bob/secret/_storage", "/api/v1/runs/bob/secret/r1/artifacts"):
            r = c.get(env.base_url + path)
            assert r.status_code == 404, (path, r.status_code, r.text)
            assert "url" not in r.text
    with pytest.raises(NotFoundError):
        ra.use_artifact(env.base_url, alice.key, "alice", "proj", None, "bob/secret/weights:latest")
    # writing into bob's entity: refused before any URL is made
    h = _transfer.hash_file(shared["file"])
    with _client(alice.key) as c:
        r = c.post(env.base_url + "/api/v1/runs/bob/secret/r1/files/uploads",
                   json={"files": [{"path": "x.txt", "sha256": h.sha256, "size": h.size, "md5": h.md5}]})
        # the shared verifier decides: 404 for a stranger's entity (403 for a viewer of a team)
        assert r.status_code in (403, 404) and "url" not in r.text
        r = c.post(env.base_url + "/api/v1/artifacts/bob/open/_uploads",
                   json={"objects": [{"sha256": h.sha256, "size": h.size, "md5": h.md5}]})
        assert r.status_code in (403, 404) and "url" not in r.text
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        ra.upload_run_files(env.base_url, alice.key, "bob", "open", "r1", {"mine.txt": shared["file"]})
    # without a key
    with _client() as c:
        assert c.get(env.base_url + "/api/v1/runs/bob/open/r1/files/notes.txt").status_code == 401


def test_internal_projects_are_readable_not_writable(env: ArtifactEnv, shared: dict[str, str]) -> None:
    alice = env.user("alice")
    rec = ra.run_file_url(env.base_url, alice.key, "bob", "open", "r1", "notes.txt")
    assert httpx.get(rec["url"]).text == "bob's private notes"
    with _client(alice.key) as c:
        r = c.delete(env.base_url + "/api/v1/runs/bob/open/r1/files/notes.txt")
        assert r.status_code in (403, 404)
    assert ra.list_run_files(env.base_url, alice.key, "bob", "open", "r1")["total"] == 1


def test_admin_reads_everything(env: ArtifactEnv, shared: dict[str, str]) -> None:
    root = env.user("root", admin=True)
    rec = ra.run_file_url(env.base_url, root.key, "bob", "secret", "r1", "notes.txt")
    assert httpx.get(rec["url"]).status_code == 200


def test_upload_sessions_of_others_are_hidden(env: ArtifactEnv, tmp_path: Path) -> None:
    bob, alice = env.user("bob"), env.user("alice")
    f = tmp_path / "pending.bin"
    f.write_bytes(b"never completed" * 1000)
    h = _transfer.hash_file(f)
    with _client(bob.key) as c:
        r = c.post(env.base_url + "/api/v1/runs/bob/secret/r1/files/uploads",
                   json={"files": [{"path": "p.bin", "sha256": h.sha256, "size": h.size, "md5": h.md5}]})
        assert r.status_code == 200, r.text
        token = r.json()["files"][0]["upload_id"]
    with _client(alice.key) as c:
        assert c.get(f"{env.base_url}/api/v1/artifacts/_uploads/{token}").status_code == 404
        assert c.post(f"{env.base_url}/api/v1/artifacts/_uploads/{token}/complete", json={}).status_code == 404
        assert c.delete(f"{env.base_url}/api/v1/artifacts/_uploads/{token}").status_code == 404


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    return urlunsplit(parts._replace(query=urlencode(q)))


def test_tampered_urls_are_refused_by_the_bucket(env: ArtifactEnv, shared: dict[str, str], tmp_path: Path) -> None:
    bob = env.user("bob")
    url = ra.run_file_url(env.base_url, bob.key, "bob", "secret", "r1", "notes.txt")["url"]
    assert httpx.get(url).status_code == 200
    sig = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    bad_sig = _with_query(url, **{"X-Amz-Signature": ("0" if sig[0] != "0" else "1") + sig[1:]})
    assert httpx.get(bad_sig).status_code == 403
    # the URL is scoped to one object: pointing it at another key breaks the signature
    parts = urlsplit(url)
    other = urlunsplit(parts._replace(path=parts.path[:-6] + "000000"))
    assert httpx.get(other).status_code == 403
    # a longer lifetime than was signed
    assert httpx.get(_with_query(url, **{"X-Amz-Expires": "604800"})).status_code == 403
    # a GET URL does not allow a PUT
    assert httpx.put(url, content=b"overwrite").status_code == 403
    assert httpx.get(url).text == "bob's private notes"

    # an upload URL accepts only the declared bytes, with the signed Content-MD5 header
    data = b"declared bytes"
    body = {"files": [{"path": "up.txt", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                       "md5": hashlib.md5(data).hexdigest()}]}
    with _client(bob.key) as c:
        item = c.post(env.base_url + "/api/v1/runs/bob/secret/r1/files/uploads", json=body).json()["files"][0]
    assert item["method"] == "put"
    assert httpx.put(item["url"], content=b"other bytes!!!", headers=item["headers"]).status_code == 400  # BadDigest
    assert httpx.put(item["url"], content=data).status_code == 403  # signed headers missing
    forged = dict(item["headers"], **{"Content-MD5": base64.b64encode(hashlib.md5(b"evil").digest()).decode()})
    assert httpx.put(item["url"], content=b"evil", headers=forged).status_code == 403
    with _client(bob.key) as c:  # nothing landed: completing is refused
        r = c.post(f"{env.base_url}/api/v1/artifacts/_uploads/{item['upload_id']}/complete", json={})
        assert r.status_code == 409 and "nothing was uploaded" in r.json()["detail"]
    assert httpx.put(item["url"], content=data, headers=item["headers"]).status_code == 200


def test_expired_urls_are_refused_by_the_bucket(env: ArtifactEnv, shared: dict[str, str]) -> None:
    (row,) = env.sql("SELECT key FROM storage_objects WHERE state = 'ready' LIMIT 1")
    short = Storage(env.settings.model_copy(update={"presign_ttl_s": 3}))  # X-Amz-Date has 1 s resolution
    url = short.presign_get(row["key"])
    assert httpx.get(url).status_code == 200
    time.sleep(4.5)
    r = httpx.get(url)
    assert r.status_code in (400, 403), r.status_code
    assert "AccessDenied" in r.text
