"""Ready replicas per component, read from the live Deployments and StatefulSets of a render."""

from __future__ import annotations

from typing import Any

from ..kinds import kind_of
from ..kube import KubeClient
from ..render import Rendered

__all__ = ["observe"]


def _component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("labels", {}).get("app.kubernetes.io/component") or obj["metadata"]["name"])


def _check(rendered_obj: dict[str, Any], live: dict[str, Any] | None) -> tuple[int, int, str | None]:
    """(ready, desired, why not ready or None)."""
    desired = int(((live or {}).get("spec") or {}).get("replicas", rendered_obj["spec"].get("replicas", 1)))
    if live is None:
        return 0, desired, "not created yet"
    st = live.get("status") or {}
    ready = int(st.get("readyReplicas") or 0)
    if int(st.get("observedGeneration") or 0) < int(live["metadata"].get("generation") or 0):
        return ready, desired, "change not observed by its controller yet"
    if rendered_obj["kind"] == "Deployment":  # the checks of `kubectl rollout status`
        updated = int(st.get("updatedReplicas") or 0)
        if updated < desired:
            return ready, desired, f"{updated}/{desired} updated"
        if int(st.get("replicas") or 0) > updated:
            return ready, desired, f"{int(st.get('replicas') or 0) - updated} old replica(s) terminating"
        if int(st.get("availableReplicas") or 0) < updated:
            return ready, desired, f"{st.get('availableReplicas') or 0}/{updated} available"
    if rendered_obj["kind"] == "StatefulSet" and st.get("updateRevision") and \
            st.get("currentRevision") != st.get("updateRevision"):
        return ready, desired, "rolling to a new revision"
    if ready < desired:
        return ready, desired, f"{ready}/{desired} ready"
    return ready, desired, None


async def observe(client: KubeClient, rendered: Rendered
                  ) -> tuple[dict[str, dict[str, int]], list[str], list[tuple[str, str]]]:
    """{component: {ready, desired}}, for each component not ready why, and the (kind, name) of the
    workloads that do not exist."""
    components: dict[str, dict[str, int]] = {}
    waiting: list[str] = []
    missing: list[tuple[str, str]] = []
    for obj in rendered.objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        meta = obj["metadata"]
        live = await client.get(kind_of(obj), meta["namespace"], meta["name"])
        ready, desired, why = _check(obj, live)
        name = _component(obj)
        components[name] = {"ready": ready, "desired": desired}
        if why:
            waiting.append(f"{name}: {why}")
        if live is None:
            missing.append((obj["kind"], meta["name"]))
    return components, waiting, missing
