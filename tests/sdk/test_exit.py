"""Nothing is lost at exit (issue 11): media logged right before the end reaches the server, with or
without finish(), on a normal exit, an uncaught exception and SIGTERM - every time, in many runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.cli import main as cli

from .conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

IMAGES = 30
SCRIPT = '''
import os, signal, sys, time
import numpy as np
import runyard
run = runyard.init(project="exit-media", settings={{"system_metrics": False, "capture_requirements": False}})
print("ID", run.id, flush=True)
for step in range(20):
    run.log({{"loss": 1 / (step + 1)}})
table = runyard.Table(columns=["i", "image"])
for i in range({images}):
    table.add_data(i, runyard.Image(np.full((8, 8), (i * 7 + {seed}) % 256, dtype=np.uint8)))
run.log({{"samples": table}}, commit=False)
run.log({{"loss": 0.0}})
{end}
'''
ENDS = {
    "finish": "run.finish()",
    "no-finish": "",
    "exception": "raise RuntimeError('boom at the end')",
    "sigterm": "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(60)",
    "sys-exit": "sys.exit(3)",
}
EXPECTED = {"finish": ("finished", 0), "no-finish": ("finished", 0), "exception": ("failed", 1),
            "sigterm": ("failed", 128 + signal.SIGTERM), "sys-exit": ("failed", 3)}


def _start(end: str, seed: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    code = textwrap.dedent(SCRIPT.format(images=IMAGES, seed=seed, end=ENDS[end]))
    full = {**os.environ, **env, "RUNYARD_DIR": str(cwd)}
    return subprocess.Popen([sys.executable, "-c", code], env=full, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _check(end: str, proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=300)
    state, code = EXPECTED[end]
    expected_rc = {"exception": 1, "sigterm": 128 + signal.SIGTERM, "sys-exit": 3}.get(end, 0)
    assert proc.returncode in (expected_rc, -signal.SIGTERM if end == "sigterm" else expected_rc), err
    assert "after shutdown" not in err and "Exception ignored" not in err and "Error in atexit" not in err, err
    run_id = out.split("ID ", 1)[1].split()[0]
    r = runyard.Api().run(f"admin/exit-media/{run_id}")
    names = [f.name for f in r.files()]
    images = [n for n in names if n.startswith("media/images/samples_")]
    tables = [n for n in names if n.startswith("media/tables/samples_")]
    assert len(images) == IMAGES and len(tables) == 1, (end, sorted(names), err)
    assert (r.state, r.exit_code) == (state, code), (end, r.state, r.exit_code, err)
    assert "everything is saved" in err, (end, err)
    assert ("failed (exit code" in err) == (state == "failed"), err


@pytest.mark.parametrize("end", ["finish", "no-finish"])
def test_media_logged_right_before_the_end_is_always_uploaded(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path, end: str
) -> None:
    """A 30-image Table logged with commit=False, then log(), then the end: every file on the server, in
    10 runs out of 10 (4 at a time)."""
    for batch in range(0, 10, 4):
        procs = [_start(end, batch * 10 + k, sdk_env, tmp_path) for k in range(min(4, 10 - batch))]
        for proc in procs:
            _check(end, proc)
    assert cli(["status", "--dir", str(tmp_path)]) == 0


@pytest.mark.parametrize("end", ["exception", "sigterm", "sys-exit"])
def test_the_exit_path_drains_everything_on_errors_and_signals(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path, end: str
) -> None:
    procs = [_start(end, k, sdk_env, tmp_path) for k in range(2)]
    for proc in procs:
        _check(end, proc)
