"""The attacker's playground: one instance (tests/services/world.py: auth, query, artifact and ingest on a
fresh database, the session's Redis and S3) with a population to attack, shared by the security tests.

    root                  instance admin
    team `vision`         tadmin (admin), tmember (member), tviewer (viewer)
        vision/priv       private          vision/pub   internal (every signed-in user reads it)
    team `audio`          aadmin (admin)
        audio/secret      private: nobody outside `audio` may learn anything about it
    outsider              a signed-up user in no team

Each project has one run holding `notes.txt`; `audio/secret` also has an artifact `weights` (v0).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services.world import World, running_world

PASSWORD = "a-long-password-1"


@dataclass
class Population:
    world: World
    runs: dict[str, str]  # "entity/project" -> run id

    def call(self, who: str | None, method: str, path: str, service: str = "query", **kw: Any) -> Any:
        return self.world.call(who, method, path, service=service, **kw)


def upload_file(w: World, who: str, entity: str, project: str, run_id: str, name: str, data: bytes) -> None:
    import runyard.artifacts as ra

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / name.rsplit("/", 1)[-1]
        f.write_bytes(data)
        assert w.artifact_url is not None
        ra.upload_run_files(w.artifact_url, w.keys[who], entity, project, run_id, {name: f})


def log_artifact(w: World, who: str, entity: str, project: str, run_id: str | None, name: str,
                 files: dict[str, bytes]) -> Any:
    import runyard.artifacts as ra

    with tempfile.TemporaryDirectory() as d:
        art = ra.Artifact(name, "model")
        for path, data in files.items():
            f = Path(d) / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
            art.add_file(f, path)
        assert w.artifact_url is not None
        return ra.log_artifact(w.artifact_url, w.keys[who], entity, project, run_id, art)


@pytest.fixture(scope="package")
def population(stack: Any) -> Iterator[Population]:
    with running_world(stack, login_rate_per_user=1000, login_rate_per_address=100_000) as w:
        w.signup_root()
        for name in ("tadmin", "tmember", "tviewer", "outsider", "aadmin"):
            w.user(name, password=PASSWORD)
        w.team("vision", "tadmin", {"tmember": "member", "tviewer": "viewer"})
        w.team("audio", "aadmin", {})
        runs: dict[str, str] = {}
        for entity, project, owner in (("vision", "priv", "tadmin"), ("vision", "pub", "tadmin"),
                                       ("audio", "secret", "aadmin")):
            code, rid = w.open_run(owner, entity, project)
            assert code is None, rid
            runs[f"{entity}/{project}"] = rid
            upload_file(w, owner, entity, project, rid, "notes.txt", f"notes of {entity}/{project}".encode())
        r = w.call("tadmin", "PATCH", "/api/v1/projects/vision/pub", service="query", json={"visibility": "internal"})
        assert r.status_code == 200, r.text
        log_artifact(w, "aadmin", "audio", "secret", runs["audio/secret"], "weights", {"w.bin": b"\x00secret"})
        yield Population(w, runs)
