"""What a run captures about its surroundings (no server needed)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from runyard.capture import SystemMonitor, SystemSampler, git_info, metadata, requirements_txt


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_info_has_commit_branch_clean_remote_and_uncommitted_diff(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "trunk")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "train.py").write_text("lr = 0.1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "first")
    _git(tmp_path, "remote", "add", "origin", "https://alice:s3cret-token@git.example.com/ml/train.git")
    (tmp_path / "train.py").write_text("lr = 0.01\n")

    info = git_info(tmp_path / ".")
    assert info is not None
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert info.commit == head and info.branch == "trunk"
    assert info.remote == "https://git.example.com/ml/train.git"  # the token never leaves the machine
    assert "-lr = 0.1" in info.diff and "+lr = 0.01" in info.diff and info.dirty


def test_git_info_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None


def test_requirements_list_installed_distributions() -> None:
    lines = requirements_txt().splitlines()
    names = {line.split("==")[0].lower() for line in lines}
    assert {"runyard", "psutil", "grpcio"} <= names
    assert all("==" in line for line in lines)


def test_metadata_describes_the_process() -> None:
    meta = metadata(time.time())
    assert meta["cpu_count"] >= 1 and meta["python"].count(".") == 2
    assert meta["gpu_count"] == len(meta["gpus"])


def test_system_sample_sees_this_process_work_and_has_no_gpu_error(tmp_path: Path) -> None:
    sampler = SystemSampler(tmp_path)
    wall0, cpu0 = time.monotonic(), time.process_time()
    while time.process_time() - cpu0 < 0.3:  # burn 0.3 s of CPU in this process, however busy the machine
        sum(i * i for i in range(1000))
    sample = sampler.sample()
    # what this process really got, as a percent of one core (on a loaded machine, far below 100)
    got = 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    sampler.close()
    assert {"cpu", "cpu.process", "memory", "memory.process_mb", "disk"} <= sample.keys()
    assert sample["cpu.process"] > 0.5 * got, (sample["cpu.process"], got)
    assert 0 < sample["memory.process_mb"] < 100_000
    gpu_keys = [k for k in sample if k.startswith("gpu.")]
    assert gpu_keys == [] or any(k.endswith(".utilization") for k in gpu_keys)


def test_monitor_calls_the_sink_every_interval_and_stops() -> None:
    got: list[tuple[float, dict[str, float]]] = []
    seen = threading.Event()

    def sink(ts: float, sample: dict[str, float]) -> None:
        got.append((ts, sample))
        if len(got) >= 3:
            seen.set()

    mon = SystemMonitor(sink, interval=0.1).start()
    assert seen.wait(5)
    mon.stop()
    n = len(got)
    time.sleep(0.3)
    assert len(got) == n
    assert all("cpu" in s for _, s in got)
