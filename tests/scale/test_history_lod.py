"""Levels of detail of long series (common/history_lod.py), on the real stack: compaction stores them, the
chart reads use them for wide windows and exact points for narrow ones, and they follow new steps.

Data is made here: one run of 24,000 steps x 2 keys written through gRPC ingest, with NaN, +Inf and
-Inf, a stretch of NaN only, and a spike; then resumed and extended to 40,000 steps.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import numpy as np
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_server.common import history_lod
from runyard_server.query.downsample import bucket, window
from tests.support.stack import TestStack

from .support import finish_msg, open_msg, stream

KEYS = ["loss", "acc"]
FIRST = 24_000
MORE = 16_000


def values(steps: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    loss = np.sin(steps / 900.0) + rng.normal(0, 0.1, steps.size)
    loss[steps % 997 == 0] = np.nan
    loss[steps % 4999 == 0] = np.inf
    loss[steps % 7919 == 0] = -np.inf
    loss[(steps >= 3000) & (steps < 3300)] = np.nan  # buckets of NaN only
    acc = steps / 1000.0
    acc[steps == 30_123] = 1e6  # a spike in the part logged later
    return {"loss": loss, "acc": acc}


def batches(steps: np.ndarray, first_seq: int) -> list[pb.ClientMessage]:
    v = values(steps)
    out = []
    for i in range(0, steps.size, 2000):
        part = steps[i:i + 2000]
        out.append(pb.ClientMessage(batch=pb.RecordBatch(records=[
            pb.Record(seq=first_seq + i + n, history=pb.HistoryRow(
                step=int(s), timestamp=1.7e9 + int(s), keys=KEYS,
                values=[float(v["loss"][i + n]), float(v["acc"][i + n])]))
            for n, s in enumerate(part)])))
    return out


def wait_lod(stack: TestStack, run_pk: int, last_step: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = stack.fetch("SELECT max_step FROM history_lod_state WHERE run_id = $1", run_pk)
        if len(rows) == len(KEYS) + 1 and all(r["max_step"] == last_step for r in rows):  # + _timestamp
            return
        time.sleep(0.2)
    raise AssertionError(f"levels of detail of run {run_pk} did not reach step {last_step}: {rows}")


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def check_stored(stack: TestStack, run_pk: int, key: str, steps: np.ndarray, vals: np.ndarray) -> None:
    """Every stored level equals the exact data's buckets: min, max, last step and value (NaN, Inf)."""
    key_id = stack.fetch("SELECT key_id FROM history_keys WHERE run_id = $1 AND key = $2", run_pk, key)[0]["key_id"]
    for level, width in enumerate(history_lod.WIDTHS):
        rows = stack.fetch("SELECT seg, n, data FROM history_lod WHERE run_id = $1 AND key_id = $2 AND level = $3 "
                           "ORDER BY seg", run_pk, key_id, level)
        got = np.concatenate([history_lod.decode(r["data"]) for r in rows])
        assert all(r["n"] == history_lod.decode(r["data"]).size for r in rows)
        b = steps // width
        numbers = np.unique(b)
        assert got["b"].tolist() == numbers.tolist(), f"{key} level {level}: bucket numbers"
        with np.errstate(invalid="ignore"):
            want_min = np.array([np.nan if np.isnan(vals[b == n]).all() else np.nanmin(vals[b == n]) for n in numbers])
            want_max = np.array([np.nan if np.isnan(vals[b == n]).all() else np.nanmax(vals[b == n]) for n in numbers])
        assert same(got["min"], want_min), f"{key} level {level}: min"
        assert same(got["max"], want_max), f"{key} level {level}: max"
        last = np.array([steps[b == n][-1] for n in numbers])
        assert got["step"].tolist() == last.tolist()
        assert same(got["value"], vals[np.searchsorted(steps, last)])


def check_chart(series: dict[str, Any], steps: np.ndarray, vals: np.ndarray, lo: int, hi: int) -> None:
    """Each answered bucket covers (previous bucket's last step, its last step]: its min/max are exactly
    those of the points there, and no point outside [lo, hi] shows."""
    got_steps = np.array(series["step"], dtype=np.int64)
    assert got_steps.size and got_steps[0] >= lo and got_steps[-1] <= hi
    assert got_steps[-1] == steps[steps <= hi][-1]
    prev = lo - 1
    decode = lambda xs: np.array([float(x) if x is not None else np.nan for x in xs])  # noqa: E731
    mins, maxs, value = decode(series["min"]), decode(series["max"]), decode(series["value"])
    for i, last in enumerate(got_steps):
        m = (steps > prev) & (steps <= last)
        part = vals[m]
        with np.errstate(invalid="ignore"):
            want = (np.nan, np.nan) if np.isnan(part).all() else (np.nanmin(part), np.nanmax(part))
        assert same(np.array([mins[i], maxs[i]]), np.array(want)), f"bucket ending at {last}"
        assert same(np.array([value[i]]), vals[steps == last])
        prev = last


