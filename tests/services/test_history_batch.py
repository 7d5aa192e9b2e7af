"""Batched chart history (`POST /api/v1/projects/{entity}/{project}/history`): many runs in one NDJSON stream,
the same buckets as the one-run history, windows, x values, limits and access."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import numpy as np
import pytest

from runyard_server.common import history_codec
from runyard_server.common.security import new_api_key

from .harness import Services

PASSWORD = "correct horse battery"
N_RUNS = 40
N_STEPS = 3000


class World:
    def __init__(self, svc: Services, keys: dict[str, str]) -> None:
        self.svc, self.keys = svc, keys

    def batch(self, body: dict[str, Any], who: str = "ada", project: str = "ada/sweep") -> httpx.Response:
        return httpx.post(f"{self.svc.query_url}/api/v1/projects/{project}/history", json=body,
                          headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=60)

    def one(self, run_id: str, **params: Any) -> dict[str, Any]:
        resp = httpx.get(f"{self.svc.query_url}/api/v1/runs/ada/sweep/{run_id}/history", params=params,
                         headers={"Authorization": f"Bearer {self.keys['ada']}"}, timeout=60)
        assert resp.status_code == 200, resp.text
        return resp.json()


def lines(resp: httpx.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    assert resp.text.endswith("\n")
    return [json.loads(line) for line in resp.text.splitlines()]


def _user(svc: Services, name: str) -> str:
    key, prefix, digest = new_api_key()
    uid = svc.sql("INSERT INTO users (username, password_hash) VALUES ($1, NULL) RETURNING id", name)[0]["id"]
    svc.sql("INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2)", name, uid)
    svc.sql("INSERT INTO api_keys (user_id, prefix, key_hash) VALUES ($1, $2, $3)", uid, prefix, digest)
    return key


@pytest.fixture(scope="module")
def world(services: Services) -> World:
    resp = httpx.post(f"{services.auth_url}/api/v1/auth/signup", json={"username": "ada", "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    keys = {"ada": resp.json()["api_key"], "bob": _user(services, "bob"), "vic": _user(services, "vic")}
    ada = services.sql("SELECT id FROM entities WHERE name = 'ada'")[0]["id"]
    # vic reads ada's team project as a viewer; bob is nobody there
    team = services.sql("INSERT INTO entities (name, kind) VALUES ('lab', 'team') RETURNING id")[0]["id"]
    vic = services.sql("SELECT id FROM users WHERE username = 'vic'")[0]["id"]
    services.sql("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'viewer')", team, vic)
    services.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'shared')", team)
    pid = services.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'sweep') RETURNING id", ada)[0]["id"]
    steps = np.arange(N_STEPS, dtype=np.int64)
    for i in range(N_RUNS):
        pk = services.sql("INSERT INTO runs (project_id, run_id, name, run_number) VALUES ($1, $2, $3, $4) "
                          "RETURNING id", pid, f"r{i:02d}", f"run-{i}", i + 1)[0]["id"]
        services.sql("INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, 0, '_timestamp'), ($1, 1, 'loss'), "
                     "($1, 2, 'acc')", pk)
        vals = np.exp(-steps / (100.0 + i)) + 0.01 * np.sin(steps * (i + 1))
        if i == 1:
            vals[1500] = math.nan
            vals[1600] = 1e9  # a spike the min/max must keep
        for key_id, v in ((0, 1.7e9 + steps * 0.5 + i), (1, vals)):
            half = N_STEPS // 2  # two chunks per key: the window must read only what it needs
            for part in (slice(0, half), slice(half, None)):
                s, b = history_codec.encode(steps[part], v[part])
                services.sql("INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7)", pk, key_id, int(steps[part][0]),
                             int(steps[part][-1]), int(steps[part].size), s, b)
        if i < 3:  # images at three steps, a histogram at one
            for step in (0, 1000, 2000):
                services.sql("INSERT INTO history_json (run_id, key_id, step, value) VALUES ($1, 3, $2, $3)",
                             pk, step, {"_type": "image-file", "path": f"media/images/s{step}.png"})
            services.sql("INSERT INTO history_json (run_id, key_id, step, value) VALUES ($1, 4, 5, $2)",
                         pk, {"_type": "histogram", "values": [1, 2], "bins": [0, 1, 2]})
            services.sql("INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, 3, 'samples'), "
                         "($1, 4, 'weights')", pk)
        if i < 2:  # acc: a single point (a run's first epoch)
            s, b = history_codec.encode(np.array([0]), np.array([0.25 * (i + 1)]))
            services.sql("INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals) "
                         "VALUES ($1, 2, 0, 0, 1, $2, $3)", pk, s, b)
    return World(services, keys)


def test_many_runs_in_one_stream_match_the_one_run_history(world: World) -> None:
    ids = [f"r{i:02d}" for i in reversed(range(N_RUNS))] + ["nope", "r05"]  # order kept, repeats dropped
    got = lines(world.batch({"runs": ids, "keys": ["loss", "acc", "absent"], "samples": 200}))
    assert [g.get("run_id") for g in got[:-1]] == [f"r{i:02d}" for i in reversed(range(N_RUNS))]
    assert got[-1] == {"done": True, "runs": N_RUNS, "missing": ["nope"]}
    by_id = {g["run_id"]: g for g in got[:-1]}
    for rid in ("r00", "r01", "r39"):
        one = world.one(rid, keys="loss,acc", samples=200)
        assert by_id[rid]["series"]["loss"] == one["series"]["loss"]
        assert by_id[rid]["sampled"] is True
    loss1 = by_id["r01"]["series"]["loss"]
    assert max(v for v in loss1["max"] if isinstance(v, float)) == 1e9  # the spike survives bucketing
    assert by_id["r00"]["series"]["acc"] == {"step": [0], "value": [0.25], "min": [0.25], "max": [0.25]}
    assert by_id["r05"]["series"]["acc"] == {"step": [], "value": [], "min": [], "max": []}
    assert by_id["r05"]["series"]["absent"]["step"] == []


def test_window_is_exact_and_bands_and_x_are_optional(world: World) -> None:
    got = lines(world.batch({"runs": ["r01", "r02"], "keys": ["loss"], "samples": 500, "min_step": 1490,
                             "max_step": 1609, "bands": False, "x": "_timestamp"}))
    s = got[0]["series"]["loss"]
    assert s["step"] == list(range(1490, 1610)) and got[0]["sampled"] is False
    assert "min" not in s and "max" not in s
    assert s["value"][10] == "NaN" and s["value"][110] == 1e9
    assert s["x"] == [1.7e9 + step * 0.5 + 1 for step in range(1490, 1610)]
    assert got[-1]["done"] is True


def test_limits_and_bad_requests(world: World) -> None:
    resp = world.batch({"runs": [f"r{i}" for i in range(1001)], "keys": ["loss"]})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_argument"
    resp = world.batch({"runs": ["r00"] * 1, "keys": [f"k{i}" for i in range(100)], "samples": 10_000})
    assert resp.status_code == 200
    resp = world.batch({"runs": [f"r{i:02d}" for i in range(40)], "keys": [f"k{i}" for i in range(100)],
                        "samples": 10_000})
    assert resp.status_code == 400 and "at most 10,000,000" in resp.json()["detail"]
    resp = world.batch({"runs": ["r00"], "keys": ["loss"], "min_step": 5, "max_step": 1})
    assert resp.status_code == 400 and "min_step" in resp.json()["detail"]
    resp = world.batch({"runs": [], "keys": ["loss"]})
    assert resp.status_code == 422


def test_access_like_every_project_read(world: World) -> None:
    # bob cannot read ada's private project: 404, word for word a missing project, no line of data
    hidden = world.batch({"runs": ["r00"], "keys": ["loss"]}, who="bob")
    missing = world.batch({"runs": ["r00"], "keys": ["loss"]}, project="ada/no-such")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("sweep", "X") == missing.json()["detail"].replace("no-such", "X")
    # a viewer reads (a read, even if it is a POST)
    viewer = world.batch({"runs": ["x"], "keys": ["loss"]}, who="vic", project="lab/shared")
    assert lines(viewer) == [{"done": True, "runs": 0, "missing": ["x"]}]
    assert httpx.post(f"{world.svc.query_url}/api/v1/projects/ada/sweep/history",
                      json={"runs": ["r00"], "keys": ["loss"]}).status_code == 401


def test_media_of_many_runs(world: World) -> None:
    def media(body: dict[str, Any], who: str = "ada") -> httpx.Response:
        return httpx.post(f"{world.svc.query_url}/api/v1/projects/ada/sweep/media", json=body,
                          headers={"Authorization": f"Bearer {world.keys[who]}"}, timeout=30)

    resp = media({"runs": ["r02", "r00", "r30", "nope"]})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert [r["run_id"] for r in got["runs"]] == ["r02", "r00", "r30"] and got["missing"] == ["nope"]
    r2 = got["runs"][0]["media"]
    assert set(r2) == {"samples", "weights"}  # numeric keys never appear here
    assert r2["samples"]["steps"] == [0, 1000, 2000] and r2["samples"]["truncated"] is False
    assert r2["samples"]["values"][2] == {"_type": "image-file", "path": "media/images/s2000.png"}
    assert got["runs"][2]["media"] == {}
    # only some keys, only the last points
    last = media({"runs": ["r00"], "keys": ["samples"], "per_key": 2}).json()["runs"][0]["media"]
    assert list(last) == ["samples"] and last["samples"]["steps"] == [1000, 2000] and last["samples"]["truncated"]
    assert media({"runs": ["r00"]}, who="bob").status_code == 404
    assert media({"runs": [f"r{i}" for i in range(101)]}).status_code == 422


def test_rounded_values_for_overview_charts(world: World) -> None:
    exact = lines(world.batch({"runs": ["r03"], "keys": ["loss"], "samples": 50}))[0]["series"]["loss"]
    short = lines(world.batch({"runs": ["r03"], "keys": ["loss"], "samples": 50, "digits": 4}))[0]["series"]["loss"]
    assert short["step"] == exact["step"]
    for a, b in zip(exact["value"] + exact["max"], short["value"] + short["max"]):
        assert b == float(f"{a:.4g}")


def test_packed_series_carry_the_same_buckets(world: World) -> None:
    import base64

    body = {"runs": ["r01", "r07"], "keys": ["loss", "absent"], "samples": 300, "x": "_timestamp"}
    plain = lines(world.batch(body))
    packed = lines(world.batch({**body, "pack": True}))
    assert [p.get("run_id") for p in packed] == ["r01", "r07", None] and packed[-1]["done"] is True

    def arr(b64: str, dtype: str) -> list[float]:
        return np.frombuffer(base64.b64decode(b64), dtype=dtype).astype(np.float64).tolist()

    for p, q in zip(plain[:-1], packed[:-1]):
        a, b = p["series"]["loss"], q["series"]["loss"]
        assert b["n"] == len(a["step"]) and b["step_type"] == "i4" and arr(b["step"], "<i4") == a["step"]
        for field in ("value", "min", "max"):
            want = [float(v) if isinstance(v, str) else v for v in a[field]]  # "NaN" -> nan
            np.testing.assert_allclose(arr(b[field], "<f4"), want, rtol=1e-6)
        np.testing.assert_array_equal(arr(b["x"], "<f8"), a["x"])
        assert q["series"]["absent"] == {"n": 0, "step": "", "step_type": "i4", "value": "", "min": "", "max": "",
                                         "x": ""}
