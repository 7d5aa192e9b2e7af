"""Evaluate a CRD's `x-kubernetes-validations` (CEL) rules on an object, as the API server does on
create (`self`) and update (transition rules, which also see `oldSelf`), with cel-python.

    broken = cel_violations(schema, new_spec, old_spec)   # the messages of the rules that fail
"""

from __future__ import annotations

from typing import Any

import celpy

__all__ = ["cel_violations"]

_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}

_MISSING = object()


def _program(rule: str) -> Any:
    if rule not in _PROGRAMS:
        _PROGRAMS[rule] = _ENV.program(_ENV.compile(rule))
    return _PROGRAMS[rule]


def cel_violations(schema: dict[str, Any], value: Any, old: Any = _MISSING, path: str = "spec") -> list[str]:
    """`path: message` of every rule that evaluates to false (or fails to evaluate) on `value`. Transition
    rules (using oldSelf) run only where an old value exists, like the API server's."""
    out: list[str] = []
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is _MISSING:
            continue
        activation = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        try:
            ok = _program(rule["rule"]).evaluate(activation)
        except Exception as exc:  # an evaluation error rejects the object, as in the API server
            out.append(f"{path}: {rule.get('message', rule['rule'])} (error: {exc})")
            continue
        if not bool(ok) or isinstance(ok, celpy.CELEvalError):
            out.append(f"{path}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                prev = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
                out += cel_violations(sub, value[key], prev, f"{path}.{key}")
    return out
