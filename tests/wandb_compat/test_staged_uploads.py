"""The artifact service's staged uploads (docs/artifacts.md), which the W&B protocol builds on: who may use
them, latest-upload-wins for run files, MD5-signed artifact files, scratch documents, and the GC."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from typing import Any

import httpx
import pytest

from .conftest import WandbWorld

pytestmark = pytest.mark.e2e
PROJECT = "wb-staged"


@pytest.fixture(scope="module")
def run_id(wandb_world: WandbWorld) -> str:
    res = wandb_world.script("staged-base", f"""
        import wandb
        run = wandb.init(project="{PROJECT}")
        save_out(id=run.id)
        run.finish()
    """, env={"WANDB__DISABLE_STATS": "true", "WANDB_CONSOLE": "off"})
    return str(res.out["id"])


def _post(w: WandbWorld, path: str, body: Any, key: str | None = None) -> httpx.Response:
    return w.rest("POST", path, key=key, json=body)


def test_run_files_latest_upload_wins_and_only_writers_stage(wandb_world: WandbWorld, run_id: str) -> None:
    base = f"/api/v1/runs/admin/{PROJECT}/{run_id}/files/_staged"
    urls = []
    for content in (b"first version\n", b"second version\n"):
        r = _post(wandb_world, base, {"paths": ["notes/readme.txt"]})
        assert r.status_code == 200, r.text
        urls.append(r.json()["files"][0]["url"])
        assert httpx.put(urls[-1], content=content).status_code == 200
    r = _post(wandb_world, base + "/commit", {"paths": ["notes/readme.txt", "never/uploaded.bin"]})
    assert r.status_code == 200, r.text
    done = {f["path"]: f for f in r.json()["files"]}
    assert done["never/uploaded.bin"]["state"] == "missing"
    assert done["notes/readme.txt"]["sha256"] == hashlib.sha256(b"second version\n").hexdigest()
    record = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/files/notes/readme.txt")
    assert wandb_world.download(record["url"]) == b"second version\n"
    # adopted through the one upload path: the stored copy was hashed on complete, like every upload's
    obj = wandb_world.stack.fetch("SELECT state, verified_at FROM storage_objects WHERE sha256 = $1",
                                  record["sha256"])
    assert [o["state"] for o in obj] == ["ready"] and obj[0]["verified_at"] is not None
    # adopted uploads are gone from staging; committing again finds nothing new and changes nothing
    again = _post(wandb_world, base + "/commit", {"paths": ["notes/readme.txt"]}).json()["files"][0]
    assert again["state"] == "missing"
    assert wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/files/notes/readme.txt")["sha256"] == \
        record["sha256"]
    # a user who may not write the project gets the same "not found" as everywhere
    stranger = wandb_world.new_user("staged-stranger")
    assert _post(wandb_world, base, {"paths": ["x"]}, key=stranger).status_code == 404
    assert _post(wandb_world, base + "/commit", {"paths": ["x"]}, key=stranger).status_code == 404
    assert _post(wandb_world, f"/api/v1/artifacts/admin/{PROJECT}/_staged", {"objects": [{"name": "x"}]},
                 key=stranger).status_code == 404
    assert _post(wandb_world, base, {"paths": ["../escape"]}).status_code == 400


def test_artifact_objects_by_md5_and_scratch_documents(wandb_world: WandbWorld, run_id: str) -> None:
    base = f"/api/v1/artifacts/admin/{PROJECT}/_staged"
    data = b"artifact bytes " * 100
    md5 = hashlib.md5(data).hexdigest()
    r = _post(wandb_world, base, {"objects": [{"md5": md5}, {"name": "doc/one.json"}]})
    assert r.status_code == 200, r.text
    obj, doc = r.json()["objects"]
    assert obj["state"] == "pending" and obj["headers"]["Content-MD5"] == base64.b64encode(bytes.fromhex(md5)).decode()
    # the bucket refuses bytes that are not the ones whose MD5 was signed
    assert httpx.put(obj["url"], content=b"other bytes", headers=obj["headers"]).status_code >= 400
    missing = _post(wandb_world, base + "/commit", {"objects": [{"md5": md5}]}).json()["objects"][0]
    assert missing["state"] == "missing"
    assert httpx.put(obj["url"], content=data, headers=obj["headers"]).status_code == 200
    ready = _post(wandb_world, base + "/commit", {"objects": [{"md5": md5, "size": len(data)}]}).json()["objects"][0]
    assert (ready["state"], ready["sha256"], ready["size"]) == ("ready", hashlib.sha256(data).hexdigest(), len(data))
    # known bytes are not asked for again
    known = _post(wandb_world, base, {"objects": [{"md5": md5, "size": len(data)}]}).json()["objects"][0]
    assert known["state"] == "ready" and "url" not in known
    # a scratch document: written and read back with the URLs given, never adopted
    assert httpx.put(doc["url"], content=b'{"a": 1}').status_code == 200
    assert httpx.get(doc["get_url"]).content == b'{"a": 1}'
    refused = _post(wandb_world, base + "/commit", {"objects": [{"name": "doc/one.json"}]})
    assert refused.status_code == 400


def test_gc_removes_staged_uploads_never_adopted(wandb_world: WandbWorld, run_id: str) -> None:
    r = _post(wandb_world, f"/api/v1/runs/admin/{PROJECT}/{run_id}/files/_staged", {"paths": ["abandoned.txt"]})
    assert httpx.put(r.json()["files"][0]["url"], content=b"left behind").status_code == 200
    s3 = wandb_world.stack.s3.client()
    bucket = wandb_world.stack.s3.bucket

    def staged() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="staging/").get("Contents", [])]

    assert staged()
    env = wandb_world.stack.service_env()
    proc = subprocess.run([sys.executable, "-m", "runyard_server.cli", "gc", "--grace", "0"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "abandoned staged upload" in proc.stdout + proc.stderr
    assert staged() == []
