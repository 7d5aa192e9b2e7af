"""The artifact side: lineage never names what the caller may not read (issue item 1), a lie about a
content address hurts only the liar (item 2), and stored files are served inline only from an allowlist
of harmless types (item 3); plus traversal and presigned-URL tampering."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from .conftest import Population, log_artifact, upload_file

pytestmark = [pytest.mark.local]



def b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


# ---------------------------------------------------------------- lineage (item 1)

@pytest.fixture(scope="module")
def lineage(population: Population) -> str:
    """vision/pub (internal, readable by everyone) holds `dataset`; a run of the private audio/secret used
    it. (A version's producer run is always of the version's own project, so only users cross projects.)"""
    p, w = population, population.world
    log_artifact(w, "tadmin", "vision", "pub", p.runs["vision/pub"], "dataset", {"d.csv": b"a,b\n1,2\n"})
    r = p.call("aadmin", "POST", "/api/v1/artifacts/vision/pub/dataset/v0/use", service="artifact",
               json={"run": {"entity": "audio", "project": "secret", "run_id": p.runs["audio/secret"]}})
    assert r.status_code == 200, r.text
    return "/api/v1/artifacts/vision/pub/dataset/v0"


def test_used_by_leaves_out_runs_the_caller_may_not_read(population: Population, lineage: str) -> None:
    p = population
    secret_run = p.runs["audio/secret"]
    for who in ("outsider", "tviewer", "tadmin"):
        for path in (lineage, lineage.replace("/v0", "/latest")):
            body = p.call(who, "GET", path, service="artifact").json()
            assert "secret" not in str(body) and secret_run not in str(body), (who, body)
            assert body["used_by"] == [], body
    for who in ("aadmin", "root"):  # those who may read audio/secret see the use
        body = p.call(who, "GET", lineage, service="artifact").json()
        assert {(u["entity"], u["project"], u["run_id"]) for u in body["used_by"]} == {("audio", "secret", secret_run)}
    # the run's own lineage, for those who may read the run
    body = p.call("aadmin", "GET", f"/api/v1/runs/audio/secret/{secret_run}/artifacts", service="artifact").json()
    assert [u["qualified_name"] for u in body["used"]] == ["vision/pub/dataset:v0"]


# ---------------------------------------------------------------- dedup poisoning (item 2)

def begin(p: Population, who: str, entity: str, project: str, sha: str, size: int, md5: str) -> dict[str, Any]:
    r = p.call(who, "POST", f"/api/v1/artifacts/{entity}/{project}/_uploads", service="artifact",
               json={"objects": [{"sha256": sha, "size": size, "md5": md5}]})
    assert r.status_code == 200, r.text
    return r.json()["objects"][0]  # type: ignore[no-any-return]


def test_a_lie_about_a_digest_cannot_poison_a_teammates_upload(population: Population) -> None:
    p = population
    real = b"the real weights " + secrets.token_bytes(16)  # X
    fake = b"planted payload! " + secrets.token_bytes(16)  # Y, the same size
    x_sha = hashlib.sha256(real).hexdigest()
    y_md5 = hashlib.md5(fake).hexdigest()
    # tmember declares sha256(X) with Y's MD5 and sends Y: every check the bucket makes passes
    item = begin(p, "tmember", "vision", "priv", x_sha, len(fake), y_md5)
    assert item["state"] == "pending" and item["method"] == "put"
    put = httpx.put(item["url"], content=fake, headers=item["headers"])
    assert put.status_code == 200, put.text  # the embedded bucket does not check x-amz-checksum-sha256
    r = p.call("tmember", "POST", f"/api/v1/artifacts/_uploads/{item['upload_id']}/complete", service="artifact",
               json={})
    assert r.status_code == 400 and "sha256" in r.json()["detail"], r.text  # the server hashed what was stored
    # the teammate's honest upload of X is stored as X, and reads back as X
    upload_file(p.world, "tadmin", "vision", "priv", p.runs["vision/priv"], "weights.bin", real)
    meta = p.call("tadmin", "GET", f"/api/v1/runs/vision/priv/{p.runs['vision/priv']}/files/weights.bin",
                  service="artifact").json()
    assert meta["sha256"] == x_sha
    assert httpx.get(meta["url"]).content == real


# ---------------------------------------------------------------- serving stored files (item 3)

INLINE = {"pic.png": "image/png", "notes.txt": "text/plain", "data.json": "application/json"}
ATTACHED = {"evil.xsl": "text/xsl", "evil.html": "text/html", "evil.svg": "image/svg+xml",
            "evil.xml": "application/xml", "evil.xhtml": "application/xhtml+xml", "evil.js": "text/javascript",
            "paper.pdf": "application/pdf", "blob.bin": "application/x-anything"}
XSL = (b'<?xml version="1.0"?><xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
       b'<xsl:template match="/"><html><body><script>window.__pwned=1</script></body></html></xsl:template>'
       b'</xsl:stylesheet>')


@pytest.fixture(scope="module")
def served(population: Population) -> dict[str, httpx.Response]:
    """Each file uploaded with its content type; the bucket's answer to the presigned GET the UI gets."""
    import runyard.artifacts as ra

    p, w = population, population.world
    run = p.runs["vision/priv"]
    out = {}
    for name, ctype in {**INLINE, **ATTACHED}.items():
        data = XSL if name.endswith(".xsl") else b"<html><script>window.__pwned=1</script></html>"
        r = p.call("tmember", "POST", f"/api/v1/runs/vision/priv/{run}/files/uploads", service="artifact",
                   json={"files": [{"path": f"media/{name}", "sha256": hashlib.sha256(data + name.encode()).hexdigest(),
                                    "size": len(data) + len(name), "md5": hashlib.md5(data + name.encode()).hexdigest(),
                                    "content_type": ctype}]})
        assert r.status_code == 200, r.text
        item = r.json()["files"][0] if "files" in r.json() else r.json()["objects"][0]
        if item.get("state") == "pending":
            assert httpx.put(item["url"], content=data + name.encode(), headers=item["headers"]).status_code == 200
            done = p.call("tmember", "POST", f"/api/v1/artifacts/_uploads/{item['upload_id']}/complete",
                          service="artifact", json={})
            assert done.status_code == 200, done.text
        r = p.call("tmember", "POST", f"/api/v1/runs/vision/priv/{run}/files", service="artifact",
                   json={"files": [{"path": f"media/{name}", "sha256": hashlib.sha256(data + name.encode()).hexdigest(),
                                    "content_type": ctype}]})
        assert r.status_code == 200, r.text
        meta = p.call("tviewer", "GET", f"/api/v1/runs/vision/priv/{run}/files/media/{name}", service="artifact")
        assert meta.status_code == 200, meta.text
        out[name] = httpx.get(meta.json()["url"])
    del ra, w
    return out


