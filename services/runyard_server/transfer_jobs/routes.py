"""The routes of copy jobs ("Copy to instance..." in the UI; docs/transfer.md "Copy from the UI").

    GET    /api/v1/admin/remotes                          remote instances (never their keys)   admins
    POST   /api/v1/admin/remotes                          register one (its URL and key are checked)  admins
    POST   /api/v1/admin/remotes/{name}/check             check it again                         admins
    DELETE /api/v1/admin/remotes/{name}                   remove it                              admins
    GET    /api/v1/transfers                              copy jobs the caller may see
    GET    /api/v1/transfers/{entity}/{project}           ... of one project
    POST   /api/v1/transfers/{entity}/{project}           start a copy of the project or some of its runs  admins
    GET    /api/v1/transfers/{entity}/{project}/{job_id}  one job with its runs
    POST   /api/v1/transfers/{entity}/{project}/{job_id}/cancel

Access, settled before the body is looked at: remote instances are the instance admins' alone (403 for
everyone else, as every /api/v1/admin route). A job is seen by the instance admins and by the user who
started it, and only inside a project the caller may read (else 404, like a project that does not
exist); only admins start copies (the remotes are theirs), and the copy reads the project with the
starting admin's rights, through a key made for the job and revoked when it ends (worker.py).
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
from fastapi import APIRouter, Request, Response

from ..common import audit
from ..common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ..common.names import ENTITY_NAME_RE, PROJECT_NAME_RE
from ..common.verifier import Principal, project_for_read
from ..http.deps import AddressDep, PoolDep, PrincipalDep
from .crypto import key_hint, load_box
from .schemas import JobDetail, JobList, RemoteIn, RemoteList, RemoteOut, TransferIn
from .settings import TransferSettings

router = APIRouter(tags=["transfers"])

RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
FINISHED = ("succeeded", "failed", "cancelled")

_JOB_COLUMNS = """j.id, j.state, j.remote_name AS remote, j.remote_url, j.entity, j.project, j.run_ids, j.to_entity,
    j.to_project, j.username AS started_by, j.cancel_requested, j.attempts, j.runs_total, j.runs_done, j.runs_failed,
    j.artifacts_created, j.bytes_uploaded, j.message, j.summary, j.created_at, j.started_at, j.finished_at,
    j.updated_at"""


def _settings(request: Request) -> TransferSettings:
    return request.app.state.transfer_settings  # type: ignore[no-any-return]


def _admin(who: Principal) -> None:
    if not who.is_admin:
        raise PermissionDenied("only instance admins may manage remote instances")


def _remote_out(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in ("name", "url", "key_hint", "remote_user", "created_at", "checked_at", "check_ok",
                                "check_message")} | {"created_by": row["created_by_name"]}


async def check_remote(url: str, key: str, timeout: float) -> str:
    """The remote's user name for this key (GET /api/v1/viewer); FailedPrecondition saying what is wrong."""
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            resp = await client.get(f"{url}/api/v1/viewer", headers={"Authorization": f"Bearer {key}"})
    except httpx.InvalidURL as exc:
        raise InvalidArgument(f"url is not a valid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise FailedPrecondition(f"cannot reach {url}: {type(exc).__name__}: {exc or 'no answer'}") from None
    if resp.status_code == 401:
        raise FailedPrecondition(f"{url} refused the API key (401): check the key, or make a new one on that "
                                 "instance (Settings > API keys)")
    body: Any = None
    try:
        body = resp.json()
    except ValueError:
        pass
    if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("username"), str):
        raise FailedPrecondition(f"{url} does not look like a Runyard server: GET /api/v1/viewer answered "
                                 f"{resp.status_code}{' (not JSON)' if body is None else ''}; check the URL "
                                 "(the instance's base URL, without /api)")
    return str(body["username"])


def _clean_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url) or any(c.isspace() for c in url):
        raise InvalidArgument(f"url must be an http:// or https:// base URL, got {url[:80]!r}")
    return url


@router.get("/api/v1/admin/remotes", response_model=RemoteList)
async def list_remotes(who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Remote instances copies can go to: name, URL, a hint of the key, who added it and the last check."""
    _admin(who)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM remote_instances ORDER BY name")
    return {"remotes": [_remote_out(r) for r in rows]}


@router.post("/api/v1/admin/remotes", status_code=201, response_model=RemoteOut)
async def add_remote(body: RemoteIn, request: Request, who: PrincipalDep, pool: PoolDep,
                     address: AddressDep) -> dict[str, Any]:
    """Register a remote instance. Its URL and key are checked first (GET /api/v1/viewer on it); the key
    is stored encrypted with the server's secret key and never returned."""
    _admin(who)
    settings = _settings(request)
    if not ENTITY_NAME_RE.fullmatch(body.name):
        raise InvalidArgument("name must be 1-64 characters: lowercase letters, digits, '_', '.' or '-', starting "
                              "with a letter or digit")
    url = _clean_url(body.url)
    key = body.api_key.strip()
    if not key:
        raise InvalidArgument("api_key is empty")
    box = load_box(settings)
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM remote_instances WHERE name = $1", body.name):
            raise AlreadyExists(f"a remote instance named {body.name!r} exists; remove it first or choose another name")
    user = await check_remote(url, key, settings.check_timeout_s)
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                """INSERT INTO remote_instances (name, url, key_box, key_hint, remote_user, created_by,
                       created_by_name, checked_at, check_ok, check_message)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, now(), true, $8) RETURNING *""",
                body.name, url, box.seal(key, body.name), key_hint(key), user, who.user_id, who.username,
                f"ok: the key is {user}'s")
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"a remote instance named {body.name!r} exists") from None
        await audit.record(conn, "remote.add", actor=who, target=body.name, address=address,
                           detail={"url": url, "remote_user": user})
    return _remote_out(row)


