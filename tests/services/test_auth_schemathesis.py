"""Schemathesis against the live query, auth and artifact apps (their own OpenAPI specs, a valid admin key):
no request it makes may end in a 5xx. Bounded (examples per operation and a time budget) so the whole
test stays under a minute; what it tried is printed (`pytest -s`) and written to JUnit/NDJSON reports
(kept in $RUNYARD_ST_REPORTS when set). Schemathesis 4 harvests ids from responses (its resource pool), so
`DELETE /api/v1/auth/keys/{id}` is left out: it would revoke the fuzzer's own key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .world import World, running_world

pytestmark = [pytest.mark.local, pytest.mark.slow]

ST = Path(sys.executable).with_name("st")
# RUNYARD_ST_MAX_EXAMPLES / RUNYARD_ST_MAX_TIME_S raise the budget for a deeper hunt (docs/security.md)
MAX_EXAMPLES = int(os.environ.get("RUNYARD_ST_MAX_EXAMPLES", "15"))
MAX_TIME_S = int(os.environ.get("RUNYARD_ST_MAX_TIME_S", "20"))


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    with running_world(stack, artifact=True, login_rate_per_user=1000, login_rate_per_address=100000) as w:
        w.signup_root()
        w.user("fuzzer-team-admin")
        w.team("fuzzteam", "fuzzer-team-admin", {})
        code, run_id = w.open_run("root", "root", "fuzzed")
        assert code is None
        w.fuzz_run = run_id  # type: ignore[attr-defined]
        _seed_artifact(w, run_id)
        for name in ("st-auth", "st-query", "st-artifact"):  # one fuzzing admin per service
            w.user(name)
            r = w.call("root", "PATCH", f"/api/v1/admin/users/{name}", json={"is_admin": True})
            assert r.status_code == 200
        yield w


def _seed_artifact(w: World, run_id: str) -> None:
    """A run file and an artifact version in root/fuzzed, so the fuzzer reaches past the lookups."""
    import tempfile

    import runyard.artifacts as ra

    assert w.artifact_url is not None
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "notes.txt"
        f.write_text("fuzz me")
        ra.upload_run_files(w.artifact_url, w.keys["root"], "root", "fuzzed", run_id, {"notes.txt": f})
        art = ra.Artifact("fuzzed-model", "model")
        art.add_file(f, "notes.txt")
        ra.log_artifact(w.artifact_url, w.keys["root"], "root", "fuzzed", run_id, art, aliases=["best"])


def path_config(world: World, report_dir: Path) -> Path:
    """Fixed path parameters naming real things (root/fuzzed, its run, file and artifact): the fuzzer's
    inventions then land in the query strings and bodies, past the lookups, where the 500s hide."""
    values = {"entity": "root", "project": "fuzzed", "run_id": world.fuzz_run,  # type: ignore[attr-defined]
              "name": "fuzzed-model", "version": "v0", "path": "notes.txt", "alias": "best"}
    config = report_dir / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in values.items()))
    return config


def run_schemathesis(name: str, spec_url: str, base_url: str, key: str, report_dir: Path,
                     config: Path | None = None) -> dict[str, Any]:
    # requirements-dev.txt installs it: a missing `st` is a broken install, not a reason to skip
    assert ST.exists(), f"{ST} is missing: run `make install` (schemathesis is in requirements-dev.txt)"
    junit, ndjson = report_dir / f"{name}.xml", report_dir / f"{name}.ndjson"
    cmd = [str(ST), *(["--config-file", str(config)] if config else []), "run", spec_url, "--url", base_url, "-H", f"Authorization: Bearer {key}",
           "--checks", "not_a_server_error", "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME_S),
           "--phases", "examples,coverage,fuzzing",
           # one worker: with two, hypothesis' lambda descriptions hit CPython 3.11's thread-unsafe AST
           # constructor ("AST constructor recursion depth mismatch") and the run ends in runtime errors
           "--workers", "1", "--seed", "20261127", "--no-color",
           "--generation-database", "none", "--request-timeout", "10", "--report", "junit,ndjson",
           "--report-junit-path", str(junit), "--report-ndjson-path", str(ndjson)]
    if name == "auth":
        # the fuzzer harvests key ids from GET /auth/keys and would revoke its own key, turning the rest of
        # the run into 401s; revocation is covered by test_auth_accounts.py instead
        cmd += ["--exclude-operation-id", "revoke_key_api_v1_auth_keys__key_id__delete"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_TIME_S + 40)
    operations = [tc.get("name", "") for tc in ET.parse(junit).getroot().iter("testcase")]
    statuses: Counter[int] = Counter()
    for line in ndjson.read_text().splitlines():
        for status in _statuses(json.loads(line)):
            statuses[status] += 1
    summary = {"exit": proc.returncode, "operations": operations, "responses": sum(statuses.values()),
               "statuses": dict(sorted(statuses.items())), "tail": proc.stdout[-3000:] + proc.stderr[-2000:]}
    print(f"\nschemathesis {name}: {len(operations)} operations, {summary['responses']} responses, "
          f"status counts {summary['statuses']}")
    return summary


def _statuses(obj: Any) -> Iterator[int]:
    """Every HTTP response status code recorded anywhere in an NDJSON event."""
    if isinstance(obj, dict):
        resp = obj.get("response")
        if isinstance(resp, dict) and isinstance(resp.get("status_code"), int):
            yield resp["status_code"]
        for v in obj.values():
            yield from _statuses(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _statuses(v)


# query and artifact first: the auth fuzzer is an admin and may disable other users (the other fuzzers too)
@pytest.mark.parametrize("service", ["query", "artifact", "auth"])
def test_no_server_errors(world: World, service: str, tmp_path: Path) -> None:
    if os.environ.get("RUNYARD_ST_REPORTS"):  # a folder to keep the JUnit/NDJSON reports in
        tmp_path = Path(os.environ["RUNYARD_ST_REPORTS"])
        tmp_path.mkdir(parents=True, exist_ok=True)
    base = {"auth": world.auth_url, "query": world.query_url, "artifact": world.artifact_url}[service]
    spec = base + {"auth": "/api/v1/auth/openapi.json", "query": "/api/v1/openapi.json",
                   "artifact": "/api/v1/artifacts/_openapi.json"}[service]
    key = world.keys[f"st-{service}"]
    config = path_config(world, tmp_path) if service in ("query", "artifact") else None
    result = run_schemathesis(service, spec, base, key, tmp_path, config)
    assert result["operations"], result["tail"]
    assert result["responses"] > 0, result["tail"]
    # the key stayed valid, so the fuzzer reached past authentication
    assert result["statuses"].get(401, 0) < result["responses"] / 2, result["statuses"]
    assert not [s for s in result["statuses"] if s >= 500], result["tail"]
    assert result["exit"] == 0, result["tail"]
