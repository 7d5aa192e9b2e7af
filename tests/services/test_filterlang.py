"""The runs filter language (parser unit tests and SQL against the real PostgreSQL), ordering by config/summary
keys, fields, updated_since, groups, project keys, console output, history `x=`, and the SSE endpoint."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import numpy as np
import pytest

from runyard_server.common import history_codec
from runyard_server.common.errors import InvalidArgument
from runyard_server.query.filterlang import compile_filter, tokenize

from .harness import Services, running_services

PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

# name, state, tags, config, summary
RUNS: list[tuple[str, str, list[str], dict[str, Any], dict[str, Any]]] = [
    ("r0", "finished", ["best"], {"lr": 0.001, "optimizer": "adam", "layers": [1, 2]}, {"loss": 0.1, "acc": 0.9}),
    ("r1", "finished", [], {"lr": 0.1, "optimizer": "sgd"}, {"loss": 0.5}),
    ("r2", "running", ["best", "v2"], {"lr": 0.005, "optimizer": "adam"}, {"loss": "NaN"}),
    ("r3", "failed", [], {"lr": "0.001", "optimizer": "sgd", "nested": {"depth": 3}}, {"loss": 0.3}),
    ("r4", "crashed", ["v2"], {"optimizer": "adam", "flag": True}, {}),
]


# ---------------------------------------------------------------- parser (no database)

def test_tokenizer_and_parser_errors_name_the_position() -> None:
    assert [t.kind for t in tokenize('config.lr < 0.01 and (state = "x")')] == [
        "ident", "op", "number", "kw", "lparen", "ident", "op", "string", "rparen", "end"]
    cases = {
        "config.lr <": "position 12",  # expected a value at the end
        "config.lr < 0.01 and": "position 21",
        "(state = finished": "expected ')'",
        "state = finished)": "unbalanced ')'",
        "bogus = 1": "unknown field 'bogus'",
        'name = "open': "unterminated string",
        "state ~ x": "unexpected character '~'",
        "state finished": "expected an operator",
        "": "empty expression",
        "created_at > \"yesterday\"": "not an ISO 8601",
        "tags < 3": "tags support",
    }
    for text, fragment in cases.items():
        with pytest.raises(InvalidArgument) as err:
            compile_filter(text)
        assert fragment in err.value.message, (text, err.value.message)
        assert "position" in err.value.message


def test_no_user_text_reaches_the_sql() -> None:
    sql, args = compile_filter('config.`x\'); DROP TABLE runs; --` = "a\'b" or name contains "%_"')
    assert "DROP" not in sql and "a'b" not in sql
    assert "x'); DROP TABLE runs; --" in args and "a'b" in args and "%\\%\\_%" in args


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        compile_filter("(" * 200 + "state = x" + ")" * 200)


# ---------------------------------------------------------------- against PostgreSQL

class World:
    def __init__(self, svc: Services, key: str, pks: dict[str, int]) -> None:
        self.svc, self.key, self.pks = svc, key, pks

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.svc.query_url + path, headers={"Authorization": f"Bearer {self.key}"},
                         params=params, timeout=30)

    def names(self, **params: Any) -> list[str]:
        r = self.get("/api/v1/projects/ada/p/runs", **params)
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["runs"]]


@pytest.fixture(scope="module")
def world(stack: Any) -> Any:
    with running_services(stack.database_url, redis_url=stack.redis_url) as svc:
        resp = httpx.post(f"{svc.auth_url}/api/v1/auth/signup", json={"username": "ada", "password": PASSWORD})
        assert resp.status_code == 201, resp.text
        ent = svc.sql("SELECT id FROM entities WHERE name = 'ada'")[0]["id"]
        pid = svc.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'p') RETURNING id", ent)[0]["id"]
        pks = {}
        for i, (name, state, tags, config, summary) in enumerate(RUNS):
            pks[name] = svc.sql(
                """INSERT INTO runs (project_id, run_id, name, run_number, state, tags, config, summary,
                                     created_at, updated_at, host)
                   VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id""",
                pid, name, i + 1, state, tags, config, summary, T0 + timedelta(minutes=i), f"h{i % 2}",
            )[0]["id"]
        yield World(svc, resp.json()["api_key"], pks)


@pytest.mark.parametrize("expr, expected", [
    ("config.lr < 0.01", ["r0", "r2"]),  # r3's "0.001" is a string: never compared as a number
    ("config.lr < 0.01 and (state = finished or tags contains \"best\")", ["r0", "r2"]),
    ("config.lr >= 0.005", ["r1", "r2"]),
    ("config.lr = \"0.001\"", ["r3"]),
    ("not config.lr < 0.01", ["r1", "r3", "r4"]),
    ("config.lr != 0.1", ["r0", "r2"]),  # missing / non-number values never match
    ("state in (running, crashed)", ["r2", "r4"]),
    ("state not in (running, crashed)", ["r0", "r1", "r3"]),
    ("tags contains best", ["r0", "r2"]),
    ("tags in (v2)", ["r2", "r4"]),
    ("tags = best and not tags = v2", ["r0"]),
    ("summary.loss > 0.2", ["r1", "r3"]),
    ("summary.loss = \"NaN\"", ["r2"]),
    ("summary.acc = null", ["r1", "r2", "r3", "r4"]),
    ("summary.acc != null", ["r0"]),
    ("config.optimizer = adam AND host = h0", ["r0", "r2", "r4"]),
    ("config.optimizer in (sgd, \"other\")", ["r1", "r3"]),
    ("config.nested.depth = 3", ["r3"]),
    ("config.layers contains 2", ["r0"]),
    ("config.optimizer contains DA", ["r0", "r2", "r4"]),
    ("config.flag = true", ["r4"]),
    ("name contains \"R1\"", ["r1"]),
    ("created_at >= \"2026-01-02T03:06:05Z\"", ["r2", "r3", "r4"]),
    ("created_at < \"2026-01-02\"", []),
    ("((state = finished))", ["r0", "r1"]),
])
def test_filter_against_postgres(world: Any, expr: str, expected: list[str]) -> None:
    assert sorted(world.names(filter=expr, order="name", limit=1000)) == expected
    r = world.get("/api/v1/projects/ada/p/runs", filter=expr)
    assert r.json()["total"] == len(expected)


def test_bad_filter_is_a_400_naming_the_position(world: Any) -> None:
    r = world.get("/api/v1/projects/ada/p/runs", filter="config.lr < and state = x")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_argument"
    assert "position 13" in body["detail"] and "expected a value" in body["detail"]


def test_order_by_config_and_summary_keys(world: Any) -> None:
    # numbers first (numerically), then strings, then missing; both directions keep missing last
    assert world.names(order="config.lr") == ["r0", "r2", "r1", "r3", "r4"]
    assert world.names(order="-config.lr") == ["r1", "r2", "r0", "r3", "r4"]
    assert world.names(order="-summary.loss") == ["r1", "r3", "r0", "r2", "r4"]
    assert world.names(order="config.optimizer,-name") == ["r4", "r2", "r0", "r3", "r1"]
    r = world.get("/api/v1/projects/ada/p/runs", order="bogus")
    assert r.status_code == 400 and "order must be one of" in r.json()["detail"]


def test_fields_and_updated_since(world: Any) -> None:
    r = world.get("/api/v1/projects/ada/p/runs", fields="-config,-summary", order="name")
    run = r.json()["runs"][0]
    assert "config" not in run and "summary" not in run and run["state"] == "finished"
    r = world.get("/api/v1/projects/ada/p/runs", fields="name,history_keys", order="name")
    assert r.json()["runs"][0] == {"id": "r0", "name": "r0", "history_keys": []}
    assert world.get("/api/v1/projects/ada/p/runs", fields="bogus").status_code == 400
    body = world.get("/api/v1/projects/ada/p/runs").json()
    server_time = body["server_time"]
    assert body["total"] == 5
    assert world.names(updated_since=server_time) == []
    world.svc.sql("UPDATE runs SET updated_at = now() + interval '1 second' WHERE id = $1", world.pks["r3"])
    assert world.names(updated_since=server_time) == ["r3"]
    assert world.get("/api/v1/projects/ada/p/runs", updated_since="noon").status_code == 400


def test_groups(world: Any) -> None:
    r = world.get("/api/v1/projects/ada/p/runs/groups", by="config.optimizer", metric="summary.loss")
    assert r.status_code == 200, r.text
    groups = {json.dumps(g["value"]): g for g in r.json()["groups"]}
    adam, sgd = groups['"adam"'], groups['"sgd"']
    assert adam["count"] == 3 and adam["metric_count"] == 1 and adam["mean"] == pytest.approx(0.1)
    assert sgd["count"] == 2 and sgd["min"] == pytest.approx(0.3) and sgd["max"] == pytest.approx(0.5)
    assert sgd["mean"] == pytest.approx(0.4) and sorted(sgd["run_ids"]) == ["r1", "r3"]
    r = world.get("/api/v1/projects/ada/p/runs/groups", by="state", filter="config.optimizer = adam")
    assert {g["value"]: g["count"] for g in r.json()["groups"]} == {"finished": 1, "running": 1, "crashed": 1}
    assert world.get("/api/v1/projects/ada/p/runs/groups", by="tags").status_code == 400


def _history(svc: Services, run_pk: int, keys: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for key_id, (name, (steps, vals)) in enumerate(keys.items()):
        svc.sql("INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, $2, $3)", run_pk, key_id, name)
        s, v = history_codec.encode(steps, vals)
        svc.sql("""INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                run_pk, key_id, int(steps.min()), int(steps.max()), int(steps.size), s, v)


