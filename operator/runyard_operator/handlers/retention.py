"""The finalizer `runyard.io/finalizer`: what happens to the bundled stores when an instance is deleted.

Everything the chart rendered is owned by the TrackerInstance, so Kubernetes' garbage collector deletes
it after the instance is gone. Two things would outlive that, and `spec.retention` decides about them:
the bundled stores' volumes (PersistentVolumeClaims made by their StatefulSets, owned by nobody) and
their generated credentials (Secrets, owned by the instance).

- Retain (default): the volumes stay, and the credentials lose their owner reference so they stay too;
  a new instance of the same name in the same namespace opens the same data with the same passwords.
- Delete: the volumes and the credentials are deleted.

External databases, Redis and buckets are never touched by the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .. import metrics
from ..kinds import lookup
from ..render import MANAGED_BY
from ..schema import KIND, apply_defaults, spec_schema
from .context import Context

__all__ = ["STORES", "finalize"]

PVC = lookup("v1", "PersistentVolumeClaim")
SECRET = lookup("v1", "Secret")
STORES = ("postgresql", "redis", "minio")  # app.kubernetes.io/component of the bundled stores


def _store(obj: dict[str, Any]) -> bool:
    return (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component") in STORES


async def finalize(ctx: Context, body: Mapping[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """Apply the retention policy and say what was done (the log line is also posted as an event)."""
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    spec = apply_defaults(spec_schema(), dict(body.get("spec") or {}))
    async with ctx.lock((namespace, name)):  # no timer pass re-applies anything meanwhile
        done = await _retain_or_delete(ctx, spec, namespace, name, uid)
    ctx.forget((namespace, name))
    metrics.forget_instance(namespace, name)
    logger.info(done)
    metrics.RECONCILES.labels("delete", "deleted").inc()


async def _retain_or_delete(ctx: Context, spec: dict[str, Any], namespace: str, name: str, uid: str) -> str:
    client = ctx.client
    volumes = [p for p in await client.list(PVC, namespace, f"app.kubernetes.io/instance={name}") if _store(p)]
    secrets = [s for s in await client.list(SECRET, namespace,
                                            f"app.kubernetes.io/instance={name},app.kubernetes.io/managed-by={MANAGED_BY}")
               if _store(s)]
    volume_names = sorted(p["metadata"]["name"] for p in volumes)
    secret_names = sorted(s["metadata"]["name"] for s in secrets)
    if spec.get("retention") == "Delete":
        for pvc in volume_names:
            await client.delete(PVC, namespace, pvc)
        for secret in secret_names:
            await client.delete(SECRET, namespace, secret)
        done = (f"retention Delete: deleted the bundled stores' volumes {volume_names or 'none'} and credentials "
                f"{secret_names or 'none'}")
    else:
        for secret in secrets:
            refs = secret["metadata"].get("ownerReferences") or []
            kept = [r for r in refs if not (r.get("kind") == KIND and r.get("uid") == uid)]
            if kept != refs:
                await client.merge_patch(SECRET, namespace, secret["metadata"]["name"],
                                         {"metadata": {"ownerReferences": kept or None}})
        done = (f"retention Retain: kept the bundled stores' volumes {volume_names or 'none'} and credentials "
                f"{secret_names or 'none'}; a new TrackerInstance {name} in {namespace} reuses them, or delete them "
                f"with `kubectl -n {namespace} delete pvc,secret -l app.kubernetes.io/instance={name}`")
    return done

