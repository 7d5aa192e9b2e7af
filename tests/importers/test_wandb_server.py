"""`runyard import wandb ENTITY/PROJECT --wandb-host URL` (issue 16): a W&B project read through the real
`wandb.Api`. There is no internet here, so the W&B server is Runyard's own W&B endpoint (instance A, the
session stack, docs/wandb-compat.md): runs are made there by the real wandb client, then imported through
`wandb.Api(base_url=A)` into a second real instance (C) and compared field by field with A."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.conftest import InstanceB

from .conftest import get

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow,
              pytest.mark.timeout(600)]  # real clients and servers start in these tests, on a shared machine

PROJECT = "wb-source"

SCRIPT = '''
import json, math, os, sys, wandb
os.makedirs("data", exist_ok=True)
open("data/a.txt", "w").write("alpha\\n")
open("data/b.bin", "wb").write(bytes(range(256)) * 40)
open("ref.csv", "w").write("1,2\\n")
run = wandb.init(project="PROJECT", name="producer", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["x", "y"],
                 notes="from wandb", group="grp", job_type="train")
for i in range(40):
    v = math.nan if i == 3 else (math.inf if i == 4 else (-math.inf if i == 5 else i * 0.25))
    run.log({"loss": v, "acc": i / 40, "label": f"s{i}"})
run.log({"big": 1.0}, step=60)
print("hello from the run", flush=True)
print("a warning", file=sys.stderr, flush=True)
open("notes.txt", "w").write("saved with wandb.save\\n")
wandb.save("notes.txt", policy="now")
art = wandb.Artifact("corpus", type="dataset", description="first", metadata={"rows": 2})
art.add_dir("data")
art.add_reference("file://" + os.path.abspath("ref.csv"))
run.log_artifact(art, aliases=["best"])
art.wait()
open("data/a.txt", "w").write("alpha, second\\n")
art2 = wandb.Artifact("corpus", type="dataset", description="second")
art2.add_dir("data")
run.log_artifact(art2)
art2.wait()
run.summary["best"] = 7
first = run.id
run.finish(exit_code=3)
run = wandb.init(project="PROJECT", name="consumer", config={"batch": 32})
run.use_artifact("corpus:best")
run.log({"x": 1.0})
second = run.id
run.finish()
json.dump({"producer": first, "consumer": second}, open("out.json", "w"))
'''


def _wandb_env(folder: Path, base_url: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNYARD_"))}
    env.update({"WANDB_BASE_URL": base_url, "WANDB_API_KEY": key, "WANDB_DIR": str(folder),
                "WANDB_CONFIG_DIR": str(folder / ".config"), "WANDB_CACHE_DIR": str(folder / ".cache"),
                "WANDB_DATA_DIR": str(folder / ".data"), "WANDB_ARTIFACT_DIR": str(folder / "artifacts"),
                "WANDB_DISABLE_GIT": "true", "WANDB__STATS_SAMPLING_INTERVAL": "1", "HOME": str(folder),
                "NO_PROXY": "*", "PYTHONUNBUFFERED": "1"})
    return env


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`runyard ...` in its own process (the wandb package starts its own service there)."""
    return subprocess.run([sys.executable, "-c", "import sys; from runyard.cli import main; sys.exit(main(sys.argv[1:]))",
                           *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _all_history(base: str, key: str, path: str, keys: list[str]) -> dict[str, Any]:
    return get(base, key, f"/api/v1/runs/{path}/history/full", keys=",".join(keys), limit=10_000)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def made(full_server: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("wandb-made")
    (folder / "make.py").write_text(textwrap.dedent(SCRIPT).replace("PROJECT", PROJECT))
    proc = subprocess.run([sys.executable, "make.py"], cwd=folder, env=_wandb_env(folder, full_server.base_url, admin_key),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    import json

    return dict(json.loads((folder / "out.json").read_text()))


def test_a_wandb_project_is_imported_through_wandb_api_field_by_field_and_again_adds_nothing(
    full_server: Any, admin_key: str, instance_c: InstanceB, made: dict[str, Any], tmp_path: Path,
) -> None:
    a_url, c_url, c_key = full_server.base_url, instance_c.base_url, instance_c.api_key
    env = _wandb_env(tmp_path, a_url, admin_key)
    env.pop("WANDB_BASE_URL")  # the host comes from --wandb-host
    env["RUNYARD_CONFIG_DIR"] = str(tmp_path / "runyard-config")
    args = ["import", "wandb", f"admin/{PROJECT}", "--wandb-host", a_url, "--host", c_url, "--api-key", c_key]
    proc = _cli(args, env, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "[1/2]" in out and "[2/2]" in out, out  # progress per run
    assert "imported: 2 runs (2 new, 0 completed, 0 already there)" in out, out
    assert "artifact versions: 2 new" in out, out

    for run_id in (made["producer"], made["consumer"]):
        path = f"admin/{PROJECT}/{run_id}"
        a = get(a_url, admin_key, f"/api/v1/runs/{path}")
        c = get(c_url, c_key, f"/api/v1/runs/{path}")
        for field in ("name", "state", "exit_code", "config", "tags", "notes", "group", "job_type", "created_at"):
            assert c[field] == a[field], (field, c[field], a[field])
        assert set(c["summary"]) == set(a["summary"])
        assert all(_same(c["summary"][k], a["summary"][k]) for k in c["summary"]), (c["summary"], a["summary"])
        assert abs(_ts(c["finished_at"]) - _ts(a["finished_at"])) < 2.0  # W&B keeps the runtime, not the end
        keys = sorted(k for k in set(a["history_keys"]) | set(a["media_keys"]) if not k.startswith("system/"))
        assert sorted(k for k in set(c["history_keys"]) | set(c["media_keys"]) if not k.startswith("system/")) == keys
        assert "_timestamp" in keys  # each step's time, compared with the values
        ha, hc = _all_history(a_url, admin_key, path, keys), _all_history(c_url, c_key, path, keys)
        assert hc["steps"] == ha["steps"] and hc["columns"] == ha["columns"]
        sys_a = sorted(k for k in a["history_keys"] if k.startswith("system/"))
        assert sorted(k for k in c["history_keys"] if k.startswith("system/")) == sys_a
        if sys_a:
            sa, sc = _all_history(a_url, admin_key, path, sys_a), _all_history(c_url, c_key, path, sys_a)
            assert sc["steps"] == sa["steps"] and sc["columns"] == sa["columns"]  # same samples, same millisecond
        lines_a = get(a_url, admin_key, f"/api/v1/runs/{path}/output", limit=10_000)["lines"]
        lines_c = get(c_url, c_key, f"/api/v1/runs/{path}/output", limit=10_000)["lines"]
        assert [(x["stream"], x["line"], x["ts"]) for x in lines_c] == [(x["stream"], x["line"], x["ts"]) for x in lines_a]
        files_a = {f["path"]: f["sha256"] for f in get(a_url, admin_key, f"/api/v1/runs/{path}/files",
                                                        recursive="true")["files"]}
        files_c = {f["path"]: f["sha256"] for f in get(c_url, c_key, f"/api/v1/runs/{path}/files",
                                                        recursive="true")["files"]}
        assert files_c == files_a and "wandb-summary.json" in files_c
        if run_id == made["producer"]:
            assert {"output.log", "notes.txt"} <= set(files_c)

    producer = get(c_url, c_key, f"/api/v1/runs/admin/{PROJECT}/{made['producer']}")
    assert (producer["name"], producer["state"], producer["exit_code"]) == ("producer", "failed", 3)
    assert producer["config"]["opt"] == {"name": "adam"} and producer["tags"] == ["x", "y"]
    hist = _all_history(c_url, c_key, f"admin/{PROJECT}/{made['producer']}", ["loss", "label", "big"])
    assert hist["steps"] == [*range(40), 60]
    assert hist["columns"]["loss"][3:6] == ["NaN", "Infinity", "-Infinity"] and hist["columns"]["label"][1] == "s1"
    lines = get(c_url, c_key, f"/api/v1/runs/admin/{PROJECT}/{made['producer']}/output", limit=1000)["lines"]
    assert ("stdout", "hello from the run") in [(x["stream"], x["line"]) for x in lines]
    assert ("stderr", "a warning") in [(x["stream"], x["line"]) for x in lines]

    for version in ("v0", "v1"):
        va = get(a_url, admin_key, f"/api/v1/artifacts/admin/{PROJECT}/corpus/{version}")
        vc = get(c_url, c_key, f"/api/v1/artifacts/admin/{PROJECT}/corpus/{version}")
        for field in ("type", "description", "metadata", "digest"):
            assert vc[field] == va[field], (version, field)
        assert sorted(vc["aliases"]) == sorted(va["aliases"])
        assert vc["created_by_run"]["run_id"] == va["created_by_run"]["run_id"] == made["producer"]
        assert [u["run_id"] for u in vc["used_by"]] == [u["run_id"] for u in va["used_by"]]
        fa = get(a_url, admin_key, f"/api/v1/artifacts/admin/{PROJECT}/corpus/{version}/files")["files"]
        fc = get(c_url, c_key, f"/api/v1/artifacts/admin/{PROJECT}/corpus/{version}/files")["files"]
        assert [(f["path"], f.get("sha256"), f.get("ref")) for f in fc] == \
            [(f["path"], f.get("sha256"), f.get("ref")) for f in fa]
    v0 = get(c_url, c_key, f"/api/v1/artifacts/admin/{PROJECT}/corpus/v0")
    assert "best" in v0["aliases"] and [u["run_id"] for u in v0["used_by"]] == [made["consumer"]]

    before = instance_c.fetch("SELECT r.run_id, r.last_seq, r.updated_at FROM runs r JOIN projects p "
                              "ON p.id = r.project_id WHERE p.name = $1 ORDER BY r.run_id", PROJECT)
    proc = _cli(args, env, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "nothing to transfer" in out and \
        "imported: 2 runs (0 new, 0 completed, 2 already there); sent 0 points, 0 files" in out, out
    assert "downloaded from W&B: 0 files (0 bytes)" in out, out  # decided from the listings alone
    after = instance_c.fetch("SELECT r.run_id, r.last_seq, r.updated_at FROM runs r JOIN projects p "
                             "ON p.id = r.project_id WHERE p.name = $1 ORDER BY r.run_id", PROJECT)
    assert after == before


def test_one_wandb_run_and_a_missing_project_are_named(
    full_server: Any, admin_key: str, instance_c: InstanceB, made: dict[str, Any], tmp_path: Path,
) -> None:
    a_url, c_url, c_key = full_server.base_url, instance_c.base_url, instance_c.api_key
    env = _wandb_env(tmp_path, a_url, admin_key)
    env["RUNYARD_CONFIG_DIR"] = str(tmp_path / "runyard-config")
    proc = _cli(["import", "wandb", f"admin/{PROJECT}", "--run", made["consumer"], "--project", "one-run",
                 "--host", c_url, "--api-key", c_key], env, tmp_path)  # the host from WANDB_BASE_URL
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "imported: 1 runs (1 new" in out, out
    runs = get(c_url, c_key, "/api/v1/projects/admin/one-run/runs")["runs"]
    assert [r["id"] for r in runs] == [made["consumer"]]
    # the artifact version it used came along (its producer is not in this project: noted, not invented)
    v0 = get(c_url, c_key, "/api/v1/artifacts/admin/one-run/corpus/v0")
    assert [u["run_id"] for u in v0["used_by"]] == [made["consumer"]] and v0["created_by_run"] is None

    proc = _cli(["import", "wandb", "admin/no-such-project", "--project", "x", "--host", c_url, "--api-key", c_key],
                env, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "listing the runs of admin/no-such-project" in proc.stderr and "Could not find project" in proc.stderr


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
