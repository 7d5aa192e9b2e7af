"""TrackerInstance spec -> values of charts/runyard (pure; no cluster, no helm).

The spec is the CRD's, defaulted and validated (schema.py). The size preset gives every component its
replicas, autoscaling and resources; `spec.components.<name>` overrides them. docs/operator.md has the
preset table.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["COMPONENTS", "PRESETS", "instance_url", "to_values"]

COMPONENTS = ("ingest", "query", "auth", "artifact", "wandb", "frontdoor", "tensorboard", "transfers")


@dataclass(frozen=True)
class Preset:
    replicas: int
    autoscale: tuple[int, int] | None  # (min, max) with a HorizontalPodAutoscaler, or fixed replicas
    cpu: str
    memory: str
    memory_limit: str


PRESETS: dict[str, dict[str, Preset]] = {
    "small": {
        "ingest": Preset(1, None, "100m", "192Mi", "768Mi"),
        "query": Preset(1, None, "100m", "192Mi", "768Mi"),
        "auth": Preset(1, None, "50m", "128Mi", "384Mi"),
        "artifact": Preset(1, None, "50m", "128Mi", "512Mi"),
        "wandb": Preset(1, None, "50m", "128Mi", "512Mi"),
        "frontdoor": Preset(1, None, "150m", "256Mi", "1Gi"),
        "tensorboard": Preset(1, None, "100m", "512Mi", "2Gi"),
        "transfers": Preset(1, None, "50m", "192Mi", "768Mi"),
    },
    "medium": {
        "ingest": Preset(2, (2, 6), "250m", "256Mi", "1Gi"),
        "query": Preset(2, (2, 6), "200m", "256Mi", "1Gi"),
        "auth": Preset(2, None, "100m", "192Mi", "512Mi"),
        "artifact": Preset(2, None, "100m", "256Mi", "768Mi"),
        "wandb": Preset(2, None, "100m", "256Mi", "768Mi"),
        "frontdoor": Preset(2, (2, 6), "250m", "384Mi", "1536Mi"),
        "tensorboard": Preset(2, None, "200m", "768Mi", "3Gi"),
        "transfers": Preset(1, None, "100m", "256Mi", "1Gi"),
    },
    "large": {
        "ingest": Preset(3, (3, 12), "500m", "512Mi", "2Gi"),
        "query": Preset(3, (3, 12), "500m", "512Mi", "2Gi"),
        "auth": Preset(2, (2, 4), "200m", "256Mi", "768Mi"),
        "artifact": Preset(3, (3, 8), "250m", "384Mi", "1Gi"),
        "wandb": Preset(3, (3, 8), "250m", "384Mi", "1Gi"),
        "frontdoor": Preset(3, (3, 12), "500m", "768Mi", "2Gi"),
        "tensorboard": Preset(2, (2, 6), "500m", "1Gi", "4Gi"),
        "transfers": Preset(2, None, "250m", "384Mi", "2Gi"),
    },
}

# Internal load balancers per platform (Services of type LoadBalancer that are reached only in the VPC).
_INTERNAL_LB = {
    "eks": {
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    },
    "gke": {"networking.gke.io/load-balancer-type": "Internal"},
}


def instance_url(spec: dict[str, Any]) -> str:
    """Where users and SDKs reach the instance (`runyard login --host URL`)."""
    host = spec["hostname"]
    if spec["exposure"]["type"] == "LoadBalancer":
        return f"http://{host}:8080"
    return f"{'https' if spec['tls']['enabled'] else 'http'}://{host}"


def _component(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    preset = PRESETS[spec["size"]][name]
    override = spec.get("components", {}).get(name, {})
    replicas = override.get("replicas", preset.replicas)
    low, high = preset.autoscale or (replicas, max(replicas, preset.replicas * 3))
    autoscale = preset.autoscale is not None and "replicas" not in override  # fixed replicas turn the HPA off
    wanted = override.get("autoscaling", {})
    autoscale = wanted.get("enabled", autoscale)
    low = wanted.get("minReplicas", low)
    high = max(wanted.get("maxReplicas", high), low)
    resources: dict[str, Any] = {
        "requests": {"cpu": preset.cpu, "memory": preset.memory},
        "limits": {"memory": preset.memory_limit},
    }
    for part in ("requests", "limits"):
        resources[part].update(override.get("resources", {}).get(part, {}))
    spread = spec["size"] != "small"
    return {
        "replicas": replicas,
        "resources": resources,
        "autoscaling": {"enabled": autoscale, "minReplicas": low, "maxReplicas": high},
        "pdb": {"enabled": spread},
        "topologySpread": {"enabled": spread},
    }


def _persistence(storage: dict[str, Any]) -> dict[str, Any]:
    return {"size": storage["size"], "storageClass": storage["storageClassName"]}


def to_values(spec: dict[str, Any]) -> dict[str, Any]:
    """The chart values for a defaulted, valid spec."""
    spec = copy.deepcopy(spec)
    lb = spec["exposure"]["type"] == "LoadBalancer"
    platform = spec["platform"]
    host = spec["hostname"]
    image = spec["image"]
    db, redis, store = spec["database"], spec["redis"], spec["objectStore"]
    egress = spec["egressCIDRs"]
    monitoring = spec["monitoring"]
    oidc = spec.get("oidc", {})

    values: dict[str, Any] = {
        "platform": platform,
        "hostname": host,
        "tls": {"enabled": spec["tls"]["enabled"], "secretName": spec["tls"]["secretName"]},
        "image": {"repository": image["repository"], "tag": spec["version"], "pullPolicy": image["pullPolicy"]},
        "imagePullSecrets": list(image.get("pullSecrets", [])),
        "serviceAccount": {
            "awsRoleArn": spec["serviceAccount"]["awsRoleArn"],
            "gcpServiceAccount": spec["serviceAccount"]["gcpServiceAccount"],
        },
        "migrations": {"enabled": True},
    }
    for name in COMPONENTS:
        values[name] = _component(name, spec)
        values[name]["enabled"] = (name == "frontdoor") == lb or name == "ingest"
    # TensorBoard: its own Deployment behind the Ingress, or inside the front door with a LoadBalancer
    values["tensorboard"]["enabled"] = spec.get("components", {}).get("tensorboard", {}).get("enabled", True)
    # copy jobs: their own Deployment in both exposures (its pods run the copies; the front door, when there
    # is one, answers their routes)
    values["transfers"]["enabled"] = spec.get("components", {}).get("transfers", {}).get("enabled", True)

    values["ingest"]["service"] = {"type": "ClusterIP"}
    values["ingress"] = {
        "enabled": not lb,
        "controller": spec["exposure"]["controller"],
        "className": spec["exposure"]["ingressClassName"],
        "annotations": dict(spec["exposure"].get("annotations", {})) if not lb else {},
        "externalDns": platform != "kind",
        "grpc": {"enabled": spec["tls"]["enabled"] and not lb},
    }
    if lb:
        # two internal L4 load balancers: HTTP (the front door) at HOSTNAME:8080, gRPC at ingest.HOSTNAME:8081
        annotations = {**_INTERNAL_LB.get(platform, {}), **spec["exposure"].get("annotations", {})}
        if platform != "kind":
            annotations["external-dns.alpha.kubernetes.io/hostname"] = host
        values["frontdoor"]["service"] = {"type": "LoadBalancer", "annotations": annotations}
        values["ingest"]["service"] = {
            "type": "LoadBalancer",
            "internal": True,
            "annotations": dict(spec["exposure"].get("annotations", {})),
            "loadBalancerSourceRanges": list(spec.get("allowedCIDRs", [])),
            "hostname": f"ingest.{host}" if platform != "kind" else "",
        }
        values["ingest"]["public"] = {"address": f"ingest.{host}:8081", "tls": False}

    values["auth"]["oidc"] = {
        "issuer": oidc.get("issuer", ""),
        "clientId": oidc.get("clientId", ""),
        "existingSecret": oidc.get("secretRef", {}).get("name", ""),
        "secretKey": oidc.get("secretRef", {}).get("key", "client-secret"),
        "allowedDomains": list(oidc.get("allowedDomains", [])),
    }

    values["postgresql"] = {
        "bundled": {"enabled": db["bundled"], "persistence": _persistence(db["storage"])},
        "external": {
            "existingSecret": db.get("secretRef", {}).get("name", ""),
            "secretKey": db.get("secretRef", {}).get("key", "database-url"),
        },
    }
    values["redis"] = {
        "enabled": redis["enabled"],
        "bundled": {"enabled": redis["enabled"] and redis["bundled"], "persistence": _persistence(redis["storage"])},
        "external": {
            "existingSecret": redis.get("secretRef", {}).get("name", ""),
            "secretKey": redis.get("secretRef", {}).get("key", "redis-url"),
        },
    }
    secret = store.get("secretRef", {})
    values["bucket"] = {
        "name": store["bucket"],
        "region": store["region"],
        "bundled": {
            "enabled": store["bundled"],
            "publicEndpoint": store["publicEndpoint"] if store["bundled"] else "",
            "publicHostname": store["publicHostname"] if store["bundled"] else "",
            "persistence": _persistence(store["storage"]),
        },
        "external": {
            "endpoint": store["endpoint"],
            "publicEndpoint": store["publicEndpoint"] if not store["bundled"] else "",
            "credentials": store["credentials"],
            "existingSecret": secret.get("name", ""),
            "accessKeyKey": secret.get("accessKeyKey", "access-key"),
            "secretKeyKey": secret.get("secretKeyKey", "secret-key"),
        },
    }

    allowed_cidrs = list(spec.get("allowedCIDRs", []))
    allowed_namespaces = list(spec.get("allowedNamespaces", []))
    values["networkPolicy"] = {
        "enabled": bool(allowed_cidrs or allowed_namespaces),
        "allowedCIDRs": allowed_cidrs,
        "allowedNamespaces": allowed_namespaces,
        "egress": {
            "postgresql": {"cidrs": list(egress.get("database", [])), "ports": [5432]},
            "redis": {"cidrs": list(egress.get("redis", [])), "ports": [6379]},
            "bucket": {"cidrs": list(egress.get("objectStore", [])), "ports": [443]},
            "oidc": {"cidrs": list(egress.get("oidc", [])), "ports": [443]},
            "extra": {"cidrs": list(egress.get("extra", [])), "ports": [443]},
        },
    }
    labels = dict(monitoring.get("labels", {}))
    values["monitoring"] = {
        "serviceMonitor": {"enabled": monitoring["serviceMonitor"], "labels": labels},
        "prometheusRule": {"enabled": monitoring["prometheusRule"], "labels": labels},
        "grafanaDashboard": {"enabled": monitoring["grafanaDashboard"]},
    }
    return values


# Chart value paths -> the spec fields they come from, so that a message of the chart's validateValues
# names what the user wrote. Longest prefix first.
CHART_TO_SPEC: list[tuple[str, str]] = [
    ("networkPolicy.egress.postgresql", "spec.egressCIDRs.database"),
    ("networkPolicy.egress.redis", "spec.egressCIDRs.redis"),
    ("networkPolicy.egress.bucket", "spec.egressCIDRs.objectStore"),
    ("networkPolicy.egress.oidc", "spec.egressCIDRs.oidc"),
    ("networkPolicy.allowedCIDRs / allowedNamespaces", "spec.allowedCIDRs / spec.allowedNamespaces"),
    ("postgresql.external.existingSecret", "spec.database.secretRef.name"),
    ("redis.external", "spec.redis.secretRef"),
    ("bucket.external.existingSecret", "spec.objectStore.secretRef"),
    ("bucket.external.endpoint", "spec.objectStore.endpoint"),
    ("bucket.external.credentials", "spec.objectStore.credentials"),
    ("bucket.bundled.publicHostname", "spec.objectStore.publicHostname"),
    ("auth.oidc.clientId", "spec.oidc.clientId"),
    ("auth.oidc.existingSecret", "spec.oidc.secretRef"),
    ("serviceAccount.awsRoleArn", "spec.serviceAccount.awsRoleArn"),
    ("ingress.grpc.enabled", "spec.tls.enabled"),
    ("hostname", "spec.hostname"),
]
