"""A Kubernetes API for the operator tests: kmock's emulator (an in-memory object store over HTTP with
list, watch, create, patch and delete) taught the few API-server behaviours the operator relies on.

kmock stores objects as given and merges patches. A real API server also:
- assigns `uid`, `creationTimestamp`, `generation` and `resourceVersion` on create, bumps
  `resourceVersion` on every write and `generation` when the spec changes (kopf and the readiness
  checks read them);
- creates a missing object on server-side apply (PATCH application/apply-patch+yaml).
`Cluster` adds exactly that; nothing else is simulated (no controllers, no garbage collection): the
tests play the controllers, marking Deployments rolled out and Jobs complete.

Only the resources the operator touches are declared (RESOURCES); anything else answers 404, as a
cluster without those CRDs (Prometheus Operator, Gateway API) does.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import kmock
from kmock._internal import dicts, enums

TI = "runyard.io/v1alpha1/trackerinstances"

# resource -> (kind, namespaced, verbs): what the operator applies or reads, kopf's events, and
# namespaces (kopf discovers it; it never lists it when watching every namespace)
RESOURCES: dict[str, tuple[str, bool, set[str]]] = {
    TI: ("TrackerInstance", True, {"get", "list", "watch", "patch"}),
    "v1/secrets": ("Secret", True, {"get", "list", "create", "patch", "delete"}),
    "v1/configmaps": ("ConfigMap", True, {"get", "list", "create", "patch", "delete"}),
    "v1/services": ("Service", True, {"get", "list", "create", "patch", "delete"}),
    "v1/serviceaccounts": ("ServiceAccount", True, {"get", "list", "create", "patch", "delete"}),
    "v1/persistentvolumeclaims": ("PersistentVolumeClaim", True, {"list", "delete"}),
    "v1/events": ("Event", True, {"create"}),
    "v1/namespaces": ("Namespace", False, {"list", "watch"}),
    "apps/v1/deployments": ("Deployment", True, {"get", "list", "create", "patch", "delete"}),
    "apps/v1/statefulsets": ("StatefulSet", True, {"get", "list", "create", "patch", "delete"}),
    "batch/v1/jobs": ("Job", True, {"get", "list", "create", "patch", "delete"}),
    "batch/v1/cronjobs": ("CronJob", True, {"get", "list", "create", "patch", "delete"}),
    "autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscaler", True, {"get", "list", "create", "patch", "delete"}),
    "policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", True, {"get", "list", "create", "patch", "delete"}),
    "networking.k8s.io/v1/ingresses": ("Ingress", True, {"get", "list", "create", "patch", "delete"}),
    "networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", True, {"get", "list", "create", "patch", "delete"}),
}


class Cluster(kmock.KubernetesEmulator):
    """kmock's emulator with uids, generations, resource versions and create-on-apply."""

    _versions = itertools.count(1)

    async def _handle(self, request: Any) -> Any:
        if request.resource is not None and isinstance(request.data, dict):
            key = (request.resource, request.namespace, request.name)
            exists = request.name is not None and key in self.objects and not self.objects[key].deleted
            apply = request.headers.get("Content-Type", "").startswith("application/apply-patch")
            meta = request.data.setdefault("metadata", {})
            if request.action == enums.action.CREATE or (request.action == enums.action.UPDATE and apply and not exists):
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now())
                meta.setdefault("generation", 1)
                if request.namespace:
                    meta.setdefault("namespace", request.namespace)
            elif request.action == enums.action.UPDATE and exists and request.subresource is None:
                old = self.objects[key].raw
                new = dicts.merge_patch_dict(old, request.data)
                if new.get("spec") != old.get("spec"):
                    meta["generation"] = int(old.get("metadata", {}).get("generation") or 1) + 1
            if request.action in (enums.action.CREATE, enums.action.UPDATE):
                meta["resourceVersion"] = str(next(self._versions))
            if request.action == enums.action.UPDATE and apply and not exists:
                # server-side apply of a missing object creates it; the PATCH then finds it
                async with self._lock:
                    self.objects[key] = request.data
                    await self._buses[request.resource].put({"type": "ADDED", "object": self.objects[key].raw})
        return await super()._handle(request)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def declare(cluster: Cluster) -> None:
    for resource, (kind, namespaced, verbs) in RESOURCES.items():
        cluster.resources[resource] = kmock.ResourceInfo(
            kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=verbs,
            subresources={"status"} if resource == TI else set(),
        )


def live(cluster: Cluster, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    """The object as the API would answer now (None: absent or deleted)."""
    key = (kmock.resource(resource), namespace, name)
    if key not in cluster.objects or cluster.objects[key].deleted:
        return None
    return cluster.objects[key].raw  # type: ignore[no-any-return]


def all_of(cluster: Cluster, resource: str, namespace: str) -> dict[str, dict[str, Any]]:
    """name -> object, for the live objects of one resource in one namespace."""
    out = {}
    wanted = kmock.resource(resource)
    for (res, ns, name), obj in cluster.objects.items():
        if res == wanted and ns == namespace and not obj.deleted:
            out[name] = obj.raw
    return out


def condition(body: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return cond  # type: ignore[no-any-return]
    return {}


async def until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and the last value)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def mark_rolled_out(cluster: Cluster, namespace: str) -> list[str]:
    """Play the Deployment and StatefulSet controllers: every pod of the current spec is ready."""
    done = []
    for resource in ("apps/v1/deployments", "apps/v1/statefulsets"):
        for name, obj in all_of(cluster, resource, namespace).items():
            replicas = int(obj.get("spec", {}).get("replicas", 1))
            generation = int(obj["metadata"].get("generation", 1))
            cluster.objects[resource, namespace, name].patch({"status": {
                "observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                "updatedReplicas": replicas, "availableReplicas": replicas,
            }})
            done.append(name)
    return done


def mark_job(cluster: Cluster, namespace: str, name: str, *, failed: bool = False) -> None:
    """Play the Job controller: the Job completed (or failed for good)."""
    stamp = now()
    cond = ({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit", "lastTransitionTime": stamp} if failed else
            {"type": "Complete", "status": "True", "lastTransitionTime": stamp})
    status = {"conditions": [cond], "failed" if failed else "succeeded": 1}
    if not failed:
        status["completionTime"] = stamp
    cluster.objects["batch/v1/jobs", namespace, name].patch({"status": status})


def instance(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    """A TrackerInstance body; the spec defaults to a fully bundled evaluation instance."""
    body = {"version": "0.1.0", "hostname": f"runyard-{name}.ml.internal", "database": {"bundled": True},
            "objectStore": {"bundled": True}}
    body.update(spec)
    return {"apiVersion": "runyard.io/v1alpha1", "kind": "TrackerInstance",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}
