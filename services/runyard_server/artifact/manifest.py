"""Artifact manifests: validation and the digest that says whether two versions hold the same files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..common.errors import InvalidArgument
from ..common.settings import Settings
from .names import clean_path, reference_uri, sha256_hex
from .uploads import check_size


@dataclass(frozen=True)
class Entry:
    path: str
    sha256: str | None
    size: int | None
    ref: str | None
    ref_digest: str | None


def validate(entries: list[dict[str, object]], settings: Settings) -> list[Entry]:
    out: list[Entry] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        path = clean_path(str(e.get("path") or ""), f"files[{i}].path")
        if path in seen:
            raise InvalidArgument(f"files[{i}].path {path!r} appears twice in the manifest")
        seen.add(path)
        size = e.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise InvalidArgument(f"files[{i}].size must be a non-negative integer")
        ref, sha = e.get("ref"), e.get("sha256")
        if (ref is None) == (sha is None):
            raise InvalidArgument(f"files[{i}] ({path}) needs exactly one of sha256 (a stored file) or ref (a reference)")
        if sha is not None:
            if size is None:
                raise InvalidArgument(f"files[{i}] ({path}) needs its size")
            check_size(size, settings, path)
            out.append(Entry(path, sha256_hex(str(sha)), size, None, None))
        else:
            digest = e.get("digest")
            if digest is not None and (not isinstance(digest, str) or len(digest) > 256):
                raise InvalidArgument(f"files[{i}].digest must be a string of at most 256 characters")
            out.append(Entry(path, None, size, reference_uri(str(ref)), digest))
    out.sort(key=lambda x: x.path.encode())
    return out


def digest(entries: list[Entry]) -> str:
    """sha256 of the canonical manifest: sorted (path, content, size); metadata and aliases do not count."""
    canon = [[e.path, f"sha256:{e.sha256}" if e.sha256 else f"ref:{e.ref}#{e.ref_digest or ''}", e.size]
             for e in entries]
    return hashlib.sha256(json.dumps(canon, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
