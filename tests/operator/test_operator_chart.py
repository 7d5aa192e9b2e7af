"""charts/runyard-operator: lint, strict validation, one replica with Recreate and kopf's liveness probe,
and RBAC that grants exactly what the operator touches (runyard_operator/kinds.py), nothing more."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from runyard_operator.kinds import KINDS

from .conftest import ROOT, helm_or_skip

pytestmark = pytest.mark.operator

CHART = ROOT / "charts" / "runyard-operator"


def _helm(*args: str) -> str:
    import subprocess

    proc = subprocess.run([helm_or_skip(), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _render(*sets: str) -> list[dict[str, Any]]:
    args = ["template", "ops", str(CHART), "--namespace", "runyard-system", "--include-crds"]
    for s in sets:
        args += ["--set", s]
    return [d for d in yaml.safe_load_all(_helm(*args)) if d]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def test_lint_strict() -> None:
    _helm("lint", "--strict", str(CHART))
    _helm("lint", "--strict", str(CHART), "--set", "watchNamespaces={ml-vision,ml-nlp}")


@pytest.mark.parametrize("sets", [(), ("watchNamespaces={ml-vision,ml-nlp}", "metrics.serviceMonitor.enabled=true")])
def test_manifests_validate_strictly(sets: tuple[str, ...]) -> None:
    for doc in _render(*sets):
        if doc["kind"] == "ServiceMonitor":
            continue
        for version in ("1.28.0", "1.37.0"):
            kubernetes_validate.validate(doc, version, strict=True)


def test_one_replica_recreate_liveness_and_settings() -> None:
    dep = _one(_render(), "Deployment")
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["runyard-operator"] and "--liveness=http://0.0.0.0:8080/healthz" in c["args"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"health": 8080, "metrics": 9090}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["RUNYARD_OPERATOR_NAMESPACES"] == "" and env["RUNYARD_OPERATOR_METRICS_PORT"] == "9090"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert pod["automountServiceAccountToken"] is True and pod["serviceAccountName"] == "ops-runyard-operator"
    assert dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9090"


def _granted(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_grants_exactly_what_the_operator_touches() -> None:
    role = _one(_render(), "ClusterRole")
    wanted = {(k.group, k.plural): set(k.verbs) for k in KINDS.values()}
    wanted[("runyard.io", "trackerinstances/status")] = {"get", "patch"}  # kopf writes the status
    wanted[("runyard.io", "trackerinstances/finalizers")] = {"update"}  # blockOwnerDeletion owner references
    assert _granted(role) == wanted
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
        assert "update" not in rule["verbs"] or rule["resources"] == ["trackerinstances/finalizers"]
    binding = _one(_render(), "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ops-runyard-operator", "namespace": "runyard-system"}]


def test_watch_namespaces_bind_only_those_namespaces() -> None:
    docs = _render("watchNamespaces={ml-vision,ml-nlp}")
    assert not [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"ml-vision", "ml-nlp"}
    assert all(b["roleRef"]["kind"] == "ClusterRole" for b in bindings)
    env = {e["name"]: e["value"] for e in _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RUNYARD_OPERATOR_NAMESPACES"] == "ml-vision,ml-nlp"


def test_the_crd_ships_in_crds() -> None:
    crds = [d for d in _render() if d["kind"] == "CustomResourceDefinition"]
    assert [c["metadata"]["name"] for c in crds] == ["trackerinstances.runyard.io"]


def test_bad_values_are_refused() -> None:
    import subprocess

    for sets, message in ((["logFormat=xml"], "at '/logFormat': value must be one of 'json', 'plain'"),
                          (["metrics.port=8080"], "metrics.port: 8080 is the liveness endpoint's port"),
                          (["watchNamespaces={ML_Vision}"], "at '/watchNamespaces/0'")):
        args = [helm_or_skip(), "template", "ops", str(CHART)]
        for s in sets:
            args += ["--set", s]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
