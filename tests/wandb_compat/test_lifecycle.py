"""The real wandb client: login, init/log/finish, media, console, files, resume, crash, and the public API.

One full-featured run (module fixture) feeds several checks; each check compares what the script logged
with what Runyard's own REST API answers, point for point.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import httpx
import pytest

from .conftest import Result, WandbWorld

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "wb-life"
STEPS = 120

MAIN = f"""
import math, sys, time, numpy as np, wandb

run = wandb.init(project="{PROJECT}", name="display-one", config={{"lr": 0.01, "opt": {{"name": "adam"}}, "layers": [8, 4]}},
                 tags=["first", "wandb"], notes="from the real client", group="grp", job_type="train")
run.define_metric("epoch", hidden=True)
run.define_metric("val/acc", step_metric="epoch", summary="max")
logged = []
for i in range({STEPS}):
    row = {{"loss": math.exp(-i / 30), "acc": i / {STEPS}, "deep": {{"x": i * 2}}}}
    if i % 20 == 0:
        row["epoch"] = i // 20
        row["val/acc"] = 0.5 + i / 1000
    if i == 7:
        row["weird"] = float("nan")
    wandb.log(row)
    logged.append(row)
rng = np.random.default_rng(0)
pixels = (rng.random((16, 12, 3)) * 255).astype("uint8")
wandb.log({{"sample": wandb.Image(pixels, caption="noise")}})
image_row = run.step - 1
print("hello from stdout")
print("and from stderr", file=sys.stderr)
for i in range(3):
    print(f"progress {{i}}/3", end="\\r", flush=True)
print("progress done")
with open("notes.txt", "w") as f:
    f.write("saved with wandb.save\\n")
wandb.save("notes.txt", policy="now")
time.sleep(1.5)  # at least one system-metrics sample (every second in these tests)
run.summary["best"] = 0.99
run.config.update({{"late": "added"}})
for row in logged:
    if "weird" in row:
        row["weird"] = "NaN"
save_out(id=run.id, entity=run.entity, name=run.name, logged=logged, image_row=image_row,
         url=run.url, pixels_sha=None)
