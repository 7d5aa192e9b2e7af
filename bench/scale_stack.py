"""A `runyard-server local` on a kept data folder, shared by bench/seed_scale.py and bench/scale_read.py.

The seed fills the folder once (minutes at full size); the read benchmarks start the same folder again and
measure. The API key of the user `bench` is kept in DATA/bench-key.json (0600) so later runs reuse it.

    with LocalServer(Path("/tmp/ry-scale")) as srv:
        srv.base_url, srv.ingest_address, srv.api_key, srv.database_url
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

USERNAME = "bench"
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """Starts `python -m runyard_server.cli local` on `data_dir`; stops it on leaving the block."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 180.0) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.port, self.ingest_port = free_port(), free_port()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.api_key = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ingest_address(self) -> str:
        return f"127.0.0.1:{self.ingest_port}"

    @property
    def database_url(self) -> str:
        """The embedded PostgreSQL of the folder (for disk sizes), from its credentials and ports files."""
        creds = json.loads((self.data_dir / "credentials.json").read_text())
        ports = json.loads((self.data_dir / "ports.json").read_text())
        return f"postgresql://postgres:{creds['postgres_password']}@127.0.0.1:{ports['postgres']}/runyard"

    def __enter__(self) -> LocalServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o701)  # as root, PostgreSQL runs as `pgserver` and must reach its folder
        log = open(self.data_dir / "bench-server.log", "ab")  # closed below, once the child holds it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runyard_server.cli", "local", "--data-dir", str(self.data_dir),
             "--port", str(self.port), "--ingest-port", str(self.ingest_port), "--no-browser"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                if httpx.get(self.base_url + "/api/v1/server-info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise SystemExit(f"runyard-server local did not start; see {self.data_dir / 'bench-server.log'}")
            time.sleep(0.3)
        self.api_key = self._key()
        return self

    def _key(self) -> str:
        path = self.data_dir / "bench-key.json"
        if path.exists():
            return str(json.loads(path.read_text())["api_key"])
        resp = httpx.post(self.base_url + "/api/v1/auth/signup", json={"username": USERNAME, "password": PASSWORD},
                          timeout=30)
        if resp.status_code != 201:
            raise SystemExit(f"could not sign up {USERNAME!r} on a fresh data folder: {resp.status_code} {resp.text}")
        key = str(resp.json()["api_key"])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"api_key": key}, f)
        return key

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
