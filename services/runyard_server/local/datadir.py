"""The data folder of local mode: its layout, the lock that keeps a second stack off it, the pid files,
and what to do about servers an earlier, killed launcher left running.

    DATA/postgres/          PGDATA (owned by the `pgserver` system user when we run as root)
    DATA/redis/             redis.conf (holds the password, 0600) and dump.rdb
    DATA/s3/runyard/        the `runyard` bucket served by `rclone serve s3`
    DATA/logs/NAME.log      stdout+stderr of each child (postgresql, redis, s3, ingest, frontdoor)
    DATA/credentials.json   generated passwords and S3 keys, 0600, made once (credentials.py)
    DATA/ports.json         the ports used last time, reused when still free
    DATA/run/               pid files and the lock that keeps a second stack off the same folder

Children run in sessions of their own with a parent-death signal (processes.py), so leftovers are rare;
when a launcher dies anyway (SIGKILL before the signal was armed, a kernel without it), its servers still
hold our ports and files, and the next start stops them, but only those that are provably ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .processes import StartupError

__all__ = ["DataDir", "write_private"]


class DataDir:
    """One data folder: where each part keeps its files, and who owns the folder right now."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()
        self.logs_dir = self.path / "logs"
        self.run_dir = self.path / "run"
        self.pgdata = self.path / "postgres"
        self.redis_dir = self.path / "redis"
        self.s3_root = self.path / "s3"
        self.credentials_file = self.path / "credentials.json"
        self.ports_file = self.path / "ports.json"
        self._lock_fd: int | None = None

    # ---- layout -------------------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def create(self) -> None:
        """Make the folder when missing: private (0700); as root, PostgreSQL's part adds o+x."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.mkdir(mode=0o700)

    # ---- the lock ---------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the folder (an flock on run/lock holding our pid); StartupError when another has it.

        An flock, not a pid file check: the kernel drops it when its holder dies, however it dies.
        """
        if self._lock_fd is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StartupError(
                f"the data folder {self.path} is in use by another runyard-server local (pid {owner}); "
                "stop it first or choose another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None

    # ---- pid files and leftovers ----------------------------------------------------------------------
    def write_pid(self, name: str, pid: int) -> None:
        (self.run_dir / f"{name}.pid").write_text(str(pid))

    def read_pid(self, name: str) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.run_dir / f"{name}.pid").read_text().strip())
        return None

    def forget_pid(self, name: str) -> None:
        with contextlib.suppress(OSError):
            (self.run_dir / f"{name}.pid").unlink()

    def stop_leftover(self, label: str, pid: int | None, sig: int, progress: Callable[[str], None]) -> None:
        """Stop a process of ours left by a launcher that was killed (it still holds our ports/files)."""
        if not pid or pid == os.getpid():
            return
        if not self.owns(pid):
            return  # gone, or a recycled pid: not ours
        progress(f"stopping a {label} left over from an earlier run (pid {pid})...")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def owns(self, pid: int) -> bool:
        """The process names this data folder on its command line or runs in it (redis-server
        rewrites its command line, so its working folder tells)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if str(self.path) in cmdline:
            return True
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            return False
        return cwd == self.path or self.path in cwd.parents


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600), atomically: readers see the old or the new text,
    and the secret never sits in a file with looser permissions, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
