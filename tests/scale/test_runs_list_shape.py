"""The runs list renders each run in PostgreSQL (json_build_object); the one-run endpoint renders in Python
(serialize.run_json). Both must give a user the same run: same fields, same values, same timestamp text."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.support.stack import TestStack

from .support import finish_msg, open_msg, rows_msg, stream


def test_a_run_reads_the_same_in_the_list_and_alone(stack: TestStack, admin_key: str) -> None:
    stack.start_ingest()
    project = f"shape-{uuid.uuid4().hex[:6]}"
    done, running = f"done-{uuid.uuid4().hex[:6]}", f"live-{uuid.uuid4().hex[:6]}"
    config = {"lr": 1e-05, "nested": {"a": [1, 2.5, None, "x"]}, "big": 12345678901234567890, "bad": float("nan")}
    opening = open_msg(project, done)
    opening.open.config_json = json.dumps(config)
    opening.open.tags.extend(["b", "a"])
    stream(stack.ingest_address, admin_key, [opening, rows_msg(1, range(3), ["loss"]), finish_msg(4)])
    stream(stack.ingest_address, admin_key, [open_msg(project, running), rows_msg(1, range(2), ["loss"])])
    # a finish time with whole seconds (no fraction in ISO 8601) and one with microseconds
    stack.fetch("UPDATE runs SET finished_at = '2026-01-02T03:04:05Z', created_at = '2026-01-02T03:04:05.000042Z' "
                "WHERE run_id = $1", done)
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=30) as http:
        listed = http.get(f"/api/v1/projects/admin/{project}/runs", params={"order": "name"})
        assert listed.status_code == 200, listed.text
        runs = {r["id"]: r for r in listed.json()["runs"]}
        assert set(runs) == {done, running}
        for rid in (done, running):
            alone = http.get(f"/api/v1/runs/admin/{project}/{rid}").json()
            alone.pop("history_keys", None)
            alone.pop("media_keys", None)  # the run page's extras, not fields of the list
            assert runs[rid] == alone
        assert runs[done]["finished_at"] == "2026-01-02T03:04:05Z"
        assert runs[done]["created_at"] == "2026-01-02T03:04:05.000042Z"
        assert runs[running]["finished_at"] is None and runs[running]["exit_code"] is None
        assert runs[done]["config"]["bad"] == "NaN" and runs[done]["config"]["big"] == 12345678901234567890
        assert sorted(runs[done]["tags"]) == ["a", "b"]
        # partial fields keep their order and add history_keys when asked
        part = http.get(f"/api/v1/projects/admin/{project}/runs",
                        params={"order": "name", "fields": "state,name,history_keys"}).json()["runs"]
        assert [list(r) for r in part] == [["id", "name", "state", "history_keys"]] * 2
        assert part[0]["history_keys"] == ["_timestamp", "loss"]
