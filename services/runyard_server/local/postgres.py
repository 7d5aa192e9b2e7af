"""PostgreSQL for local mode: the pgserver wheel's build, run directly as our child.

Not through `pgserver.get_server`: that one daemonizes through pg_ctl and listens only on a unix
socket, while we want a TCP DSN and a server that stops with us. PostgreSQL refuses to run as root; as
root we reuse pgserver's way out, a `pgserver` system user (created with useradd) owning PGDATA.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .coro import run_coro
from .datadir import write_private
from .processes import Child, StartupError, as_user, clean_env, spawn, tail, wait_until
from .server import StorageServer

__all__ = ["DATABASE", "PG_SYSTEM_USER", "PostgresServer", "postmaster_pid"]

DATABASE = "runyard"
PG_SYSTEM_USER = "pgserver"


@dataclass
class PostgresServer(StorageServer):
    """One cluster in DATA/postgres, listening on host:port over TCP only, superuser `postgres`."""

    name = "postgres"
    label = "PostgreSQL"

    password: str = field(repr=False)
    durable: bool = True  # False: fsync off (tests only)
    progress: Callable[[str], None] = field(default=lambda _msg: None, repr=False)

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres:{self.password}@{self.host}:{self.port}/{database}"

    def spawn(self) -> Child:
        """Create the cluster on first use, then start `postgres -D` (not yet ready: see wait_ready)."""
        bindir = _postgres_bin()
        user = _pg_system_user()
        log = self.data.log_path("postgresql")
        self.data.logs_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data.pgdata
        if user:
            for changed in _make_traversable(self.data.path) + _make_traversable(bindir):
                self.progress(
                    f"  note: made {changed} searchable by others (o+x) so that the "
                    f"PostgreSQL user {user!r} can reach its files"
                )
        if not (pgdata / "PG_VERSION").exists():
            self._initdb(bindir, user, log)
        elif user:
            _chown_tree_if_needed(pgdata, user)
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(pgdata),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"port={self.port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and checkpoints; SIGTERM would wait
        # for every client to disconnect.
        return spawn("postgres", argv, log, env=clean_env(), cwd=pgdata, user=user, stop_signal=signal.SIGINT)

    def wait_ready(self, child: Child, *, timeout: float, cancel: threading.Event | None) -> None:
        """Wait until PostgreSQL accepts our password, and create the `runyard` database on first use."""

        async def ready() -> bool:
            import asyncpg

            conn = await asyncpg.connect(self.url("postgres"), timeout=2)
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                    await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()
            return True

        wait_until(
            child,
            lambda: run_coro(ready()),
            timeout=timeout,
            cancel=cancel,
            what=f"PostgreSQL (127.0.0.1:{self.port})",
            interval=0.2,
        )

    def _initdb(self, bindir: Path, user: str | None, log: Path) -> None:
        pgdata = self.data.pgdata
        if pgdata.exists() and any(pgdata.iterdir()):
            raise StartupError(
                f"{pgdata} holds files but no PostgreSQL cluster (no PG_VERSION); "
                "remove that folder to start over"
            )
        pgdata.mkdir(mode=0o700, exist_ok=True)
        # the password goes to initdb in a file, never on a command line where `ps` shows it
        pwfile = self.data.path / ".pgpass-init"
        write_private(pwfile, self.password + "\n")
        try:
            if user:
                import pwd

                entry = pwd.getpwnam(user)
                os.chown(pgdata, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self.progress(f"  creating a new database cluster in {pgdata}")
            uid, gid, groups = as_user(user)
            with open(log, "ab") as out:
                res = subprocess.run(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(pgdata),
                        "-U",
                        "postgres",
                        f"--pwfile={pwfile}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=peer",
                        "--encoding=UTF8",
                        "--no-locale",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=clean_env(),
                    cwd=str(pgdata),
                    timeout=300,
                    user=uid,
                    group=gid,
                    extra_groups=groups,
                )
            if res.returncode != 0:
                raise StartupError(
                    f"PostgreSQL initdb failed (exit {res.returncode}); see its log: {log}\n{tail(log)}"
                )
        finally:
            pwfile.unlink(missing_ok=True)


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid PostgreSQL wrote into PGDATA (first line of postmaster.pid); a leftover's, after a crash."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    return None


def _postgres_bin() -> Path:
    try:
        import warnings

        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import time
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StartupError(
            "pgserver is not installed: install the local extra (pip install 'runyard-server[local]')"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


def _pg_system_user() -> str | None:
    """None normally; as root, the `pgserver` system user (created like pgserver does)."""
    if os.geteuid() != 0:
        return None
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.utils import ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
    except Exception as exc:
        raise StartupError(
            f"PostgreSQL refuses to run as root and the system user {PG_SYSTEM_USER!r} could not be "
            f"created ({exc}); run as an ordinary user"
        ) from exc
    return PG_SYSTEM_USER


def _make_traversable(path: Path) -> list[Path]:
    """Let the PostgreSQL system user walk down to `path`: add o+x (search only) where missing.

    Returns the folders changed. (pgserver itself adds g+rx,o+rx all the way up; search is enough.)
    """
    changed = []
    for p in [path, *path.parents]:
        with contextlib.suppress(OSError):
            mode = p.stat().st_mode
            if not mode & 0o001:
                os.chmod(p, mode | 0o001)
                changed.append(p)
    return changed


def _chown_tree_if_needed(pgdata: Path, user: str) -> None:
    """Give PGDATA to the system user when another owns it (say, copied or restored by root):
    PostgreSQL refuses a data directory that is not its own."""
    import pwd

    entry = pwd.getpwnam(user)
    if pgdata.stat().st_uid == entry.pw_uid:
        return
    for root, dirs, files in os.walk(pgdata):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
