"""Through the real `runyard-server frontdoor` process: file and artifact paths reach the artifact service."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc


def test_frontdoor_routes_artifact_paths_to_the_artifact_service(stack: Any, admin_key: str) -> None:
    stack.start_ingest()
    base = stack.start_http()
    run_id = uuid.uuid4().hex[:8]
    with grpc.insecure_channel(stack.ingest_address) as channel:
        opened = list(pb_grpc.IngestStub(channel).Stream(
            iter([pb.ClientMessage(open=pb.OpenRun(project="routing", run_id=run_id))]),
            metadata=[("authorization", f"Bearer {admin_key}")], timeout=30,
        ))
    entity = opened[0].opened.entity
    headers = {"Authorization": f"Bearer {admin_key}"}
    files = httpx.get(f"{base}/api/v1/runs/{entity}/routing/{run_id}/files", headers=headers, timeout=10)
    storage = httpx.get(f"{base}/api/v1/artifacts/{entity}/routing/_storage", headers=headers, timeout=10)
    # only the artifact service has these routes: the query service would answer 404
    assert files.status_code == 200 and files.json()["files"] == []
    assert storage.status_code == 200
    assert httpx.get(f"{base}/api/v1/runs/{entity}/routing/{run_id}", headers=headers, timeout=10).status_code == 200
