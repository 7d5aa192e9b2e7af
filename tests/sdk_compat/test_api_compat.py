"""`runyard.Api()` as W&B's public-API guide uses it, against the real stack: MongoDB-style filters and
order, history with `_timestamp`/`_runtime`, run attributes, summary edits that persist, files, artifacts
lineage, projects, the viewer, `from_path`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.errors import UsageError

from .conftest import Rest

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def guide_runs(server: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Four finished runs of project api-guide, and one failed."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("guide")
    for k, v in {"RUNYARD_BASE_URL": server.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(root),
                 "RUNYARD_CONFIG_DIR": str(root / "cfg"), "RUNYARD_SYSTEM_METRICS": "false",
                 "RUNYARD_CAPTURE_REQUIREMENTS": "false", "RUNYARD_CAPTURE_GIT": "false"}.items():
        mp.setenv(k, v)
    runs = []
    try:
        for i, (lr, opt, tags) in enumerate([(0.001, "adam", ["sweep"]), (0.01, "sgd", ["sweep", "best"]),
                                             (0.1, "adam", ["baseline"]), (0.05, "Adam-W", [])]):
            run = runyard.init(project="api-guide", name=f"cnn-{i}" if i < 3 else "mlp-3",
                               config={"lr": lr, "optimizer": {"name": opt}, "layers": i}, tags=tags)
            for step in range(10):
                run.log({"loss": lr * 10 / (step + 1), "acc": 1 - lr})
                time.sleep(0.01)
            run.summary["best_acc"] = 1 - lr
            run.finish()
            runs.append(run)
        failed = runyard.init(project="api-guide", name="broken", config={"lr": 0.5})
        failed.log({"loss": 9.0})
        failed.finish(exit_code=2)
        runs.append(failed)
    finally:
        mp.undo()
    return runs


def test_mongo_filters_and_order(online: dict[str, str], guide_runs: list[Any]) -> None:
    api = runyard.Api()

    def names(filters: Any = None, order: str = "+created_at") -> list[str]:
        return [r.name for r in api.runs("admin/api-guide", filters=filters, order=order)]

    assert names({"$and": [{"config.lr": {"$gt": 0.005}}, {"state": "finished"}]}) == ["cnn-1", "cnn-2", "mlp-3"]
    assert names({"$or": [{"config.lr": {"$lte": 0.001}}, {"state": "failed"}]}) == ["cnn-0", "broken"]
    assert names({"tags": {"$in": ["best", "baseline"]}}) == ["cnn-1", "cnn-2"]
    assert names({"tags": "sweep", "summary_metrics.best_acc": {"$gte": 0.99}}) == ["cnn-0", "cnn-1"]
    assert names({"config.optimizer.name": {"$nin": ["adam", "sgd"]}}) == ["mlp-3", "broken"]
    assert names({"display_name": {"$regex": "^cnn-[02]$"}}) == ["cnn-0", "cnn-2"]
    assert names({"config.optimizer.name": {"$regex": "^adam", "$options": "i"}}) == ["cnn-0", "cnn-2", "mlp-3"]
    assert names({"config.lr.value": {"$ne": 0.5}, "state": ["finished", "crashed"]}) == ["cnn-0", "cnn-1", "cnn-2", "mlp-3"]
    assert names({"summary_metrics.best_acc": {"$exists": False}}) == ["broken"]
    assert names({"name": guide_runs[2].id}) == ["cnn-2"]  # W&B's `name` is the run id
    first = api.run(guide_runs[0].path)
    assert names({"created_at": {"$gt": first.created_at}, "state": "finished"}) == ["cnn-1", "cnn-2", "mlp-3"]
    assert names(order="-summary_metrics.best_acc")[:2] == ["cnn-0", "cnn-1"]
    assert names(order="+config.lr")[0] == "cnn-0"
    with pytest.raises(UsageError, match="sweep"):
        api.runs("admin/api-guide", filters={"sweep": "abc"})
    with pytest.raises(UsageError, match=r"\$where"):
        api.runs("admin/api-guide", filters={"config.lr": {"$where": 1}})
    with pytest.raises(runyard.errors.InvalidArgumentError, match="regular expression"):
        api.runs("admin/api-guide", filters={"display_name": {"$regex": "(?<=x)y"}})


def test_history_attributes_and_edits(online: dict[str, str], guide_runs: list[Any], rest: Rest, tmp_path: Path) -> None:
    api = runyard.Api()
    src = guide_runs[0]
    r = api.run(f"admin/api-guide/runs/{src.id}")
    assert r.display_name == "cnn-0" and r.url.endswith(f"/admin/api-guide/runs/{src.id}") and r.created_at
    df = r.history()
    assert list(df.columns[:3]) == ["_step", "_runtime", "_timestamp"] and len(df) == 10
    assert df["_runtime"].is_monotonic_increasing and 0 <= df["_runtime"].iloc[0] < df["_runtime"].iloc[-1] < 300
    rows = list(r.scan_history(keys=["loss"]))
    assert len(rows) == 10 and {"_step", "_timestamp", "_runtime", "loss"} <= set(rows[0])
    assert r.metadata is not None and r.metadata.get("program")

    r.summary.update({"reviewed": True})
    del r.summary["acc"]
    r.summary["note"] = "kept"
    r.summary.update()
    stored = rest.run(src)["summary"]
    assert stored["reviewed"] is True and "acc" not in stored and stored["note"] == "kept" and stored["loss"] > 0
    r.config["pending"] = 1
    r.notes = "pending too"
    r.summary.update({"y": 2})  # stores the summary only; the other edits wait for update()
    assert rest.run(src)["notes"] == "" and "pending" not in rest.run(src)["config"]
    assert r.config["pending"] == 1 and r.notes == "pending too"
    r.update()
    assert rest.run(src)["config"]["pending"] == 1 and rest.run(src)["notes"] == "pending too"
    assert rest.run(src)["config"]["lr"] == 0.001  # untouched keys stay
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "report.csv").write_text("a,b\n1,2\n")
    f = r.upload_file(str(tmp_path / "eval" / "report.csv"), root=str(tmp_path))
    assert f.name == "eval/report.csv" and rest.file_bytes(src, "eval/report.csv") == b"a,b\n1,2\n"
    assert [p.name for p in api.projects("admin") if p.name == "api-guide"] == ["api-guide"]
    assert api.viewer.username == "admin" and api.viewer.entity == "admin"
    assert api.from_path(f"{online['RUNYARD_BASE_URL']}/admin/api-guide/runs/{src.id}").id == src.id
    assert api.from_path("admin/api-guide").name == "api-guide"


def test_artifact_lineage_through_the_api(online: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    producer = runyard.init(project="api-lineage")
    producer.log_artifact(str(data), name="dataset", type="dataset")
    producer.finish()
    data.write_text("x\n2\n")
    second = runyard.init(project="api-lineage")
    second.log_artifact(str(data), name="dataset", type="dataset", aliases=["fresh"])
    second.use_artifact("dataset:v0")
    second.finish()
    api = runyard.Api()
    versions = api.artifacts("dataset", "admin/api-lineage/dataset")
    assert [v.version for v in versions] == ["v1", "v0"] and "fresh" in versions[0].aliases
    assert api.artifact_versions("dataset", "admin/api-lineage/dataset")[0].version == "v1"
    r = api.run(second.path)
    assert [a.version for a in r.logged_artifacts()] == ["v1"] and [a.version for a in r.used_artifacts()] == ["v0"]
    with pytest.raises(UsageError, match="type"):
        api.artifacts("model", "admin/api-lineage/dataset")
