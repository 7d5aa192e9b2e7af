"""The artifact service answers what its committed OpenAPI document (services/web/src/api/openapi/artifact.json,
the UI's contract) says, and a field that does not apply is left out, not sent as `null`."""

from __future__ import annotations

import base64
import hashlib
from functools import partial

import httpx
import pytest

from tests.contract import conforms as conforms_to

from .harness import ArtifactEnv

pytestmark = [pytest.mark.local]

conforms = partial(conforms_to, "artifact")


def test_answers_match_the_document(env: ArtifactEnv) -> None:
    alice = env.user("contract")
    env.run_row("contract", "proj", "run1")
    data = b"contract bytes\n"
    sha, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    files = "/api/v1/runs/{entity}/{project}/{run_id}/files"
    arts = "/api/v1/artifacts/{entity}/{project}"
    with httpx.Client(base_url=env.base_url, headers={"Authorization": f"Bearer {alice.key}"}, timeout=30) as c:
        # a new upload: a single presigned PUT, nothing about parts
        r = c.post("/api/v1/runs/contract/proj/run1/files/uploads",
                   json={"files": [{"path": "a/b.txt", "sha256": sha, "size": len(data), "md5": md5}]})
        (up,) = conforms(files + "/uploads", "post", r)["files"]
        assert set(up) == {"path", "sha256", "size", "state", "upload_id", "method", "url", "headers"}
        assert up["state"] == "pending" and up["method"] == "put"
        httpx.put(up["url"], content=data, headers=up["headers"]).raise_for_status()
        done = conforms("/api/v1/artifacts/_uploads/{upload_id}/complete", "post",
                        c.post(f"/api/v1/artifacts/_uploads/{up['upload_id']}/complete", json={}))
        assert done == {"upload_id": up["upload_id"], "sha256": sha, "size": len(data), "state": "ready"}
        status = conforms("/api/v1/artifacts/_uploads/{upload_id}", "get",
                          c.get(f"/api/v1/artifacts/_uploads/{up['upload_id']}"))
        assert status["state"] == "ready" and "method" not in status

        # stored bytes: `ready` and nothing else
        r = c.post("/api/v1/runs/contract/proj/run1/files/uploads",
                   json={"files": [{"path": "c.txt", "sha256": sha, "size": len(data), "md5": md5}]})
        (again,) = conforms(files + "/uploads", "post", r)["files"]
        assert again == {"path": "c.txt", "sha256": sha, "size": len(data), "state": "ready"}

        conforms(files, "post", c.post("/api/v1/runs/contract/proj/run1/files",
                                       json={"files": [{"path": "a/b.txt", "sha256": sha}]}))
        listing = conforms(files, "get", c.get("/api/v1/runs/contract/proj/run1/files"))
        assert [f["path"] for f in listing["folders"]] == ["a/"] and listing["files"] == []
        one = conforms(files + "/{path}", "get", c.get("/api/v1/runs/contract/proj/run1/files/a/b.txt"))
        assert one["sha256"] == sha and one["url"].startswith("http") and one["expires_in"] > 0

        # an artifact version of a stored file and a reference
        r = c.post("/api/v1/artifacts/contract/proj/set/versions", json={
            "type": "dataset", "metadata": {"rows": 3, "split": {"train": 0.8}, "ok": True, "none": None},
            "aliases": ["best"], "run_id": "run1",
            "files": [{"path": "data.txt", "sha256": sha, "size": len(data)},
                      {"path": "remote.bin", "ref": "s3://elsewhere/remote.bin", "size": 10}]})
        logged = conforms(arts + "/{name}/versions", "post", r)
        assert logged["created"] is True and logged["metadata"] == {"rows": 3, "split": {"train": 0.8}, "ok": True,
                                                                   "none": None}
        manifest = conforms(arts + "/{name}/{version}/files", "get", c.get("/api/v1/artifacts/contract/proj/set/v0/files"))
        by_path = {f["path"]: f for f in manifest["files"]}
        assert by_path["data.txt"] == {"path": "data.txt", "sha256": sha, "md5": md5, "size": len(data)}
        assert by_path["remote.bin"] == {"path": "remote.bin", "ref": "s3://elsewhere/remote.bin", "digest": None,
                                         "size": 10}
        assert manifest["expires_in"] is None
        with_urls = conforms(arts + "/{name}/{version}/files", "get",
                             c.get("/api/v1/artifacts/contract/proj/set/v0/files", params={"urls": "true"}))
        assert {f["path"]: "url" in f for f in with_urls["files"]} == {"data.txt": True, "remote.bin": False}
        ref = conforms(arts + "/{name}/{version}/files/{path}", "get",
                       c.get("/api/v1/artifacts/contract/proj/set/best/files/remote.bin"))
        assert "url" not in ref and "expires_in" not in ref

        detail = conforms(arts + "/{name}/{version}", "get", c.get("/api/v1/artifacts/contract/proj/set/latest"))
        assert detail["created_by_run"] == {"entity": "contract", "project": "proj", "run_id": "run1"}
        conforms(arts + "/{name}", "get", c.get("/api/v1/artifacts/contract/proj/set"))
        conforms(arts, "get", c.get("/api/v1/artifacts/contract/proj"))
        conforms(arts + "/_storage", "get", c.get("/api/v1/artifacts/contract/proj/_storage"))
        conforms(arts + "/{name}/aliases/{alias}", "put",
                 c.put("/api/v1/artifacts/contract/proj/set/aliases/prod", json={"version": "v0"}))
        conforms(arts + "/{name}/{version}/use", "post",
                 c.post("/api/v1/artifacts/contract/proj/set/prod/use", json={"run": {"run_id": "run1"}}))
        lineage = conforms("/api/v1/runs/{entity}/{project}/{run_id}/artifacts", "get",
                           c.get("/api/v1/runs/contract/proj/run1/artifacts"))
        assert [v["qualified_name"] for v in lineage["used"]] == ["contract/proj/set:v0"]

        # a multipart upload: parts, not a URL
        big = 17 * 1024 * 1024  # above the tests' 16 MiB threshold
        r = c.post("/api/v1/artifacts/contract/proj/_uploads",
                   json={"objects": [{"sha256": "ab" * 32, "size": big, "md5": "cd" * 16}]})
        (multi,) = conforms(arts + "/_uploads", "post", r)["objects"]
        assert multi["method"] == "multipart" and "url" not in multi and multi["parts_done"] == []
        part = base64.b64encode(bytes.fromhex("cd" * 16)).decode()
        urls = conforms("/api/v1/artifacts/_uploads/{upload_id}/parts", "post",
                        c.post(f"/api/v1/artifacts/_uploads/{multi['upload_id']}/parts",
                               json={"parts": [{"number": 1, "md5": "cd" * 16}]}))
        assert urls["parts"][0]["number"] == 1 and urls["parts"][0]["headers"]["Content-MD5"] == part
        assert c.delete(f"/api/v1/artifacts/_uploads/{multi['upload_id']}").status_code == 204
