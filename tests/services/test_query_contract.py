"""The query (and auth) answers the web UI reads match the committed OpenAPI documents it is compiled against.

Query handlers render their JSON themselves (non-finite floats as strings) instead of letting FastAPI
validate it against `response_model`, so nothing else would notice a declaration drifting from an answer.
"""

from __future__ import annotations

from functools import partial

import httpx

from tests.contract import conforms

from .test_query import PASSWORD, World, world  # noqa: F401  (the module's fixture: runs, history, media)

query = partial(conforms, "query")


def test_query_answers_match_the_document(world: World) -> None:  # noqa: F811
    def get(template: str, path: str, **params: object) -> object:
        return query(template, "get", world.get(path, **params))

    get("/api/v1/server-info", "/api/v1/server-info")
    get("/api/v1/projects", "/api/v1/projects")
    get("/api/v1/projects/{entity}/{project}", "/api/v1/projects/ada/vision")
    runs = "/api/v1/projects/{entity}/{project}/runs"
    page = get(runs, "/api/v1/projects/ada/vision/runs")
    assert isinstance(page, dict) and {r["state"] for r in page["runs"]} == {"running", "finished"}
    partial_runs = get(runs, "/api/v1/projects/ada/vision/runs", fields="name,history_keys")
    assert isinstance(partial_runs, dict) and set(partial_runs["runs"][0]) == {"id", "name", "history_keys"}
    get(runs + "/groups", "/api/v1/projects/ada/vision/runs/groups", by="state", metric="summary.loss")
    get("/api/v1/projects/{entity}/{project}/keys", "/api/v1/projects/ada/vision/keys")
    run = get("/api/v1/runs/{entity}/{project}/{run_id}", "/api/v1/runs/ada/vision/r1")
    assert isinstance(run, dict) and run["summary"]["loss"] == "NaN" and run["media_keys"] == ["examples"]
    history = "/api/v1/runs/{entity}/{project}/{run_id}/history"
    with_x = get(history, "/api/v1/runs/ada/vision/r1/history", keys="loss,weird", samples=50, x="_timestamp")
    assert isinstance(with_x, dict) and len(with_x["series"]["loss"]["x"]) == len(with_x["series"]["loss"]["step"])
    without_x = get(history, "/api/v1/runs/ada/vision/r1/history", keys="weird")
    assert isinstance(without_x, dict) and "x" not in without_x["series"]["weird"]
    get(history + "/full", "/api/v1/runs/ada/vision/r1/history/full", keys="examples,weird")
    get("/api/v1/runs/{entity}/{project}/{run_id}/output", "/api/v1/runs/ada/vision/r1/output", tail="true")


def test_auth_answers_the_ui_reads_match_the_document(world: World) -> None:  # noqa: F811
    auth = world.svc.auth_url
    with httpx.Client(base_url=auth, timeout=30) as c:
        viewer = conforms("auth", "/api/v1/auth/login", "post",
                          c.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}))
        assert viewer["username"] == "ada"
        conforms("auth", "/api/v1/viewer", "get", c.get("/api/v1/viewer"))
