"""What the embedded stack does with a data folder it cannot use as it is, before any server runs:
a lost password, a PostgreSQL folder without a cluster, a taken port, servers left by a killed launcher.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runyard_server.local import EmbeddedStack, StartupError

pytestmark = pytest.mark.local


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.kill()
        p.wait()


def _junk_pgdata(data: Path) -> None:
    """A postgres/ folder with a file but no cluster: start() stops right before initdb."""
    (data / "postgres").mkdir(parents=True)
    (data / "postgres" / "notes.txt").write_text("not a cluster")


def test_a_lost_postgres_password_is_refused_and_the_folder_released(data_tmp: Path) -> None:
    data = data_tmp / "data"
    (data / "postgres").mkdir(parents=True)
    (data / "postgres" / "PG_VERSION").write_text("16\n")
    for _ in range(2):  # the second try gets the same answer, not "in use": the lock was released
        with pytest.raises(StartupError, match=r"credentials\.json is missing the PostgreSQL password"):
            EmbeddedStack(data, durable=False).start()
    assert not (data / "credentials.json").exists()


def test_a_postgres_folder_without_a_cluster_is_refused(data_tmp: Path) -> None:
    data = data_tmp / "data"
    _junk_pgdata(data)
    stack = EmbeddedStack(data, durable=False)
    with pytest.raises(StartupError, match="holds files but no PostgreSQL cluster"):
        stack.start()
    assert stack.pids() == {}
    # the secrets were made before that, once, private
    creds = data / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert set(json.loads(creds.read_text())) == {"postgres_password", "redis_password", "s3_access_key", "s3_secret_key"}
    first = creds.read_text()
    with pytest.raises(StartupError):
        EmbeddedStack(data, durable=False).start()
    assert creds.read_text() == first
    # the ports chosen are remembered for the next start
    assert set(json.loads((data / "ports.json").read_text())) == {"postgres", "redis", "s3"}


def test_a_taken_storage_port_is_refused(data_tmp: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {busy} \\(redis\\) is already in use on 127.0.0.1"):
            EmbeddedStack(data_tmp / "data", redis_port=busy, durable=False).start()


def test_a_leftover_of_ours_is_stopped_and_a_stranger_is_left_alone(
    data_tmp: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    data = data_tmp / "data"
    _junk_pgdata(data)
    (data / "run").mkdir()
    ours = subprocess.Popen(["sleep", "120"], cwd=data)  # runs in the folder, like redis-server
    stranger = subprocess.Popen(["sleep", "120"], cwd="/")  # a recycled pid: not ours
    sleepers += [ours, stranger]
    (data / "run" / "redis.pid").write_text(str(ours.pid))
    (data / "run" / "s3.pid").write_text(str(stranger.pid))
    said: list[str] = []
    with pytest.raises(StartupError, match="no PostgreSQL cluster"):
        EmbeddedStack(data, durable=False, progress=said.append).start()
    assert ours.wait(timeout=10) != 0  # stopped by a signal
    assert stranger.poll() is None
    assert f"stopping a Redis left over from an earlier run (pid {ours.pid})..." in said
    assert not any(str(stranger.pid) in line for line in said)
