"""Per-request context handed to every resolver: the caller's key, the upstream clients, a small cache.

Reads through the cache are made once per GraphQL request (a query selecting a run's config and summary
reads the run once); nothing outlives the request, so every answer is as fresh as the services'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .manifests import ManifestCache
from .upstream import Upstream

__all__ = ["Ctx", "q"]


def q(*parts: str) -> str:
    """Path segments, each percent-encoded (names come from the client)."""
    return "/".join(quote(p, safe="") for p in parts)


@dataclass
class Ctx:
    key: str
    up: Upstream
    public_url: str = ""  # this server as the client reaches it (for URLs served here)
    manifests: ManifestCache | None = None
    cache: dict[Any, Any] = field(default_factory=dict)

    async def viewer(self) -> dict[str, Any]:
        """{"username", "entity", "is_admin"} of the caller (auth service)."""
        if "viewer" not in self.cache:
            self.cache["viewer"] = await self.up.get(self.key, "/api/v1/viewer")
        return self.cache["viewer"]  # type: ignore[no-any-return]

    async def entity_or_default(self, entity: str | None) -> str:
        return entity or str((await self.viewer())["entity"])

    async def project(self, entity: str, project: str) -> dict[str, Any] | None:
        """The project as the query service returns it; None when missing or not readable."""
        k = ("project", entity, project)
        if k not in self.cache:
            self.cache[k] = await self.up.get(self.key, "/api/v1/projects/" + q(entity, project), ok404=True)
        return self.cache[k]  # type: ignore[no-any-return]

    async def run(self, entity: str, project: str, run_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """The run (query service: config, summary, tags, state, history keys...); None when missing."""
        k = ("run", entity, project, run_id)
        if fresh or k not in self.cache:
            self.cache[k] = await self.up.get(self.key, "/api/v1/runs/" + q(entity, project, run_id), ok404=True)
        return self.cache[k]  # type: ignore[no-any-return]

    def forget_run(self, entity: str, project: str, run_id: str) -> None:
        self.cache.pop(("run", entity, project, run_id), None)
