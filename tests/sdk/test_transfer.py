"""`runyard transfer SRC --from A --to B` (issue 16): a project of runs made online on the session stack
(A) is recreated on a second real instance (`instance_b`) through its ingest and artifact service, then
compared field by field through the public APIs of both, bucket bytes included. Re-running moves
nothing; a run id B holds with other data is a conflict; a transfer killed midway completes exactly once;
a key without write access on B changes nothing there."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.cli import main as cli

from .conftest import REPO, run_script

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

PROJECT = "xfer"

MAKE_RUNS = '''
import math, sys, time
import numpy as np
import runyard
ids = []
for n in range(3):
    run = runyard.init(project="xfer", name=f"run-{n}", config={"lr": 0.1 * (n + 1), "layers": [8, n]},
                       tags=["t", f"n{n}"], notes=f"note {n}", group="g", job_type="train" if n < 2 else "eval",
                       settings={"system_interval": 0.3, "capture_requirements": False})
    ids.append(run.id)
    for step in range(40):
        v = math.nan if step == 7 else (math.inf if step == 8 else (-math.inf if step == 9 else step * 0.5 + n))
        run.log({"loss": v, "acc": {"train": 1 - 1 / (step + 1)}})
        if step % 10 == 0:
            print(f"run {n} step {step}", flush=True)
    run.log({"late": 42.0 + n}, step=5)                             # a past step
    if n == 0:
        run.log({"img": runyard.Image(np.full((8, 8), 200, dtype=np.uint8), caption="c"),
                 "tbl": runyard.Table(columns=["a"], data=[[1], [2]])})
        art = runyard.Artifact("data", type="dataset", metadata={"rows": 2})
        with art.new_file("a.txt") as fh:
            fh.write("version zero")
        run.log_artifact(art)
    if n == 1:
        art = runyard.Artifact("data", type="dataset", metadata={"rows": 3})
        with art.new_file("a.txt") as fh:
            fh.write("version one")
        with art.new_file("same.bin", mode="wb") as fh:
            fh.write(b"x" * 5000)
        run.log_artifact(art, aliases=["best"])
    if n == 2:
        run.use_artifact("data:best")
    run.summary["best"] = 0.9 + n
    run.summary["inf"] = math.inf
    open("weights.bin", "wb").write(b"w" * 3000)                     # the same bytes in every run
    run.save("weights.bin", policy="now")
    open(f"own-{n}.txt", "w").write(f"run {n}")
    run.save(f"own-{n}.txt", policy="now")
    time.sleep(0.7)                                                   # a few system samples
    run.finish(exit_code=3 if n == 1 else 0)
print("IDS", " ".join(ids), flush=True)
'''


def _get(url: str, key: str, path: str, **params: Any) -> Any:
    resp = httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


RUN_FIELDS = ("id", "name", "state", "config", "summary", "tags", "group", "job_type", "notes", "host",
              "created_at", "finished_at", "exit_code", "error", "history_keys", "media_keys")


def snapshot(url: str, key: str, entity: str, project: str, run_id: str) -> dict[str, Any]:
    """Everything the public API shows of a run that a transfer must carry (not: who made it on B, its
    number, when it was last touched)."""
    base = f"/api/v1/runs/{entity}/{project}/{run_id}"
    run = _get(url, key, base)
    keys = [k for k in run["history_keys"] + run.get("media_keys", [])]
    user = [k for k in keys if not k.startswith("system/")]
    system = [k for k in keys if k.startswith("system/")]
    hist = _get(url, key, base + "/history/full", keys=",".join(user), limit=100000)
    sysh = _get(url, key, base + "/history/full", keys=",".join(system), limit=100000) if system else None
    out = _get(url, key, base + "/output", limit=10000)
    files = _get(url, key, base + "/files", recursive="true", limit=10000)
    arts = _get(url, key, base + "/artifacts")
    blobs = {}
    for f in files["files"]:
        link = _get(url, key, base + "/files/" + f["path"])
        blobs[f["path"]] = httpx.get(link["url"], timeout=60).content
    return {
        "run": {f: run.get(f) for f in RUN_FIELDS},
        "history": hist, "system": sysh,
        "output": [(x["line_no"], x["ts"], x["stream"], x["line"]) for x in out["lines"]],
        "files": sorted((f["path"], f["sha256"], f["size"], f["content_type"]) for f in files["files"]),
        "bytes": blobs,
        "artifacts": {k: sorted(v["qualified_name"].rsplit("/", 1)[1] for v in arts[k]) for k in ("logged", "used")},
    }


def artifact_view(url: str, key: str, entity: str, project: str) -> dict[str, Any]:
    base = f"/api/v1/artifacts/{entity}/{project}"
    out: dict[str, Any] = {}
    for art in _get(url, key, base)["artifacts"]:
        full = _get(url, key, f"{base}/{art['name']}")
        for v in full["versions"]:
            d = _get(url, key, f"{base}/{art['name']}/{v['version']}")
            files = _get(url, key, f"{base}/{art['name']}/{v['version']}/files", urls="true")
            out[f"{art['name']}:{v['version']}"] = {
                "type": d["type"], "digest": d["digest"], "size": d["size"], "metadata": d["metadata"],
                "aliases": sorted(d["aliases"]), "description": d["description"], "created_at": d["created_at"],
                "producer": (d.get("created_by_run") or {}).get("run_id"),
                "users": sorted(u["run_id"] for u in d["used_by"]),
                "files": {f["path"]: httpx.get(f["url"], timeout=60).content for f in files["files"]},
            }
    return out


@pytest.fixture(scope="module")
def source_runs(full_server: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("xfer-src")
    proc = run_script(MAKE_RUNS, {"RUNYARD_BASE_URL": full_server.base_url, "RUNYARD_API_KEY": admin_key,
                                  "RUNYARD_DIR": str(folder)}, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("IDS ", 1)[1].split()


def _transfer(a: Any, ka: str, b: Any, kb: str, src: str, *extra: str) -> int:
    return cli(["transfer", src, "--from", a.base_url, "--to", b.base_url, "--from-key", ka, "--to-key", kb,
                *extra])


def test_transfer_recreates_a_project_and_a_second_transfer_moves_nothing(
    full_server: Any, instance_b: Any, admin_key: str, source_runs: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    a, b, kb = full_server, instance_b, instance_b.api_key
    capsys.readouterr()
    assert _transfer(a, admin_key, b, kb, f"admin/{PROJECT}") == 0
    out = capsys.readouterr().out
    assert "[1/3]" in out and "[3/3]" in out and "records sent" in out, out
    for run_id in source_runs:
        sa = snapshot(a.base_url, admin_key, "admin", PROJECT, run_id)
        sb = snapshot(b.base_url, kb, "admin", PROJECT, run_id)
        for part in sa:
            assert sb[part] == sa[part], (run_id, part)
        assert sa["run"]["summary"]["inf"] == "Infinity" and "system" in " ".join(sa["run"]["history_keys"])
        hist = sb["history"]
        assert hist["columns"]["loss"][7] == "NaN" and hist["columns"]["loss"][8] == "Infinity"
        assert sb["output"] and sb["system"] and sb["system"]["steps"]
    states = [snapshot(b.base_url, kb, "admin", PROJECT, r)["run"]["state"] for r in source_runs]
    assert states == ["finished", "failed", "finished"]
    arts_a = artifact_view(a.base_url, admin_key, "admin", PROJECT)
    arts_b = artifact_view(b.base_url, kb, "admin", PROJECT)
    assert arts_b == arts_a
    assert arts_b["data:v1"]["aliases"] == ["best", "latest"] and arts_b["data:v1"]["users"] == [source_runs[2]]
    assert arts_b["data:v0"]["producer"] == source_runs[0]
    # weights.bin is the same bytes in all three runs: stored once on B (content addressed)
    (row,) = b.fetch("SELECT count(*) AS n FROM storage_objects WHERE size = 3000")
    assert row["n"] == 1

    before = b.fetch("SELECT run_id, last_seq, updated_at, output_lines FROM runs ORDER BY run_id")
    objects = b.fetch("SELECT count(*) AS n FROM storage_objects")
    capsys.readouterr()
    assert _transfer(a, admin_key, b, kb, f"admin/{PROJECT}") == 0
    out = capsys.readouterr().out
    assert "nothing to transfer" in out and "0 objects (0 bytes" in out, out
    assert b.fetch("SELECT run_id, last_seq, updated_at, output_lines FROM runs ORDER BY run_id") == before
    assert b.fetch("SELECT count(*) AS n FROM storage_objects") == objects


def test_a_run_id_with_other_data_on_the_target_is_a_conflict_never_merged(
    full_server: Any, instance_b: Any, admin_key: str, source_runs: list[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    a, b, kb = full_server, instance_b, instance_b.api_key
    one = f"admin/{PROJECT}/{source_runs[0]}"
    assert _transfer(a, admin_key, b, kb, one, "--to-project", "xfer-conflict") == 0
    # a fresh machine (no journal) finds the same data there: up to date, nothing sent
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "other-machine"))
    capsys.readouterr()
    assert _transfer(a, admin_key, b, kb, one, "--to-project", "xfer-conflict") == 0
    assert "nothing to transfer" in capsys.readouterr().out
    # someone edits the copy on B: the next transfer reports the conflict and changes neither side
    resp = httpx.patch(f"{b.base_url}/api/v1/runs/admin/xfer-conflict/{source_runs[0]}",
                       json={"notes": "edited on B"}, headers={"Authorization": f"Bearer {kb}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    before = b.fetch("SELECT r.last_seq, r.notes, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id "
                     "WHERE p.name = 'xfer-conflict'")
    capsys.readouterr()
    assert _transfer(a, admin_key, b, kb, one, "--to-project", "xfer-conflict") == 1
    captured = capsys.readouterr()
    assert f"{source_runs[0]}: CONFLICT: the run was changed on the target since it was copied" \
        in captured.out, captured.out
    assert "differs in notes" in captured.out and "never merged" in captured.err
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "third-machine"))  # no record of copying it
    assert _transfer(a, admin_key, b, kb, one, "--to-project", "xfer-conflict") == 1
    assert "CONFLICT: the target already holds a run with this id and different data" in capsys.readouterr().out
    after = b.fetch("SELECT r.last_seq, r.notes, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id "
                    "WHERE p.name = 'xfer-conflict'")
    assert after == before and after[0]["notes"] == "edited on B"


def test_a_key_without_write_access_on_the_target_changes_nothing(
    full_server: Any, instance_b: Any, admin_key: str, source_runs: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    b = instance_b
    resp = httpx.post(f"{b.base_url}/api/v1/admin/users", json={"username": "reader-xfer"},
                      headers={"Authorization": f"Bearer {b.api_key}"}, timeout=30)
    assert resp.status_code == 201, resp.text
    reader = resp.json()["api_key"]
    counts = "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM projects) AS projects, " \
             "(SELECT count(*) FROM storage_objects) AS objects"
    before = b.fetch(counts)
    capsys.readouterr()
    assert _transfer(full_server, admin_key, b, reader, f"admin/{PROJECT}", "--to-project", "xfer-denied") == 2
    err = capsys.readouterr().err
    assert "does not let this key (reader-xfer) write to entity 'admin'" in err and "Nothing was written" in err, err
    assert b.fetch(counts) == before


def test_a_transfer_killed_midway_completes_exactly_once(
    full_server: Any, instance_b: Any, admin_key: str, tmp_path: Path,
) -> None:
    proc = run_script('''
import runyard
run = runyard.init(project="xfer-big", settings={"system_metrics": False, "capture_requirements": False})
print("ID", run.id, flush=True)
for i in range(60000):
    run.log({"x": float(i), "y": i * 0.5})
run.finish()
''', {"RUNYARD_BASE_URL": full_server.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(tmp_path)},
        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split("ID ", 1)[1].split()[0]
    env = {**os.environ, "RUNYARD_CONFIG_DIR": str(tmp_path / "config")}
    cmd = [sys.executable, "-m", "runyard.cli", "transfer", "admin/xfer-big", "--from", full_server.base_url,
           "--to", instance_b.base_url, "--from-key", admin_key, "--to-key", instance_b.api_key]
    child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed_at = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            rows = instance_b.fetch("SELECT last_seq FROM runs WHERE run_id = $1", run_id)
            if rows and rows[0]["last_seq"] > 0:
                child.send_signal(signal.SIGKILL)
                killed_at = rows[0]["last_seq"]
                break
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)
    (row,) = instance_b.fetch("SELECT last_seq FROM runs WHERE run_id = $1", run_id)
    assert 0 < killed_at and row["last_seq"] < 60000, (killed_at, row)  # stopped midway
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming: the target holds" in done.stdout and "resumed" in done.stdout, done.stdout
    (row,) = instance_b.fetch(
        """SELECT r.last_seq, (SELECT sum(c.n) FROM history_chunks c JOIN history_keys k
                  ON k.run_id = c.run_id AND k.key_id = c.key_id WHERE c.run_id = r.id AND k.key = 'x') AS xs
           FROM runs r WHERE r.run_id = $1""", run_id)
    assert row["last_seq"] > 60000 and row["xs"] == 60000  # every row exactly once (+ summary, finish)
    hist = _get(instance_b.base_url, instance_b.api_key, f"/api/v1/runs/admin/xfer-big/{run_id}/history/full",
                keys="x,y", limit=100000)
    assert hist["columns"]["x"] == [float(i) for i in range(60000)]
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to transfer" in again.stdout, again.stdout


def test_export_to_a_bundle_and_import_it_elsewhere(
    full_server: Any, instance_b: Any, admin_key: str, source_runs: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json
    import tarfile

    a, b, kb = full_server, instance_b, instance_b.api_key
    bundle = tmp_path / "xfer.tar"
    assert cli(["export", f"admin/{PROJECT}", "-o", str(bundle), "--host", a.base_url, "--api-key", admin_key]) == 0
    assert "wrote" in capsys.readouterr().out
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("runyard-bundle.json"))  # type: ignore[arg-type]
    assert manifest["format"] == "runyard-bundle" and manifest["version"] == 1
    assert manifest["runs"] == source_runs and manifest["artifacts"] == ["data"]
    assert all(f"runs/{r}/records.bin.gz" in names for r in source_runs)
    # the shared weights.bin is one object in the bundle
    sha = {f["sha256"] for r in source_runs for f in json.load(
        tarfile.open(bundle).extractfile(f"runs/{r}/files.json")) if f["path"] == "weights.bin"}  # type: ignore[arg-type]
    assert len(sha) == 1 and names.count(f"objects/{sha.pop()}") == 1

    capsys.readouterr()
    assert cli(["import", str(bundle), "--host", b.base_url, "--api-key", kb, "--project", "xfer-bundle"]) == 0
    out = capsys.readouterr().out
    assert "importing 3 runs of admin/xfer from bundle:" in out, out
    for run_id in source_runs:
        sa = snapshot(a.base_url, admin_key, "admin", PROJECT, run_id)
        sb = snapshot(b.base_url, kb, "admin", "xfer-bundle", run_id)
        for part in sa:
            assert sb[part] == sa[part], (run_id, part)
    assert artifact_view(b.base_url, kb, "admin", "xfer-bundle") == artifact_view(a.base_url, admin_key, "admin",
                                                                                  PROJECT)
    before = b.fetch("SELECT r.last_seq, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id "
                     "WHERE p.name = 'xfer-bundle' ORDER BY r.run_id")
    capsys.readouterr()
    assert cli(["import", "bundle", str(bundle), "--host", b.base_url, "--api-key", kb,
                "--project", "xfer-bundle"]) == 0
    assert "nothing to transfer" in capsys.readouterr().out
    assert b.fetch("SELECT r.last_seq, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id "
                   "WHERE p.name = 'xfer-bundle' ORDER BY r.run_id") == before
    broken = tmp_path / "not-a-bundle.tar"
    with tarfile.open(broken, "w") as tar:
        tar.add(bundle, "something.tar")
    assert cli(["import", str(broken), "--host", b.base_url, "--api-key", kb]) == 2
    assert "is not a Runyard bundle" in capsys.readouterr().err


def test_a_run_still_running_is_skipped_unless_asked_for(
    full_server: Any, instance_b: Any, admin_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = '''
import sys, runyard
run = runyard.init(project="xfer-live", settings={"system_metrics": False, "capture_requirements": False})
for i in range(10):
    run.log({"x": i})
print("ID", run.id, flush=True)
sys.stdin.readline()
run.finish()
'''
    env = {**os.environ, "RUNYARD_BASE_URL": full_server.base_url, "RUNYARD_API_KEY": admin_key,
           "RUNYARD_DIR": str(tmp_path), "RUNYARD_HEARTBEAT_INTERVAL": "1"}
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        run_id = child.stdout.readline().split()[1]
        capsys.readouterr()
        assert _transfer(full_server, admin_key, instance_b, instance_b.api_key, "admin/xfer-live") == 0
        out = capsys.readouterr().out
        assert f"{run_id}: skipped: still running on the source" in out and "1 skipped" in out, out
        assert instance_b.fetch("SELECT id FROM runs WHERE run_id = $1", run_id) == []
        assert _transfer(full_server, admin_key, instance_b, instance_b.api_key, "admin/xfer-live",
                         "--include-running") == 0
        assert "copied as far as it got" in capsys.readouterr().out
        (row,) = instance_b.fetch("SELECT state FROM runs WHERE run_id = $1", run_id)
        assert row["state"] == "crashed"
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