def test_keys_and_history_x(world: Any) -> None:
    steps = np.arange(10, dtype=np.int64)
    _history(world.svc, world.pks["r0"], {
        "_timestamp": (steps, 1000.0 + steps * 2.0),
        "loss": (steps, 1.0 / (1 + steps)),
        "lr": (steps[::2], steps[::2] * 0.1),
    })
    _history(world.svc, world.pks["r1"], {"acc": (steps, steps * 0.1)})
    r = world.get("/api/v1/projects/ada/p/keys")
    assert r.json()["keys"] == ["_timestamp", "acc", "loss", "lr"]
    assert r.json()["config"] == ["flag", "layers", "lr", "nested", "optimizer"]
    r = world.get("/api/v1/runs/ada/p/r0/history", keys="loss", x="_timestamp")
    s = r.json()["series"]["loss"]
    assert s["x"] == [1000.0 + 2 * i for i in range(10)]
    r = world.get("/api/v1/runs/ada/p/r0/history", keys="loss", x="lr")
    assert r.json()["series"]["loss"]["x"] == [0.0, None, 0.2, None, 0.4, None, 0.6000000000000001, None, 0.8, None]
    r = world.get("/api/v1/runs/ada/p/r0/history", keys="loss")
    assert "x" not in r.json()["series"]["loss"]
    names = [x["history_keys"] for x in world.get("/api/v1/projects/ada/p/runs", fields="history_keys",
                                                    order="name").json()["runs"]]
    assert names[:2] == [["_timestamp", "loss", "lr"], ["acc"]]


