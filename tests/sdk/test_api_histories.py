"""`Api().runs(...).histories()`: the sampled history of many runs in one batched request, matching what
each run's own `history()` answers (W&B's `Runs.histories`)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import runyard
from runyard.errors import UsageError

pytestmark = [pytest.mark.e2e, pytest.mark.local]

QUIET = {"system_metrics": False, "capture_requirements": False, "capture_git": False, "console": "off"}


def _make(project: str) -> list[str]:
    ids = []
    for n in range(3):
        run = runyard.init(project=project, name=f"h{n}", settings=QUIET)
        for step in range(20 + n):
            row: dict[str, Any] = {"loss": 1.0 / (step + 1) + n, "acc": step * 0.01}
            if n == 1 and step == 4:
                row["loss"] = float("nan")
            run.log(row)
        if n == 2:
            run.log({"only_here": 7.0})
        run.finish()
        ids.append(run.id)
    return ids


def test_histories_of_many_runs_match_each_runs_history(sdk_env: dict[str, str]) -> None:
    ids = _make("histories")
    api = runyard.Api()
    runs = api.runs("admin/histories", order="+name")
    assert [r.id for r in runs] == ids
    rows = runs.histories(keys=["loss", "acc"], samples=1000)
    assert {r["run_id"] for r in rows} == set(ids)
    for run in runs:
        mine = [{k: v for k, v in r.items() if k != "run_id"} for r in rows if r["run_id"] == run.id]
        own = run.history(keys=["loss", "acc"], samples=1000, pandas=False)
        assert len(mine) == len(own) == 20 + ids.index(run.id)
        for a, b in zip(mine, own):
            assert a["_step"] == b["_step"] and a.get("acc") == b.get("acc")
            assert a["_timestamp"] == pytest.approx(b["_timestamp"]) and a["_runtime"] == pytest.approx(b["_runtime"])
            assert (math.isnan(a["loss"]) and math.isnan(b["loss"])) or a.get("loss") == b.get("loss")
    nan_row = next(r for r in rows if r["run_id"] == ids[1] and r["_step"] == 4)
    assert math.isnan(nan_row["loss"])

    # keys default to every numeric key of the runs; a key only one run has appears only there
    every = runs.histories(samples=1000)
    assert [r["only_here"] for r in every if "only_here" in r] == [7.0]
    assert {r["run_id"] for r in every if "only_here" in r} == {ids[2]}

    # sampled: at most `samples` buckets per series
    few = runs.histories(keys=["loss"], samples=5)
    assert all(sum(1 for r in few if r["run_id"] == i) <= 5 for i in ids)

    frame = runs.histories(keys=["acc"], samples=1000, format="pandas")
    assert list(frame.columns[:4]) == ["run_id", "_step", "_runtime", "_timestamp"]
    assert len(frame) == sum(20 + n for n in range(3)) and set(frame["run_id"]) == set(ids)
    with pytest.raises(UsageError, match="format must be"):
        runs.histories(format="csv")  # type: ignore[arg-type]
    assert api.runs("admin/histories", filters={"display_name": "nobody"}).histories(keys=["loss"]) == []
