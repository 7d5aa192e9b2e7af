"""The TrackerInstance CRD: a valid, structural CustomResourceDefinition; its chart copy is fresh; every
example CR passes the CRD's own openAPIV3Schema (JSON schema, after the API server's defaulting) and its
CEL rules; invalid and immutable changes are refused with the CRD's messages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from runyard_operator import apply_defaults, crd, spec_schema, validate_spec
from runyard_operator.cli import main as cli

from .cel import cel_violations

pytestmark = pytest.mark.operator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "operator" / "examples").glob("*.yaml"))
CHART_CRD = ROOT / "charts" / "runyard-operator" / "crds" / "trackerinstances.runyard.io.yaml"


def _version() -> dict[str, Any]:
    (version,) = crd()["spec"]["versions"]
    return version  # type: ignore[no-any-return]


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, schema)]
    for key, sub in (schema.get("properties") or {}).items():
        out += _walk(sub, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        out += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out += _walk(schema["additionalProperties"], f"{path}{{}}")
    return out


@pytest.mark.parametrize("k8s", ["1.28.0", "1.37.0"])
def test_crd_is_a_valid_custom_resource_definition(k8s: str) -> None:
    kubernetes_validate.validate(crd(), k8s, strict=True)


def test_crd_is_structural_and_its_defaults_validate() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path or '/'} has no type"
        assert not ("properties" in node and "additionalProperties" in node), f"{path}: properties and additionalProperties"
        if "default" in node:
            jsonschema.validate(apply_defaults(node, node["default"]), {k: v for k, v in node.items() if k != "default"})
        if node.get("type") == "array":
            assert "maxItems" in node or path.startswith(".status"), f"{path}: CEL cost needs maxItems"
        if node.get("type") == "string" and path.startswith(".spec") and "enum" not in node:
            assert "maxLength" in node, f"{path}: CEL cost needs maxLength"


def test_crd_names_columns_and_status() -> None:
    spec = crd()["spec"]
    assert spec["group"] == "runyard.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["ti"] and spec["names"]["kind"] == "TrackerInstance"
    version = _version()
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Version"] == ".status.version" and columns["URL"] == ".status.url"
    assert columns["Age"] == ".metadata.creationTimestamp"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {"conditions", "observedGeneration", "version", "url", "components", "migration"} <= set(status)


def test_chart_copy_of_the_crd_is_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["crd"]) == 0
    assert CHART_CRD.read_text() == capsys.readouterr().out, "run `make operator-crd`"
    assert yaml.safe_load(CHART_CRD.read_text()) == crd()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_passes_the_crd_schema_and_rules(path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    assert body["apiVersion"] == "runyard.io/v1alpha1" and body["kind"] == "TrackerInstance"
    full = _version()["schema"]["openAPIV3Schema"]
    defaulted = apply_defaults(full, body)
    assert validate_spec(defaulted["spec"]) == []
    assert cel_violations(spec_schema(), defaulted["spec"]) == []
    assert cel_violations(spec_schema(), defaulted["spec"], old=defaulted["spec"]) == [], "an unchanged spec is valid"


def _minimal() -> dict[str, Any]:
    body = yaml.safe_load((ROOT / "operator" / "examples" / "minimal.yaml").read_text())
    return body["spec"]  # type: ignore[no-any-return]


def _set(spec: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    node = out
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(("change", "message"), [
    ({"size": "huge"}, "spec.size: 'huge' is not one of ['small', 'medium', 'large']"),
    ({"version": "latest"}, "spec.version: 'latest' does not match"),
    ({"hostname": "Runyard_Vision"}, "spec.hostname: 'Runyard_Vision' does not match"),
    ({"replicas": 3}, "spec: unknown field(s) ('replicas' was unexpected)"),
    ({"database.secretRef": {"name": "db", "keey": "x"}}, "spec.database.secretRef: unknown field(s)"),
    ({"components.ingest.replicas": 0}, "spec.components.ingest.replicas: 0 is less than the minimum of 1"),
    ({"allowedCIDRs": ["10.0.0.0"]}, "spec.allowedCIDRs[0]: '10.0.0.0' does not match"),
    ({"retention": "Keep"}, "spec.retention: 'Keep' is not one of ['Retain', 'Delete']"),
])
def test_schema_refuses_with_the_field_named(change: dict[str, Any], message: str) -> None:
    spec = _minimal()
    for dotted, value in change.items():
        spec = _set(spec, dotted, value)
    problems = validate_spec(apply_defaults(spec_schema(), spec))
    assert any(p.startswith(message) for p in problems), problems


@pytest.mark.parametrize(("change", "message"), [
    ({"database.secretRef": {"name": "db"}}, "set exactly one of database.bundled: true (evaluation) or database.secretRef"),
    ({"database.bundled": None}, "set exactly one of database.bundled: true (evaluation) or database.secretRef"),
    ({"objectStore.endpoint": "https://s3.eu-west-1.amazonaws.com"}, "set exactly one of objectStore.bundled"),
    ({"objectStore.bundled": None, "objectStore.endpoint": "https://s3.amazonaws.com"}, "objectStore.secretRef: name the Secret"),
    ({"exposure.type": "LoadBalancer"}, "tls.enabled needs exposure.type Ingress"),
    ({"redis.bundled": False}, "set exactly one of redis.bundled: true or redis.secretRef"),
    ({"oidc": {"issuer": "https://sso.ml.internal", "clientId": "runyard"}}, "oidc.secretRef: name the Secret"),
    ({"components.query.autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "autoscaling.minReplicas must not exceed"),
])
def test_cel_rules_refuse_impossible_specs(change: dict[str, Any], message: str) -> None:
    spec = _minimal()
    for dotted, value in change.items():
        spec = _set(spec, dotted, value)
    broken = cel_violations(spec_schema(), apply_defaults(spec_schema(), spec))
    assert any(message in b for b in broken), broken


@pytest.mark.parametrize(("change", "message"), [
    ({"database.storage": {"storageClassName": "gp3"}}, "storage.size and storage.storageClassName cannot change"),
    ({"objectStore.storage": {"size": "50Gi"}}, "storage.size and storage.storageClassName cannot change"),
    ({"database.bundled": None, "database.secretRef": {"name": "db"}}, "database.bundled cannot change after creation"),
])
def test_immutable_fields_are_refused_on_update(change: dict[str, Any], message: str) -> None:
    old = apply_defaults(spec_schema(), _minimal())
    new = copy.deepcopy(old)
    for dotted, value in change.items():
        new = _set(new, dotted, value)
    new = apply_defaults(spec_schema(), new)
    assert cel_violations(spec_schema(), new) == [] or "bundled" in message, "valid on create"
    broken = cel_violations(spec_schema(), new, old=old)
    assert any(message in b for b in broken), broken
    allowed = _set(old, "version", "0.2.0")
    assert cel_violations(spec_schema(), allowed, old=old) == [], "version, size and the rest may change"


def test_every_operator_setting_is_documented() -> None:
    from runyard_operator.config import OperatorConfig

    text = (ROOT / "docs" / "operator.md").read_text()
    missing = [f"RUNYARD_OPERATOR_{n.upper()}" for n in OperatorConfig.model_fields
               if f"`RUNYARD_OPERATOR_{n.upper()}`" not in text]
    assert not missing, f"add these to docs/operator.md: {missing}"
