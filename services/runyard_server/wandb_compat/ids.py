"""GraphQL ids: opaque to the client, but each names what it stands for, so no lookup table is needed.

An id is standard base64 of `Kind:v1:part:part...` (the client turns artifact ids into hex, which needs
valid base64). Parts are Runyard names, which never contain `:`; parts that may (artifact details) are
base64url-encoded JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..common.errors import InvalidArgument

__all__ = ["decode", "decode_json", "encode", "encode_json", "entity_id", "parse_run_id", "project_id",
           "project_number", "run_id", "user_id"]


def encode(kind: str, *parts: str) -> str:
    return base64.b64encode(":".join((kind, "v1", *parts)).encode()).decode()


def decode(value: str, kind: str) -> list[str]:
    """The parts of an id of `kind`; InvalidArgument when it is not one."""
    try:
        text = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(f"{value[:60]!r} is not a {kind} id of this server") from None
    head, _, rest = text.partition(":")
    version, _, body = rest.partition(":")
    if head != kind or version != "v1":
        raise InvalidArgument(f"{value[:60]!r} is not a {kind} id of this server")
    return body.split(":")


def encode_json(kind: str, payload: Any) -> str:
    blob = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return encode(kind, blob)


def decode_json(value: str, kind: str) -> Any:
    (blob, *_rest) = decode(value, kind)
    try:
        return json.loads(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{value[:60]!r} is not a {kind} id of this server") from None


def run_id(entity: str, project: str, run: str) -> str:
    return encode("Run", run, project, entity)


def parse_run_id(value: str) -> tuple[str, str, str]:
    """(entity, project, run) of a run id."""
    parts = decode(value, "Run")
    if len(parts) != 3 or not all(parts):
        raise InvalidArgument(f"{value[:60]!r} is not a Run id of this server")
    run, project, entity = parts
    return entity, project, run


def project_id(entity: str, project: str) -> str:
    return encode("Project", project, entity)


def user_id(username: str) -> str:
    return encode("User", username)


def entity_id(name: str) -> str:
    return encode("Entity", name)


def project_number(entity: str, project: str) -> str:
    """A stable number for a project (the client reads `projectId`/`internalId` as an integer). Runyard's
    own project keys are not exposed by its REST API, so it is derived from the names: 52 bits of their
    SHA-256, an integer every JSON parser keeps exactly."""
    import hashlib

    return str(int(hashlib.sha256(f"{entity}/{project}".encode()).hexdigest()[:13], 16))
