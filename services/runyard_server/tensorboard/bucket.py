"""Reading event files from the bucket with the service's own S3 settings (RUNYARD_S3_*).

The TensorBoard component needs object bytes on its own disk (TensorBoard reads files), so unlike the
artifact service it downloads them; it never writes to the bucket. Keys come from the database
(`storage_objects.key` of the run's files under `tensorboard/`).
"""

from __future__ import annotations

from typing import Any, BinaryIO

import boto3
from botocore.config import Config

from ..common.settings import Settings, SettingsError, is_placeholder

__all__ = ["Bucket", "check_bucket_settings"]


def check_bucket_settings(settings: Settings) -> None:
    """Fail at start, naming every missing or placeholder RUNYARD_S3_* variable at once."""
    problems = []
    keys = ("s3_access_key", "s3_secret_key") if settings.s3_credentials == "secret" else ()
    for name in ("s3_endpoint", *keys, "s3_bucket"):
        value = str(getattr(settings, name))
        if not value:
            problems.append(f"RUNYARD_{name.upper()}: required by the TensorBoard component (it reads event files)")
        elif is_placeholder(value):
            problems.append(f"RUNYARD_{name.upper()}: still holds a placeholder value")
    if settings.s3_endpoint and not settings.s3_endpoint.startswith(("http://", "https://")):
        problems.append(f"RUNYARD_S3_ENDPOINT: must be an http:// or https:// URL, got {settings.s3_endpoint[:40]!r}")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))


class Bucket:
    def __init__(self, settings: Settings) -> None:
        check_bucket_settings(settings)
        self.name = settings.s3_bucket
        self._s3: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            aws_access_key_id=settings.s3_access_key if settings.s3_credentials == "secret" else None,
            aws_secret_access_key=settings.s3_secret_key if settings.s3_credentials == "secret" else None,
            region_name=settings.s3_region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=16,
                          retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )

    def fetch(self, key: str, out: BinaryIO, start: int = 0) -> None:
        """Write the object's bytes from `start` to its end into `out` (blocking; run it in a thread)."""
        args: dict[str, Any] = {"Bucket": self.name, "Key": key}
        if start:
            args["Range"] = f"bytes={start}-"
        body = self._s3.get_object(**args)["Body"]
        try:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)
        finally:
            body.close()

    def ping(self) -> None:
        self._s3.head_bucket(Bucket=self.name)
