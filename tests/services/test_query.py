"""Query service: server info, projects, runs and history over data written directly with SQL."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from runyard_server import __version__
from runyard_server.common import history_codec
from runyard_server.common.security import new_api_key

from .harness import METRICS_AUTH, Services, running_services

PASSWORD = "correct horse battery"
N_STEPS = 10_000
SPIKE_STEP, SPIKE = 5_000, 1e6
NAN_STEP = 2_500
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def loss_values() -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(N_STEPS, dtype=np.int64)
    vals = 1.0 / (1.0 + steps.astype(np.float64)) + 0.1
    vals[SPIKE_STEP] = SPIKE
    vals[NAN_STEP] = math.nan
    vals[10] = 42.0  # the value a later chunk sets again (the last arrival wins)
    return steps, vals


WEIRD = [math.nan, math.inf, -math.inf, 1.5, 0.1 + 0.2, 1e-320]


class World:
    def __init__(self, svc: Services, admin_key: str, bob_key: str) -> None:
        self.svc, self.admin_key, self.bob_key = svc, admin_key, bob_key

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.get(self.svc.query_url + path, headers=headers, params=params, timeout=30)


def _insert_chunk(svc: Services, run_pk: int, key_id: int, steps: np.ndarray, vals: np.ndarray) -> None:
    s, v = history_codec.encode(steps, vals)
    svc.sql(
        """INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        run_pk, key_id, int(steps.min()), int(steps.max()), int(steps.size), s, v,
    )


