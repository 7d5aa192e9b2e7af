"""The run API without a server (offline and disabled modes): log semantics, define_metric, config,
tags/notes, threads, fork, capture switches, console, run.save, media. Records are read from the WAL."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.errors import ConfigError, UsageError

from .conftest import history_rows, only_run_dir, wal_records

np = pytest.importorskip("numpy")

QUIET = {"system_metrics": False, "capture_git": False, "capture_requirements": False, "save_code": False,
         "console": "off"}


def _history(records: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for h in history_rows(records):
        row: dict[str, Any] = dict(zip(h.keys, h.values))
        row.update({k: json.loads(v) for k, v in zip(h.json_keys, h.json_values)})
        out.append((h.step, row))
    return out


def _last_summary(records: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in records:
        if r.WhichOneof("payload") == "summary":
            out.update(json.loads(r.summary.set_json or "{}"))
            for k in r.summary.remove:
                out.pop(k, None)
    return out


def _offline(tmp_path: Path, **kw: Any) -> runyard.Run:
    settings = dict(QUIET, **kw.pop("settings", {}))
    return runyard.init(project="p", mode="offline", dir=tmp_path, settings=settings, **kw)


def test_step_semantics_lower_step_is_stored_not_dropped(tmp_path: Path) -> None:
    run = _offline(tmp_path)
    run.log({"a": 1})                      # 0
    run.log({"a": 2}, commit=False)
    run.log({"b": 3}, commit=False)
    run.log({"c": 4})                      # 1: a, b, c
    run.log({"a": 5}, step=10)             # 10
    run.log({"late": 1.5}, step=3)         # stored at 3; the current step stays 11
    assert run.step == 11
    run.log({"a": 6})                      # 11
    run.log({"x": {"y": {"z": 1}}})        # 12, flattened
    run.finish()
    hist = _history(wal_records(run.folder))
    assert [s for s, _ in hist] == [0, 1, 10, 3, 11, 12]
    assert hist[1][1] == {"a": 2.0, "b": 3.0, "c": 4.0}
    assert hist[3][1] == {"late": 1.5}
    assert hist[5][1] == {"x/y/z": 1.0}


def test_rows_of_numbers_keep_pending_rows_and_observers(tmp_path: Path) -> None:
    """Rows of numbers go into an open block without a look at each. A pending row (commit=False) and
    define_metric() keep every block closed while they matter: a row for a past step logged while a row is
    pending does not let the next row bypass the pending one, and the rows after define_metric() are
    observed (a max over them)."""
    run = _offline(tmp_path)
    for i in range(20):
        run.log({"x": float(i)})
    run.log({"y": 1.0}, commit=False)  # pending at step 20
    run.log({"x": 7.0}, step=5)  # stored at step 5 at once
    run.log({"x": 8.0})  # joins the pending row at step 20
    run.log({"x": 9.0})
    for i in range(20):
        run.log({"acc": float(i)})
    run.define_metric("acc", summary="max")
    for i in range(20):
        run.log({"acc": 100.0 + (i * 7) % 20})  # the largest (119) in the middle
    assert run.summary["acc"] == {"max": 119.0}
    run.finish()
    hist = _history(wal_records(run.folder))
    assert hist[19:23] == [(19, {"x": 19.0}), (5, {"x": 7.0}), (20, {"x": 8.0, "y": 1.0}), (21, {"x": 9.0})]
    assert [step for step, _ in hist] == [*range(20), 5, *range(20, 62)]
    assert _last_summary(wal_records(run.folder))["acc"] == {"max": 119.0}


def test_define_metric_summaries_globs_and_step_sync(tmp_path: Path) -> None:
    run = _offline(tmp_path)
    run.define_metric("epoch", hidden=True)
    run.define_metric("val/*", step_metric="epoch", summary="max")
    run.define_metric("train/loss", summary="min,last,mean")
    run.define_metric("best_loss*", summary="best", goal="minimize")
    run.define_metric("noise", summary="none")
    for epoch in range(4):
        run.log({"epoch": epoch})
        run.log({"val/acc": [0.5, 0.9, 0.7, 0.6][epoch], "val/f1": 0.1 * epoch})  # epoch added (step sync)
        run.log({"train/loss": [4.0, 2.0, 3.0, 1.0][epoch], "best_loss_a": 5 - epoch, "noise": epoch})
    assert run.summary["val/acc"] == {"max": 0.9}
    assert run.summary["train/loss"] == {"min": 1.0, "last": 1.0, "mean": 2.5}
    assert run.summary["best_loss_a"] == {"best": 2.0}
    assert "noise" not in run.summary and "noise" not in dict(run.summary)
    with pytest.raises(UsageError, match="goal"):
        run.define_metric("x", summary="best")
    with pytest.raises(UsageError, match="summary"):
        run.define_metric("x", summary="median")
    run.finish()
    recs = wal_records(run.folder)
    hist = _history(recs)
    val_rows = [row for _, row in hist if "val/acc" in row]
    assert [row["epoch"] for row in val_rows] == [0, 1, 2, 3]
    summary = _last_summary(recs)
    assert summary["val/acc"] == {"max": 0.9} and summary["train/loss"]["min"] == 1.0
    assert "noise" not in summary
    configs = [json.loads(r.config.set_json) for r in recs if r.WhichOneof("payload") == "config"]
    metrics = configs[-1]["_runyard"]["metrics"]
    assert metrics["val/*"] == {"step_metric": "epoch", "summary": ["max"]} and metrics["epoch"] == {"hidden": True}


def test_config_forms_and_allow_val_change(tmp_path: Path) -> None:
    ns = argparse.Namespace(lr=0.1, layers=[64, 32])
    run = _offline(tmp_path, config=ns, config_exclude_keys=["layers"])
    assert dict(run.config) == {"lr": 0.1}
    run.config.batch = 16
    run.config["opt"] = "adam"
    run.config.update({"epochs": 3})
    run.config.lr = 0.1  # the same value again is fine
    with pytest.raises(ConfigError, match="allow_val_change"):
        run.config.lr = 0.2
    with pytest.raises(ConfigError):
        run.config.update({"batch": 32})
    run.config.update({"batch": 32}, allow_val_change=True)
    assert run.config.batch == 32 and run.config["opt"] == "adam"
    run.finish()
    recs = wal_records(run.folder)
    updates = [json.loads(r.config.set_json) for r in recs if r.WhichOneof("payload") == "config"]
    assert updates == [{"lr": 0.1}, {"batch": 16}, {"opt": "adam"}, {"epochs": 3}, {"lr": 0.1}, {"batch": 32}]
    assert json.loads((run.folder / "run.json").read_text())["config"] == {"lr": 0.1}


def test_tags_notes_name_are_editable(tmp_path: Path) -> None:
    run = _offline(tmp_path, tags=["a"], notes="first", group="g1")
    run.tags = ["a", "b"]
    run.notes = "second"
    run.name = "my-name"
    run.update(job_type="train")
    assert run.tags == ["a", "b"] and run.notes == "second" and run.group == "g1" and run.job_type == "train"
    run.finish()
    ups = [r.update for r in wal_records(run.folder) if r.WhichOneof("payload") == "update"]
    assert list(ups[0].tags) == ["a", "b"] and ups[0].set_tags
    assert ups[1].notes == "second" and ups[2].name == "my-name" and ups[3].job_type == "train"
    with pytest.raises(UsageError):
        run.update(tags="not-a-list")


def _in_threads(worker: Any, n: int) -> None:
    """worker(0) ... worker(n - 1), each on a thread of its own, all at once; returns when all are done."""
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def test_eight_threads_log_every_row_once(tmp_path: Path) -> None:
    run = _offline(tmp_path)

    def worker(t: int) -> None:
        for i in range(1000):
            run.log({f"t{t}": i})

    _in_threads(worker, 8)
    run.finish()
    hist = _history(wal_records(run.folder))
    steps = [s for s, _ in hist]
    assert sorted(steps) == list(range(8000))  # every row its own step, none lost or doubled
    for t in range(8):
        assert [row[f"t{t}"] for _, row in hist if f"t{t}" in row] == list(range(1000))


def test_eight_threads_share_one_block_and_lose_no_row(tmp_path: Path, packer: str) -> None:
    """Threads logging the same keys all take log()'s hot path into the one open block: every row is
    stored once, at a step of its own, with its values."""
    run = _offline(tmp_path)

    def worker(t: int) -> None:
        for i in range(2000):
            run.log({"thread": t, "i": i, "loss": 1.0 / (i + 1)})

    _in_threads(worker, 8)
    run.finish()
    recs = wal_records(run.folder)
    assert sum(1 for r in recs if r.WhichOneof("payload") == "history_block") > 0
    hist = _history(recs)
    assert sorted(s for s, _ in hist) == list(range(16000))
    for t in range(8):
        mine = [row for _, row in hist if row["thread"] == t]
        assert [row["i"] for row in mine] == list(range(2000))
        assert all(row["loss"] == 1.0 / (row["i"] + 1) for row in mine)


def test_forked_child_does_not_write_into_the_parent_run(tmp_path: Path) -> None:
    run = _offline(tmp_path)
    run.log({"x": 0})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: like a DataLoader worker
        os.close(r)
        try:
            import contextlib
            import io

            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                runyard.log({"x": 999})
                run.log({"x": 998})
                run.config.child = 1
                run.finish()
            os.write(w, err.getvalue().encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    child_err = os.read(r, 65536).decode()
    os.close(r)
    assert child_err.count("forked child") == 1, child_err
    for i in range(1, 50):
        run.log({"x": i})
    run.finish()
    recs = wal_records(run.folder)
    assert [row["x"] for _, row in _history(recs)] == list(range(50))
    assert sum(1 for rec in recs if rec.WhichOneof("payload") == "finish") == 1
    assert not any(rec.WhichOneof("payload") == "config" for rec in recs)


def test_disabled_mode_is_a_no_op_without_threads(tmp_path: Path) -> None:
    before = {t.name for t in threading.enumerate()}
    run = runyard.init(project="p", mode="disabled", dir=tmp_path)
    run.log({"x": 1, "img": runyard.Image(np.zeros((4, 4)))})
    run.define_metric("x", summary="max")
    assert run.save("*.py") == []
    run.config.a = 1
    run.summary["s"] = 2
    assert isinstance(run.dir, str) and Path(run.dir).is_dir()  # a str, as in wandb
    art = run.log_artifact(str(Path(__file__)), name="code", type="code")
    assert art.name == "code"
    after = {t.name for t in threading.enumerate()}
    assert not {n for n in after - before if n.startswith("runyard")}
    run.finish()
    assert not (tmp_path / "runyard-runs").exists()


def test_console_is_teed_and_capture_switches(tmp_path: Path) -> None:
    script = f"""
