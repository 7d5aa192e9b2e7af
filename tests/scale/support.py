"""Real processes for the scale-out tests: more ingest/front-door replicas on the session's database, and
Debian's PgBouncer in transaction pooling in front of it; plus raw gRPC streams the way the SDK sends them."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc
from runyard_server.local.postgres import PG_SYSTEM_USER
from runyard_server.local.processes import Child, free_port, spawn, wait_until
from tests.support.stack import TestStack

STOP_GRACE_S = 15.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Service:
    child: Child
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.child.stop(STOP_GRACE_S)


def _tcp_ready(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _http_ok(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_ingest(stack: TestStack, name: str, env: Mapping[str, str] | None = None) -> Service:
    """One more `runyard-server ingest` process on the session's database (a replica)."""
    port = free_port()
    child = spawn(name, [sys.executable, "-m", "runyard_server.cli", "ingest"], stack.logs_dir / f"{name}.log",
                  env=stack.service_env({"RUNYARD_INGEST_PORT": str(port), **(env or {})}))
    try:
        wait_until(child, lambda: _tcp_ready(port), timeout=60, what=f"{name} (127.0.0.1:{port})")
    except BaseException:
        child.stop(STOP_GRACE_S, kill=True)
        raise
    return Service(child, port)


def start_frontdoor(stack: TestStack, name: str, env: Mapping[str, str] | None = None) -> Service:
    """One more front door (auth + query) process; `env` may point it at another database URL."""
    port = free_port()
    child = spawn(name, [sys.executable, "-m", "runyard_server.cli", "frontdoor"], stack.logs_dir / f"{name}.log",
                  env=stack.service_env({"RUNYARD_HTTP_PORT": str(port), **(env or {})}))
    try:
        wait_until(child, lambda: _http_ok(f"http://127.0.0.1:{port}/api/v1/server-info"), timeout=60,
                   what=f"{name} (127.0.0.1:{port})")
    except BaseException:
        child.stop(STOP_GRACE_S, kill=True)
        raise
    return Service(child, port)


# ---- PgBouncer ------------------------------------------------------------------------------------------

def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if found is None:
        raise RuntimeError("pgbouncer is not installed: run `make pgbouncer` (Debian's pgbouncer package)")
    return found


@dataclass
class Bouncer:
    """PgBouncer in transaction pooling with a few server connections shared by many clients."""

    child: Child
    port: int
    user: str
    password: str
    pool_size: int
    folder: Path

    def dsn(self, database: str = "runyard") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.child.stop(STOP_GRACE_S)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_bouncer(stack: TestStack, pool_size: int = 3) -> Bouncer:
    """PgBouncer on a free port in front of the session's PostgreSQL, every database, transaction pooling,
    `pool_size` server connections per database however many clients connect."""
    url = urlsplit(stack.database_url)
    user, password = url.username or "postgres", url.password or ""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="runyard-pgbouncer-"))
    os.chmod(folder, 0o755)
    (folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={url.hostname} port={url.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {folder / 'userlist.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        "max_client_conn = 500\nmax_db_connections = 0\n"
        # asyncpg sends none of these, psql and others might: accepted, not forwarded
        "ignore_startup_parameters = extra_float_digits,options\n"
        "log_connections = 0\nlog_disconnections = 0\n"
    )
    user_to_run = PG_SYSTEM_USER if os.geteuid() == 0 else None  # PgBouncer refuses to run as root
    if user_to_run:
        import pwd

        entry = pwd.getpwnam(user_to_run)
        for p in (folder / "userlist.txt", folder / "pgbouncer.ini"):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    for p in (folder / "userlist.txt", folder / "pgbouncer.ini"):
        os.chmod(p, 0o600)
    child = spawn("pgbouncer", [pgbouncer_binary(), str(folder / "pgbouncer.ini")],
                  stack.logs_dir / "pgbouncer.log", user=user_to_run, stop_signal=15)
    try:
        wait_until(child, lambda: _tcp_ready(port), timeout=30, what=f"pgbouncer (127.0.0.1:{port})")
    except BaseException:
        child.stop(STOP_GRACE_S, kill=True)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Bouncer(child, port, user, password, pool_size, folder)


# ---- raw ingest streams --------------------------------------------------------------------------------

def open_msg(project: str, run_id: str, resume: str = "allow") -> pb.ClientMessage:
    return pb.ClientMessage(open=pb.OpenRun(project=project, run_id=run_id, resume=resume))


def rows_msg(first_seq: int, steps: range, keys: list[str]) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=[
        pb.Record(seq=first_seq + n, history=pb.HistoryRow(
            step=s, timestamp=1.7e9 + s, keys=keys, values=[s + i / 10 for i in range(len(keys))]))
        for n, s in enumerate(steps)
    ]))


def finish_msg(seq: int) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=seq, finish=pb.Finish(exit_code=0))]))


def history_messages(project: str, run_id: str, steps: int, keys: list[str], batch: int, *,
                     first_step: int = 0, first_seq: int = 1, resume: str = "allow",
                     finish: bool = True) -> list[pb.ClientMessage]:
    """OpenRun, then rows first_step.. in batches (seq from first_seq), then Finish."""
    out = [open_msg(project, run_id, resume)]
    seq = first_seq
    for start in range(first_step, first_step + steps, batch):
        stop = min(first_step + steps, start + batch)
        out.append(rows_msg(seq, range(start, stop), keys))
        seq += stop - start
    if finish:
        out.append(finish_msg(seq))
    return out


def _gated(messages: Iterable[pb.ClientMessage], gate: threading.Barrier | None) -> Iterator[pb.ClientMessage]:
    if gate is not None:
        gate.wait(30)  # every racer sends its first message at the same moment
    yield from messages


def stream(address: str, key: str, messages: list[pb.ClientMessage],
           gate: threading.Barrier | None = None) -> list[pb.ServerMessage]:
    """One Ingest.Stream: send everything, return every server message (raises grpc.RpcError)."""
    with grpc.insecure_channel(address) as channel:
        call = pb_grpc.IngestStub(channel).Stream(
            _gated(messages, gate), metadata=[("authorization", f"Bearer {key}")], timeout=120)
        return list(call)


def last_ack(replies: list[pb.ServerMessage]) -> int:
    acks = [m.ack.seq for m in replies if m.WhichOneof("msg") == "ack"]
    return max(acks, default=0)


def opened(replies: list[pb.ServerMessage]) -> pb.RunOpened:
    for m in replies:
        if m.WhichOneof("msg") == "opened":
            return m.opened
    raise AssertionError(f"no RunOpened among {len(replies)} replies")