@pytest.fixture(scope="module")
def world(services: Services) -> World:
    resp = httpx.post(f"{services.auth_url}/api/v1/auth/signup", json={"username": "ada", "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    admin_key = resp.json()["api_key"]
    # a second, ordinary user with a key of their own
    bob_key, prefix, key_hash = new_api_key()
    bob = services.sql("INSERT INTO users (username, password_hash) VALUES ('bob', NULL) RETURNING id")[0]["id"]
    services.sql("INSERT INTO entities (name, kind, user_id) VALUES ('bob', 'user', $1)", bob)
    services.sql("INSERT INTO api_keys (user_id, prefix, key_hash) VALUES ($1, $2, $3)", bob, prefix, key_hash)

    ada_entity = services.sql("SELECT id FROM entities WHERE name = 'ada'")[0]["id"]
    bob_entity = services.sql("SELECT id FROM entities WHERE name = 'bob'")[0]["id"]
    vision = services.sql(
        "INSERT INTO projects (entity_id, name, created_at, updated_at) VALUES ($1, 'vision', $2, $2) RETURNING id",
        ada_entity, T0)[0]["id"]
    services.sql("INSERT INTO projects (entity_id, name, visibility, created_at, updated_at) "
                 "VALUES ($1, 'shared', 'internal', $2, $2)", ada_entity, T0)
    services.sql("INSERT INTO projects (entity_id, name, created_at, updated_at) VALUES ($1, 'bobs', $2, $2)",
                 bob_entity, T0)

    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for i, name in enumerate(names):
        ts = T0 + timedelta(minutes=i + 1)
        services.sql(
            """INSERT INTO runs (project_id, run_id, name, state, created_by, created_at, updated_at,
                                 config, summary, tags, run_number)
               VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)""",
            vision, f"r{i + 1}", name, "finished" if i % 2 else "running",
            services.sql("SELECT id FROM users WHERE username = 'ada'")[0]["id"], ts,
            {"lr": 0.001 * (i + 1)}, {"loss": math.nan if i == 0 else 0.5, "best": math.inf}, ["cnn"], i + 1,
        )
    r1 = services.sql("SELECT id FROM runs WHERE run_id = 'r1'")[0]["id"]
    for key_id, key in enumerate(["_timestamp", "loss", "weird", "sparse", "examples", "dup"]):
        services.sql("INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, $2, $3)", r1, key_id, key)

    steps, vals = loss_values()
    first = vals.copy()
    first[10] = -1.0  # overwritten by the last chunk below
    for part in np.array_split(np.arange(N_STEPS), 3):
        _insert_chunk(services, r1, 1, steps[part], first[part])
    _insert_chunk(services, r1, 1, np.array([10]), np.array([42.0]))
    _insert_chunk(services, r1, 0, steps, 1.7e9 + steps * 0.25)
    _insert_chunk(services, r1, 2, np.arange(len(WEIRD)), np.array(WEIRD))
    _insert_chunk(services, r1, 3, np.array([7, 3]), np.array([0.7, 0.3]))
    for _ in range(3):  # the same steps logged three times (replays): chunk sizes overstate the rows
        _insert_chunk(services, r1, 5, np.arange(10), np.arange(10) * 1.0)
    _insert_chunk(services, r1, 5, np.arange(10, 20), np.arange(10, 20) * 1.0)
    for step, value in [(0, {"_type": "image", "path": "a.png"}), (SPIKE_STEP, {"_type": "image", "path": "b.png"})]:
        services.sql("INSERT INTO history_json (run_id, key_id, step, value) VALUES ($1, 4, $2, $3)",
                     r1, step, value)
    return World(services, admin_key, bob_key)


def test_server_info(world: World) -> None:
    info = world.get("/api/v1/server-info").json()
    assert info == {"version": __version__, "ingest_address": "127.0.0.1:18081", "ingest_tls": False,
                    "needs_setup": False, "sdk_index": False}
    assert httpx.get(world.svc.query_url + "/api/v1/server-info").status_code == 200  # no auth needed


def test_projects_list_respects_visibility(world: World) -> None:
    resp = world.get("/api/v1/projects")
    assert resp.status_code == 200
    projects = {(p["entity"], p["name"]): p for p in resp.json()["projects"]}
    assert set(projects) == {("ada", "vision"), ("ada", "shared"), ("bob", "bobs")}  # admin reads all
    vision = projects[("ada", "vision")]
    assert vision["run_count"] == 5 and vision["visibility"] == "private"
    assert vision["last_activity"] == "2026-01-02T03:09:05Z"
    assert vision["created_at"] == "2026-01-02T03:04:05Z"
    assert projects[("ada", "shared")]["run_count"] == 0

    bobs_view = world.get("/api/v1/projects", world.bob_key).json()["projects"]
    assert {(p["entity"], p["name"]) for p in bobs_view} == {("ada", "shared"), ("bob", "bobs")}
    only_ada = world.get("/api/v1/projects", entity="ada").json()["projects"]
    assert {p["name"] for p in only_ada} == {"vision", "shared"}
    assert world.get("/api/v1/projects", entity="nobody").json() == {"projects": []}
    assert httpx.get(world.svc.query_url + "/api/v1/projects").status_code == 401


def test_unreadable_project_looks_missing(world: World) -> None:
    one = world.get("/api/v1/projects/ada/vision")
    assert one.status_code == 200 and one.json()["run_count"] == 5
    assert world.get("/api/v1/projects/ada/shared", world.bob_key).status_code == 200
    for path in ["/api/v1/projects/ada/vision", "/api/v1/projects/ada/vision/runs",
                 "/api/v1/runs/ada/vision/r1", "/api/v1/runs/ada/vision/r1/history",
                 "/api/v1/runs/ada/vision/r1/history/full"]:
        hidden = world.get(path, world.bob_key)
        missing = world.get(path.replace("vision", "nope"), world.bob_key)
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.json()["code"] == "not_found"
        assert hidden.json()["detail"].replace("vision", "nope") == missing.json()["detail"]


def test_runs_pagination_and_order(world: World) -> None:
    page = world.get("/api/v1/projects/ada/vision/runs", limit=2).json()
    assert page["total"] == 5 and [r["id"] for r in page["runs"]] == ["r5", "r4"]
    page = world.get("/api/v1/projects/ada/vision/runs", limit=2, offset=2).json()
    assert [r["id"] for r in page["runs"]] == ["r3", "r2"]
    by_name = world.get("/api/v1/projects/ada/vision/runs", order="name").json()
    assert [r["name"] for r in by_name["runs"]] == ["alpha", "bravo", "charlie", "delta", "echo"]
    by_created = world.get("/api/v1/projects/ada/vision/runs", order="created_at").json()
    assert [r["id"] for r in by_created["runs"]] == ["r1", "r2", "r3", "r4", "r5"]
    bad = world.get("/api/v1/projects/ada/vision/runs", order="-password")
    assert bad.status_code == 400 and "order must be one of" in bad.json()["detail"]
    running = world.get("/api/v1/projects/ada/vision/runs", state="running").json()
    assert running["total"] == 3 and {r["id"] for r in running["runs"]} == {"r1", "r3", "r5"}
    found = world.get("/api/v1/projects/ada/vision/runs", search="HAR", tag="cnn").json()
    assert [r["name"] for r in found["runs"]] == ["charlie"] and found["total"] == 1
    assert world.get("/api/v1/projects/ada/vision/runs", search="%").json()["total"] == 0
    assert world.get("/api/v1/projects/ada/vision/runs", tag="rnn").json()["total"] == 0
    assert world.get("/api/v1/projects/ada/vision/runs", state="sleeping").status_code == 400
    bad = world.get("/api/v1/projects/ada/vision/runs", limit=0)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_argument"


def test_one_run(world: World) -> None:
    resp = world.get("/api/v1/runs/ada/vision/r1")
    assert resp.status_code == 200
    run = resp.json()
    assert run["id"] == "r1" and run["entity"] == "ada" and run["project"] == "vision"
    assert run["run_number"] == 1
    assert run["name"] == "delta" and run["state"] == "running" and run["created_by"] == "ada"
    assert run["config"] == {"lr": 0.001}
    assert run["summary"] == {"loss": "NaN", "best": "Infinity"}
    assert run["tags"] == ["cnn"] and run["group"] == "" and run["finished_at"] is None
    assert run["created_at"] == "2026-01-02T03:05:05Z"
    assert run["history_keys"] == ["_timestamp", "dup", "loss", "sparse", "weird"]  # numeric: what charts draw
    assert run["media_keys"] == ["examples"]
    assert "NaN" not in resp.text.replace('"NaN"', "")  # never a bare NaN
    assert world.get("/api/v1/runs/ada/vision/nope").status_code == 404


def test_downsampling_keeps_a_single_spike(world: World) -> None:
    body = world.get("/api/v1/runs/ada/vision/r1/history", keys="loss", samples=100).json()
    assert body["sampled"] is True
    s = body["series"]["loss"]
    assert 0 < len(s["step"]) <= 100
    assert len(s["step"]) == len(s["value"]) == len(s["min"]) == len(s["max"])
    assert s["step"] == sorted(s["step"]) and s["step"][-1] == N_STEPS - 1
    assert max(s["max"]) == SPIKE  # the one spike survives
    spike_bucket = next(i for i, m in enumerate(s["max"]) if m == SPIKE)
    assert s["step"][spike_bucket] >= SPIKE_STEP and s["value"][spike_bucket] != SPIKE  # not the last point
    assert all(isinstance(v, float) for v in s["min"] + s["max"])  # NaN ignored in min/max
    assert min(s["min"]) == pytest.approx(0.1 + 1 / N_STEPS)
    assert 42.0 in s["max"]  # the later chunk's value at step 10 won


def test_zoom_gives_exact_points(world: World) -> None:
    body = world.get("/api/v1/runs/ada/vision/r1/history", keys="loss", samples=100,
                     min_step=SPIKE_STEP - 10, max_step=SPIKE_STEP + 10).json()
    assert body["sampled"] is False
    s = body["series"]["loss"]
    _, vals = loss_values()
    assert s["step"] == list(range(SPIKE_STEP - 10, SPIKE_STEP + 11))
    assert s["value"] == vals[SPIKE_STEP - 10: SPIKE_STEP + 11].tolist()
    assert s["min"] == s["max"] == s["value"]
    around_nan = world.get("/api/v1/runs/ada/vision/r1/history", keys="loss,nope",
                           min_step=NAN_STEP, max_step=NAN_STEP).json()["series"]
    assert around_nan["loss"]["value"] == ["NaN"] and around_nan["loss"]["step"] == [NAN_STEP]
    assert around_nan["nope"] == {"step": [], "value": [], "min": [], "max": []}
    bad = world.get("/api/v1/runs/ada/vision/r1/history", min_step=5, max_step=4)
    assert bad.status_code == 400


def test_nan_and_infinity_round_trip(world: World) -> None:
    expected = ["NaN", "Infinity", "-Infinity", 1.5, 0.30000000000000004, 1e-320]
    sampled = world.get("/api/v1/runs/ada/vision/r1/history", keys="weird").json()["series"]["weird"]
    assert sampled["value"] == sampled["min"] == sampled["max"] == expected
    full = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="weird")
    assert "NaN," not in full.text and "Infinity," not in full.text.replace('"Infinity",', "")
    assert full.json()["columns"]["weird"] == expected
    assert full.json()["steps"] == list(range(len(WEIRD)))


def test_full_history_pages_through_every_point(world: World) -> None:
    steps, vals = loss_values()
    got_steps: list[int] = []
    got_loss: list[Any] = []
    got_examples: dict[int, Any] = {}
    start, pages = 0, 0
    while start is not None:
        body = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="loss,examples", start_step=start,
                         limit=3000).json()
        pages += 1
        assert len(body["steps"]) <= 3000
        assert set(body["columns"]) == {"_timestamp", "loss", "examples"}
        assert body["columns"]["_timestamp"][0] == 1.7e9 + body["steps"][0] * 0.25
        got_steps += body["steps"]
        got_loss += body["columns"]["loss"]
        got_examples.update({s: v for s, v in zip(body["steps"], body["columns"]["examples"]) if v is not None})
        start = body["next_step"]
    assert pages == 4
    assert got_steps == steps.tolist()
    expected = ["NaN" if math.isnan(v) else v for v in vals.tolist()]
    assert got_loss == expected  # exact floats, NaN as a string
    assert got_examples == {0: {"_type": "image", "path": "a.png"},
                            SPIKE_STEP: {"_type": "image", "path": "b.png"}}