@pytest.mark.parametrize("name", sorted(INLINE))
def test_harmless_types_are_served_inline(served: dict[str, httpx.Response], name: str) -> None:
    r = served[name]
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(INLINE[name])
    assert r.headers.get("content-disposition", "inline").startswith("inline")


@pytest.mark.parametrize("name", sorted(ATTACHED))
def test_everything_else_is_a_download(served: dict[str, httpx.Response], name: str) -> None:
    r = served[name]
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment"), dict(r.headers)
    # never a type a browser runs or transforms; PDF and SVG keep theirs (downloads; <img> previews of SVG)
    kept = {"paper.pdf": "application/pdf", "evil.svg": "image/svg+xml"}
    assert r.headers["content-type"].startswith(kept.get(name, "application/octet-stream")), dict(r.headers)


def test_file_paths_cannot_climb_out(population: Population) -> None:
    p = population
    run = p.runs["vision/priv"]
    for bad in ("../x", "/etc/passwd", "a/../../b", "a/./b", "", "a//b", "a\\..\\b", "a\x00b"):
        r = p.call("tmember", "POST", f"/api/v1/runs/vision/priv/{run}/files/uploads", service="artifact",
                   json={"files": [{"path": bad, "sha256": "ab" * 32, "size": 1, "md5": "cd" * 16}]})
        assert r.status_code in (400, 422), (bad, r.text)
    for bad in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/x", "notes.txt%00.png"):
        r = httpx.get(f"{p.world.artifact_url}/api/v1/runs/vision/priv/{run}/files/{bad}",
                      headers={"Authorization": f"Bearer {p.world.keys['tmember']}"})
        assert r.status_code in (400, 404), (bad, r.text)


