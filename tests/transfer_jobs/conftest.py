"""Two real instances for copy jobs: the session stack (A: its front door answers the copy-job routes)
and `remote` (its own database, bucket, ingest and front door), plus a copy-job worker process
(`runyard-server transfer-worker`) that tests may kill and start again."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sdk.conftest import InstanceB, run_script
from tests.ui.conftest import browser, page, ui_server, web_dist  # noqa: F401  (the browser test's fixtures)

PROJECT = "copyjobs"

MAKE_RUNS = '''
import math, time
import runyard
ids = []
for n in range(3):
    run = runyard.init(project="copyjobs", name=f"run-{n}", config={"lr": 0.1 * (n + 1), "layers": [8, n]},
                       tags=["t", f"n{n}"], notes=f"note {n}", settings={"system_metrics": False,
                       "capture_requirements": False})
    ids.append(run.id)
    for step in range(ROWS):
        v = math.nan if step == 7 else (math.inf if step == 8 else step * 0.5 + n)
        run.log({"loss": v, "acc": 1 - 1 / (step + 1)})
    print(f"run {n} logged", flush=True)
    if n == 0:
        art = runyard.Artifact("data", type="dataset", metadata={"rows": 2})
        with art.new_file("a.txt") as fh:
            fh.write("version zero")
        run.log_artifact(art, aliases=["best"])
    if n == 1:
        run.use_artifact("data:best")
    run.summary["best"] = 0.9 + n
    run.summary["nan"] = math.nan
    open(f"own-{n}.txt", "w").write(f"run {n}")
    run.save(f"own-{n}.txt", policy="now")
    run.finish(exit_code=3 if n == 1 else 0)
print("IDS", " ".join(ids), flush=True)
'''


class Remote(InstanceB):
    """The copy target: database runyard_d, bucket runyard-d, Redis database 3 (tests/importers has c)."""

    def __init__(self, stack: Any, root: Path) -> None:
        super().__init__(stack, root, name="d", redis_db=3)


def make_runs(stack: Any, key: str, folder: Path, project: str, rows: int) -> list[str]:
    code = MAKE_RUNS.replace('project="copyjobs"', f'project="{project}"').replace("ROWS", str(rows))
    proc = run_script(code, {"RUNYARD_BASE_URL": stack.base_url, "RUNYARD_API_KEY": key, "RUNYARD_DIR": str(folder)},
                      cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("IDS ", 1)[1].split()


@pytest.fixture(scope="session")
def remote(stack: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    stack.start_http()
    stack.start_ingest()
    r = Remote(stack, tmp_path_factory.mktemp("remote"))
    try:
        yield r.start()  # type: ignore[misc]
    finally:
        r.stop()


@pytest.fixture(scope="session")
def source_runs(stack: Any, admin_key: str, remote: Remote, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return make_runs(stack, admin_key, tmp_path_factory.mktemp("copy-src"), PROJECT, 60)


class WorkerProc:
    """`runyard-server transfer-worker` against the session stack, as `runyard-server local` starts it."""

    def __init__(self, stack: Any, root: Path, env: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.root = root
        self.child: Any = None
        self.starts = 0
        self.env = env or {}

    def start(self) -> WorkerProc:
        from runyard_server.local.processes import spawn

        self.starts += 1
        env = self.stack.service_env({
            "RUNYARD_TRANSFER_SOURCE_URL": self.stack.base_url, "RUNYARD_TRANSFER_STATE_DIR": str(self.root / "state"),
            "RUNYARD_TRANSFER_STALE_S": "3", "RUNYARD_TRANSFER_POLL_S": "0.3",
            "RUNYARD_TRANSFER_CLI": str(Path(sys.executable).with_name("runyard")), **self.env,
        })
        self.child = spawn("transfer-worker", [sys.executable, "-m", "runyard_server.cli", "transfer-worker"],
                           self.root / f"worker-{self.starts}.log", env=env)
        return self

    def kill(self) -> None:
        if self.child is not None and self.child.alive():
            self.child.stop(5.0, kill=True)

    def stop(self) -> None:
        if self.child is not None and self.child.alive():
            self.child.stop(15.0)

    def log(self) -> str:
        return "\n".join((p.read_text()[-3000:]) for p in sorted(self.root.glob("worker-*.log")))


@pytest.fixture(scope="session")
def worker(stack: Any, remote: Remote, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    w = WorkerProc(stack, tmp_path_factory.mktemp("worker")).start()
    try:
        yield w
    finally:
        w.stop()


def call(base: str, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, base + path, headers={"Authorization": f"Bearer {key}"}, timeout=60, **kw)


@pytest.fixture(scope="session")
def registered(stack: Any, admin_key: str, remote: Remote) -> str:
    """The remote, registered on A as `remote-c` with its admin's key."""
    r = call(stack.base_url, admin_key, "POST", "/api/v1/admin/remotes",
             json={"name": "remote-c", "url": remote.base_url, "api_key": remote.api_key})
    assert r.status_code in (201, 409), r.text
    return "remote-c"


def wait_job(stack: Any, key: str, entity: str, project: str, job_id: int, until: Callable[[dict[str, Any]], bool],
             worker: WorkerProc | None = None, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = call(stack.base_url, key, "GET", f"/api/v1/transfers/{entity}/{project}/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}\n{worker.log() if worker else ''}")


def finished(job: dict[str, Any]) -> bool:
    return job["state"] in ("succeeded", "failed", "cancelled")