def test_full_history_rows_are_the_union_of_requested_keys(world: World) -> None:
    body = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="sparse,examples").json()
    assert body["steps"] == [0, 3, 7, SPIKE_STEP] and body["next_step"] is None
    assert body["columns"]["sparse"] == [None, 0.3, 0.7, None]
    assert body["columns"]["examples"][1:3] == [None, None]
    page = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="sparse,examples", start_step=1,
                     limit=1).json()
    assert page["steps"] == [3] and page["next_step"] == 7
    everything = world.get("/api/v1/runs/ada/vision/r1/history/full", limit=5).json()
    assert set(everything["columns"]) == {"_timestamp", "dup", "examples", "loss", "sparse", "weird"}
    assert everything["steps"] == [0, 1, 2, 3, 4] and everything["next_step"] == 5


def test_full_history_page_bound_survives_repeated_steps(world: World) -> None:
    body = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="dup", limit=15).json()
    assert body["steps"] == list(range(15)) and body["next_step"] == 15
    assert body["columns"]["dup"] == [float(i) for i in range(15)]
    rest = world.get("/api/v1/runs/ada/vision/r1/history/full", keys="dup", limit=15, start_step=15).json()
    assert rest["steps"] == list(range(15, 20)) and rest["next_step"] is None


def test_session_cookie_reads_query_service(world: World) -> None:
    login = httpx.post(f"{world.svc.auth_url}/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    token = login.cookies["runyard_session"]
    resp = httpx.get(world.svc.query_url + "/api/v1/runs/ada/vision/r1", cookies={"runyard_session": token})
    assert resp.status_code == 200


def test_health_metrics_and_openapi(world: World) -> None:
    base = world.svc.query_url
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    assert httpx.get(base + "/readyz").json() == {"status": "ok"}
    world.get("/api/v1/projects/ada/vision")
    world.get("/api/v1/projects/ada/secret-project-name")
    text = httpx.get(base + "/metrics", headers=METRICS_AUTH).text
    assert 'runyard_query_requests_total{route="/api/v1/projects/{entity}/{project}",status="200"}' in text
    assert 'runyard_query_requests_total{route="/api/v1/projects/{entity}/{project}",status="404"}' in text
    assert "runyard_query_request_duration_seconds_bucket" in text
    assert "secret-project-name" not in text  # labels are route templates, never raw paths
    spec = httpx.get(base + "/api/v1/openapi.json").json()
    assert "/api/v1/runs/{entity}/{project}/{run_id}/history/full" in spec["paths"]
    assert httpx.get(base + "/api/v1/nope").json()["code"] == "not_found"


def test_serves_the_built_ui_with_spa_fallback(stack: Any, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>runyard</html>")
    (dist / "assets" / "app-1234.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    with running_services(stack.database_url, web_dist=str(dist)) as svc:
        base = svc.query_url
        root = httpx.get(base + "/")
        assert root.status_code == 200 and root.text == "<html>runyard</html>"
        assert root.headers["cache-control"] == "no-cache"
        deep = httpx.get(base + "/ada/vision/runs/r1")
        assert deep.status_code == 200 and deep.text == "<html>runyard</html>"
        asset = httpx.get(base + "/assets/app-1234.js")
        assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]
        assert httpx.get(base + "/%2e%2e/secret.txt").text != "outside"
        api = httpx.get(base + "/api/v1/unknown")
        assert api.status_code == 404 and api.json()["code"] == "not_found"
        # TensorBoard's paths reach this service only when the component is off: a JSON answer saying so
        # (the UI's TensorBoard tab shows it), never the page's HTML where the tab expects JSON
        tb = httpx.get(base + "/tensorboard/status/ada/vision/r1")
        assert tb.status_code == 404 and "TensorBoard is not enabled" in tb.json()["detail"]
        assert httpx.get(base + "/api/v1/server-info").json()["needs_setup"] is True
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
