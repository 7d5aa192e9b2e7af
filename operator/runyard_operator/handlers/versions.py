"""Which rollout a spec asks for, given what the status says already ran (pure).

- install: nothing was rolled out yet (`status.version` empty). The migration hook runs first when the
  chart marks it pre-install (external database); with the bundled PostgreSQL, which does not exist
  before the install, the services' `migrate` init container applies the schema.
- upgrade: `spec.version` is newer than the version whose migrations ran (`status.migration.version`):
  the migration Job of the NEW image runs and completes before any service rolls, so no new binary
  ever meets an old schema, and a failed migration leaves the old pods serving.
- same or older version with other changes: the services roll; no migration runs.
- older than the migrated schema: refused (DowngradeRefused), so an older binary never runs on a newer
  schema, unless `spec.allowDowngrade` says the newer migrations are known to be additive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError

__all__ = ["Plan", "parse_version", "plan"]

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")


def parse_version(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """A sortable semver key: 0.2.0-rc.1 < 0.2.0 < 0.10.0 (pre-releases before their release)."""
    m = _SEMVER.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a version (MAJOR.MINOR.PATCH[-PRERELEASE])")
    core = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not m.group(4):
        return (*core, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in m.group(4).split("."))
    return (*core, 0, ids)


@dataclass(frozen=True)
class Plan:
    install: bool
    migrate_events: frozenset[str]  # the hook events to run now: {"pre-install"}, {"pre-upgrade"} or none
    note: str


def plan(spec: dict[str, Any], status: dict[str, Any]) -> Plan:
    version = spec["version"]
    migrated = (status.get("migration") or {}).get("version") or ""
    if not status.get("version"):
        return Plan(True, frozenset({"pre-install"}), f"install {version}")
    if not migrated:
        # installed through the init container (bundled database): that schema is the installed version's
        migrated = status["version"]
    if parse_version(version) > parse_version(migrated):
        return Plan(False, frozenset({"pre-upgrade"}), f"upgrade {migrated} -> {version}")
    if parse_version(version) < parse_version(migrated) and not spec.get("allowDowngrade"):
        raise SpecError(
            f"spec.version: {version} is older than {migrated}, whose migrations were applied to the database; "
            f"an older binary must not run on a newer schema. Set spec.version to {migrated} or newer, or set "
            f"spec.allowDowngrade: true if {migrated}'s release notes say its migrations are additive",
            reason="DowngradeRefused",
        )
    return Plan(False, frozenset(), f"apply {version}")