def test_output_tail(world: Any) -> None:
    pk = world.pks["r2"]
    for i in range(30):
        world.svc.sql("INSERT INTO run_output (run_id, line_no, ts, stream, line) VALUES ($1, $2, $3, $4, $5)",
                      pk, i, 1000.0 + i, "stderr" if i % 10 == 9 else "stdout", f"line {i}")
    world.svc.sql("UPDATE runs SET output_lines = 30 WHERE id = $1", pk)
    r = world.get("/api/v1/runs/ada/p/r2/output", limit=5, tail="true").json()
    assert [x["line"] for x in r["lines"]] == [f"line {i}" for i in range(25, 30)]
    assert r["next_after"] == 29 and r["total"] == 30 and r["state"] == "running"
    r = world.get("/api/v1/runs/ada/p/r2/output", after=27).json()
    assert [x["line_no"] for x in r["lines"]] == [28, 29] and r["lines"][1]["stream"] == "stderr"
    r = world.get("/api/v1/runs/ada/p/r2/output", after=29).json()
    assert r["lines"] == [] and r["next_after"] == 29
    r = world.get("/api/v1/runs/ada/p/r2/output").json()
    assert len(r["lines"]) == 30 and r["lines"][0]["line_no"] == 0
    assert world.get("/api/v1/runs/ada/p/nope/output").status_code == 404


# ---------------------------------------------------------------- SSE

def _read_events(url: str, key: str, out: list[tuple[str, str]], stop: threading.Event, seconds: float) -> None:
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=seconds + 5) as r:
        out.append(("status", str(r.status_code)))
        out.append(("content-type", r.headers.get("content-type", "")))
        event = ""
        deadline = time.monotonic() + seconds
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, line[6:]))
            elif line.startswith(":"):
                out.append(("comment", line))
            if stop.is_set() or time.monotonic() > deadline:
                return


