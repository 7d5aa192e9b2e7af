"""spec -> chart values -> manifests, without a cluster: the size presets and overrides, the store,
exposure and network choices, and every render of a spec matrix validated with kubernetes-validate
(strict) for the oldest and newest Kubernetes the chart claims."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runyard_operator import Rendered, apply_defaults, render, spec_schema, to_values
from runyard_operator.errors import SpecError
from runyard_operator.handlers.versions import parse_version, plan
from runyard_operator.kinds import KINDS

from .conftest import ROOT, helm_or_skip

pytestmark = pytest.mark.operator

K8S_VERSIONS = ("1.28.0", "1.37.0")
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "HTTPRoute", "GRPCRoute"}
EXAMPLES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "operator" / "examples").glob("*.yaml"))}
BASE = {"version": "0.1.0", "hostname": "runyard-vision.ml.internal", "database": {"bundled": True},
        "objectStore": {"bundled": True}}

# spec name -> spec (defaulted by the CRD's schema before use)
MATRIX: dict[str, dict[str, Any]] = {
    **{f"example-{name}": body["spec"] for name, body in EXAMPLES.items()},
    "large": {**BASE, "size": "large"},
    "loadbalancer-eks": {**BASE, "platform": "eks", "tls": {"enabled": False}, "exposure": {"type": "LoadBalancer"},
                         "allowedCIDRs": ["10.20.0.0/16"]},
    "loadbalancer-gke": {**BASE, "platform": "gke", "tls": {"enabled": False}, "exposure": {"type": "LoadBalancer"}},
    "no-tensorboard": {**BASE, "components": {"tensorboard": {"enabled": False}}},
    "external-gcs-oidc": {**BASE, "platform": "gke", "database": {"secretRef": {"name": "db", "key": "dsn"}},
                          "redis": {"enabled": False},
                          "objectStore": {"endpoint": "https://storage.googleapis.com", "bucket": "acme-runyard",
                                          "secretRef": {"name": "gcs-hmac"}},
                          "oidc": {"issuer": "https://sso.ml.internal", "clientId": "runyard",
                                   "secretRef": {"name": "oidc"}, "allowedDomains": ["acme.com"]},
                          "tls": {"secretName": "runyard-tls"}},
}


def _spec(name: str) -> dict[str, Any]:
    return apply_defaults(spec_schema(), MATRIX[name])  # type: ignore[no-any-return]


@functools.cache
def _rendered(name: str) -> Rendered:
    from runyard_operator.config import load_config

    helm_or_skip()
    config = load_config()
    return render(_spec(name), name="vision", namespace="ml-vision", chart=config.chart, helm=config.helm)


def _docs(r: Rendered) -> list[dict[str, Any]]:
    return [*(h.obj for h in r.hooks), *r.objects]


def _one(r: Rendered, kind: str, name: str) -> dict[str, Any]:
    (obj,) = [d for d in _docs(r) if d["kind"] == kind and d["metadata"]["name"] == name]
    return obj


# ---- values (pure) -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "ingest", "auth"), [
    ("small", (1, False), (1, False)), ("medium", (2, True), (2, False)), ("large", (3, True), (2, True)),
])
def test_size_presets(size: str, ingest: tuple[int, bool], auth: tuple[int, bool]) -> None:
    values = to_values(apply_defaults(spec_schema(), {**BASE, "size": size}))
    for component, (replicas, hpa) in (("ingest", ingest), ("auth", auth)):
        assert values[component]["replicas"] == replicas
        assert values[component]["autoscaling"]["enabled"] is hpa
        assert values[component]["topologySpread"]["enabled"] is (size != "small")


def test_component_overrides_win_over_the_preset() -> None:
    spec = apply_defaults(spec_schema(), {**BASE, "size": "medium", "components": {
        "query": {"replicas": 4, "resources": {"limits": {"memory": "3Gi"}}},
        "ingest": {"autoscaling": {"minReplicas": 3, "maxReplicas": 9}},
        "artifact": {"autoscaling": {"enabled": True, "maxReplicas": 5}},
    }})
    values = to_values(spec)
    assert values["query"]["replicas"] == 4 and values["query"]["autoscaling"]["enabled"] is False
    assert values["query"]["resources"] == {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "3Gi"}}
    assert values["ingest"]["autoscaling"] == {"enabled": True, "minReplicas": 3, "maxReplicas": 9}
    assert values["artifact"]["autoscaling"] == {"enabled": True, "minReplicas": 2, "maxReplicas": 5}


def test_tensorboard_component_preset_override_and_switch() -> None:
    values = to_values(apply_defaults(spec_schema(), {**BASE, "size": "large", "components": {
        "tensorboard": {"replicas": 3, "resources": {"limits": {"memory": "6Gi"}}}}}))
    assert values["tensorboard"]["enabled"] is True and values["tensorboard"]["replicas"] == 3
    assert values["tensorboard"]["autoscaling"]["enabled"] is False  # fixed replicas turn the HPA off
    assert values["tensorboard"]["resources"]["limits"] == {"memory": "6Gi"}
    assert to_values(apply_defaults(spec_schema(), {**BASE, "size": "large"}))["tensorboard"]["autoscaling"] == {
        "enabled": True, "minReplicas": 2, "maxReplicas": 6}
    off = to_values(apply_defaults(spec_schema(), MATRIX["no-tensorboard"]))
    assert off["tensorboard"]["enabled"] is False


def test_tensorboard_renders_as_its_own_deployment_inside_the_front_door_or_not_at_all() -> None:
    route = [p for p in _one(_rendered("example-minimal"), "Ingress", "vision-runyard-http")["spec"]["rules"][0][
        "http"]["paths"] if p["backend"]["service"]["name"] == "vision-runyard-tensorboard"]
    assert [p["path"] for p in route] == ["/tensorboard(/|$)"]
    off = _rendered("no-tensorboard")
    assert not [d for d in _docs(off) if "tensorboard" in d["metadata"]["name"]]
    front = _one(_rendered("loadbalancer-gke"), "Deployment", "vision-runyard-frontdoor")
    env = {e["name"]: e.get("value") for e in front["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "RUNYARD_TENSORBOARD_CACHE_BYTES" in env and "RUNYARD_TENSORBOARD_ENABLED" not in env


def test_external_stores_and_network_policy_values() -> None:
    values = to_values(apply_defaults(spec_schema(), EXAMPLES["production"]["spec"]))
    assert values["postgresql"]["bundled"]["enabled"] is False
    assert values["postgresql"]["external"] == {"existingSecret": "nlp-db", "secretKey": "database-url"}
    assert values["redis"]["external"]["existingSecret"] == "nlp-redis" and not values["redis"]["bundled"]["enabled"]
    assert values["bucket"]["external"]["credentials"] == "environment"
    assert values["bucket"]["name"] == "acme-runyard-nlp-eu-west-1"
    assert values["serviceAccount"]["awsRoleArn"] == "arn:aws:iam::123456789012:role/runyard-nlp-s3"
    assert values["networkPolicy"]["enabled"] is True
    assert values["networkPolicy"]["egress"]["postgresql"]["cidrs"] == ["10.20.32.0/20"]
    assert values["ingress"]["controller"] == "alb" and values["ingress"]["grpc"]["enabled"] is True
    assert values["monitoring"]["serviceMonitor"] == {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}
    minimal = to_values(apply_defaults(spec_schema(), EXAMPLES["minimal"]["spec"]))
    assert minimal["networkPolicy"]["enabled"] is False


def test_plan_install_upgrade_and_downgrade() -> None:
    spec = apply_defaults(spec_schema(), {**BASE, "version": "0.2.0"})
    assert plan(spec, {}).install and plan(spec, {}).migrate_events == {"pre-install"}
    upgrade = plan(spec, {"version": "0.1.0", "migration": {"version": "0.1.0"}})
    assert not upgrade.install and upgrade.migrate_events == {"pre-upgrade"}
    assert plan(spec, {"version": "0.1.0"}).migrate_events == {"pre-upgrade"}, "init-container install"
    assert plan(spec, {"version": "0.1.0", "migration": {"version": "0.2.0"}}).migrate_events == frozenset()
    with pytest.raises(SpecError) as refused:
        plan(spec, {"version": "0.3.0", "migration": {"version": "0.3.0"}})
    assert refused.value.reason == "DowngradeRefused"
    assert plan({**spec, "allowDowngrade": True}, {"version": "0.3.0", "migration": {"version": "0.3.0"}}).migrate_events == frozenset()
    assert parse_version("0.2.0-rc.1") < parse_version("0.2.0") < parse_version("0.10.0")
    assert parse_version("1.0.0-alpha") < parse_version("1.0.0-alpha.1") < parse_version("1.0.0-beta")


# ---- rendered manifests (real helm) -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MATRIX))
def test_render_validates_strictly(name: str) -> None:
    docs = _docs(_rendered(name))
    problems = []
    for doc in docs:
        assert f"{doc['apiVersion']}/{doc['kind']}" in KINDS
        if doc["kind"] in CRD_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{version} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_render_is_namespaced_labelled_and_free_of_helm_hooks(name: str) -> None:
    r = _rendered(name)
    for doc in _docs(r):
        meta = doc["metadata"]
        assert meta["namespace"] == "ml-vision"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "runyard-operator"
        assert meta["labels"]["app.kubernetes.io/instance"] == "vision"
        assert not [a for a in meta.get("annotations", {}) if a.startswith("helm.sh/")], meta["name"]
    assert [h.obj["metadata"]["name"] for h in r.hooks] == ["vision-runyard-migrate"]
    stages = [KINDS[f"{o['apiVersion']}/{o['kind']}"].stage for o in r.objects]
    assert stages == sorted(stages, key=["base", "hooks", "workloads", "routes", "other"].index), "apply order"


def test_hook_events_follow_the_database() -> None:
    bundled = _rendered("example-minimal").hooks[0].events
    external = _rendered("example-production").hooks[0].events
    assert bundled == {"pre-upgrade"}, "the bundled database does not exist before install"
    assert external == {"pre-install", "pre-upgrade"}


def test_minimal_example_renders_an_evaluation_instance() -> None:
    r = _rendered("example-minimal")
    assert {o["metadata"]["name"] for o in r.find("StatefulSet")} == {
        f"vision-runyard-{s}" for s in ("postgresql", "redis", "minio")}
    assert {o["metadata"]["name"] for o in r.find("Deployment")} == {
        f"vision-runyard-{c}" for c in ("ingest", "query", "auth", "artifact", "wandb", "tensorboard", "transfers")}
    ingress = _one(r, "Ingress", "vision-runyard-http")
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["runyard-vision.ml.internal",
                                                                   "s3.runyard-vision.ml.internal"]
    config = _one(r, "ConfigMap", "vision-runyard-config")["data"]
    assert config["RUNYARD_S3_PUBLIC_ENDPOINT"] == "https://s3.runyard-vision.ml.internal"
    dep = _one(r, "Deployment", "vision-runyard-ingest")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "runyard/runyard-server:0.1.0"
    assert not r.find("HorizontalPodAutoscaler") and not r.find("NetworkPolicy")


def test_production_example_renders_external_stores_and_policies() -> None:
    r = _rendered("example-production")
    assert not r.find("StatefulSet"), "no bundled store"
    # the one generated Secret: the key that encrypts remote instances' keys (copy jobs), created once
    assert [s["metadata"]["name"] for s in r.find("Secret")] == ["vision-runyard-secret-key"]
    env = {e["name"]: e for e in _one(r, "Deployment", "vision-runyard-query")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RUNYARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "nlp-db", "key": "database-url"}
    assert env["RUNYARD_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "nlp-redis", "key": "redis-url"}
    assert {o["metadata"]["name"] for o in r.find("HorizontalPodAutoscaler")} == {"vision-runyard-ingest", "vision-runyard-query"}
    assert _one(r, "HorizontalPodAutoscaler", "vision-runyard-ingest")["spec"]["minReplicas"] == 3
    assert r.find("NetworkPolicy") and r.find("ServiceMonitor") and r.find("PrometheusRule")
    sa = _one(r, "ServiceAccount", "vision-runyard")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/runyard-nlp-s3"
    assert _one(r, "Ingress", "vision-runyard-grpc")["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"]


@pytest.mark.parametrize(("name", "annotation"), [
    ("loadbalancer-eks", {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
    ("loadbalancer-gke", {"networking.gke.io/load-balancer-type": "Internal"}),
])
def test_internal_load_balancers(name: str, annotation: dict[str, str]) -> None:
    r = _rendered(name)
    assert not r.find("Ingress")
    assert {o["metadata"]["name"] for o in r.find("Deployment")} == {"vision-runyard-ingest", "vision-runyard-frontdoor",
                                                                     "vision-runyard-transfers"}
    for svc in ("vision-runyard-frontdoor", "vision-runyard-ingest"):
        obj = _one(r, "Service", svc)
        assert obj["spec"]["type"] == "LoadBalancer"
        assert annotation.items() <= obj["metadata"]["annotations"].items(), svc
    assert _one(r, "Service", "vision-runyard-frontdoor")["metadata"]["annotations"][
        "external-dns.alpha.kubernetes.io/hostname"] == "runyard-vision.ml.internal"
    config = _one(r, "ConfigMap", "vision-runyard-config")["data"]
    assert config["RUNYARD_PUBLIC_INGEST_ADDRESS"] == "ingest.runyard-vision.ml.internal:8081"


def test_the_chart_refusal_names_spec_fields() -> None:
    from runyard_operator.config import load_config

    config = load_config()
    spec = apply_defaults(spec_schema(), {**BASE, "database": {"secretRef": {"name": "db"}}, "allowedCIDRs": ["10.0.0.0/8"],
                                          "objectStore": {"endpoint": "https://s3.amazonaws.com", "credentials": "environment"}})
    with pytest.raises(SpecError) as refused:
        render(spec, name="vision", namespace="ml-vision", chart=config.chart, helm=config.helm)
    assert refused.value.reason == "RenderFailed"
    assert "spec.egressCIDRs.database.cidrs: list the address ranges of your PostgreSQL" in refused.value.message
    assert "spec.egressCIDRs.objectStore.cidrs" in refused.value.message
    assert "networkPolicy.egress" not in refused.value.message


def test_render_command_prints_the_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runyard_operator.cli import main

    helm_or_skip()
    assert main(["render", "-f", str(ROOT / "operator" / "examples" / "kind.yaml")]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert docs[0]["kind"] == "Job" and docs[0]["metadata"]["namespace"] == "runyard"
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"} == {
        f"demo-runyard-{c}" for c in ("ingest", "query", "auth", "artifact", "wandb", "tensorboard", "transfers")}
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({**EXAMPLES["minimal"], "spec": {**EXAMPLES["minimal"]["spec"], "size": "huge"}}))
    assert main(["render", "-f", str(bad)]) == 1
    assert "spec.size: 'huge' is not one of" in capsys.readouterr().err
