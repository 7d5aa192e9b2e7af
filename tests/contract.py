"""Answers checked against the OpenAPI documents the web UI is compiled against
(services/web/src/api/openapi/<service>.json, written by `make client`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

OPENAPI = Path(__file__).resolve().parents[1] / "services/web/src/api/openapi"


@cache
def document(service: str) -> dict[str, Any]:
    return json.loads((OPENAPI / f"{service}.json").read_text())  # type: ignore[no-any-return]


def conforms(service: str, template: str, method: str, r: httpx.Response) -> Any:
    """The body of a successful answer, after checking it against the service's schema for that route."""
    assert r.status_code < 300, r.text
    doc = document(service)
    schema = doc["paths"][template][method]["responses"][str(r.status_code)]["content"]["application/json"]["schema"]
    body = r.json()
    errors = list(Draft202012Validator({**schema, "components": doc["components"]}).iter_errors(body))
    assert not errors, f"{service}: {method.upper()} {template}: {[f'{list(e.path)}: {e.message}' for e in errors]}"
    return body
