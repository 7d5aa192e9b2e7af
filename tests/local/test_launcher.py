"""`runyard-server local` as a user runs it: a real process, real ports, signals, a data folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runyard_server.local.processes import free_port

pytestmark = [pytest.mark.local, pytest.mark.slow]

STARTUP_TIMEOUT_S = 120


def _local_argv(data_dir: Path, port: int, ingest_port: int) -> list[str]:
    return [sys.executable, "-m", "runyard_server.cli", "local", "--data-dir", str(data_dir),
            "--port", str(port), "--ingest-port", str(ingest_port)]


class Launcher:
    """One `runyard-server local` subprocess with its output in a file."""

    def __init__(self, out_dir: Path, data_dir: Path, port: int, ingest_port: int, name: str,
                 extra: tuple[str, ...] = ()) -> None:
        self.port = port
        self.ingest_port = ingest_port
        self.out_path = out_dir / f"{name}.out"
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [*_local_argv(data_dir, port, ingest_port), *extra],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        self._out.flush()
        return self.out_path.read_text(errors="replace")

    def wait_ready(self) -> dict[str, object]:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"runyard-server local exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = httpx.get(self.base_url + "/api/v1/server-info", timeout=2)
                if r.status_code == 200 and "Press Ctrl-C" in self.output():
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"runyard-server local not ready after {STARTUP_TIMEOUT_S} s:\n{self.output()}")

    def descendants(self) -> list[int]:
        import psutil

        return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]

    def terminate(self, timeout: float = 90) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"runyard-server local did not stop on SIGTERM:\n{self.output()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._out.close()


@pytest.fixture
def launchers() -> Iterator[list[Launcher]]:
    started: list[Launcher] = []
    yield started
    for launcher in started:
        launcher.close()


def _alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _processes_using(folder: Path) -> list[str]:
    """Live processes whose command line names `folder` (postgres -D, redis.conf, rclone's root)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(folder) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{proc.info['pid']}: {cmdline[:120]}")
    return found


def test_local_serves_stops_cleanly_and_keeps_data(data_tmp: Path, launchers: list[Launcher]) -> None:
    data_dir = data_tmp / "data"
    port, ingest_port = free_port(), free_port()

    first = Launcher(data_tmp, data_dir, port, ingest_port, "first")
    launchers.append(first)
    info = first.wait_ready()
    assert info["needs_setup"] is True
    assert str(info["ingest_address"]).endswith(f":{ingest_port}")
    out = first.output()
    assert "starting PostgreSQL..." in out and f"http://localhost:{port}" in out
    assert "runyard login --host" in out

    # every child (postgres and its backends, redis, rclone, ingest, front door) is ours to stop
    children = first.descendants()
    assert len(children) >= 5, children
    with socket.create_connection(("127.0.0.1", ingest_port), timeout=5):
        pass
    signup = httpx.post(
        first.base_url + "/api/v1/auth/signup",
        json={"username": "keeper", "password": "keeper-password"},
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    api_key = signup.json()["api_key"]
    # copy jobs: the worker runs, and the secret key was made once (0600) for the front door's remotes
    assert "starting the copy-job worker..." in out
    secret = data_dir / "secret.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    key_text = secret.read_text()
    remote = httpx.post(first.base_url + "/api/v1/admin/remotes", headers={"Authorization": f"Bearer {api_key}"},
                        json={"name": "nowhere", "url": "http://127.0.0.1:9", "api_key": "ry-x"}, timeout=30)
    assert remote.status_code == 409 and "cannot reach http://127.0.0.1:9" in remote.json()["detail"], remote.text

    assert first.terminate() == 0, first.output()
    assert _alive(children) == [], f"left running: {_alive(children)}\n{first.output()}"
    assert _processes_using(data_dir) == []
    for p in (port, ingest_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers"

    second = Launcher(data_tmp, data_dir, port, ingest_port, "second")
    launchers.append(second)
    info = second.wait_ready()
    assert info["needs_setup"] is False
    viewer = httpx.get(
        second.base_url + "/api/v1/viewer", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    assert viewer.status_code == 200, viewer.text
    assert viewer.json()["username"] == "keeper"
    assert (data_dir / "secret.key").read_text() == key_text  # kept: the stored remote keys still decrypt
    again = httpx.post(
        second.base_url + "/api/v1/auth/signup",
        json={"username": "other", "password": "other-password"},
        timeout=30,
    )
    assert again.status_code == 403
    children = second.descendants()
    assert second.terminate() == 0, second.output()
    assert _alive(children) == []


@pytest.mark.parametrize("which", ["--port", "--ingest-port"])
def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path, which: str) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = free_port()
        port, ingest_port = (busy, other) if which == "--port" else (other, busy)
        res = subprocess.run(
            _local_argv(data_dir, port, ingest_port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert lines == [f"runyard-server: port {busy} is already in use (choose another with {which})"]
    assert not data_dir.exists()  # nothing was started, not even the data folder


def test_children_die_with_a_killed_launcher(data_tmp: Path, launchers: list[Launcher]) -> None:
    """SIGKILL leaves no time to clean up: the parent-death signal stops the children anyway."""
    first = Launcher(data_tmp, data_tmp / "data", free_port(), free_port(), "killed")
    launchers.append(first)
    first.wait_ready()
    children = first.descendants()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(30)
    deadline = time.monotonic() + 60
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _alive(children) == []


def test_a_dying_service_is_restarted_until_it_keeps_dying(data_tmp: Path, launchers: list[Launcher]) -> None:
    import psutil

    launcher = Launcher(data_tmp, data_tmp / "data", free_port(), free_port(), "dying", ("--max-restarts", "1"))
    launchers.append(launcher)
    launcher.wait_ready()

    def ingest_child() -> psutil.Process:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [p for p in psutil.Process(launcher.proc.pid).children() if p.cmdline()[-1:] == ["ingest"]]
            if found:
                return found[0]
            time.sleep(0.2)
        pytest.fail(f"no ingest child:\n{launcher.output()}")

    first = ingest_child()
    first.kill()
    deadline = time.monotonic() + 90
    while "ingest is back" not in launcher.output() and time.monotonic() < deadline:
        assert launcher.proc.poll() is None, launcher.output()
        time.sleep(0.3)
    out = launcher.output()
    assert "was killed by SIGKILL" in out and "restarting ingest (restart 1 of at most 1 within 60 s)" in out, out
    with socket.create_connection(("127.0.0.1", launcher.ingest_port), timeout=5):
        pass  # the restarted ingest answers on the same port
    second = ingest_child()
    assert second.pid != first.pid
    children = launcher.descendants()
    second.kill()  # a second death within the minute: more than --max-restarts 1, so everything stops
    assert launcher.proc.wait(90) == 1
    out = launcher.output()
    assert "ingest died more than 1 times within 60 s; stopped everything" in out and "ingest.log" in out
    assert _alive(children) == []


def test_sigterm_during_start_stops_what_started(data_tmp: Path, launchers: list[Launcher]) -> None:
    launcher = Launcher(data_tmp, data_tmp / "data", free_port(), free_port(), "early")
    launchers.append(launcher)
    deadline = time.monotonic() + 60
    while "starting Redis" not in launcher.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    children = launcher.descendants()
    assert children, launcher.output()
    assert launcher.terminate(60) == 0, launcher.output()
    assert _alive(children) == []
    assert _processes_using(data_tmp / "data") == []
    assert "Runyard is running" not in launcher.output()
