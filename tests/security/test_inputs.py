"""Out-of-range numbers and dates answer 4xx with a message naming what was wrong, never a 500 (issue:
12 different 500s from filters, sort, groups, history ranges and offsets)."""

from __future__ import annotations

import grpc
import pytest

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

from .conftest import Population

pytestmark = [pytest.mark.local]

RUNS = "/api/v1/projects/vision/priv/runs"
BIG = 2**63  # one past the largest bigint


def run_path(p: Population, tail: str = "") -> str:
    return f"/api/v1/runs/vision/priv/{p.runs['vision/priv']}{tail}"


CASES = [
    # (path, params, words the message must contain)
    (RUNS, {"filter": "config.lr < 1e999999"}, ["out of range", "position 13"]),
    (RUNS, {"filter": "config.lr < -1e999999"}, ["out of range"]),
    (RUNS, {"filter": "config.lr > 1e-999999"}, ["out of range"]),
    (RUNS, {"filter": "summary.acc in (1, 1e99999)"}, ["out of range"]),
    (RUNS, {"filter": "config.layers contains 1e400"}, ["out of their range"]),
    (RUNS, {"filter": 'created_at > "9999-12-31T23:59:59-14:00"'}, ["years 1-9999"]),
    (RUNS, {"filter": 'updated_at < "0001-01-01T00:00:00+14:00"'}, ["years 1-9999"]),
    (RUNS, {"filter": 'created_at > "99999-01-01"'}, ["not an ISO 8601"]),
    (RUNS, {"updated_since": "9999-12-31T23:59:59-14:00"}, ["updated_since", "years 1-9999"]),
    (RUNS, {"updated_since": "0001-01-01T00:00:00+01:00"}, ["updated_since"]),
    (RUNS, {"offset": str(2**40)}, None),  # a big offset is fine (bigint): an empty page
    (RUNS, {"offset": str(BIG)}, ["offset"]),
    (RUNS, {"offset": "1e20"}, ["offset"]),
    (RUNS, {"limit": "0"}, ["limit"]),
    (RUNS + "/groups", {"by": "config.lr", "filter": "config.lr < 1e999999"}, ["out of range"]),
    ("{run}/history", {"min_step": "100000000000000000000"}, ["min_step"]),
    ("{run}/history", {"max_step": str(BIG)}, ["max_step"]),
    ("{run}/history", {"min_step": str(-BIG - 1)}, ["min_step"]),
    ("{run}/history", {"min_step": "1e20"}, ["min_step"]),
    ("{run}/history", {"min_step": "5", "max_step": "4"}, ["greater than"]),
    ("{run}/history/full", {"start_step": str(BIG)}, ["start_step"]),
    ("{run}/history/full", {"start_step": "-1e3"}, ["start_step"]),
    ("{run}/output", {"after": str(BIG)}, ["after"]),
    ("{run}/output", {"after": str(2**70)}, ["after"]),
]


@pytest.mark.parametrize(("path", "params", "words"), CASES)
def test_out_of_range_inputs_are_refused_with_a_message(population: Population, path: str,
                                                        params: dict[str, str], words: list[str] | None) -> None:
    r = population.call("tmember", "GET", path.replace("{run}", run_path(population)), params=params)
    if words is None:
        assert r.status_code == 200, r.text
        return
    assert r.status_code in (400, 422), r.text
    body = r.json()
    assert body["code"] == "invalid_argument"
    for word in words:
        assert word in body["detail"], body


def test_extreme_values_stored_by_runs_never_break_the_views(population: Population) -> None:
    """Two runs with a summary near the largest double (their mean overflows a double) and one beyond it."""
    w = population.world
    for i, summary in enumerate(('{"acc": 1.7e308, "n": 1}', '{"acc": 1.7e308, "n": 1e400}')):
        msgs = [pb.ClientMessage(open=pb.OpenRun(entity="vision", project="extreme", run_id=f"extreme{i}")),
                pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=1, summary=pb.SummaryUpdate(set_json=summary))]))]
        with grpc.insecure_channel(w.ingest_address) as channel:
            out = list(pb_grpc.IngestStub(channel).Stream(iter(msgs), timeout=30,
                                                         metadata=[("authorization", f"Bearer {w.keys['tmember']}")]))
        assert out[-1].ack.seq == 1
    base = "/api/v1/projects/vision/extreme/runs"
    for params in ({"by": "state", "metric": "summary.acc"}, {"by": "summary.n", "metric": "summary.acc"},
                   {"by": "state", "metric": "summary.n"}):
        r = population.call("tmember", "GET", base + "/groups", params=params)
        assert r.status_code == 200, (params, r.text)
    groups = population.call("tmember", "GET", base + "/groups", params={"by": "state", "metric": "summary.acc"}).json()
    g = groups["groups"][0]
    assert g["count"] == 2 and g["mean"] == 1.7e308 and g["max"] == 1.7e308
    for params in ({"order": "-summary.acc"}, {"order": "summary.n"}, {"filter": "summary.acc > 1e300"},
                   {"filter": "summary.n > 1"}):
        r = population.call("tmember", "GET", base, params=params)
        assert r.status_code == 200, (params, r.text)
    assert population.call("tmember", "GET", base, params={"filter": "summary.acc > 1e300"}).json()["total"] == 2