run.finish()
"""


@pytest.fixture(scope="module")
def main_run(wandb_world: WandbWorld) -> Result:
    return wandb_world.script("main", MAIN)


def _run(w: WandbWorld, run_id: str, project: str = PROJECT) -> dict[str, Any]:
    return w.get(f"/api/v1/runs/{w.entity}/{project}/{run_id}")  # type: ignore[no-any-return]


def test_wandb_login_with_a_runyard_key_and_a_wrong_key(wandb_world: WandbWorld) -> None:
    folder = wandb_world.folder("login")
    ok = wandb_world.cli(folder, "login", "--host", wandb_world.base_url, wandb_world.key, key="")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    netrc = (folder / ".netrc").read_text()
    assert wandb_world.key in netrc and "127.0.0.1" in netrc
    wrong = "ry-000000000000_" + "x" * 43
    bad = wandb_world.cli(folder, "login", "--relogin", "--host", wandb_world.base_url, wrong, key="")
    if bad.returncode == 0:  # wandb < 0.23 stores a key without asking the server: its first use fails
        used = wandb_world.script("netrc-key", "import wandb; wandb.init(project='x')", key="", expect_rc=None,
                                  folder=folder)
        assert used.returncode != 0
    else:
        assert "the API key is not valid on this server (check `wandb login --host`)" in bad.stdout + bad.stderr
    # a script with a wrong key fails at init with the server's message, and leaves nothing behind
    res = wandb_world.script("wrongkey", f"""
        import wandb
        wandb.init(project="{PROJECT}-wrong")
    """, key=wrong, expect_rc=None)
    assert res.returncode != 0
    assert wandb_world.rest("GET", f"/api/v1/projects/admin/{PROJECT}-wrong").status_code == 404


def test_run_fields_config_and_summary(wandb_world: WandbWorld, main_run: Result) -> None:
    out = main_run.out
    run = _run(wandb_world, out["id"])
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["name"] == "display-one" == out["name"]
    assert run["tags"] == ["first", "wandb"]
    assert (run["notes"], run["group"], run["job_type"]) == ("from the real client", "grp", "train")
    assert run["created_by"] == "admin"
    config = run["config"]
    assert (config["lr"], config["opt"], config["layers"], config["late"]) == (0.01, {"name": "adam"}, [8, 4], "added")
    summary = run["summary"]
    assert summary["best"] == 0.99
    assert summary["loss"] == out["logged"][-1]["loss"]
    assert summary["val/acc"] == {"max": max(r["val/acc"] for r in out["logged"] if "val/acc" in r)}
    assert summary["_step"] == out["image_row"]
    # define_metric: kept where Runyard's UI picks a chart's x axis
    metrics = config["_runyard"]["metrics"]
    assert metrics["val/acc"] == {"step_metric": "epoch", "summary": ["max"]} and metrics["epoch"]["hidden"]
    # the link the client printed is this server's page of the run
    assert out["url"] == f"{wandb_world.base_url}/admin/{PROJECT}/runs/{out['id']}"


def test_history_point_for_point(wandb_world: WandbWorld, main_run: Result) -> None:
    out = main_run.out
    keys = ["loss", "acc", "deep.x", "epoch", "val/acc", "weird"]
    hist = wandb_world.history(PROJECT, out["id"], keys)
    expected: dict[str, dict[int, Any]] = {k: {} for k in keys}
    for step, row in enumerate(out["logged"]):
        for k, v in row.items():
            if k == "deep":
                expected["deep.x"][step] = v["x"]
            else:
                expected[k][step] = v
    assert hist == expected
    assert math.isnan(float(hist["weird"][7]))
    ts = wandb_world.history(PROJECT, out["id"], ["_timestamp"])["_timestamp"]
    assert sorted(ts) == list(range(STEPS + 1))  # one row per log call, the image row included


def test_image_media_is_a_run_file_with_the_clients_digest(wandb_world: WandbWorld, main_run: Result) -> None:
    out = main_run.out
    step = out["image_row"]
    sample = wandb_world.history(PROJECT, out["id"], ["sample"])["sample"]
    desc = sample[step]
    assert desc["_type"] == "image-file" and desc["caption"] == "noise"
    assert (desc["width"], desc["height"]) == (12, 16)
    record = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{out['id']}/files/{desc['path']}")
    data = wandb_world.download(record["url"])
    assert hashlib.sha256(data).hexdigest() == desc["sha256"] == record["sha256"]
    assert record["size"] == desc["size"] == len(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_output_and_saved_files(wandb_world: WandbWorld, main_run: Result) -> None:
    out = main_run.out
    lines = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{out['id']}/output", params={"limit": 1000})["lines"]
    by_text = {ln["line"]: ln["stream"] for ln in lines}
    assert by_text.get("hello from stdout") == "stdout"
    assert by_text.get("and from stderr") == "stderr"
    # a line rewritten with \\r (a progress bar) is stored once, as it ended
    assert "progress done" in by_text and not any(t.startswith("progress 0/3") for t in by_text)
    numbers = [ln["line_no"] for ln in lines]
    assert numbers == sorted(set(numbers))
    files = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{out['id']}/files", params={"recursive": "true"})
    paths = {f["path"] for f in files["files"]}
    assert {"notes.txt", "config.yaml", "wandb-summary.json", "output.log", "requirements.txt",
            "wandb-metadata.json"} <= paths
    saved = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{out['id']}/files/notes.txt")
    assert wandb_world.download(saved["url"]) == b"saved with wandb.save\n"
    summary_file = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{out['id']}/files/wandb-summary.json")
    assert json.loads(wandb_world.download(summary_file["url"]))["best"] == 0.99


def test_system_metrics_arrive_as_runyard_system_keys(wandb_world: WandbWorld, main_run: Result) -> None:
    run = _run(wandb_world, main_run.out["id"])
    system = [k for k in run["history_keys"] if k.startswith("system/")]
    assert "system/memory_percent" in system, run["history_keys"]


def test_resume_by_id_continues_the_steps(wandb_world: WandbWorld, main_run: Result) -> None:
    run_id = main_run.out["id"]
    res = wandb_world.script("resume", f"""
        import wandb
        run = wandb.init(project="{PROJECT}", id="{run_id}", resume="must")
        first = run.starting_step
        for i in range(5):
            wandb.log({{"loss": -float(i)}})
        print("after resume")
        save_out(first=first, config_lr=run.config["lr"], tags=list(run.tags))
        run.finish()
    """)
    first = main_run.out["image_row"] + 1
    assert res.out == {"first": first, "config_lr": 0.01, "tags": ["first", "wandb"]}
    run = _run(wandb_world, run_id)
    assert run["state"] == "finished"
    loss = wandb_world.history(PROJECT, run_id, ["loss"])["loss"]
    assert [loss[first + i] for i in range(5)] == [-float(i) for i in range(5)]
    assert len(loss) == STEPS + 5  # nothing of the first session was doubled or lost
    lines = [ln["line"] for ln in wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/output",
                                                  params={"limit": 1000})["lines"]]
    assert "hello from stdout" in lines and "after resume" in lines  # appended, not overwritten
    # resume="must" for an id that does not exist is refused by the client with the server's answer
    missing = wandb_world.script("resume-missing", f"""
        import wandb
        wandb.init(project="{PROJECT}", id="doesnotexist1", resume="must")
    """, expect_rc=None)
    assert missing.returncode != 0 and "must" in missing.output


def test_a_crash_is_a_failed_run_with_its_exit_code(wandb_world: WandbWorld) -> None:
    res = wandb_world.script("exit3", f"""
        import sys, wandb
        run = wandb.init(project="{PROJECT}")
        wandb.log({{"x": 1.0}})
        save_out(id=run.id)
        sys.exit(3)
    """, expect_rc=3)
    run = _run(wandb_world, res.out["id"])
    assert (run["state"], run["exit_code"]) == ("failed", 3)
    assert wandb_world.history(PROJECT, res.out["id"], ["x"]) == {"x": {0: 1.0}}
    res = wandb_world.script("crash", f"""
        import wandb
        run = wandb.init(project="{PROJECT}")
        save_out(id=run.id)
        raise RuntimeError("boom in training")
    """, expect_rc=1)
    run = _run(wandb_world, res.out["id"])
    assert (run["state"], run["exit_code"]) == ("failed", 1)
    lines = [ln["line"] for ln in wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{res.out['id']}/output")["lines"]]
    assert any("RuntimeError: boom in training" in ln for ln in lines)  # the traceback, as the console showed it


def test_public_api_reads_back_what_runyard_stores(wandb_world: WandbWorld, main_run: Result) -> None:
    run_id = main_run.out["id"]
    res = wandb_world.script("api", f"""
        import wandb
        api = wandb.Api()
        run = api.run("admin/{PROJECT}/{run_id}")
        hist = run.history(samples=100000, pandas=False)
        scan = list(run.scan_history(keys=["loss"]))
        full = list(run.scan_history(page_size=37))
        sampled = run.history(samples=10, keys=["acc"], pandas=False)
        files = sorted(f.name for f in run.files())
        runs = api.runs("admin/{PROJECT}", filters={{"config.lr": 0.01, "tags": "first"}}, order="+created_at")
        projects = [p.name for p in api.projects("admin")]
        notes = run.file("notes.txt").download(root="dl", replace=True).read()
        summary = _json.loads(_json.dumps(run.summary._json_dict))
        save_out(id=run.id, state=run.state, name=run.name, display=run.display_name, tags=run.tags, config=run.config,
                 summary=summary, user=run.user.username, hist=hist, scan=scan, full=len(full),
                 full_steps=[r["_step"] for r in full], sampled=sampled, files=files,
                 runs=[r.id for r in runs], projects=projects, notes=notes, last=run.lastHistoryStep)
    """)
    out = res.out
    rest = _run(wandb_world, run_id)
    assert (out["id"], out["state"], out["user"]) == (run_id, "finished", "admin")
    assert out["name"] == out["display"] == rest["name"] == "display-one"
    assert out["tags"] == rest["tags"]
    assert {k: v for k, v in out["config"].items()} == {k: v for k, v in rest["config"].items() if k != "_wandb"}
    assert out["summary"]["best"] == rest["summary"]["best"] and out["summary"]["loss"] == rest["summary"]["loss"]
    loss = wandb_world.history(PROJECT, run_id, ["loss"])["loss"]
    assert {r["_step"]: r["loss"] for r in out["scan"]} == loss
    assert {r["_step"]: r["loss"] for r in out["hist"] if "loss" in r} == loss
    assert out["full"] == len(out["full_steps"]) == out["last"] + 1 == len(set(out["full_steps"]))
    assert 1 <= len(out["sampled"]) <= 10 and all("acc" in r for r in out["sampled"])
    assert "notes.txt" in out["files"] and out["notes"] == "saved with wandb.save\n"
    assert run_id in out["runs"] and PROJECT in out["projects"]


def test_public_api_edits_go_through_runyards_rules(wandb_world: WandbWorld, main_run: Result) -> None:
    run_id = main_run.out["id"]
    wandb_world.script("edit", f"""
        import wandb
        api = wandb.Api()
        run = api.run("admin/{PROJECT}/{run_id}")
        run.tags = ["edited"]
        run.notes = "edited notes"
        run.config["added_by_api"] = 7
        del run.config["layers"]
        run.update()
        run.summary["from_api"] = 1.5
        run.summary.update()
    """)
    run = _run(wandb_world, run_id)
    assert run["tags"] == ["edited"] and run["notes"] == "edited notes"
    assert run["config"]["added_by_api"] == 7 and "layers" not in run["config"] and "_wandb" in run["config"]
    assert run["summary"]["from_api"] == 1.5 and run["summary"]["best"] == 0.99
    assert run["state"] == "finished"  # edits leave the state as it is


def test_a_user_without_access_gets_not_found(wandb_world: WandbWorld, main_run: Result) -> None:
    stranger = wandb_world.new_user("wb-stranger")
    run_id = main_run.out["id"]
    res = wandb_world.script("stranger", f"""
        import wandb
        api = wandb.Api()
        errors = []
        try:
            api.run("admin/{PROJECT}/{run_id}")
        except Exception as exc:
            errors.append(str(exc))
        save_out(errors=errors, viewer=api.viewer.username)
    """, key=stranger)
    assert res.out["viewer"] == "wb-stranger"
    assert len(res.out["errors"]) == 1 and "not found" in res.out["errors"][0].lower()
    # writing into the project is refused the same way: as if it did not exist
    url = f"{wandb_world.base_url}/files/admin/{PROJECT}/{run_id}/file_stream"
    resp = httpx.post(url, auth=("api", stranger), json={"files": {}})
    assert resp.status_code == 404, resp.text
    # a wrong key is refused every time, never a 503 the client would retry (ingest refuses it at once, and
    # the stream's first write may race that refusal)
    for _ in range(20):
        resp = httpx.post(url, auth=("api", "ry-000000000000_" + "y" * 43), json={"files": {}})
        assert resp.status_code == 401, resp.text


def test_a_resent_file_stream_request_changes_nothing(wandb_world: WandbWorld) -> None:
    """The client resends a request after a failure: the second copy must not double anything."""
    res = wandb_world.script("resend-base", f"""
        import wandb
        run = wandb.init(project="{PROJECT}")
        save_out(id=run.id)
        run.finish()
    """, env={"WANDB__DISABLE_STATS": "true", "WANDB_CONSOLE": "off"})
    run_id = res.out["id"]
    url = f"{wandb_world.base_url}/files/admin/{PROJECT}/{run_id}/file_stream"
    body = {"files": {
        "wandb-history.jsonl": {"offset": 0, "content": [json.dumps({"_step": s, "_timestamp": 1e9 + s, "y": s * 1.5})
                                                         for s in range(50)]},
        "wandb-events.jsonl": {"offset": 0, "content": [json.dumps({"system.cpu": 3.0, "_timestamp": 1e9})]},
        "output.log": {"offset": 0, "content": ["2026-01-01T00:00:00.000000 once"]},
    }}
    for _ in range(3):
        resp = httpx.post(url, auth=("api", wandb_world.key), json=body)
        assert resp.status_code == 200, resp.text
    assert wandb_world.history(PROJECT, run_id, ["y"])["y"] == {s: s * 1.5 for s in range(50)}
    stored = wandb_world.stack.fetch(
        """SELECT sum(c.n) AS n FROM history_chunks c JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
            JOIN runs r ON r.id = c.run_id WHERE r.run_id = $1 AND k.key IN ('y', 'system/cpu')""", run_id)
    assert stored[0]["n"] == 51  # 50 history points and one system sample, each stored once
    lines = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/output")
    assert [ln["line"] for ln in lines["lines"]] == ["once"] and lines["total"] == 1