def test_sse_forwards_redis_publishes(world: Any, stack: Any) -> None:
    import redis

    pid = world.svc.sql("SELECT id FROM projects WHERE name = 'p'")[0]["id"]
    events: list[tuple[str, str]] = []
    stop = threading.Event()
    t = threading.Thread(target=_read_events, args=(world.svc.query_url + "/api/v1/projects/ada/p/events",
                                                    world.key, events, stop, 20), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not any(e[0] == "hello" for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("hello", '{"live":true}') in events, events
    assert ("content-type", "text/event-stream; charset=utf-8") in events
    client = redis.Redis.from_url(stack.redis_url)
    payload = json.dumps({"run_id": "r9", "project": "p", "entity": "ada", "next_step": 7})
    t0 = time.monotonic()
    while not any(e[0] == "run" for e in events) and time.monotonic() - t0 < 5:
        client.publish(f"runyard:project:{pid}", payload)
        client.publish(f"runyard:project:{pid + 1000}", "other project")  # never forwarded
        time.sleep(0.2)
    stop.set()
    runs = [json.loads(d) for e, d in events if e == "run"]
    assert runs and runs[0]["run_id"] == "r9" and runs[0]["next_step"] == 7
    assert all(r["run_id"] == "r9" for r in runs)
    client.close()


def test_sse_checks_access(world: Any) -> None:
    r = httpx.get(world.svc.query_url + "/api/v1/projects/ada/p/events", timeout=10)
    assert r.status_code == 401
    r = world.get("/api/v1/projects/ada/nope/events")
    assert r.status_code == 404


def test_sse_without_redis_says_not_live(stack: Any) -> None:
    with running_services(stack.database_url, redis_url="redis://127.0.0.1:1/0") as svc:
        resp = httpx.post(f"{svc.auth_url}/api/v1/auth/signup", json={"username": "ada", "password": PASSWORD})
        key = resp.json()["api_key"]
        ent = svc.sql("SELECT id FROM entities WHERE name = 'ada'")[0]["id"]
        svc.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'p')", ent)
        t0 = time.monotonic()
        r = httpx.get(svc.query_url + "/api/v1/projects/ada/p/events", headers={"Authorization": f"Bearer {key}"},
                      timeout=15)
        assert r.status_code == 200 and time.monotonic() - t0 < 8
        assert "retry: 30000" in r.text and 'data: {"live":false}' in r.text


def test_nonfinite_literal_is_refused() -> None:
    # `nan` is a bare word (a string), never a float comparison
    _sql, args = compile_filter("summary.loss = nan")
    assert args[-1] == "nan" and not any(isinstance(a, float) and math.isnan(a) for a in args)


def test_sse_one_redis_connection_serves_several_projects(world: Any, stack: Any) -> None:
    """A second project's channel is subscribed while the shared reader is already waiting on the first."""
    import redis

    ent = world.svc.sql("SELECT id FROM entities WHERE name = 'ada'")[0]["id"]
    world.svc.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'q') ON CONFLICT DO NOTHING", ent)
    pids = {name: world.svc.sql("SELECT id FROM projects WHERE name = $1", name)[0]["id"] for name in ("p", "q")}
    streams: dict[str, list[tuple[str, str]]] = {"p": [], "q": []}
    stop = threading.Event()
    threads = []
    for name in ("p", "q"):
        t = threading.Thread(target=_read_events, args=(world.svc.query_url + f"/api/v1/projects/ada/{name}/events",
                                                        world.key, streams[name], stop, 20), daemon=True)
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while not any(e[0] == "hello" for e in streams[name]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.2)  # the reader is inside get_message when the next channel is subscribed
    client = redis.Redis.from_url(stack.redis_url)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5 and not all(any(e[0] == "run" for e in s) for s in streams.values()):
        for name in ("p", "q"):
            client.publish(f"runyard:project:{pids[name]}", json.dumps({"run_id": f"run-{name}", "next_step": 1}))
        time.sleep(0.2)
    stop.set()
    client.close()
    for name in ("p", "q"):
        runs = {json.loads(d)["run_id"] for e, d in streams[name] if e == "run"}
        assert runs == {f"run-{name}"}, (name, streams[name])


def test_sse_stream_ends_within_5_seconds_of_revoking_its_key(world: Any) -> None:
    from runyard_server.common.security import new_api_key

    key, prefix, digest = new_api_key()
    world.svc.sql(
        "INSERT INTO api_keys (user_id, prefix, key_hash, name) "
        "SELECT id, $1, $2, 'sse' FROM users WHERE username = 'ada'", prefix, digest,
    )
    events: list[tuple[str, str]] = []
    stop = threading.Event()
    t = threading.Thread(target=_read_events, args=(world.svc.query_url + "/api/v1/projects/ada/p/events",
                                                    key, events, stop, 30), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not any(e[0] == "hello" for e in events) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("hello", '{"live":true}') in events
    world.svc.sql("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", prefix)
    revoked = time.monotonic()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - revoked < 5.0
    assert events[-1][0] == "denied"
    stop.set()
