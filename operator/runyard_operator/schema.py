"""The TrackerInstance CRD (crd/trackerinstances.runyard.io.yaml) as data: names, the spec schema, and
defaulting and validation done the way the API server does them.

The API server already defaults and validates every object it stores. The operator does both again on the
spec it receives, with the same schema, so that an object stored under an older CRD (or written with
validation off) is refused with a message naming the field, never half-applied. The CRD's CEL rules
(`x-kubernetes-validations`, cross-field and immutability rules) are the API server's to enforce.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import jsonschema
import yaml

__all__ = ["GROUP", "KIND", "PLURAL", "VERSION", "apply_defaults", "crd", "crd_yaml", "spec_schema", "validate_spec"]

GROUP = "runyard.io"
VERSION = "v1alpha1"
PLURAL = "trackerinstances"
KIND = "TrackerInstance"


def crd_yaml() -> str:
    """The CRD source text (YAML with anchors)."""
    return (resources.files("runyard_operator") / "crd" / f"{PLURAL}.{GROUP}.yaml").read_text()


@functools.cache
def _crd() -> dict[str, Any]:
    return yaml.safe_load(crd_yaml())  # type: ignore[no-any-return]


def crd() -> dict[str, Any]:
    """The CRD as a plain dict (anchors expanded); a copy, safe to change."""
    return copy.deepcopy(_crd())


def _version_schema() -> dict[str, Any]:
    (version,) = [v for v in _crd()["spec"]["versions"] if v["name"] == VERSION]
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def spec_schema() -> dict[str, Any]:
    return _version_schema()["properties"]["spec"]  # type: ignore[no-any-return]


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: a missing property with a `default` gets it (then
    its own nested defaults), present objects and array items are walked. Returns a new value."""
    value = copy.deepcopy(value)
    _default(schema, value)
    return value


def _default(schema: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        props = schema.get("properties")
        if props:
            for key, sub in props.items():
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                if key in value:
                    _default(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for item in value.values():
                _default(extra, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused (the API server's strict field validation, which kubectl
    uses by default) and the Kubernetes-only keywords dropped."""
    out: dict[str, Any] = {}
    for key, sub in schema.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: _strict(s) for name, s in sub.items()}
        elif key in ("items", "additionalProperties") and isinstance(sub, dict):
            out[key] = _strict(sub)
        else:
            out[key] = sub
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = _strict(spec_schema())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)  # type: ignore[no-any-return]


def validate_spec(spec: Any) -> list[str]:
    """Every structural problem of a (defaulted) spec, each naming its field: `spec.size: 'huge' is not
    one of ['small', 'medium', 'large']`. Empty when the spec is valid."""
    problems = []
    for error in sorted(_validator().iter_errors(spec), key=lambda e: list(map(str, e.absolute_path))):
        where = "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        message = error.message
        if error.validator == "additionalProperties":
            message = message.replace("Additional properties are not allowed", "unknown field(s)")
        problems.append(f"{where}: {message}")
    return problems
