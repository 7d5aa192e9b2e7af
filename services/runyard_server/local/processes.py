"""Child processes for the local stack: start with a log file, wait until ready, stop with a grace.

Every child gets its own session (so a Ctrl-C in the terminal reaches only the launcher, which then
stops the children in order) and, on Linux, a parent-death signal (so a launcher killed with SIGKILL
does not leave servers behind).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Cancelled",
    "Child",
    "RestartBudget",
    "StartupError",
    "as_user",
    "clean_env",
    "free_port",
    "port_in_use",
    "spawn",
    "tail",
    "wait_until",
]


class StartupError(RuntimeError):
    """A part of the stack did not come up; the message names it and its log file."""


class Cancelled(Exception):
    """The start was called off (Ctrl-C/SIGTERM while starting): stop what runs, exit cleanly."""


@dataclass
class Child:
    """A started child process and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 10.0, *, kill: bool = False) -> int | None:
        """Send the stop signal (or SIGKILL when `kill`), wait `grace` seconds, then SIGKILL.

        Returns the exit code (negative: killed by that signal); never raises for a gone process.
        """
        if self.proc.poll() is not None:
            return self.proc.returncode
        sig = signal.SIGKILL if kill else self.stop_signal
        _signal(self.proc, sig)
        try:
            return self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal(self.proc, signal.SIGKILL)
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
                return None

    def describe_exit(self) -> str:
        code = self.proc.returncode
        if code is None:
            return f"{self.name} is running (pid {self.pid})"
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return f"{self.name} (pid {self.pid}) {how}; see its log: {self.log_path}"


class RestartBudget:
    """At most `limit` restarts of one child within `window_s` seconds (a crash loop stops instead)."""

    def __init__(self, limit: int = 5, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: dict[str, list[float]] = {}

    def take(self, name: str, now: float | None = None) -> int | None:
        """Count one restart of `name`; returns how many it had in the window (this one included), or
        None when the budget is spent."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._times.get(name, []) if now - t < self.window_s]
        if len(recent) >= self.limit:
            self._times[name] = recent
            return None
        recent.append(now)
        self._times[name] = recent
        return len(recent)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass


_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec(sig: int) -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to send `sig` to the child when its parent dies (Linux only).

    The kernel ties this to the thread that forked, so it is only used from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Child:
    """Start `argv` with stdout and stderr appended to `log_path`, in a session of its own.

    `user`: run as that system user, with its own primary group and no supplementary groups (only
    `user=` would keep root's groups, and a root group on a 0701 folder denies access).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    uid, gid, groups = as_user(user)
    with open(log_path, "ab") as log:
        log.write(f"\n----- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            user=uid,
            group=gid,
            extra_groups=groups,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec(stop_signal),
        )
    return Child(name=name, proc=proc, log_path=log_path, stop_signal=stop_signal, argv=list(argv))


def clean_env() -> dict[str, str]:
    """The environment for storage children, without PG*/locale surprises from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def as_user(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """(uid, gid, extra groups) for Popen's user/group/extra_groups: `user` with its primary group
    and no supplementary groups; all None (no change) when `user` is None."""
    if not user:
        return None, None, None
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file ('' when it does not exist)."""
    try:
        data = path.read_bytes()[-64_000:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def wait_until(
    child: Child,
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    cancel: threading.Event | None = None,
) -> None:
    """Poll `ready()` until it is true; raise StartupError if the child exits or time runs out,
    Cancelled when `cancel` gets set."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled(what)
        if not child.alive():
            raise StartupError(
                f"{what} did not start: {child.describe_exit()}\n{_indent(tail(child.log_path))}"
            )
        try:
            if ready():
                return
        except Exception as exc:  # not ready yet: connection refused, auth not loaded, ...
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise StartupError(
                f"{what} was not ready after {timeout:.0f} s{detail}; see its log: {child.log_path}\n"
                + _indent(tail(child.log_path))
            )
        if cancel is not None:
            cancel.wait(interval)
        else:
            time.sleep(interval)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on `host` (the OS picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on (host, port) or the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    # bound fine; also check a listener on the wildcard address of another family is not answering
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    with socket.socket(socket.AF_INET6 if ":" in probe else socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(0.5)
        return c.connect_ex((probe, port)) == 0
