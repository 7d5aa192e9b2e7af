"""`runyard-server wandb`: the W&B protocol as a process of its own (a Deployment of its own later),
reaching the other services only through their public addresses."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import pytest

from runyard_server.local.processes import free_port, spawn, wait_until

pytestmark = pytest.mark.e2e


def _standalone(stack: Any, tmp_path: Any, artifact_url: str | None = None) -> tuple[Any, str, int]:
    """`runyard-server wandb` on its own: (process, base URL, metrics port)."""
    stack.start_ingest()
    stack.start_http()
    port, metrics_port = free_port(), free_port()
    env = stack.service_env({
        "RUNYARD_HTTP_PORT": str(port),
        "RUNYARD_METRICS_PORT": str(metrics_port),
        # one URL per service, as the Helm chart sets them (here all three are the session's front door)
        "RUNYARD_WANDB_AUTH_URL": stack.base_url,
        "RUNYARD_WANDB_QUERY_URL": stack.base_url,
        "RUNYARD_WANDB_ARTIFACT_URL": artifact_url or stack.base_url,
        "RUNYARD_WANDB_INGEST_ADDRESS": stack.ingest_address,
    })
    child = spawn("wandb", [sys.executable, "-m", "runyard_server.cli", "wandb"], tmp_path / "wandb.log", env=env)
    return child, f"http://127.0.0.1:{port}", metrics_port


def test_the_standalone_service_answers_through_the_other_services(stack: Any, admin_key: str, tmp_path: Any) -> None:
    child, base, metrics_port = _standalone(stack, tmp_path)
    try:
        def ready() -> bool:
            try:
                return httpx.get(base + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(child, ready, timeout=60, what="runyard-server wandb", interval=0.2)
        query = {"query": "query Viewer { viewer { username entity } serverInfo { features { name } } }"}
        resp = httpx.post(base + "/graphql", auth=("api", admin_key), json=query, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"] == {"viewer": {"username": "admin", "entity": "admin"},
                                       "serverInfo": {"features": []}}
        upsert = {"query": "mutation($n: String) { upsertBucket(input: {name: $n, modelName: \"standalone\"}) "
                           "{ bucket { name displayName project { entity { name } } } inserted } }",
                  "variables": {"n": "standalone1"}}
        resp = httpx.post(base + "/graphql", auth=("api", admin_key), json=upsert, timeout=30)
        data = resp.json()["data"]["upsertBucket"]
        assert data["inserted"] is True and data["bucket"]["project"]["entity"]["name"] == "admin"
        run = httpx.get(f"{stack.base_url}/api/v1/runs/admin/standalone/standalone1",
                        headers={"Authorization": f"Bearer {admin_key}"}).json()
        assert run["name"] == data["bucket"]["displayName"] and run["state"] == "running"
        wrong = httpx.post(base + "/graphql", auth=("api", "ry-000000000000_" + "z" * 43), json=query, timeout=30)
        assert wrong.status_code == 401 and "not valid" in json.dumps(wrong.json())
        assert httpx.get(base + "/metrics").status_code == 404, "metrics only on the internal port"
        assert "runyard_wandb_requests_total" in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    finally:
        child.stop(15)


def test_readiness_names_the_service_it_cannot_reach(stack: Any, tmp_path: Any) -> None:
    """A wrong artifact URL (nothing listens there) keeps the pod out of the Service, and /readyz says which."""
    child, base, _ = _standalone(stack, tmp_path, artifact_url=f"http://127.0.0.1:{free_port()}")
    try:
        def answers() -> bool:
            try:
                return httpx.get(base + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(child, answers, timeout=60, what="runyard-server wandb", interval=0.2)
        ready = httpx.get(base + "/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["detail"].startswith("artifact: "), ready.text
    finally:
        child.stop(15)


def test_presigned_urls_for_the_public_endpoint_reach_the_bucket_at_the_internal_one(stack: Any) -> None:
    """In a cluster the pod cannot reach the bucket's public name (kind: a port-forward on a laptop); the
    request goes to the internal endpoint with the Host header it was signed for, so the signature holds."""
    import asyncio
    import dataclasses

    from runyard_server.wandb_compat.transport import BucketTransport

    public = "http://s3.public.invalid:9000"  # never resolvable: reaching it would fail the test
    signer = dataclasses.replace(stack.s3, endpoint=public).client()
    key = "staging/test/bucket-transport"
    put = signer.generate_presigned_url("put_object", Params={"Bucket": stack.s3.bucket, "Key": key}, ExpiresIn=60)
    get = signer.generate_presigned_url("get_object", Params={"Bucket": stack.s3.bucket, "Key": key}, ExpiresIn=60)
    forged = signer.generate_presigned_url("get_object", Params={"Bucket": stack.s3.bucket, "Key": key + "x"},
                                           ExpiresIn=60).replace("bucket-transportx", "bucket-transport")

    async def go() -> tuple[int, bytes, int]:
        async with httpx.AsyncClient(transport=BucketTransport(public, stack.s3.endpoint), trust_env=False) as c:
            written = (await c.put(put, content=b"through the internal endpoint")).status_code
            read = (await c.get(get)).content
            refused = (await c.get(forged)).status_code
            return written, read, refused

    written, read, refused = asyncio.run(go())
    assert written == 200 and read == b"through the internal endpoint"
    assert refused == 403, "the signature is still checked"
    stack.s3.client().delete_object(Bucket=stack.s3.bucket, Key=key)