def test_presigned_urls_cannot_be_bent_to_another_object(population: Population) -> None:
    p = population
    mine = p.call("tmember", "GET", f"/api/v1/runs/vision/priv/{p.runs['vision/priv']}/files/notes.txt",
                  service="artifact").json()
    theirs = p.call("aadmin", "GET", f"/api/v1/runs/audio/secret/{p.runs['audio/secret']}/files/notes.txt",
                    service="artifact").json()
    assert httpx.get(mine["url"]).content == b"notes of vision/priv"
    a, b = urlsplit(mine["url"]), urlsplit(theirs["url"])
    stolen_path = urlunsplit(a._replace(path=b.path))  # my signature, their object
    assert httpx.get(stolen_path).status_code == 403
    q = dict(parse_qsl(a.query))
    q["X-Amz-Expires"] = "604800"  # a longer life than signed
    assert httpx.get(urlunsplit(a._replace(query=urlencode(q)))).status_code == 403
    q = dict(parse_qsl(a.query))
    q["response-content-type"] = "text/html"  # a type of my choosing
    assert httpx.get(urlunsplit(a._replace(query=urlencode(q)))).status_code == 403


def test_objects_stored_before_verification_are_hashed_before_anyone_else_trusts_them(population: Population) -> None:
    """Objects from before the server hashed uploads (verified_at NULL): one whose bytes match is verified
    and shared; one whose bytes lie is uploaded again by the honest teammate, under the same key."""
    p, w = population, population.world
    run = p.runs["vision/priv"]
    honest, planted, truth = b"honest legacy " + secrets.token_bytes(8), b"planted legacy", b"the truth, at last"
    upload_file(w, "tmember", "vision", "priv", run, "legacy-ok.bin", honest)
    upload_file(w, "tmember", "vision", "priv", run, "legacy-lie.bin", planted)
    # as if stored before migration 0030, the second one under the address of other bytes
    w.sql("UPDATE storage_objects SET verified_at = NULL WHERE sha256 = ANY($1::text[])",
          [hashlib.sha256(honest).hexdigest(), hashlib.sha256(planted).hexdigest()])
    w.sql("UPDATE storage_objects SET sha256 = $1, size = $2 WHERE sha256 = $3",
          hashlib.sha256(truth).hexdigest(), len(truth), hashlib.sha256(planted).hexdigest())
    w.sql("UPDATE run_files SET sha256 = $1 WHERE path = 'legacy-lie.bin'", hashlib.sha256(truth).hexdigest())

    ok = begin(p, "tadmin", "vision", "priv", hashlib.sha256(honest).hexdigest(), len(honest),
               hashlib.md5(honest).hexdigest())
    assert ok["state"] == "ready"  # hashed, matched, shared
    lie = begin(p, "tadmin", "vision", "priv", hashlib.sha256(truth).hexdigest(), len(truth),
                hashlib.md5(truth).hexdigest())
    assert lie["state"] == "pending"  # the stored bytes did not match: upload the real ones
    assert httpx.put(lie["url"], content=truth, headers=lie["headers"]).status_code == 200
    r = p.call("tadmin", "POST", f"/api/v1/artifacts/_uploads/{lie['upload_id']}/complete", service="artifact",
               json={})
    assert r.status_code == 200, r.text
    # the file that pointed at the lie now holds what its address promised
    meta = p.call("tviewer", "GET", f"/api/v1/runs/vision/priv/{run}/files/legacy-lie.bin", service="artifact").json()
    assert httpx.get(meta["url"]).content == truth
    rows = w.sql("SELECT verified_at FROM storage_objects WHERE sha256 = ANY($1::text[])",
                 [hashlib.sha256(honest).hexdigest(), hashlib.sha256(truth).hexdigest()])
    assert len(rows) == 2 and all(r["verified_at"] is not None for r in rows)
