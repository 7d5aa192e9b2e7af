"""Validation of what callers name: file paths, artifact names, aliases, versions, digests.

Object keys are never built from these (they come from the entity id and the sha256, see
`object_key`), but paths are shown in the UI and written to disk by `download()`, so they must be
plain relative POSIX paths.
"""

from __future__ import annotations

import re

from ..common.errors import InvalidArgument

MAX_PATH_BYTES = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ALIAS = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_VERSION = re.compile(r"^v(\d{1,9})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


def clean_path(path: str, what: str = "path") -> str:
    """A relative POSIX path: no empty, `.` or `..` segments, no leading `/`, no backslash or control chars."""
    if not isinstance(path, str) or not path:
        raise InvalidArgument(f"{what} must be a non-empty relative path")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidArgument(f"{what} is longer than {MAX_PATH_BYTES} bytes")
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        raise InvalidArgument(f"{what} {path!r} must be relative (no leading '/', drive letter or backslash)")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise InvalidArgument(f"{what} {path!r} holds a control character")
    for seg in path.split("/"):
        if seg in ("", ".", ".."):
            raise InvalidArgument(f"{what} {path!r} has an empty, '.' or '..' segment")
    return path


def clean_prefix(prefix: str) -> str:
    """A folder prefix for listings: '' (the root) or a clean path ending with '/'."""
    prefix = prefix.strip("/")
    return clean_path(prefix, "prefix") + "/" if prefix else ""


def artifact_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidArgument(
            f"artifact name {name!r} must be 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return name


def artifact_type(typ: str) -> str:
    if not _TYPE.match(typ or ""):
        raise InvalidArgument(f"artifact type {typ!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return typ


def alias(name: str) -> str:
    if not _ALIAS.match(name or ""):
        raise InvalidArgument(f"alias {name!r} must be 1-128 letters, digits, '_', '.' or '-'")
    if _VERSION.match(name):
        raise InvalidArgument(f"alias {name!r} looks like a version number; pick another name")
    return name


def version_number(ref: str) -> int | None:
    """`v3` -> 3; anything else (an alias) -> None."""
    m = _VERSION.match(ref)
    return int(m.group(1)) if m else None


def sha256_hex(value: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidArgument("sha256 must be 64 lowercase hex digits")
    return value


def md5_hex(value: str) -> str:
    if not isinstance(value, str) or not _MD5.match(value):
        raise InvalidArgument("md5 must be 32 lowercase hex digits")
    return value


def content_type(value: str | None) -> str:
    if not value:
        return "application/octet-stream"
    base = value.split(";", 1)[0].strip().lower()
    if not _CONTENT_TYPE.match(base):
        raise InvalidArgument(f"content type {value[:60]!r} is not a MIME type like text/plain")
    return base


def reference_uri(uri: str) -> str:
    if not isinstance(uri, str) or not re.match(r"^(s3|gs|https?|file)://[^\s]{1,2000}$", uri):
        raise InvalidArgument(f"reference {uri[:80]!r} must be an s3://, gs://, http(s):// or file:// URI")
    return uri


def object_key(entity_id: int, sha256: str) -> str:
    """The bucket key of a stored object: built here only, from an id and a validated digest."""
    sha256_hex(sha256)
    return f"objects/{int(entity_id)}/{sha256[:2]}/{sha256}"
