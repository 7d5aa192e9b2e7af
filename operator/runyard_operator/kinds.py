"""Every Kubernetes kind the operator touches, with its API path and the stage it is applied in.

This table is the operator's whole reach: the client builds URLs from it, the operator chart's RBAC grants
exactly these (tests/operator checks the ClusterRole against it), and a rendered kind missing here fails
the render instead of being applied blindly.

Stages, in order: `base` (identity, config, credentials, Services, NetworkPolicies, the bundled stores),
then the migration Job when an install or upgrade needs it, `workloads` (the services roll), `routes`
(Ingress/Gateway routes and monitors, once there is something to route to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "STAGES", "Kind", "kind_of", "lookup"]

STAGES = ("base", "hooks", "workloads", "routes", "other")


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True
    stage: str = "other"
    verbs: tuple[str, ...] = ("get", "list", "create", "patch", "delete")  # what the operator does with it

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


_APPLY = ("get", "list", "create", "patch", "delete")
KINDS: dict[str, Kind] = {
    f"{k.api_version}/{k.kind}": k
    for k in (
        Kind("v1", "ServiceAccount", "serviceaccounts", stage="base"),
        Kind("v1", "Secret", "secrets", stage="base"),
        Kind("v1", "ConfigMap", "configmaps", stage="base"),
        Kind("v1", "Service", "services", stage="base"),
        Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", stage="base"),
        Kind("apps/v1", "StatefulSet", "statefulsets", stage="base"),
        Kind("apps/v1", "Deployment", "deployments", stage="workloads"),
        Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", stage="workloads"),
        Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", stage="workloads"),
        Kind("batch/v1", "CronJob", "cronjobs", stage="workloads"),
        Kind("batch/v1", "Job", "jobs", stage="hooks"),
        Kind("networking.k8s.io/v1", "Ingress", "ingresses", stage="routes"),
        Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", stage="routes"),
        Kind("gateway.networking.k8s.io/v1", "GRPCRoute", "grpcroutes", stage="routes"),
        Kind("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors", stage="routes"),
        Kind("monitoring.coreos.com/v1", "PodMonitor", "podmonitors", stage="routes"),
        Kind("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules", stage="routes"),
        # not rendered: the bundled stores' volumes (retention on delete) and kopf's own needs
        Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims", verbs=("list", "delete")),
        Kind("v1", "Event", "events", verbs=("create",)),
        Kind("runyard.io/v1alpha1", "TrackerInstance", "trackerinstances", verbs=("get", "list", "watch", "patch")),
    )
}


def lookup(api_version: str, kind: str) -> Kind:
    try:
        return KINDS[f"{api_version}/{kind}"]
    except KeyError:
        raise KeyError(f"{api_version} {kind} is not a kind the runyard operator applies (kinds.py)") from None


def kind_of(obj: dict[str, Any]) -> Kind:
    return lookup(obj["apiVersion"], obj["kind"])
