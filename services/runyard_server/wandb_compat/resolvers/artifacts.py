"""Artifacts through the W&B protocol, onto Runyard's versioned, content-addressed artifacts.

Logging (what `run.log_artifact` sends):

    createArtifact          -> a pending artifact: its details go to a scratch document of the project
                               (artifact/staging.py: a presigned PUT made here), its id names it
    createArtifactManifest  -> (with includeUpload) a scratch URL the client PUTs its manifest to
    createArtifactFiles     -> per file, by the MD5 the client computed: nothing to send when those bytes
                               are stored already, else a PUT URL that signs the MD5 (staged upload)
    commitArtifact          -> read the manifest back, adopt each staged file (its sha256 is computed once
                               by the artifact service), and create the Runyard version with the usual
                               `POST .../{name}/versions`: aliases, run lineage, digest dedup and all.

The pending id stays valid after the commit (the client keeps using it): a scratch document
`<nonce>/committed.json` records which version it became. Committed versions have durable ids of
their own (`Artifact:v1:<entity>:<project>:<name>:<version>`).

Reading (`use_artifact`, `Api().artifact`, downloads) answers from the artifact service: versions,
aliases, files with presigned URLs, lineage; the manifest is rendered on demand (manifests.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ariadne import InterfaceType, MutationType, ObjectType, QueryType, UnionType
from graphql import GraphQLResolveInfo

from ...common.errors import FailedPrecondition, InvalidArgument, NotFound, RunyardError
from ...common.formats import iso
from .. import ids, manifests, translate
from ..context import Ctx, q
from .objects import ProjectObj, RunObj, ctx_of, offset_of, page

__all__ = ["bindables"]

query = QueryType()
mutation = MutationType()
project_type = ObjectType("Project")
run_type = ObjectType("Run")
artifact_type = ObjectType("Artifact")
collection_iface = InterfaceType("ArtifactCollection")
sequence_type = ObjectType("ArtifactSequence")
portfolio_type = ObjectType("ArtifactPortfolio")
membership_type = ObjectType("ArtifactCollectionMembership")
type_type = ObjectType("ArtifactType")
manifest_type = ObjectType("ArtifactManifest")
creator_union = UnionType("ArtifactCreator")

SCRATCH = "wandb-artifact"  # scratch document names: wandb-artifact/<nonce>/{pending,manifest,committed}.json
BATCH = 1000


# ---- what resolvers pass around ------------------------------------------------------------------------

@dataclass
class ArtifactObj:
    entity: str
    project: str
    name: str
    version: int | None             # None while pending
    data: dict[str, Any] = field(default_factory=dict)   # the artifact service's version record
    pending: dict[str, Any] | None = None                # the pending document, before the commit
    nonce: str | None = None


@dataclass
class CollectionObj:
    entity: str
    project: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)   # the artifact with all its versions


@dataclass
class TypeObj:
    entity: str
    project: str
    name: str


@dataclass
class MembershipObj:
    artifact: ArtifactObj


def _artifacts(entity: str, project: str, *rest: str) -> str:
    return "/api/v1/artifacts/" + q(entity, project, *rest)


def artifact_id(entity: str, project: str, name: str, version: int) -> str:
    return ids.encode("Artifact", entity, project, name, str(version))


def pending_id(entity: str, project: str, name: str, nonce: str) -> str:
    return ids.encode("PendingArtifact", entity, project, name, nonce)


def _kind(value: str) -> str:
    try:
        return base64.b64decode(value.encode(), validate=True).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


async def _scratch(ctx: Ctx, entity: str, project: str, names: list[str]) -> dict[str, dict[str, Any]]:
    res = await ctx.up.post(ctx.key, _artifacts(entity, project, "_staged"), {"objects": [{"name": n} for n in names]})
    return {o["name"]: o for o in res["objects"]}


async def _read_json(ctx: Ctx, url: str) -> Any:
    raw = await ctx.up.get_url(url)
    return None if raw is None else json.loads(raw)


async def load_version(ctx: Ctx, entity: str, project: str, name: str, ref: str) -> ArtifactObj | None:
    key = ("artifact", entity, project, name, ref)
    if key not in ctx.cache:
        data = await ctx.up.get(ctx.key, _artifacts(entity, project, name, ref), ok404=True)
        ctx.cache[key] = None if data is None else ArtifactObj(entity, project, name, int(data["version_index"]), data)
    return ctx.cache[key]  # type: ignore[no-any-return]


async def resolve_id(ctx: Ctx, value: str) -> ArtifactObj | None:
    """A committed or pending artifact by id; None when it does not exist or cannot be read."""
    kind = _kind(value)
    if kind == "Artifact":
        parts = ids.decode(value, "Artifact")
        if len(parts) != 4 or not parts[3].isdigit():
            raise InvalidArgument(f"{value[:60]!r} is not an artifact id of this server")
        entity, project, name, version = parts
        return await load_version(ctx, entity, project, name, f"v{version}")
    if kind == "PendingArtifact":
        parts = ids.decode(value, "PendingArtifact")
        if len(parts) != 4:
            raise InvalidArgument(f"{value[:60]!r} is not an artifact id of this server")
        entity, project, name, nonce = parts
        docs = await _scratch(ctx, entity, project, [f"{SCRATCH}/{nonce}/committed.json",
                                                      f"{SCRATCH}/{nonce}/pending.json"])
        committed = await _read_json(ctx, docs[f"{SCRATCH}/{nonce}/committed.json"]["get_url"])
        if committed is not None:
            return await load_version(ctx, entity, project, name, f"v{committed['version']}")
        pending = await _read_json(ctx, docs[f"{SCRATCH}/{nonce}/pending.json"]["get_url"])
        if pending is None:
            return None
        return ArtifactObj(entity, project, name, None, {}, pending, nonce)
    raise InvalidArgument(f"{value[:60]!r} is not an artifact id of this server")


def _split_ref(name: str) -> tuple[str, str]:
    """`name:alias` -> (name, alias); a bare name means `latest`."""
    base, _, ref = name.partition(":")
    return base, (ref or "latest")


# ---- queries -------------------------------------------------------------------------------------------

@query.field("artifact")
async def resolve_artifact_by_id(_: Any, info: GraphQLResolveInfo, id: str) -> ArtifactObj | None:
    return await resolve_id(ctx_of(info), id)


@project_type.field("artifact")
async def resolve_project_artifact(p: ProjectObj, info: GraphQLResolveInfo, name: str, **_: Any) -> ArtifactObj | None:
    base, ref = _split_ref(name)
    return await load_version(ctx_of(info), p.entity, p.name, base, ref)


@project_type.field("artifactCollectionMembership")
async def resolve_project_membership(p: ProjectObj, info: GraphQLResolveInfo, name: str) -> MembershipObj | None:
    base, ref = _split_ref(name)
    art = await load_version(ctx_of(info), p.entity, p.name, base, ref)
    return None if art is None else MembershipObj(art)


async def _collection(ctx: Ctx, entity: str, project: str, name: str) -> CollectionObj | None:
    key = ("collection", entity, project, name)
    if key not in ctx.cache:
        data = await ctx.up.get(ctx.key, _artifacts(entity, project, name), ok404=True)
        ctx.cache[key] = None if data is None else CollectionObj(entity, project, name, data)
    return ctx.cache[key]  # type: ignore[no-any-return]


@project_type.field("artifactCollection")
async def resolve_project_collection(p: ProjectObj, info: GraphQLResolveInfo, name: str) -> CollectionObj | None:
    return await _collection(ctx_of(info), p.entity, p.name, name)


async def _list(ctx: Ctx, entity: str, project: str, typ: str | None = None) -> list[dict[str, Any]]:
    params = {"type": typ} if typ else None
    res = await ctx.up.get(ctx.key, _artifacts(entity, project), params=params)
    return list(res["artifacts"])


@project_type.field("artifactCollections")
async def resolve_project_collections(p: ProjectObj, info: GraphQLResolveInfo, after: str | None = None,
                                      first: int | None = None, **_: Any) -> dict[str, Any]:
    ctx = ctx_of(info)
    items = [CollectionObj(p.entity, p.name, a["name"], {**a, "versions": None}) for a in await _list(ctx, p.entity, p.name)]
    start, limit = offset_of(after), max(1, first or 50)
    return page(items[start:start + limit], len(items), start, limit)


@project_type.field("artifactType")
async def resolve_project_type(p: ProjectObj, info: GraphQLResolveInfo, name: str) -> TypeObj | None:
    found = await _list(ctx_of(info), p.entity, p.name, name)
    return TypeObj(p.entity, p.name, name) if found else None


@project_type.field("artifactTypes")
async def resolve_project_types(p: ProjectObj, info: GraphQLResolveInfo, after: str | None = None,
                                first: int | None = None) -> dict[str, Any]:
    types = sorted({a["type"] for a in await _list(ctx_of(info), p.entity, p.name)})
    items = [TypeObj(p.entity, p.name, t) for t in types]
    start, limit = offset_of(after), max(1, first or 50)
    return page(items[start:start + limit], len(items), start, limit)


# ---- ArtifactType --------------------------------------------------------------------------------------

type_type.set_field("id", lambda t, _i: ids.encode("ArtifactType", t.entity, t.project, t.name))
type_type.set_field("name", lambda t, _i: t.name)
type_type.set_field("description", lambda t, _i: "")


@type_type.field("createdAt")
async def resolve_type_created(t: TypeObj, info: GraphQLResolveInfo) -> str:
    """When the type's first collection was made (W&B's clients read it as a required string)."""
    listed = await _list(ctx_of(info), t.entity, t.project, t.name)
    return min((str(a["created_at"]) for a in listed if a.get("created_at")), default="1970-01-01T00:00:00Z")


async def _typed_collection(t: TypeObj, info: GraphQLResolveInfo, name: str) -> CollectionObj | None:
    col = await _collection(ctx_of(info), t.entity, t.project, name)
    return col if col is not None and col.data.get("type") == t.name else None


@type_type.field("artifactCollection")
async def resolve_type_collection(t: TypeObj, info: GraphQLResolveInfo, name: str) -> CollectionObj | None:
    return await _typed_collection(t, info, name)


@type_type.field("artifactSequence")
async def resolve_type_sequence(t: TypeObj, info: GraphQLResolveInfo, name: str) -> CollectionObj | None:
    return await _typed_collection(t, info, name)


@type_type.field("artifact")
async def resolve_type_artifact(t: TypeObj, info: GraphQLResolveInfo, name: str) -> ArtifactObj | None:
    base, ref = _split_ref(name)
    art = await load_version(ctx_of(info), t.entity, t.project, base, ref)
    return art if art is not None and art.data.get("type") == t.name else None


async def _type_collections(t: TypeObj, info: GraphQLResolveInfo, after: str | None, first: int | None) -> dict[str, Any]:
    listed = await _list(ctx_of(info), t.entity, t.project, t.name)
    items = [CollectionObj(t.entity, t.project, a["name"], {**a, "versions": None}) for a in listed]
    start, limit = offset_of(after), max(1, first or 50)
    return page(items[start:start + limit], len(items), start, limit)


@type_type.field("artifactCollections")
async def resolve_type_collections(t: TypeObj, info: GraphQLResolveInfo, after: str | None = None,
                                   first: int | None = None, **_: Any) -> dict[str, Any]:
    return await _type_collections(t, info, after, first)


@type_type.field("artifactSequences")
async def resolve_type_sequences(t: TypeObj, info: GraphQLResolveInfo, after: str | None = None,
                                 first: int | None = None) -> dict[str, Any]:
    return await _type_collections(t, info, after, first)


# ---- collections ---------------------------------------------------------------------------------------

@collection_iface.type_resolver
def resolve_collection_type(*_: Any) -> str:
    return "ArtifactSequence"


async def _full_collection(c: CollectionObj, info: GraphQLResolveInfo) -> dict[str, Any]:
    if c.data.get("versions") is None:
        full = await _collection(ctx_of(info), c.entity, c.project, c.name)
        if full is None:
            raise NotFound(f"artifact {c.entity}/{c.project}/{c.name} not found")
        c.data = full.data
    return c.data


def _version_obj(c: CollectionObj, v: dict[str, Any]) -> ArtifactObj:
    return ArtifactObj(c.entity, c.project, c.name, int(v["version_index"]), v)


for t in (sequence_type, portfolio_type):
    t.set_field("id", lambda c, _i: ids.encode("ArtifactCollection", c.entity, c.project, c.name))
    t.set_field("name", lambda c, _i: c.name)
    t.set_field("description", lambda c, _i: c.data.get("description") or "")
    t.set_field("createdAt", lambda c, _i: c.data.get("created_at"))
    t.set_field("updatedAt", lambda c, _i: c.data.get("updated_at") or c.data.get("created_at"))
    t.set_field("state", lambda c, _i: "READY")
    t.set_field("digestAlgorithm", lambda c, _i: "MANIFEST_MD5")
    t.set_field("project", lambda c, _i: ProjectObj(c.entity, c.project))
    t.set_field("tags", lambda c, _i: {"edges": []})

    @t.field("defaultArtifactType")
    async def resolve_default_type(c: CollectionObj, info: GraphQLResolveInfo) -> TypeObj:
        typ = c.data.get("type") or (await _full_collection(c, info))["type"]
        return TypeObj(c.entity, c.project, typ)

    @t.field("latestArtifact")
    async def resolve_latest(c: CollectionObj, info: GraphQLResolveInfo) -> ArtifactObj | None:
        try:
            versions = (await _full_collection(c, info))["versions"]
        except NotFound:
            return None  # a collection whose first version is being logged
        latest = [v for v in versions if "latest" in v["aliases"]]
        return _version_obj(c, latest[0]) if latest else None

    @t.field("artifacts")
    async def resolve_versions(c: CollectionObj, info: GraphQLResolveInfo, after: str | None = None,
                               first: int | None = None, order: str | None = None, **_: Any) -> dict[str, Any]:
        versions = list((await _full_collection(c, info))["versions"])
        if order and order.lstrip("+-") in ("versionIndex", "createdAt") and order.startswith("-"):
            versions.reverse()
        start, limit = offset_of(after), max(1, first or 50)
        conn = page([_version_obj(c, v) for v in versions[start:start + limit]], len(versions), start, limit)
        for edge in conn["edges"]:
            edge["version"] = f"v{edge['node'].version}"
        return conn

    @t.field("aliases")
    async def resolve_collection_aliases(c: CollectionObj, info: GraphQLResolveInfo, **_: Any) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for v in (await _full_collection(c, info))["versions"]:
            out.extend(_alias(c.entity, c.project, c.name, a) for a in v["aliases"])
        return {"edges": [{"node": a, "cursor": str(i + 1)} for i, a in enumerate(out)],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}}

    @t.field("artifactMembership")
    async def resolve_collection_membership(c: CollectionObj, info: GraphQLResolveInfo,
                                            aliasName: str) -> MembershipObj | None:  # noqa: N803
        art = await load_version(ctx_of(info), c.entity, c.project, c.name, aliasName)
        return None if art is None else MembershipObj(art)

    @t.field("artifactMemberships")
    async def resolve_collection_memberships(c: CollectionObj, info: GraphQLResolveInfo, after: str | None = None,
                                             first: int | None = None) -> dict[str, Any]:
        versions = (await _full_collection(c, info))["versions"]
        start, limit = offset_of(after), max(1, first or 50)
        return page([MembershipObj(_version_obj(c, v)) for v in versions[start:start + limit]], len(versions),
                    start, limit)


def _alias(entity: str, project: str, name: str, alias: str) -> dict[str, Any]:
    return {"id": ids.encode("ArtifactAlias", entity, project, name, alias), "alias": alias,
            "artifactCollectionName": name, "artifactCollection": CollectionObj(entity, project, name)}


# ---- Artifact ------------------------------------------------------------------------------------------

def _art_field(name: str, fn: Any) -> None:
    artifact_type.set_field(name, lambda a, _i, **_kw: fn(a))


def _pending(a: ArtifactObj) -> dict[str, Any]:
    return a.pending or {}


_art_field("id", lambda a: artifact_id(a.entity, a.project, a.name, a.version) if a.version is not None
           else pending_id(a.entity, a.project, a.name, str(a.nonce)))
_art_field("digest", lambda a: a.data.get("digest") or _pending(a).get("digest") or "")
_art_field("commitHash", lambda a: a.data.get("digest"))
_art_field("digestAlgorithm", lambda a: "MANIFEST_MD5")
_art_field("description", lambda a: a.data.get("description") if a.version is not None
           else _pending(a).get("description"))
_art_field("state", lambda a: "COMMITTED" if a.version is not None else "PENDING")
_art_field("size", lambda a: a.data.get("size") or 0)
_art_field("fileCount", lambda a: a.data.get("file_count") or 0)
_art_field("createdAt", lambda a: a.data.get("created_at") or _pending(a).get("created_at"))
_art_field("updatedAt", lambda a: a.data.get("created_at") or _pending(a).get("created_at"))
_art_field("metadata", lambda a: json.dumps(a.data.get("metadata") if a.version is not None
                                            else _pending(a).get("metadata") or {}))
_art_field("ttlDurationSeconds", lambda a: -2)  # W&B's "TTL disabled": Runyard never expires artifacts
_art_field("ttlIsInherited", lambda a: False)
_art_field("versionIndex", lambda a: a.version)
_art_field("historyStep", lambda a: None)
_art_field("tags", lambda a: [])
_art_field("storageRegion", lambda a: None)
_art_field("aliases", lambda a: [_alias(a.entity, a.project, a.name, x) for x in a.data.get("aliases") or []])
_art_field("artifactSequence", lambda a: CollectionObj(a.entity, a.project, a.name))
_art_field("artifactCollection", lambda a: CollectionObj(a.entity, a.project, a.name))
_art_field("artifactCollections", lambda a: page([CollectionObj(a.entity, a.project, a.name)], 1, 0, 1))
_art_field("artifactMemberships", lambda a: page([MembershipObj(a)] if a.version is not None else [], 1, 0, 1))


@artifact_type.field("artifactType")
def resolve_artifact_type_of(a: ArtifactObj, _: GraphQLResolveInfo) -> TypeObj:
    return TypeObj(a.entity, a.project, a.data.get("type") or _pending(a).get("type") or "")


@artifact_type.field("createdBy")
def resolve_created_by(a: ArtifactObj, _: GraphQLResolveInfo) -> Any:
    run = a.data.get("created_by_run")
    if run:
        return RunObj(run["entity"], run["project"], run["run_id"])
    return None


@creator_union.type_resolver
def resolve_creator_type(obj: Any, *_: Any) -> str:
    return "Run" if isinstance(obj, RunObj) else "User"


@artifact_type.field("usedBy")
def resolve_used_by(a: ArtifactObj, _: GraphQLResolveInfo, **__: Any) -> dict[str, Any]:
    runs = [RunObj(u["entity"], u["project"], u["run_id"]) for u in a.data.get("used_by") or []]
    return page(runs, len(runs), 0, max(1, len(runs)))


@artifact_type.field("currentManifest")
async def resolve_current_manifest(a: ArtifactObj, info: GraphQLResolveInfo) -> dict[str, Any] | None:
    if a.version is None:
        return None
    ctx = ctx_of(info)
    files = await _all_files(ctx, a, urls=False)
    if ctx.manifests is None:
        raise RunyardError("artifact manifests are not served here")
    token = await ctx.manifests.put(manifests.render(files))
    url = f"{ctx.public_url}/files/_wandb/manifests/{token}"
    mid = ids.encode("ArtifactManifest", a.entity, a.project, a.name, str(a.version))
    return {"id": mid, "type": "FULL",
            "file": {"id": mid, "name": "wandb_manifest.json", "displayName": "wandb_manifest.json",
                     "url": url, "directUrl": url, "mimetype": "application/json"}}


async def _all_files(ctx: Ctx, a: ArtifactObj, *, urls: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        res = await ctx.up.get(ctx.key, _artifacts(a.entity, a.project, a.name, f"v{a.version}", "files"),
                               params={"urls": "true" if urls else "false", "limit": 10_000, "offset": offset})
        out.extend(res["files"])
        offset += len(res["files"])
        if not res["files"] or offset >= int(res["total"]):
            return out


def _file_node(a: ArtifactObj, f: dict[str, Any]) -> dict[str, Any]:
    md5 = f.get("md5")
    return {"_rec": f, "id": ids.encode("File", a.entity, a.project, a.name, str(a.version), f["path"]),
            "name": f["path"], "displayName": f["path"].rsplit("/", 1)[-1], "sizeBytes": f.get("size"),
            "mimetype": None, "updatedAt": a.data.get("created_at"),
            "md5": base64.b64encode(bytes.fromhex(md5)).decode() if md5 else None,
            "digest": f.get("sha256") or f.get("digest"), "storagePath": None, "path": f["path"],
            "url": f.get("url") or f.get("ref"), "directUrl": f.get("url") or f.get("ref")}


async def _files_page(a: ArtifactObj, info: GraphQLResolveInfo, names: list[str] | None, after: str | None,
                      first: int | None) -> dict[str, Any]:
    ctx = ctx_of(info)
    if a.version is None:
        return page([], 0, 0, 1)
    if names:
        wanted = set(names)
        files = [f for f in await _all_files(ctx, a, urls=True) if f["path"] in wanted]
        return page([_file_node(a, f) for f in files], len(files), 0, max(1, len(files)))
    start, limit = offset_of(after), min(max(1, first or 1000), 10_000)
    res = await ctx.up.get(ctx.key, _artifacts(a.entity, a.project, a.name, f"v{a.version}", "files"),
                           params={"urls": "true", "limit": limit, "offset": start})
    return page([_file_node(a, f) for f in res["files"]], int(res["total"]), start, limit)


@artifact_type.field("files")
async def resolve_artifact_files(a: ArtifactObj, info: GraphQLResolveInfo, names: list[str] | None = None,
                                 after: str | None = None, first: int | None = None) -> dict[str, Any]:
    return await _files_page(a, info, names, after, first)


@artifact_type.field("filesByManifestEntries")
async def resolve_files_by_entries(a: ArtifactObj, info: GraphQLResolveInfo, entries: list[dict[str, Any]] | None = None,
                                   **_: Any) -> dict[str, Any]:
    names = [e["name"] for e in entries or []]
    return await _files_page(a, info, names or None, None, None)


membership_type.set_field("id", lambda m, _i: ids.encode("ArtifactMembership", m.artifact.entity, m.artifact.project,
                                                          m.artifact.name, str(m.artifact.version)))
membership_type.set_field("versionIndex", lambda m, _i: m.artifact.version)
membership_type.set_field("createdAt", lambda m, _i: m.artifact.data.get("created_at"))
membership_type.set_field("aliases", lambda m, _i: [_alias(m.artifact.entity, m.artifact.project, m.artifact.name, x)
                                                     for x in m.artifact.data.get("aliases") or []])
membership_type.set_field("artifactCollection",
                          lambda m, _i: CollectionObj(m.artifact.entity, m.artifact.project, m.artifact.name))
membership_type.set_field("artifact", lambda m, _i: m.artifact)


@membership_type.field("files")
async def resolve_membership_files(m: MembershipObj, info: GraphQLResolveInfo, names: list[str] | None = None,
                                   after: str | None = None, first: int | None = None) -> dict[str, Any]:
    return await _files_page(m.artifact, info, names, after, first)


# ---- run lineage ---------------------------------------------------------------------------------------

async def _lineage(run: RunObj, info: GraphQLResolveInfo) -> dict[str, Any]:
    ctx = ctx_of(info)
    key = ("lineage", run.entity, run.project, run.run_id)
    if key not in ctx.cache:
        ctx.cache[key] = await ctx.up.get(ctx.key, "/api/v1/runs/" + q(run.entity, run.project, run.run_id)
                                          + "/artifacts")
    return ctx.cache[key]  # type: ignore[no-any-return]


async def _versions(info: GraphQLResolveInfo, records: list[dict[str, Any]], after: str | None,
                    first: int | None) -> dict[str, Any]:
    """A page of lineage records, each loaded whole (aliases, metadata, ...) from the artifact service."""
    ctx = ctx_of(info)
    start, limit = offset_of(after), max(1, first or 50)
    items = []
    for v in records[start:start + limit]:
        art = await load_version(ctx, v["entity"], v["project"], v["name"], v["version"])
        if art is not None:
            items.append(art)
    return page(items, len(records), start, limit)


@run_type.field("outputArtifacts")
async def resolve_output_artifacts(run: RunObj, info: GraphQLResolveInfo, after: str | None = None,
                                   first: int | None = None) -> dict[str, Any]:
    return await _versions(info, (await _lineage(run, info))["logged"], after, first)


@run_type.field("inputArtifacts")
async def resolve_input_artifacts(run: RunObj, info: GraphQLResolveInfo, after: str | None = None,
                                  first: int | None = None) -> dict[str, Any]:
    return await _versions(info, (await _lineage(run, info))["used"], after, first)


# ---- logging an artifact -------------------------------------------------------------------------------

@mutation.field("createArtifact")
async def resolve_create_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    entity = await ctx.entity_or_default(input.get("entityName"))
    project = input["projectName"]
    name = input.get("artifactCollectionName") or (input.get("artifactCollectionNames") or [""])[0]
    if not name:
        raise InvalidArgument("createArtifact: artifactCollectionName is required")
    if input.get("tags"):
        raise InvalidArgument("this Runyard server does not keep artifact tags; log the artifact without tags")
    if (input.get("ttlDurationSeconds") or 0) > 0:
        raise InvalidArgument("this Runyard server does not expire artifacts (ttl); log the artifact without a TTL")
    if input.get("distributedID"):
        raise InvalidArgument("this Runyard server does not assemble distributed artifacts (upsert_artifact)")
    metadata = json.loads(input["metadata"]) if input.get("metadata") else {}
    aliases = [a["alias"] for a in input.get("aliases") or [] if a.get("artifactCollectionName", name) == name]
    nonce = secrets.token_hex(12)
    doc = {"entity": entity, "project": project, "name": name, "type": input["artifactTypeName"],
           "description": input.get("description") or "", "metadata": metadata, "aliases": aliases,
           "run": input.get("runName") or None, "digest": input.get("digest") or "",
           "client_id": input.get("clientID") or None,
           "created_at": iso(datetime.now(timezone.utc))}
    docs = await _scratch(ctx, entity, project, [f"{SCRATCH}/{nonce}/pending.json"])
    await ctx.up.put_url(docs[f"{SCRATCH}/{nonce}/pending.json"]["url"], json.dumps(doc).encode())
    return {"artifact": ArtifactObj(entity, project, name, None, {}, doc, nonce)}


@mutation.field("createArtifactManifest")
async def resolve_create_manifest(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.nonce is None:
        raise NotFound("the artifact of this manifest is not pending (already committed, or unknown)")
    if (input.get("type") or "FULL") != "FULL":
        raise InvalidArgument("this Runyard server takes whole manifests only (no incremental or patch manifests)")
    mid = ids.encode("ArtifactManifest", art.entity, art.project, art.name, art.nonce)
    name = f"{SCRATCH}/{art.nonce}/manifest.json"
    docs = await _scratch(ctx, art.entity, art.project, [name])
    return {"artifactManifest": {"id": mid, "type": "FULL", "file": {
        "id": mid, "name": "wandb_manifest.json", "displayName": "wandb_manifest.json",
        "uploadUrl": docs[name]["url"], "uploadHeaders": [f"{k}:{v}" for k, v in docs[name]["headers"].items()],
        "url": None, "directUrl": None}}}


@mutation.field("updateArtifactManifest")
async def resolve_update_manifest(*_: Any, **__: Any) -> dict[str, Any]:
    raise InvalidArgument("this Runyard server takes whole manifests only (no incremental or patch manifests)")


@mutation.field("completeMultipartUploadArtifact")
async def resolve_complete_multipart(*_: Any, **__: Any) -> dict[str, Any]:
    raise InvalidArgument("multipart uploads are not offered by this server (files of up to 5 GiB go in one PUT)")


@mutation.field("createArtifactFiles")
async def resolve_create_files(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    specs = list(input["artifactFiles"])
    nodes: list[dict[str, Any] | None] = [None] * len(specs)
    by_artifact: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        by_artifact.setdefault(spec["artifactID"], []).append(i)
    for aid, indexes in by_artifact.items():
        art = await resolve_id(ctx, aid)
        if art is None:
            raise NotFound("createArtifactFiles: unknown artifact")
        for chunk in range(0, len(indexes), BATCH):
            part = indexes[chunk:chunk + BATCH]
            md5s = [_md5_hex(specs[i]["md5"], specs[i]["name"]) for i in part]
            res = await ctx.up.post(ctx.key, _artifacts(art.entity, art.project, "_staged"),
                                    {"objects": [{"md5": m} for m in md5s]})
            for i, obj in zip(part, res["objects"]):
                pending = obj["state"] == "pending"
                nodes[i] = {"id": None, "name": specs[i]["name"], "displayName": specs[i]["name"],
                            "storagePath": None, "uploadUrl": obj["url"] if pending else None,
                            "uploadHeaders": [f"{k}:{v}" for k, v in (obj.get("headers") or {}).items()],
                            "uploadMultipartUrls": None, "artifact": art}
    return {"files": {"edges": [{"node": n} for n in nodes]}}


def _md5_hex(b64: str, what: str) -> str:
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{what}: md5 must be base64") from None
    if len(raw) != 16:
        raise InvalidArgument(f"{what}: md5 must be 16 bytes")
    return raw.hex()


@mutation.field("commitArtifact")
async def resolve_commit(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None:
        raise NotFound("commitArtifact: unknown artifact")
    if art.version is not None:
        return {"artifact": art}  # committed already (the client retried)
    assert art.pending is not None and art.nonce is not None
    names = [f"{SCRATCH}/{art.nonce}/manifest.json", f"{SCRATCH}/{art.nonce}/committed.json"]
    docs = await _scratch(ctx, art.entity, art.project, names)
    manifest = await _read_json(ctx, docs[names[0]]["get_url"])
    if not isinstance(manifest, dict) or not isinstance(manifest.get("contents"), dict):
        raise FailedPrecondition("commitArtifact: the manifest was not uploaded (createArtifactManifest first)")
    files = await _manifest_files(ctx, art, manifest["contents"])
    doc = art.pending
    body = {"type": doc["type"], "description": doc.get("description") or "", "metadata": doc.get("metadata") or {},
            "aliases": [a for a in doc.get("aliases") or [] if a != "latest"], "files": files}
    if doc.get("run"):
        body["run_id"] = doc["run"]
    version = await ctx.up.post(ctx.key, _artifacts(art.entity, art.project, art.name, "versions"), body)
    await _tables_as_run_files(ctx, art, doc, files)
    await ctx.up.put_url(docs[names[1]]["url"], json.dumps({"version": version["version_index"]}).encode())
    committed = ArtifactObj(art.entity, art.project, art.name, int(version["version_index"]), version)
    ctx.cache.pop(("artifact", art.entity, art.project, art.name, f"v{committed.version}"), None)
    return {"artifact": committed}


async def _tables_as_run_files(ctx: Ctx, art: ArtifactObj, doc: dict[str, Any], files: list[dict[str, Any]]) -> None:
    """A table the run logged (its artifact holds `<key>.table.json` and the images the table names):
    its files become run files too, where the history row points (translate.link_table), so the
    table shows with its images like one logged by the Runyard SDK. Same bytes, no copy."""
    client_id, run = doc.get("client_id"), doc.get("run")
    stored = [f for f in files if f.get("sha256")]
    if not client_id or not run or not any(f["path"].endswith(".table.json") for f in stored):
        return
    records = [{"path": translate.wandb_table_path(client_id, f["path"]) if f["path"].endswith(".table.json")
                else f["path"], "sha256": f["sha256"]} for f in stored]
    for i in range(0, len(records), BATCH):
        await ctx.up.post(ctx.key, "/api/v1/runs/" + q(art.entity, art.project, run) + "/files",
                          {"files": records[i:i + BATCH]})


async def _manifest_files(ctx: Ctx, art: ArtifactObj, contents: dict[str, Any]) -> list[dict[str, Any]]:
    """Runyard manifest entries for the client's: stored files by sha256 (adopted from their staged
    uploads, or found by MD5), references as references."""
    files: list[dict[str, Any]] = []
    stored: list[tuple[str, str, int | None]] = []
    for path, entry in contents.items():
        if not isinstance(entry, dict):
            raise InvalidArgument(f"manifest entry {path!r} is not an object")
        ref = entry.get("ref")
        if ref:
            if str(ref).startswith(("wandb-artifact:", "wandb-client-artifact:")):
                files.append(await _artifact_reference(ctx, art, path, str(ref), entry))
            else:
                files.append({"path": path, "ref": ref, "digest": entry.get("digest"), "size": entry.get("size")})
            continue
        stored.append((path, _md5_hex(str(entry.get("digest") or ""), path), entry.get("size")))
    for i in range(0, len(stored), BATCH):
        chunk = stored[i:i + BATCH]
        res = await ctx.up.post(ctx.key, _artifacts(art.entity, art.project, "_staged", "commit"),
                                {"objects": [{"md5": m, "size": s} for _, m, s in chunk]})
        for (path, _md5, _size), obj in zip(chunk, res["objects"]):
            if obj["state"] != "ready":
                raise FailedPrecondition(f"artifact file {path!r} was not uploaded; log the artifact again")
            files.append({"path": path, "sha256": obj["sha256"], "size": obj["size"]})
    return files


async def _artifact_reference(ctx: Ctx, art: ArtifactObj, path: str, ref: str, entry: dict[str, Any]) -> dict[str, Any]:
    """`wandb-artifact://<hex id>/<path>`: a file of another artifact version, stored here by sha256."""
    if ref.startswith("wandb-client-artifact:"):
        raise InvalidArgument(f"{path}: references to artifacts of the same run that are not logged yet "
                              "(wandb-client-artifact://) are not supported; log the other artifact first")
    rest = ref.split("://", 1)[1]
    hex_id, _, inner = rest.partition("/")
    try:
        source_id = base64.b64encode(bytes.fromhex(hex_id)).decode()
    except ValueError:
        raise InvalidArgument(f"{path}: bad artifact reference {ref!r}") from None
    source = await resolve_id(ctx, source_id)
    if source is None or source.version is None:
        raise NotFound(f"{path}: the referenced artifact {ref!r} was not found")
    rec = await ctx.up.get(ctx.key, _artifacts(source.entity, source.project, source.name, f"v{source.version}",
                                               "files", *inner.split("/")))
    if rec.get("sha256"):
        return {"path": path, "sha256": rec["sha256"], "size": rec["size"]}
    return {"path": path, "ref": rec["ref"], "digest": rec.get("digest"), "size": rec.get("size")}


@mutation.field("useArtifact")
async def resolve_use(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("useArtifact: the artifact was not found (or is not committed yet)")
    entity = await ctx.entity_or_default(input.get("entityName"))
    await ctx.up.post(ctx.key, _artifacts(art.entity, art.project, art.name, f"v{art.version}", "use"),
                      {"run": {"entity": entity, "project": input["projectName"], "run_id": input["runName"]}})
    return {"artifact": art}


@mutation.field("linkArtifact")
async def resolve_link(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    """Link = the same files as a version of another collection (content-addressed: no bytes copied)."""
    ctx = ctx_of(info)
    if not input.get("artifactID"):
        raise InvalidArgument("linkArtifact: artifactID is required (client ids are not kept here)")
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("linkArtifact: the artifact was not found (or is not committed yet)")
    entity = await ctx.entity_or_default(input.get("entityName"))
    project, target = input["projectName"], input["artifactPortfolioName"]
    files = [{k: v for k, v in f.items() if k in ("path", "sha256", "size", "ref", "digest")}
             for f in await _all_files(ctx, art, urls=False)]
    aliases = [a["alias"] for a in input.get("aliases") or [] if a["alias"] != "latest"]
    body = {"type": art.data["type"], "description": art.data.get("description") or "",
            "metadata": art.data.get("metadata") or {}, "aliases": aliases, "files": files}
    version = await ctx.up.post(ctx.key, _artifacts(entity, project, target, "versions"), body)
    linked = ArtifactObj(entity, project, target, int(version["version_index"]), version)
    return {"versionIndex": linked.version, "artifactMembership": MembershipObj(linked)}


def _collection_aliases(inputs: list[dict[str, Any]], art: ArtifactObj) -> list[str]:
    out = []
    for a in inputs:
        if (a.get("artifactCollectionName") or art.name) != art.name:
            raise InvalidArgument("aliases of another collection cannot be set through this artifact")
        out.append(str(a["alias"]))
    return out


@mutation.field("addAliases")
async def resolve_add_aliases(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("addAliases: the artifact was not found")
    for alias in _collection_aliases(input["aliases"], art):
        if alias != "latest":
            await ctx.up.call(ctx.key, "PUT", _artifacts(art.entity, art.project, art.name, "aliases", alias),
                              json={"version": f"v{art.version}"})
    return {"success": True}


@mutation.field("deleteAliases")
async def resolve_delete_aliases(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("deleteAliases: the artifact was not found")
    for alias in _collection_aliases(input["aliases"], art):
        await ctx.up.call(ctx.key, "DELETE", _artifacts(art.entity, art.project, art.name, "aliases", alias))
    return {"success": True}


@mutation.field("updateArtifact")
async def resolve_update_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    """Aliases change; description and metadata are fixed once logged (an unchanged value is fine)."""
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("updateArtifact: the artifact was not found")
    if input.get("description") is not None and input["description"] != (art.data.get("description") or ""):
        raise InvalidArgument("Runyard keeps an artifact version's description as it was logged; it cannot change")
    if input.get("metadata") is not None and json.loads(input["metadata"]) != (art.data.get("metadata") or {}):
        raise InvalidArgument("Runyard keeps an artifact version's metadata as it was logged; it cannot change")
    if input.get("tagsToAdd") or input.get("tagsToDelete"):
        raise InvalidArgument("this Runyard server does not keep artifact tags")
    if input.get("aliases") is not None:
        wanted = set(_collection_aliases(input["aliases"], art)) - {"latest"}
        current = set(art.data.get("aliases") or []) - {"latest"}
        for alias in sorted(wanted - current):
            await ctx.up.call(ctx.key, "PUT", _artifacts(art.entity, art.project, art.name, "aliases", alias),
                              json={"version": f"v{art.version}"})
        for alias in sorted(current - wanted):
            await ctx.up.call(ctx.key, "DELETE", _artifacts(art.entity, art.project, art.name, "aliases", alias))
        ctx.cache.pop(("artifact", art.entity, art.project, art.name, f"v{art.version}"), None)
        art = await load_version(ctx, art.entity, art.project, art.name, f"v{art.version}") or art
    return {"artifact": art}


@mutation.field("deleteArtifact")
async def resolve_delete_artifact(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    art = await resolve_id(ctx, input["artifactID"])
    if art is None or art.version is None:
        raise NotFound("deleteArtifact: the artifact was not found")
    await ctx.up.call(ctx.key, "DELETE", _artifacts(art.entity, art.project, art.name, f"v{art.version}"),
                      params={"delete_aliases": "true" if input.get("deleteAliases") else "false"})
    return {"artifact": art}


@query.field("clientIDMapping")
def resolve_client_id_mapping(*_: Any, **__: Any) -> None:
    raise InvalidArgument("client ids are not kept by this server (the CLIENT_IDS feature is not offered)")


bindables = [query, mutation, project_type, run_type, artifact_type, collection_iface, sequence_type, portfolio_type,
             membership_type, type_type, manifest_type, creator_union]