async def _remote_row(conn: asyncpg.Connection, name: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM remote_instances WHERE name = $1", name)
    if row is None:
        raise NotFound(f"remote instance {name!r} not found")
    return row


@router.post("/api/v1/admin/remotes/{name}/check", response_model=RemoteOut)
async def recheck_remote(name: str, request: Request, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """Check a remote's URL and key again; the result is kept (the list shows it)."""
    _admin(who)
    settings = _settings(request)
    async with pool.acquire() as conn:
        row = await _remote_row(conn, name)
    ok, message, user = True, "", row["remote_user"]
    try:
        key = load_box(settings).open(row["key_box"], name)
        user = await check_remote(row["url"], key, settings.check_timeout_s)
        message = f"ok: the key is {user}'s"
    except (FailedPrecondition, InvalidArgument) as exc:
        ok, message = False, exc.message
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """UPDATE remote_instances SET checked_at = now(), check_ok = $2, check_message = $3, remote_user = $4
                WHERE name = $1 RETURNING *""", name, ok, message, user)
    if row is None:
        raise NotFound(f"remote instance {name!r} not found")
    return _remote_out(row)


@router.delete("/api/v1/admin/remotes/{name}", status_code=204)
async def remove_remote(name: str, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> Response:
    """Remove a remote instance and its stored key. Jobs that used it keep their history; queued or running
    ones are cancelled."""
    _admin(who)
    async with pool.acquire() as conn, conn.transaction():
        row = await _remote_row(conn, name)
        await conn.execute(
            """UPDATE transfer_jobs SET state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
                      cancel_requested = true, message = 'the remote instance was removed',
                      finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END, updated_at = now()
                WHERE remote_id = $1 AND state IN ('queued', 'running')""", row["id"])
        await conn.execute("DELETE FROM remote_instances WHERE id = $1", row["id"])
        await audit.record(conn, "remote.remove", actor=who, target=name, address=address, detail={"url": row["url"]})
    return Response(status_code=204)


# ---- jobs ---------------------------------------------------------------------------------------------
def _visible(who: Principal) -> tuple[str, list[Any]]:
    """SQL condition (on `j`) and its arguments: the jobs `who` may see."""
    if who.is_admin:
        return "true", []
    return "j.user_id = $1", [who.user_id]


async def _jobs(conn: asyncpg.Connection, who: Principal, extra: str = "", args: tuple[Any, ...] = (),
                limit: int = 100) -> list[dict[str, Any]]:
    cond, cargs = _visible(who)
    params = [*cargs, *args]
    extra = extra.format(*(f"${len(cargs) + i + 1}" for i in range(len(args))))
    rows = await conn.fetch(f"SELECT {_JOB_COLUMNS} FROM transfer_jobs j WHERE {cond} {extra} "
                            f"ORDER BY j.id DESC LIMIT {int(limit)}", *params)
    return [dict(r) for r in rows]


@router.get("/api/v1/transfers", response_model=JobList)
async def list_jobs(who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """The latest 100 copy jobs the caller may see (admins: all; others: the ones they started)."""
    async with pool.acquire() as conn:
        return {"jobs": await _jobs(conn, who)}


@router.get("/api/v1/transfers/{entity}/{project}", response_model=JobList)
async def project_jobs(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """The latest 100 copy jobs of a project the caller may see."""
    async with pool.acquire() as conn:
        row = await project_for_read(conn, who, entity, project)
        return {"jobs": await _jobs(conn, who, "AND j.project_id = {0}", (row["id"],))}


@router.post("/api/v1/transfers/{entity}/{project}", status_code=201, response_model=JobDetail)
async def start_job(entity: str, project: str, body: TransferIn, who: PrincipalDep, pool: PoolDep,
                    address: AddressDep) -> dict[str, Any]:
    """Start copying the project (or the runs `run_ids` of it) to a remote instance. Admins only."""
    async with pool.acquire() as conn:
        proj = await project_for_read(conn, who, entity, project)
        if not who.is_admin:
            raise PermissionDenied("only instance admins may copy to other instances (the remotes are theirs)")
        remote = await conn.fetchrow("SELECT id, name, url FROM remote_instances WHERE name = $1", body.remote)
        if remote is None:
            raise InvalidArgument(f"no remote instance named {body.remote!r} (Settings > Remote instances)")
        to_entity = body.to_entity or entity
        to_project = body.to_project or project
        if not ENTITY_NAME_RE.fullmatch(to_entity):
            raise InvalidArgument(f"to_entity {to_entity!r} is not a valid entity name")
        if not PROJECT_NAME_RE.fullmatch(to_project):
            raise InvalidArgument(f"to_project {to_project!r} is not a valid project name")
        run_ids: list[str] | None = None
        if body.run_ids is not None:
            run_ids = list(dict.fromkeys(r.strip() for r in body.run_ids if r.strip()))
            if not run_ids:
                raise InvalidArgument("run_ids is empty: leave it out to copy the whole project")
            bad = [r for r in run_ids if not RUN_ID_RE.fullmatch(r)]
            if bad:
                raise InvalidArgument(f"not a run id: {bad[0][:80]!r}")
            have = {r["run_id"] for r in await conn.fetch(
                "SELECT run_id FROM runs WHERE project_id = $1 AND run_id = ANY($2::text[])", proj["id"], run_ids)}
            missing = [r for r in run_ids if r not in have]
            if missing:
                raise NotFound(f"runs not found in {entity}/{project}: {', '.join(missing[:10])}")
            listed = run_ids
        else:
            listed = [r["run_id"] for r in await conn.fetch(
                "SELECT run_id FROM runs WHERE project_id = $1 ORDER BY created_at, id", proj["id"])]
        async with conn.transaction():
            job_id = await conn.fetchval(
                """INSERT INTO transfer_jobs (remote_id, remote_name, remote_url, user_id, username, project_id,
                       entity, project, run_ids, to_entity, to_project, runs_total)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id""",
                remote["id"], remote["name"], remote["url"], who.user_id, who.username, proj["id"], entity, project,
                run_ids, to_entity, to_project, len(listed))
            await conn.executemany(
                "INSERT INTO transfer_job_runs (job_id, run_id, position) VALUES ($1, $2, $3)",
                [(job_id, r, i) for i, r in enumerate(listed, 1)])
            await audit.record(conn, "transfer.start", actor=who, target=f"{entity}/{project}", address=address,
                               detail={"job": job_id, "remote": remote["name"], "runs": len(listed),
                                       "to": f"{to_entity}/{to_project}"})
        await conn.execute("SELECT pg_notify('runyard_transfer_jobs', $1)", str(job_id))
        return await _detail(conn, who, proj, job_id)


async def _detail(conn: asyncpg.Connection, who: Principal, proj: asyncpg.Record, job_id: int) -> dict[str, Any]:
    jobs = await _jobs(conn, who, "AND j.project_id = {0} AND j.id = {1}", (proj["id"], job_id), limit=1)
    if not jobs:
        raise NotFound(f"copy job {job_id} not found in {proj['entity']}/{proj['name']}")
    runs = await conn.fetch(
        """SELECT run_id, status, records_sent, records_total, points, files_sent, detail
             FROM transfer_job_runs WHERE job_id = $1 ORDER BY position, run_id""", job_id)
    tail = await conn.fetchval("SELECT log_tail FROM transfer_jobs WHERE id = $1", job_id)
    return {**jobs[0], "runs": [dict(r) for r in runs], "log_tail": tail or ""}


def _job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 2**62:
        raise NotFound(f"copy job {text[:40]!r} not found")
    return value


@router.get("/api/v1/transfers/{entity}/{project}/{job_id}", response_model=JobDetail)
async def get_job(entity: str, project: str, job_id: str, who: PrincipalDep, pool: PoolDep) -> dict[str, Any]:
    """One copy job: its state, counts, summary and every run's progress and result."""
    async with pool.acquire() as conn:
        proj = await project_for_read(conn, who, entity, project)
        return await _detail(conn, who, proj, _job_id(job_id))


@router.post("/api/v1/transfers/{entity}/{project}/{job_id}/cancel", response_model=JobDetail)
async def cancel_job(entity: str, project: str, job_id: str, who: PrincipalDep, pool: PoolDep,
                     address: AddressDep) -> dict[str, Any]:
    """Cancel a copy job: a queued one at once, a running one as soon as its worker notices (within seconds;
    what was copied stays on the remote, and starting the copy again goes on from there)."""
    async with pool.acquire() as conn:
        proj = await project_for_read(conn, who, entity, project)
        number = _job_id(job_id)
        job = await _detail(conn, who, proj, number)
        if job["state"] in FINISHED:
            raise FailedPrecondition(f"copy job {number} has already {job['state']}")
        async with conn.transaction():
            await conn.execute(
                """UPDATE transfer_jobs SET cancel_requested = true, updated_at = now(),
                          state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
                          finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,
                          message = CASE WHEN state = 'queued' THEN 'cancelled by ' || $2 ELSE message END
                    WHERE id = $1""", number, who.username)
            await audit.record(conn, "transfer.cancel", actor=who, target=f"{entity}/{project}", address=address,
                               detail={"job": number})
        return await _detail(conn, who, proj, number)
