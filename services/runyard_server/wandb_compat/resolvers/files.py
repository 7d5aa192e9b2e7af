"""Run files: upload URLs for the client (`createRunFiles`), adoption once uploaded, listing for the API.

The client asks for upload URLs by name and PUTs the bytes; it cannot say their sha256, so the artifact
service hands out staged upload URLs (artifact/staging.py) and, when the client reports the file
uploaded (the file stream's `uploaded` list, or `markRunFilesUploaded`), adopts the newest upload of
each path into content-addressed storage and records it as the run's file. Media referenced from
history (`media/images/...`) are ordinary run files, found by the same paths as the SDK's.
"""

from __future__ import annotations

import base64
from typing import Any

from ariadne import MutationType, ObjectType
from graphql import GraphQLResolveInfo

from ...common.errors import FailedPrecondition
from .. import ids
from ..context import Ctx, q
from .objects import RunObj, ctx_of, offset_of, page

__all__ = ["bindables", "commit_uploaded"]

mutation = MutationType()
run_type = ObjectType("Run")
file_type = ObjectType("File")
MAX_PER_CALL = 1000


def _files_path(entity: str, project: str, run_id: str) -> str:
    return "/api/v1/runs/" + q(entity, project, run_id) + "/files"


async def commit_uploaded(ctx: Ctx, entity: str, project: str, run_id: str, paths: list[str]) -> list[dict[str, Any]]:
    """Adopt the uploaded files; a path with nothing staged (reported twice, or never uploaded) is left
    as it is."""
    out: list[dict[str, Any]] = []
    unique = list(dict.fromkeys(paths))
    for i in range(0, len(unique), MAX_PER_CALL):
        res = await ctx.up.post(ctx.key, _files_path(entity, project, run_id) + "/_staged/commit",
                                {"paths": unique[i:i + MAX_PER_CALL]})
        out.extend(res["files"])
    return out


@mutation.field("createRunFiles")
async def resolve_create_run_files(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    entity = await ctx.entity_or_default(input.get("entityName"))
    project, run_id, names = input["projectName"], input["runName"], list(input["files"])
    files: list[dict[str, Any]] = []
    for i in range(0, len(names), MAX_PER_CALL):
        res = await ctx.up.post(ctx.key, _files_path(entity, project, run_id) + "/_staged",
                                {"paths": names[i:i + MAX_PER_CALL]})
        files.extend({"name": f["path"], "uploadUrl": f["url"]} for f in res["files"])
    # staged run-file URLs sign no header: the client sends the bytes as they are
    return {"runID": ids.run_id(entity, project, run_id), "uploadHeaders": [], "files": files}


@mutation.field("markRunFilesUploaded")
async def resolve_mark_uploaded(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    entity = await ctx.entity_or_default(input.get("entityName"))
    done = await commit_uploaded(ctx, entity, input["projectName"], input["runName"], list(input["files"]))
    missing = [f["path"] for f in done if f.get("state") != "ready"]
    if missing:
        raise FailedPrecondition(f"not uploaded (PUT the bytes to the URL of createRunFiles first): {missing[:10]}")
    return {"success": True}


# ---- reading ---------------------------------------------------------------------------------------------

@run_type.field("files")
async def resolve_files(run: RunObj, info: GraphQLResolveInfo, names: list[str | None] | None = None,
                        after: str | None = None, first: int | None = None, pattern: str | None = None) -> dict[str, Any]:
    ctx = ctx_of(info)
    base = _files_path(run.entity, run.project, run.run_id)
    wanted = [n for n in names or [] if n]
    if wanted:
        records = []
        for name in wanted:
            rec = await ctx.up.get(ctx.key, base + "/" + q(*name.split("/")), ok404=True)
            if rec is not None:
                records.append(rec)
        return page([_file(run, r) for r in records], len(records), 0, max(1, len(records)))
    start, limit = offset_of(after), min(max(1, first or 50), 10_000)
    if pattern:
        res = await ctx.up.get(ctx.key, base, params={"recursive": "true", "limit": 10_000})
        matched = [r for r in res["files"] if _like(pattern, r["path"])]
        return page([_file(run, r) for r in matched[start:start + limit]], len(matched), start, limit)
    res = await ctx.up.get(ctx.key, base, params={"recursive": "true", "limit": limit, "offset": start})
    return page([_file(run, r) for r in res["files"]], int(res["total"]), start, limit)


def _like(pattern: str, value: str) -> bool:
    """SQL LIKE (`%` any run, `_` one character), which is what the client's `pattern` means."""
    import re

    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.S) is not None


@run_type.field("fileCount")
async def resolve_file_count(run: RunObj, info: GraphQLResolveInfo) -> int:
    ctx = ctx_of(info)
    res = await ctx.up.get(ctx.key, _files_path(run.entity, run.project, run.run_id),
                           params={"recursive": "true", "limit": 1})
    return int(res["total"])


def _file(run: RunObj, rec: dict[str, Any]) -> dict[str, Any]:
    return {"_run": run, "_rec": rec, "id": ids.encode("File", run.entity, run.project, run.run_id, rec["sha256"]),
            "name": rec["path"], "displayName": rec["path"].rsplit("/", 1)[-1], "sizeBytes": rec["size"],
            "mimetype": rec.get("content_type"), "updatedAt": rec.get("uploaded_at"),
            "md5": base64.b64encode(bytes.fromhex(rec["md5"])).decode() if rec.get("md5") else None,
            "digest": rec["sha256"], "storagePath": None, "path": rec["path"]}


async def _presigned(obj: dict[str, Any], info: GraphQLResolveInfo, field: str = "url") -> str | None:
    if "_run" not in obj:  # an artifact file or manifest: its URL came with it
        return obj.get(field)  # type: ignore[no-any-return]
    if "url" in obj["_rec"]:
        return str(obj["_rec"]["url"])
    ctx = ctx_of(info)
    run: RunObj = obj["_run"]
    rec = await ctx.up.get(ctx.key, _files_path(run.entity, run.project, run.run_id) + "/"
                           + q(*obj["name"].split("/")), ok404=True)
    if rec is None:
        return None
    obj["_rec"] = rec
    return str(rec["url"])


@file_type.field("url")
async def resolve_url(obj: dict[str, Any], info: GraphQLResolveInfo, upload: bool | None = None) -> str | None:
    """A run file's URL on this server, as W&B's (`/files/<entity>/<project>/<run>/<path>`): it takes the
    client's key and redirects to the bucket; other files (artifacts) answer their presigned URL."""
    if "_run" not in obj:
        return obj.get("url")  # type: ignore[no-any-return]
    run: RunObj = obj["_run"]
    return f"{ctx_of(info).public_url}/files/" + q(run.entity, run.project, run.run_id, *obj["name"].split("/"))


@file_type.field("directUrl")
async def resolve_direct_url(obj: dict[str, Any], info: GraphQLResolveInfo) -> str | None:
    return await _presigned(obj, info, "directUrl")


bindables = [mutation, run_type, file_type]
