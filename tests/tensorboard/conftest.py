"""Fixtures of the TensorBoard tests: a run logged by a real torch SummaryWriter inside a
`sync_tensorboard=True` run (a real script in a subprocess against the session stack), and helpers.

The front door of the session stack serves the TensorBoard component (it has the bucket settings).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = "tb-sync"

# The script: two writers (the root folder and `val/`) at irregular steps, one step lower than an earlier
# one, an image, a histogram and a text summary; the writers are NOT closed (finish() must flush them).
SYNC_SCRIPT = textwrap.dedent('''
    import math, sys
    import numpy as np
    import runyard
    from torch.utils.tensorboard import SummaryWriter

    logdir, run_id = sys.argv[1], sys.argv[2]
    run = runyard.init(project="tb-sync", id=run_id, sync_tensorboard=True, config={"lr": 0.1})
    train = SummaryWriter(logdir)
    val = SummaryWriter(logdir + "/val")
    for s in [0, 1, 2, 5, 9, 50, 51, 1000, 3, 7]:
        train.add_scalar("loss", math.exp(-s / 7.0) + 1e-9 * s, s)
        train.add_scalar("acc/top1", 1.0 / (s + 3.0), s)
    for s in [10, 20, 3, 30]:
        val.add_scalar("loss", 0.1 * s + 1.0 / 3.0, s)
    rng = np.random.default_rng(7)
    img = (np.arange(3 * 16 * 24).reshape(3, 16, 24) % 256).astype(np.uint8)
    train.add_image("sample", img, 9)
    train.add_histogram("weights", rng.normal(size=1000), 9)
    train.add_text("notes", "epoch one done", 9)
    run.log({"own_metric": 1.5})
    run.finish()
    print("RUN_DIR", run.folder)
''')


@dataclass
class SyncedRun:
    entity: str
    project: str
    run_id: str
    logdir: Path
    run_dir: Path
    stdout: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


def run_script(code: str, args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    full.update(env)
    full["PYTHONUNBUFFERED"] = "1"
    return subprocess.run([sys.executable, "-c", code, *args], env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def tb_server(stack: Any, admin_key: str) -> Any:
    stack.start_http()
    stack.start_ingest()
    return stack


@pytest.fixture(scope="session")
def sdk_env(tb_server: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "RUNYARD_BASE_URL": tb_server.base_url,
        "RUNYARD_API_KEY": admin_key,
        "RUNYARD_CONFIG_DIR": str(tmp_path_factory.mktemp("config")),
        "RUNYARD_SYSTEM_METRICS": "false",
        "RUNYARD_CAPTURE_REQUIREMENTS": "false",
    }


@pytest.fixture(scope="session")
def synced_run(sdk_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> SyncedRun:
    work = tmp_path_factory.mktemp("tbsync")
    logdir = work / "logs"
    proc = run_script(SYNC_SCRIPT, [str(logdir), "tbsync1"], {**sdk_env, "RUNYARD_DIR": str(work)}, work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(next(line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("RUN_DIR")))
    return SyncedRun("admin", PROJECT, "tbsync1", logdir, run_dir, proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def client(tb_server: Any, admin_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tb_server.base_url, headers={"Authorization": f"Bearer {admin_key}"},
                      timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def outsider_key(tb_server: Any, admin_key: str) -> str:
    """A second user (invited by the admin) who may not read the admin's projects."""
    base = tb_server.base_url
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as c:
        invite = c.post("/api/v1/auth/invites", json={})
        assert invite.status_code in (200, 201), invite.text
        token = invite.json().get("token") or invite.json().get("invite")
    resp = httpx.post(base + "/api/v1/auth/signup",
                      json={"username": "tb-outsider", "password": "outsider-pass-1", "invite": token}, timeout=30)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["api_key"])


def event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*tfevents*") if p.is_file())
