"""Revoke a key through the REST API while the SDK streams a run with it: the ingest stream is refused
within 5 s and the SDK says why (and how to sync the rest later)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import serve
from .world import World, running_world

pytestmark = [pytest.mark.local, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[tuple[World, str]]:
    from runyard_server.auth import create_app as create_auth
    from runyard_server.local.frontdoor import FrontDoor
    from runyard_server.query import create_app as create_query

    with running_world(stack, artifact=False) as w:
        w.signup_root()
        # the SDK needs one base URL for server-info (query) and viewer (auth): the local front door
        with serve(FrontDoor(create_auth(w.settings), create_query(w.settings))) as base_url:
            yield w, base_url


def test_rest_revocation_stops_a_streaming_sdk_run_within_5_s(
    world: tuple[World, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import runyard

    w, base_url = world
    made = w.call("root", "POST", "/api/v1/auth/keys", json={"name": "training-job"}).json()
    for k, v in {"RUNYARD_BASE_URL": base_url, "RUNYARD_API_KEY": made["api_key"], "RUNYARD_DIR": str(tmp_path),
                 "RUNYARD_HEARTBEAT_INTERVAL": "1"}.items():
        monkeypatch.setenv(k, v)
    run = runyard.init(project="revoke-while-streaming")
    try:
        for i in range(20):
            run.log({"loss": 1 / (i + 1)})
        streamer = run._streamer
        assert streamer is not None
        deadline = time.monotonic() + 10
        while streamer.acked < 1 and time.monotonic() < deadline:  # the stream is up and writing
            run.log({"loss": 0.5})
            time.sleep(0.05)
        r = w.call("root", "DELETE", f"/api/v1/auth/keys/{made['id']}")
        assert r.status_code == 204
        revoked = time.monotonic()
        i = 0
        while streamer.fatal_error is None and time.monotonic() - revoked < 10:
            i += 1
            run.log({"loss": 1 / (i + 1)})
            time.sleep(0.05)
        refused_after = time.monotonic() - revoked
        assert streamer.fatal_error is not None, "the stream was not refused"
        assert refused_after < 5.0, f"refused only after {refused_after:.2f} s"
        assert "revoked" in str(streamer.fatal_error)
    finally:
        run.finish()
    assert run.finish_result is not None and run.finish_result.outcome == "fatal"
    err = capsys.readouterr().err
    assert "revoked" in err and "runyard sync " in err
