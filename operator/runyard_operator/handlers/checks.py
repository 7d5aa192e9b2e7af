"""Checks against the cluster before anything is applied: every Secret the spec names exists and holds
its key, and no other instance serves the same hostname. Each failure is a SpecError saying what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from ..kinds import lookup
from ..kube import KubeClient

__all__ = ["check_hostname", "check_secrets", "secret_refs"]

SECRET = lookup("v1", "Secret")
INSTANCE = lookup("runyard.io/v1alpha1", "TrackerInstance")


def secret_refs(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, secret name, key) for every Secret the spec refers to."""
    refs = []
    db, redis, store, oidc = spec["database"], spec["redis"], spec["objectStore"], spec.get("oidc", {})
    if not db["bundled"] and "secretRef" in db:
        refs.append(("spec.database.secretRef", db["secretRef"]["name"], db["secretRef"]["key"]))
    if redis["enabled"] and not redis["bundled"] and "secretRef" in redis:
        refs.append(("spec.redis.secretRef", redis["secretRef"]["name"], redis["secretRef"]["key"]))
    if not store["bundled"] and store["credentials"] == "secret" and "secretRef" in store:
        ref = store["secretRef"]
        refs.append(("spec.objectStore.secretRef", ref["name"], ref["accessKeyKey"]))
        refs.append(("spec.objectStore.secretRef", ref["name"], ref["secretKeyKey"]))
    if oidc.get("issuer") and "secretRef" in oidc:
        refs.append(("spec.oidc.secretRef", oidc["secretRef"]["name"], oidc["secretRef"]["key"]))
    return refs


async def check_secrets(client: KubeClient, namespace: str, spec: dict[str, Any]) -> None:
    """Every referenced Secret exists in the instance's namespace with its key (values are never read
    into logs or status; only the key names are looked at)."""
    problems = []
    seen: dict[str, dict[str, Any] | None] = {}
    for where, name, key in secret_refs(spec):
        if name not in seen:
            seen[name] = await client.get(SECRET, namespace, name)
        secret = seen[name]
        if secret is None:
            problems.append(f"{where}: Secret {namespace}/{name} does not exist; create it with the key {key!r} "
                            f"(kubectl -n {namespace} create secret generic {name} --from-literal={key}=...)")
        elif key not in (secret.get("data") or {}) and key not in (secret.get("stringData") or {}):
            keys = sorted((secret.get("data") or {}).keys())
            problems.append(f"{where}: Secret {namespace}/{name} has no key {key!r} (it has {keys or 'none'}); "
                            f"add it or set the key in the spec")
    if problems:
        raise SpecError("; ".join(problems), reason="SecretMissing")


def _created(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (meta.get("creationTimestamp") or "", meta.get("namespace") or "", meta["name"])


async def check_hostname(client: KubeClient, body: Mapping[str, Any], spec: dict[str, Any],
                         namespaces: list[str]) -> None:
    """No two instances serve one hostname. The older instance keeps it (creation time, then name), so
    two created at once cannot both win."""
    me = _created(body)
    others = []
    for ns in namespaces or [None]:  # type: ignore[list-item]
        others += await client.list(INSTANCE, ns)
    for other in others:
        meta = other["metadata"]
        if (meta.get("namespace"), meta["name"]) == (me[1], me[2]) or meta.get("deletionTimestamp"):
            continue
        if (other.get("spec") or {}).get("hostname") == spec["hostname"] and _created(other) < me:
            raise SpecError(
                f"spec.hostname: {spec['hostname']} is already served by TrackerInstance "
                f"{meta.get('namespace')}/{meta['name']}; choose another hostname",
                reason="HostnameClash",
            )
