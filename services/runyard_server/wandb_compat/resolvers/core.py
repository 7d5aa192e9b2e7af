"""Who is calling, what the server offers, entities and projects."""

from __future__ import annotations

from typing import Any

from ariadne import ObjectType, QueryType
from graphql import GraphQLResolveInfo

from ... import __version__
from .. import ids
from ..context import q
from .objects import ProjectObj, ctx_of, offset_of, page

__all__ = ["bindables"]

query = QueryType()
user = ObjectType("User")
entity_type = ObjectType("Entity")
project_type = ObjectType("Project")

DEFAULT_PROJECT = "uncategorized"  # what the wandb client and W&B call a run's project when none is given


def _user(username: str, *, entity: str | None = None, is_admin: bool = False,
          teams: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": ids.user_id(username), "name": username, "username": username, "email": None,
        "admin": is_admin, "flags": "{}", "entity": entity or username, "deletedAt": None, "photoUrl": None,
        "apiKeys": {"edges": []}, "_teams": teams,
    }


@query.field("viewer")
async def resolve_viewer(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    ctx = ctx_of(info)
    v = await ctx.viewer()
    return _user(v["username"], entity=v["entity"], is_admin=bool(v.get("is_admin")))


@user.field("teams")
async def resolve_teams(obj: dict[str, Any], info: GraphQLResolveInfo, **_: Any) -> dict[str, Any]:
    teams = obj.get("_teams")
    if teams is None:
        ctx = ctx_of(info)
        me = (await ctx.viewer())["username"]
        if obj.get("username") != me:
            return {"edges": []}
        listed = await ctx.up.get(ctx.key, "/api/v1/entities")
        teams = [e["name"] for e in listed.get("entities", []) if e.get("kind") == "team"]
    return {"edges": [{"node": _entity(name, team=True)} for name in teams]}


@user.field("defaultEntity")
def resolve_default_entity(obj: dict[str, Any], _: GraphQLResolveInfo) -> dict[str, Any]:
    return _entity(str(obj["entity"]), team=False)


def _entity(name: str, *, team: bool) -> dict[str, Any]:
    return {"id": ids.entity_id(name), "name": name, "isTeam": team, "defaultAccess": "USER_READ",
            "photoUrl": None, "organization": None, "members": [],
            "xxhashDigestsEnabled": False}  # artifact files are named by MD5 here


@query.field("serverInfo")
def resolve_server_info(*_: Any) -> dict[str, Any]:
    # No optional W&B server feature is advertised: the client then uses the plain protocol answered
    # here (plain-text console lines, no client ids, no gzip, no artifact tags or registries).
    return {
        "features": [],
        "cliVersionInfo": {},
        "latestLocalVersionInfo": {"outOfDate": False, "latestVersionString": __version__,
                                   "versionOnThisInstanceString": __version__},
        "availableBucketProviders": [],
        "isGoogleCloudStorage": False,
        "defaultCloudRegion": None,
        "frontendHost": None,
    }


@query.field("organization")
def resolve_organization(*_: Any, **__: Any) -> None:
    return None  # Runyard has users and teams, no organizations


@query.field("entity")
async def resolve_entity(_: Any, info: GraphQLResolveInfo, name: str | None = None) -> dict[str, Any] | None:
    ctx = ctx_of(info)
    listed = await ctx.up.get(ctx.key, "/api/v1/entities")
    for e in listed.get("entities", []):
        if e.get("name") == (name or (await ctx.viewer())["entity"]):
            return _entity(e["name"], team=e.get("kind") == "team")
    return None  # unknown, or not one the caller belongs to: the same answer


@entity_type.field("projects")
async def resolve_entity_projects(obj: dict[str, Any], info: GraphQLResolveInfo, first: int | None = None,
                                  after: str | None = None, **_: Any) -> dict[str, Any]:
    return await _projects(info, obj["name"], first, after)


@query.field("projects")
@query.field("models")
async def resolve_projects(_: Any, info: GraphQLResolveInfo, entityName: str | None = None,  # noqa: N803
                           first: int | None = None, after: str | None = None, **__: Any) -> dict[str, Any]:
    ctx = ctx_of(info)
    return await _projects(info, await ctx.entity_or_default(entityName), first, after)


async def _projects(info: GraphQLResolveInfo, entity: str, first: int | None, after: str | None) -> dict[str, Any]:
    ctx = ctx_of(info)
    listed = await ctx.up.get(ctx.key, "/api/v1/projects", params={"entity": entity})
    items = [ProjectObj(p["entity"], p["name"], p) for p in listed.get("projects", [])]
    start, limit = offset_of(after), max(1, first or 50)
    return page(items[start:start + limit], len(items), start, limit)


@query.field("project")
@query.field("model")
async def resolve_project(_: Any, info: GraphQLResolveInfo, name: str | None = None,
                          entityName: str | None = None) -> ProjectObj | None:  # noqa: N803
    ctx = ctx_of(info)
    entity = await ctx.entity_or_default(entityName)
    project = name or DEFAULT_PROJECT
    data = await ctx.project(entity, project)
    if data is None:
        # a project appears with its first run; before that W&B's answer is null, and so is ours
        return None
    return ProjectObj(data["entity"], data["name"], data)


def _project_field(name: str, fn: Any) -> None:
    project_type.set_field(name, lambda obj, _info, **_kw: fn(obj))


_project_field("id", lambda p: ids.project_id(p.entity, p.name))
_project_field("internalId", lambda p: ids.project_number(p.entity, p.name))
_project_field("name", lambda p: p.name)
_project_field("entityName", lambda p: p.entity)
_project_field("entity", lambda p: _entity(p.entity, team=False))
_project_field("description", lambda p: p.data.get("description") or "")
_project_field("createdAt", lambda p: p.data.get("created_at"))
_project_field("updatedAt", lambda p: p.data.get("updated_at"))
_project_field("isBenchmark", lambda p: False)
_project_field("readOnly", lambda p: False)
_project_field("access", lambda p: "PRIVATE" if p.data.get("visibility", "private") == "private" else "USER_READ")
_project_field("user", lambda p: None)
_project_field("sweeps", lambda p: {"edges": [], "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}})


def project_path(p: ProjectObj) -> str:
    return "/api/v1/projects/" + q(p.entity, p.name)


bindables = [query, user, entity_type, project_type]
