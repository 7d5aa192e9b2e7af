"""W&B artifact manifests rendered for a download, fetched by the client without credentials.

The client reads an artifact's manifest from `currentManifest.file.directUrl` with a plain HTTP GET (no
API key), the way it reads a presigned bucket URL. Runyard keeps no W&B manifest: it is rendered from
the version's files (path, MD5, size, reference) when a caller who may read the artifact asks for the
URL, kept under a random token for an hour (Redis when configured, shared by every replica; else this
process), and served at `/files/_wandb/manifests/<token>`. The token is the capability: unguessable,
short-lived, and it only names what its requester could read. Losing Redis loses nothing: the client
asks for a new URL.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from typing import Any

from ..common.names import WANDB_MANIFEST_PREFIX

__all__ = ["ManifestCache", "render"]

log = logging.getLogger("runyard.wandb")
TTL_S = 3600
MAX_MEMORY_ENTRIES = 1000


def render(files: list[dict[str, Any]]) -> bytes:
    """The W&B manifest (version 1, wandb-storage-policy-v1, storage layout V2) of a version's files."""
    contents: dict[str, Any] = {}
    for f in files:
        entry: dict[str, Any] = {"size": f.get("size")}
        if f.get("ref"):
            entry["ref"] = f["ref"]
            entry["digest"] = f.get("digest") or f["ref"]
        else:
            md5 = f.get("md5")
            entry["digest"] = base64.b64encode(bytes.fromhex(md5)).decode() if md5 else f["sha256"]
        contents[f["path"]] = {k: v for k, v in entry.items() if v is not None}
    doc = {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
           "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents}
    return json.dumps(doc, separators=(",", ":")).encode()


class ManifestCache:
    def __init__(self, redis_url: str) -> None:
        self._redis: Any = None
        self._memory: dict[str, tuple[float, bytes]] = {}
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    async def put(self, body: bytes) -> str:
        token = secrets.token_urlsafe(24)
        if self._redis is not None:
            try:
                await self._redis.set(WANDB_MANIFEST_PREFIX + token, body, ex=TTL_S)
                return token
            except Exception as exc:  # Redis is a cache here: fall back to this process
                log.warning("manifest cache: Redis unavailable (%s); keeping the manifest in memory", exc)
        now = time.monotonic()
        if len(self._memory) >= MAX_MEMORY_ENTRIES:
            self._memory = {k: v for k, v in self._memory.items() if v[0] > now}
            while len(self._memory) >= MAX_MEMORY_ENTRIES:
                self._memory.pop(next(iter(self._memory)))
        self._memory[token] = (now + TTL_S, body)
        return token

    async def get(self, token: str) -> bytes | None:
        hit = self._memory.get(token)
        if hit is not None:
            return hit[1] if hit[0] > time.monotonic() else None
        if self._redis is None:
            return None
        try:
            value = await self._redis.get(WANDB_MANIFEST_PREFIX + token)
        except Exception as exc:
            log.warning("manifest cache: Redis unavailable (%s)", exc)
            return None
        return bytes(value) if value is not None else None

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