def history(http: httpx.Client, run: str, **params: Any) -> dict[str, Any]:
    resp = http.get(f"/api/v1/runs/admin/{run}/history", params={"keys": ",".join(KEYS), **params})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def batched(http: httpx.Client, project: str, run_id: str, **body: Any) -> dict[str, Any]:
    resp = http.post(f"/api/v1/projects/admin/{project}/history",
                     json={"runs": [run_id], "keys": KEYS, **body})
    assert resp.status_code == 200, resp.text
    lines = [json.loads(line) for line in resp.text.splitlines()]
    assert lines[-1].get("done") is True
    return lines[0]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_levels_of_detail_match_the_exact_data_and_follow_new_steps(stack: TestStack, admin_key: str) -> None:
    stack.start_ingest()
    project, run_id = f"lod-{uuid.uuid4().hex[:6]}", "long"
    steps1 = np.arange(FIRST, dtype=np.int64)
    stream(stack.ingest_address, admin_key,
           [open_msg(project, run_id), *batches(steps1, 1), finish_msg(FIRST + 1)])
    run_pk = stack.fetch("SELECT r.id FROM runs r JOIN projects p ON p.id = r.project_id "
                         "WHERE p.name = $1 AND r.run_id = $2", project, run_id)[0]["id"]
    wait_lod(stack, run_pk, FIRST - 1)
    v1 = values(steps1)
    for key in KEYS:
        check_stored(stack, run_pk, key, steps1, v1[key])

    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=60) as http:
        run = f"{project}/{run_id}"
        # overview: through the levels (24,000 // 64 >= 300 buckets), exact min/max per answered bucket
        over = history(http, run, samples=300)
        assert over["sampled"] is True
        for key in KEYS:
            assert len(over["series"][key]["step"]) <= 300
            check_chart(over["series"][key], steps1, v1[key], 0, FIRST - 1)
        # the batched endpoint answers the same series
        line = batched(http, project, run_id, samples=300)
        for key in KEYS:
            assert line["series"][key]["step"] == over["series"][key]["step"]
            assert line["series"][key]["min"] == over["series"][key]["min"]
        # a zoom whose edges cut level buckets: nothing outside the window, still exact per bucket
        zoom = history(http, run, samples=150, min_step=5003, max_step=17001)
        for key in KEYS:
            check_chart(zoom["series"][key], steps1, v1[key], 5003, 17001)
        # a narrow zoom is read exactly: what the exact bucketing gives
        narrow = history(http, run, samples=150, min_step=100, max_step=4000)
        for key in KEYS:
            b = bucket(*window(steps1, v1[key], 100, 4000), 150)
            assert narrow["series"][key]["step"] == b.step.tolist()

        # more steps on a resumed run: before compaction the new part is read exactly (the answer is current) ...
        steps2 = np.arange(FIRST, FIRST + MORE, dtype=np.int64)
        stream(stack.ingest_address, admin_key, [open_msg(project, run_id, "must"), *batches(steps2, FIRST + 2)])
        every = np.concatenate((steps1, steps2))
        v_all = {k: np.concatenate((v1[k], values(steps2)[k])) for k in KEYS}
        live = history(http, run, samples=300)
        for key in KEYS:
            check_chart(live["series"][key], every, v_all[key], 0, FIRST + MORE - 1)
        assert max(x for x in live["series"]["acc"]["max"] if x is not None) == 1e6  # the late spike shows
        # ... and compaction (at the finish) brings the stored levels up to date
        stream(stack.ingest_address, admin_key,
               [open_msg(project, run_id, "must"), finish_msg(FIRST + MORE + 2)])
        wait_lod(stack, run_pk, FIRST + MORE - 1)
        for key in KEYS:
            check_stored(stack, run_pk, key, every, v_all[key])
        after = history(http, run, samples=300)
        assert after["series"] == live["series"]
        # the wide read really comes from the stored levels: a marked bucket shows through, a narrow one does not
        key_id = stack.fetch("SELECT key_id FROM history_keys WHERE run_id = $1 AND key = 'acc'", run_pk)[0]["key_id"]
        seg = stack.fetch("SELECT data FROM history_lod WHERE run_id = $1 AND key_id = $2 AND level = 0 AND seg = 0",
                          run_pk, key_id)[0]["data"]
        marked = history_lod.decode(seg).copy()
        marked["min"][0] = -123.0
        stack.fetch("UPDATE history_lod SET data = $3 WHERE run_id = $1 AND key_id = $2 AND level = 0 AND seg = 0",
                    run_pk, key_id, history_lod.encode(marked))
        assert history(http, run, samples=300)["series"]["acc"]["min"][0] == -123.0
        assert history(http, run, samples=150, min_step=0, max_step=4000)["series"]["acc"]["min"][0] == 0.0
