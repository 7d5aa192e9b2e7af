"""Applying rendered objects: owner references, server-side apply, credentials created once, the
migration Job, and pruning what the chart no longer renders."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..conditions import now
from ..errors import ApiError, NotReady, SpecError
from ..kinds import KINDS, lookup
from ..kube import KubeClient
from ..render import MANAGED_BY, Hook, Rendered
from ..schema import GROUP, KIND, VERSION

__all__ = ["CREDENTIALS_MANAGER", "apply_objects", "owner_reference", "prune", "run_migration"]

SECRET = lookup("v1", "Secret")
JOB = lookup("batch/v1", "Job")
# The manager of the generated store credentials: apart from the main one, so that an apply of the
# Secret's metadata never takes its data away (server-side apply removes fields a manager stops sending).
CREDENTIALS_MANAGER = "runyard-operator-credentials"
# Never pruned: credentials (retention decides), Jobs (the migration record), and what is not rendered.
_PRUNABLE = [k for k in KINDS.values() if k.stage in ("base", "workloads", "routes") and k.kind != "Secret"]


def owner_reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """The TrackerInstance as controller of what it renders: deleting it deletes them (garbage collection)."""
    meta = body["metadata"]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _owned(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["ownerReferences"] = [owner]
    return out


def _is_owner(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _digest(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


async def apply_objects(client: KubeClient, objects: list[dict[str, Any]], owner: dict[str, Any],
                        applied: dict[tuple[str, str], str] | None = None) -> int:
    """Apply `objects` in order. With `applied` (what this instance's change handler applied before), an
    object identical to its last applied form is skipped; the record is updated. Returns how many were
    sent."""
    sent = 0
    for obj in objects:
        owned = _owned(obj, owner)
        key, digest = (obj["kind"], obj["metadata"]["name"]), _digest(owned)
        if applied is not None and applied.get(key) == digest:
            continue
        if obj["kind"] == "Secret":
            await ensure_credentials(client, obj, owner)
        else:
            await client.apply(owned)
        sent += 1
        if applied is not None:
            applied[key] = digest
    return sent


async def ensure_credentials(client: KubeClient, obj: dict[str, Any], owner: dict[str, Any]) -> None:
    """The bundled stores' generated credentials are created once and never rewritten: `helm template`
    generates new random ones on every render, and the live ones are what the stores were initialised
    with. A Secret kept by an earlier instance of this name (retention Retain) is adopted, so the kept
    volume opens with its own password."""
    meta = obj["metadata"]
    live = await client.get(SECRET, meta["namespace"], meta["name"])
    if live is None:
        try:
            await client.create(_owned(obj, owner), field_manager=CREDENTIALS_MANAGER)
        except ApiError as exc:
            if exc.status != 409:
                raise
        return
    if not _is_owner(live, owner["uid"]):
        others = [r for r in live["metadata"].get("ownerReferences") or [] if r.get("kind") != KIND]
        await client.merge_patch(SECRET, meta["namespace"], meta["name"], {
            "metadata": {"ownerReferences": [*others, owner], "labels": meta.get("labels", {})},
        })


def _image(job: dict[str, Any]) -> str:
    return str(job["spec"]["template"]["spec"]["containers"][0]["image"])


def _job_state(job: dict[str, Any]) -> tuple[str, str]:
    """("complete" | "failed" | "running", detail) from the Job's conditions."""
    st = job.get("status") or {}
    for cond in st.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "complete", cond.get("lastTransitionTime") or st.get("completionTime") or ""
        if cond.get("type") in ("Failed", "FailureTarget"):
            return "failed", f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")
    if st.get("succeeded"):
        return "complete", st.get("completionTime") or ""
    return "running", f"{st.get('active', 0)} active, {st.get('failed', 0)} failed attempt(s)"


async def run_migration(client: KubeClient, hook: Hook, owner: dict[str, Any], version: str) -> dict[str, Any]:
    """Run the chart's migration Job for this image and wait for it (NotReady while it runs). Returns the
    `status.migration` record once it completed. A Job of another image (an earlier migration) is
    replaced: a Job's pod template cannot change. A failed Job is a SpecError: the services are not rolled."""
    job = _owned(hook.obj, owner)
    meta = job["metadata"]
    ns, name, image = meta["namespace"], meta["name"], _image(job)
    live = await client.get(JOB, ns, name)
    if live is not None and _image(live) != image:
        await client.delete(JOB, ns, name, propagation="Background")
        raise NotReady(f"replacing the migration Job {name} of {_image(live)} with one for {version}",
                       reason="Migrating")
    if live is None:
        try:
            await client.apply(job)
        except ApiError as exc:
            if exc.status == 409:  # the old Job is still being deleted
                raise NotReady(f"waiting for the old migration Job {name} to be deleted", reason="Migrating") from exc
            raise
        raise NotReady(f"migration Job {name} started for {version}; the services roll after it completes",
                       reason="Migrating")
    state, detail = _job_state(live)
    if state == "complete":
        return {"version": version, "image": image, "job": name, "completedAt": detail or now()}
    if state == "failed":
        raise SpecError(
            f"migration Job {ns}/{name} for {version} failed ({detail}); the services were not rolled and keep "
            f"serving the previous version. Read `kubectl -n {ns} logs job/{name}`, fix the cause, then delete "
            f"the Job to retry (or set spec.version back)",
            reason="MigrationFailed",
        )
    raise NotReady(f"waiting for migration Job {name} ({version}): {detail}", reason="Migrating")


async def prune(client: KubeClient, rendered: Rendered, name: str, namespace: str, uid: str) -> list[str]:
    """Delete what this instance applied before but the chart no longer renders (a NetworkPolicy turned
    off, an Ingress after a switch to load balancers). Only objects labelled as ours and owned by this
    instance are considered. Returns `Kind/name` of each deleted object."""
    keep = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects}
    selector = f"app.kubernetes.io/instance={name},app.kubernetes.io/managed-by={MANAGED_BY}"
    deleted = []
    for kind in _PRUNABLE:
        for obj in await client.list(kind, namespace, selector):
            key = (kind.kind, obj["metadata"]["name"])
            if key not in keep and _is_owner(obj, uid):
                if await client.delete(kind, namespace, key[1]):
                    deleted.append(f"{key[0]}/{key[1]}")
    return deleted
