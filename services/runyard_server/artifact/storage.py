"""The bucket, seen from the service: presigning (local, no network) and a few metadata calls.

Two boto3 clients: `_api` talks to `s3_endpoint` (HEAD, multipart control, deletes); `_signer` signs URLs
for `s3_public_endpoint`, the address clients reach (they differ in Kubernetes and behind proxies).
Blocking calls run in a worker thread (`asyncio.to_thread`); presigning is pure CPU and runs inline.
Object bytes pass through here only to be hashed (`digests`): at `uploads.complete` (every upload is
verified) and when a staged upload (staging.py) is read to learn the sha256 its client could not declare.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..common.settings import Settings, SettingsError, is_placeholder


def check_s3_settings(settings: Settings) -> None:
    """Fail at start, naming every missing or placeholder RUNYARD_S3_* variable at once."""
    problems = []
    keys = ("s3_access_key", "s3_secret_key") if settings.s3_credentials == "secret" else ()
    for field in ("s3_endpoint", *keys, "s3_bucket"):
        value = str(getattr(settings, field))
        name = "RUNYARD_" + field.upper()
        if not value:
            problems.append(f"{name}: required by the artifact service")
        elif is_placeholder(value):
            problems.append(f"{name}: still holds a placeholder value")
    for field in ("s3_endpoint", "s3_public_endpoint"):
        value = str(getattr(settings, field))
        if value and not value.startswith(("http://", "https://")):
            problems.append(f"RUNYARD_{field.upper()}: must be an http:// or https:// URL, got {value[:40]!r}")
    if settings.s3_multipart_threshold < settings.s3_part_size:
        problems.append("RUNYARD_S3_MULTIPART_THRESHOLD: must be at least RUNYARD_S3_PART_SIZE")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))


def _client(endpoint: str, settings: Settings, *, pool: int = 20) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        # credentials "environment": None lets boto3 use its chain (IRSA web identity, instance role)
        aws_access_key_id=settings.s3_access_key if settings.s3_credentials == "secret" else None,
        aws_secret_access_key=settings.s3_secret_key if settings.s3_credentials == "secret" else None,
        region_name=settings.s3_region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=pool,
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            # `digests` hashes objects itself; botocore's own check of a stored x-amz-checksum-sha256 would
            # turn a lying upload into an exception instead of a measured mismatch
            response_checksum_validation="when_required",
        ),
    )


def b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str  # without quotes


@dataclass(frozen=True)
class Digests:
    sha256: str
    md5: str | None  # only when asked for
    size: int


class NoSuchUpload(Exception):
    """The multipart upload is gone (completed, aborted, or expired by the bucket)."""


class Storage:
    def __init__(self, settings: Settings) -> None:
        check_s3_settings(settings)
        self.bucket = settings.s3_bucket
        self.ttl = settings.presign_ttl_s
        self._api = _client(settings.s3_endpoint, settings)
        self._signer = _client(settings.s3_public_endpoint or settings.s3_endpoint, settings)

    # ---- presigned URLs (no network) -------------------------------------------------------------
    def presign_put(self, key: str, *, md5_hex: str, sha256_hex: str) -> tuple[str, dict[str, str]]:
        """A PUT URL for exactly this key whose body must match the MD5 and SHA-256 (both signed).

        rclone and MinIO/AWS check Content-MD5; AWS and MinIO also check x-amz-checksum-sha256.
        """
        headers = {"Content-MD5": b64(md5_hex), "x-amz-checksum-sha256": b64(sha256_hex)}
        url = self._signer.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentMD5": headers["Content-MD5"],
                    "ChecksumSHA256": headers["x-amz-checksum-sha256"]},
            ExpiresIn=self.ttl,
        )
        return url, headers

    def presign_put_staged(self, key: str, *, md5_hex: str | None = None) -> tuple[str, dict[str, str]]:
        """A PUT URL for a staging key (staging.py): the bytes' sha256 is not known yet; their MD5 is signed
        when the client named it."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        headers: dict[str, str] = {}
        if md5_hex:
            headers["Content-MD5"] = params["ContentMD5"] = b64(md5_hex)
        url = self._signer.generate_presigned_url("put_object", Params=params, ExpiresIn=self.ttl)
        return url, headers

    def presign_part(self, key: str, upload_id: str, number: int, *, md5_hex: str) -> tuple[str, dict[str, str]]:
        headers = {"Content-MD5": b64(md5_hex)}
        url = self._signer.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number,
                    "ContentMD5": headers["Content-MD5"]},
            ExpiresIn=self.ttl,
        )
        return url, headers

    def presign_get(self, key: str, *, content_type: str | None = None, filename: str | None = None,
                    attachment: bool = False) -> str:
        """A GET URL for one key whose response carries the given Content-Type and Content-Disposition
        (both signed: a client cannot change them). See `serving.served_as` for what to pass."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        disposition = "attachment" if attachment else "inline"
        if filename is not None:
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:200] or "file"
            disposition += f'; filename="{safe}"'
        if filename is not None or attachment:
            params["ResponseContentDisposition"] = disposition
        return str(self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=self.ttl))

    # ---- calls (blocking boto3 in a thread) ---------------------------------------------------------
    async def head(self, key: str) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return dict(self._api.head_object(Bucket=self.bucket, Key=key))
            except ClientError as exc:
                if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return await asyncio.to_thread(call)

    async def digests(self, key: str, *, md5: bool = False) -> Digests:
        """The SHA-256 (and with `md5`, the MD5) and size of the object's bytes, read back from the bucket in
        8 MiB pieces (a worker thread; memory stays bounded). The one place a service hashes stored bytes:
        what makes a content address trustworthy on every bucket (`uploads.complete`), and what names the
        bytes a client staged without knowing their SHA-256 (`staging.adopt`)."""
        def call() -> Digests:
            body = self._api.get_object(Bucket=self.bucket, Key=key)["Body"]
            sha = hashlib.sha256()
            md = hashlib.md5() if md5 else None
            size = 0
            try:
                for chunk in iter(lambda: body.read(8 * 1024 * 1024), b""):
                    sha.update(chunk)
                    if md is not None:
                        md.update(chunk)
                    size += len(chunk)
            finally:
                body.close()
            return Digests(sha.hexdigest(), md.hexdigest() if md is not None else None, size)
        return await asyncio.to_thread(call)

    async def sha256_of(self, key: str) -> str:
        """The SHA-256 of the object's bytes (`digests`)."""
        return (await self.digests(key)).sha256

    async def copy(self, source: str, dest: str) -> None:
        """Server-side copy inside the bucket (at most 5 GiB: one CopyObject)."""
        def call() -> None:
            self._api.copy_object(Bucket=self.bucket, Key=dest, CopySource={"Bucket": self.bucket, "Key": source})
        await asyncio.to_thread(call)

    async def create_multipart(self, key: str) -> str:
        def call() -> str:
            return str(self._api.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"])
        return await asyncio.to_thread(call)

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        def call() -> list[PartInfo]:
            parts: list[PartInfo] = []
            marker = 0
            while True:
                try:
                    resp = self._api.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                PartNumberMarker=marker, MaxParts=1000)
                except ClientError as exc:
                    if error_code(exc) in ("NoSuchUpload", "404"):
                        raise NoSuchUpload(upload_id) from None
                    raise
                for p in resp.get("Parts", []):
                    parts.append(PartInfo(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"]).strip('"')))
                if not resp.get("IsTruncated"):
                    break
                marker = int(resp.get("NextPartNumberMarker") or 0)
                if marker == 0:
                    break
            parts.sort(key=lambda p: p.number)
            return parts
        return await asyncio.to_thread(call)

    async def complete_multipart(self, key: str, upload_id: str, parts: list[PartInfo]) -> str:
        def call() -> str:
            try:
                resp = self._api.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id,
                    MultipartUpload={"Parts": [{"ETag": f'"{p.etag}"', "PartNumber": p.number} for p in parts]},
                )
            except ClientError as exc:
                if error_code(exc) in ("NoSuchUpload", "404"):
                    raise NoSuchUpload(upload_id) from None
                raise
            return str(resp.get("ETag", "")).strip('"')
        return await asyncio.to_thread(call)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        def call() -> None:
            try:
                self._api.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if error_code(exc) not in ("NoSuchUpload", "404"):
                    raise
        await asyncio.to_thread(call)

    async def delete(self, keys: list[str]) -> list[str]:
        """Delete keys (missing ones count as deleted); returns the keys that failed."""
        def call() -> list[str]:
            failed: list[str] = []
            for i in range(0, len(keys), 1000):
                chunk = keys[i:i + 1000]
                resp = self._api.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
                for err in resp.get("Errors", []):
                    if err.get("Code") not in ("NoSuchKey",):
                        failed.append(str(err.get("Key")))
            return failed
        return await asyncio.to_thread(call)

    async def list_keys(self, prefix: str) -> list[tuple[str, Any]]:
        """(key, last_modified) of every object under a prefix (the GC's bucket sweep)."""
        def call() -> list[tuple[str, Any]]:
            out = []
            for page in self._api.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    out.append((str(obj["Key"]), obj["LastModified"]))
            return out
        return await asyncio.to_thread(call)

    async def ensure_bucket(self) -> None:
        def call() -> None:
            try:
                self._api.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                    self._api.create_bucket(Bucket=self.bucket)
                else:
                    raise
        await asyncio.to_thread(call)