import logging, sys, runyard
logging.basicConfig(level=logging.INFO, format="LOG %(message)s")
run = runyard.init(project="p", mode="offline", dir={str(tmp_path)!r}, settings={{"system_interval": 0.2}})
print("hello stdout")
print("progress 10%\\rprogress 100%")
print("to stderr", file=sys.stderr)
logging.getLogger("train").info("a log line")
sys.stdout.write("partial line")
import time; time.sleep(1.0)
run.finish()
print("after finish")
"""
    (tmp_path / "train.py").write_text(script)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    proc = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert "hello stdout" in proc.stdout and "after finish" in proc.stdout  # the terminal still gets it
    run_dir = only_run_dir(tmp_path)
    log = (run_dir / "files" / "output.log").read_text()
    assert "hello stdout\n" in log and "progress 100%\n" in log and "progress 10%" not in log
    assert "[stderr] to stderr" in log and "partial line" in log and "after finish" not in log
    assert "[stderr] LOG a log line" in log  # a logging handler made before init() is captured too
    recs = wal_records(run_dir)
    lines = [(r.output.stream, list(r.output.lines)) for r in recs if r.WhichOneof("payload") == "output"]
    flat = [(s, ln) for s, ls in lines for ln in ls]
    assert ("stdout", "hello stdout") in flat and ("stderr", "to stderr") in flat
    systems = [r.system for r in recs if r.WhichOneof("payload") == "system"]
    assert len(systems) >= 2 and "cpu" in systems[0].keys and "memory" in systems[0].keys
    files = run_dir / "files"
    assert (files / "requirements.txt").is_file() and (files / "code" / "train.py").is_file()
    meta = json.loads((files / "metadata.json").read_text())
    assert meta["program"].endswith("train.py") and meta["run_id"] == json.loads((run_dir / "run.json").read_text())["run_id"]

    # everything off, through the environment
    off = tmp_path / "off"
    off.mkdir()
    env.update(RUNYARD_SYSTEM_METRICS="false", RUNYARD_SAVE_CODE="0", RUNYARD_CAPTURE_GIT="no",
               RUNYARD_CAPTURE_REQUIREMENTS="off", RUNYARD_CONSOLE="off", RUNYARD_SYSTEM_INTERVAL="0.2")
    (off / "train.py").write_text(script.replace(repr(str(tmp_path)), repr(str(off))))
    proc = subprocess.run([sys.executable, "train.py"], cwd=off, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(off)
    names = sorted(p.relative_to(run_dir / "files").as_posix() for p in (run_dir / "files").rglob("*") if p.is_file())
    assert names == ["metadata.json"], names
    recs = wal_records(run_dir)
    assert not [r for r in recs if r.WhichOneof("payload") in ("system", "output")]


def test_git_state_goes_to_metadata_and_diff_patch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "train.py").write_text("print('v1')\n")
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "one"], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "https://user:secret@example.com/x.git"],
                   check=True)
    (repo / "train.py").write_text("print('v2')\n")
    script = f"import runyard\nrunyard.init(project='p', mode='offline', dir={str(tmp_path)!r}).finish()\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, RUNYARD_SYSTEM_METRICS="false"))
    assert proc.returncode == 0, proc.stderr
    files = only_run_dir(tmp_path) / "files"
    meta = json.loads((files / "metadata.json").read_text())
    assert meta["git"]["branch"] == "main" and meta["git"]["dirty"] is True and len(meta["git"]["commit"]) == 40
    assert meta["git"]["remote"] == "https://example.com/x.git"  # no credentials
    assert "+print('v2')" in (files / "diff.patch").read_text()


def test_save_policies_and_media_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "a.pt").write_bytes(b"a1")
    run = _offline(tmp_path, settings={"files_interval": 0.1})
    assert run.save("ckpt/*.pt", policy="now") == ["a.pt"]
    assert run.save("ckpt/*.pt", base_path=".", policy="live") == ["ckpt/a.pt"]
    run.save("end.txt", policy="end")
    (tmp_path / "ckpt" / "a.pt").write_bytes(b"a2-changed")
    deadline = time.monotonic() + 10
    run_dir = Path(run.dir)
    while (run_dir / "ckpt" / "a.pt").read_bytes() != b"a2-changed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (run_dir / "ckpt" / "a.pt").read_bytes() == b"a2-changed"
    (tmp_path / "end.txt").write_text("written late")
    with open(f"{run.dir}/extra.txt", "w") as fh:  # W&B scripts join run.dir as a string
        fh.write("put into run.dir directly")
    run.log({"img": runyard.Image(np.random.rand(8, 8, 3), caption="c"),
             "many": [runyard.Image(np.zeros((4, 4))), runyard.Image(np.ones((4, 4)))],
             "tbl": runyard.Table(columns=["a"], data=[[1], [2]]),
             "h": runyard.Histogram([1, 2, 2, 3])})
    run.finish()
    files = Path(run.dir)
    assert (files / "a.pt").read_bytes() == b"a1"
    assert (files / "end.txt").read_text() == "written late"
    (row,) = [row for _, row in _history(wal_records(run.folder))]
    assert row["img"]["_type"] == "image-file" and (files / row["img"]["path"]).is_file()
    assert [d["_type"] for d in row["many"]] == ["image-file", "image-file"]
    assert (files / row["tbl"]["path"]).is_file() and row["h"]["_type"] == "histogram"
    with pytest.raises(ValueError):
        runyard.init(project="p", mode="offline", dir=tmp_path, settings=QUIET).save("x", policy="sometimes")


def test_reinit_modes(tmp_path: Path) -> None:
    first = _offline(tmp_path)
    assert _offline(tmp_path, reinit=False) is first
    second = _offline(tmp_path, reinit="create_new")
    assert runyard.run is second and not first.finished
    second.finish()
    assert runyard.run is first
    third = _offline(tmp_path)  # default: the previous run is finished first
    assert first.finished and runyard.run is third
    third.finish()


def test_code_and_metadata_when_the_run_ends_at_exit(tmp_path: Path) -> None:
    """CPython drops __main__.__file__ after the script ran: the capture reads it at init()."""
    (tmp_path / "train.py").write_text(
        f"import runyard\nrun = runyard.init(project='p', mode='offline', dir={str(tmp_path / 'out')!r}, "
        "settings={'system_metrics': False})\nrun.log({'x': 1})\n")
    proc = subprocess.run([sys.executable, "train.py", "--flag"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert proc.returncode == 0, proc.stderr
    files = only_run_dir(tmp_path / "out") / "files"
    assert (files / "code" / "train.py").is_file()
    meta = json.loads((files / "metadata.json").read_text())
    assert meta["program"] == str(tmp_path / "train.py") and meta["args"] == ["--flag"]
    assert meta["code_path"] == "train.py"
