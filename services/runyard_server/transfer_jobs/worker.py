"""`runyard-server transfer-worker`: runs the copy jobs of `transfer_jobs`.

Loop: claim a job (`SELECT ... FOR UPDATE SKIP LOCKED`: a queued one, or a running one whose worker has
not reported for RUNYARD_TRANSFER_STALE_S), at most RUNYARD_TRANSFER_CONCURRENCY at once. A job:
  1. makes an API key for the user who started it (the copy reads the project with that user's rights,
     no more), revoking the key an earlier, dead attempt made;
  2. decrypts the remote's key (crypto.py);
  3. runs the SDK's `runyard transfer ENTITY/PROJECT --from THIS --to REMOTE --progress json` as a child
     process (both keys in its environment, never on its command line; the services never import the SDK),
     with a journal folder of its own (RUNYARD_CONFIG_DIR) that is also kept in the job's row, so a job
     claimed again after its worker died goes on where it stopped and every record lands once;
  4. turns each JSON line into the job's and its runs' rows, and beats `heartbeat_at` every few seconds;
     a cancel asked for in the meantime stops the child;
  5. ends the job succeeded / failed / cancelled, with the command's summary, and revokes the key.
A worker asked to stop (SIGTERM) stops its children and puts their jobs back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from ..common.db import create_pool
from ..common.keycache import KeyCache
from ..common.security import new_api_key
from ..common.settings import Settings
from .crypto import load_box
from .metrics import JOBS_FINISHED, JOBS_RUNNING
from .settings import TransferSettings

__all__ = ["Worker", "run_worker"]

log = logging.getLogger("runyard_server.transfer_jobs")

OK_STATUSES = ("copied", "resumed", "up to date", "skipped")
BAD_STATUSES = ("conflict", "failed")
LOG_TAIL = 8000

_CLAIM = """
WITH c AS (
    SELECT id FROM transfer_jobs
     WHERE state = 'queued' OR (state = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2)))
     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
UPDATE transfer_jobs j SET state = 'running', worker = $1, heartbeat_at = now(), attempts = j.attempts + 1,
       started_at = coalesce(j.started_at, now()), updated_at = now()
  FROM c WHERE j.id = c.id
RETURNING j.*"""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the copy dies with its worker (a killed worker's job is claimed again, never run twice at once)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        with contextlib.suppress(Exception):
            ctypes.CDLL(libc_name, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Worker:
    def __init__(self, settings: Settings, tsettings: TransferSettings, name: str | None = None) -> None:
        self.settings = settings
        self.t = tsettings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.pool: asyncpg.Pool | None = None
        self.cache: KeyCache | None = None
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.stopping = asyncio.Event()
        self._temp_state: str | None = None
        if tsettings.state_dir:
            self.state_dir = Path(tsettings.state_dir).expanduser()
        else:
            self._temp_state = tempfile.mkdtemp(prefix="runyard-transfers-")
            self.state_dir = Path(self._temp_state)

    @property
    def beat_s(self) -> float:
        return max(0.2, min(5.0, self.t.stale_s / 3))

    async def run(self) -> None:
        if not self.t.source_url:
            raise RuntimeError("RUNYARD_TRANSFER_SOURCE_URL is empty: the worker needs the base URL under which "
                               "this instance's REST API answers (the front door or the Ingress)")
        load_box(self.t)  # fail at start, naming RUNYARD_SECRET_KEY, rather than at the first job
        self.pool = await create_pool(self.settings.database_url, min_size=1,
                                      max_size=max(2, self.t.concurrency + 2),
                                      statement_cache_size=self.settings.db_statement_cache_size)
        self.cache = KeyCache(self.settings.redis_url, self.settings.key_cache_ttl_s)
        log.info("transfer worker %s: up to %d jobs at once, journals in %s", self.name, self.t.concurrency,
                 self.state_dir)
        try:
            while not self.stopping.is_set():
                claimed = False
                while len(self.tasks) < self.t.concurrency and not self.stopping.is_set():
                    job = await self._claim()
                    if job is None:
                        break
                    claimed = True
                    self._start(job)
                if len(self.tasks) >= self.t.concurrency:
                    await asyncio.wait(list(self.tasks.values()), timeout=self.t.poll_s,
                                       return_when=asyncio.FIRST_COMPLETED)
                elif not claimed:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), self.t.poll_s)
        finally:
            for task in list(self.tasks.values()):
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            await self.cache.close()
            await self.pool.close()
            if self._temp_state:
                shutil.rmtree(self._temp_state, ignore_errors=True)

    def _start(self, job: asyncpg.Record) -> None:
        job_id = int(job["id"])
        task = asyncio.create_task(self._run_job(job))
        self.tasks[job_id] = task

        def forget(_task: asyncio.Task[None]) -> None:
            self.tasks.pop(job_id, None)

        task.add_done_callback(forget)

    async def _claim(self) -> asyncpg.Record | None:
        assert self.pool is not None
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                return await conn.fetchrow(_CLAIM, self.name, float(self.t.stale_s))
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("transfer worker: cannot look for jobs: %s", exc)
            return None

    # ---- one job ------------------------------------------------------------------------------------
    async def _run_job(self, job: asyncpg.Record) -> None:
        job_id = int(job["id"])
        JOBS_RUNNING.inc()
        key_id: int | None = None
        try:
            log.info("job %d: %s/%s -> %s (attempt %d)", job_id, job["entity"], job["project"], job["remote_name"],
                     job["attempts"])
            await self._revoke(job["source_key_id"])
            if job["cancel_requested"]:
                await self._finish(job_id, "cancelled", "cancelled")
                return
            try:
                remote_key, source_key, key_id = await self._keys(job)
            except _JobError as exc:
                await self._finish(job_id, "failed", exc.message)
                return
            state, message = await self._spawn(job, remote_key, source_key)
            await self._finish(job_id, state, message)
        except asyncio.CancelledError:
            # the worker stops: the job goes back to the queue for this or another worker
            with contextlib.suppress(Exception):
                await self._requeue(job_id)
            raise
        except Exception as exc:  # a bug or the database away: the job says so, a later claim retries
            log.exception("job %d failed", job_id)
            with contextlib.suppress(Exception):
                await self._finish(job_id, "failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            JOBS_RUNNING.dec()
            with contextlib.suppress(Exception):
                await self._revoke(key_id)

    async def _keys(self, job: asyncpg.Record) -> tuple[str, str, int]:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            remote = await conn.fetchrow("SELECT name, url, key_box FROM remote_instances WHERE id = $1",
                                         job["remote_id"]) if job["remote_id"] is not None else None
            if remote is None:
                raise _JobError(f"the remote instance {job['remote_name']!r} was removed")
            user = await conn.fetchrow("SELECT disabled FROM users WHERE id = $1", job["user_id"])
            if user is None or user["disabled"]:
                raise _JobError(f"the user who started the copy ({job['username']}) is disabled")
            try:
                remote_key = load_box(self.t).open(bytes(remote["key_box"]), remote["name"])
            except Exception as exc:
                raise _JobError(getattr(exc, "message", str(exc))) from None
            key, prefix, digest = new_api_key()
            async with conn.transaction():
                key_id = int(await conn.fetchval(
                    "INSERT INTO api_keys (user_id, prefix, key_hash, name) VALUES ($1, $2, $3, $4) RETURNING id",
                    job["user_id"], prefix, digest, f"copy job {job['id']} (revoked when it ends)"))
                await conn.execute("UPDATE transfer_jobs SET source_key_id = $2 WHERE id = $1", job["id"], key_id)
        return remote_key, key, key_id

    async def _revoke(self, key_id: int | None) -> None:
        if key_id is None or self.pool is None:
            return
        async with self.pool.acquire() as conn:
            digest = await conn.fetchval(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING key_hash", key_id)
        if digest is not None and self.cache is not None:
            await self.cache.invalidate([bytes(digest)])

    def _argv(self, job: asyncpg.Record) -> list[str]:
        argv = [*self.t.runyard_cli(), "transfer", f"{job['entity']}/{job['project']}", "--from", self.t.source_url,
                "--to", job["remote_url"], "--to-entity", job["to_entity"], "--to-project", job["to_project"],
                "--progress", "json", "--workers", str(self.t.file_workers)]
        if job["run_ids"] is not None:
            argv += ["--runs", ",".join(job["run_ids"])]
        return argv

    def _journal_dir(self, job: asyncpg.Record) -> Path:
        """The job's RUNYARD_CONFIG_DIR; its transfers.json starts from the journal kept in the row."""
        folder = self.state_dir / f"job-{int(job['id'])}"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "transfers.json"
        try:
            have = json.loads(path.read_text())
        except (OSError, ValueError):
            have = {}
        stored = job["journal"] or {}
        for target, entries in stored.items():
            for key, entry in (entries or {}).items():
                have.setdefault(target, {}).setdefault(key, entry)
        path.write_text(json.dumps(have, indent=1, sort_keys=True))
        return folder

    def _child_env(self, folder: Path, source_key: str, remote_key: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        env.update({"RUNYARD_CONFIG_DIR": str(folder), "RUNYARD_TRANSFER_FROM_KEY": source_key,
                    "RUNYARD_TRANSFER_TO_KEY": remote_key, "PYTHONUNBUFFERED": "1"})
        return env

    async def _spawn(self, job: asyncpg.Record, remote_key: str, source_key: str) -> tuple[str, str]:
        job_id = int(job["id"])
        folder = self._journal_dir(job)
        proc = await asyncio.create_subprocess_exec(
            *self._argv(job), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._child_env(folder, source_key, remote_key), cwd=str(folder),
            preexec_fn=_die_with_parent, limit=16 * 1024 * 1024)
        progress = _Progress(job_id)
        cancelled = asyncio.Event()

        async def beat() -> None:
            assert self.pool is not None
            while proc.returncode is None:
                await asyncio.sleep(self.beat_s)
                try:
                    async with self.pool.acquire() as conn:
                        ask = await conn.fetchval(
                            """UPDATE transfer_jobs SET heartbeat_at = now() WHERE id = $1 AND worker = $2
                               RETURNING cancel_requested""", job_id, self.name)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("job %d: heartbeat failed: %s", job_id, exc)
                    continue
                if ask is None or ask:  # cancelled, or another worker owns the job now
                    cancelled.set()
                    _stop(proc)
                    return

        async def read_err() -> None:
            assert proc.stderr is not None
            while line := await proc.stderr.readline():
                progress.tail = (progress.tail + line.decode(errors="replace"))[-LOG_TAIL:]

        async def read_out() -> None:
            assert proc.stdout is not None and self.pool is not None
            while line := await proc.stdout.readline():
                try:
                    event = json.loads(line)
                except ValueError:
                    progress.tail = (progress.tail + line.decode(errors="replace"))[-LOG_TAIL:]
                    continue
                if isinstance(event, dict):
                    async with self.pool.acquire() as conn:
                        await progress.apply(conn, event, job["remote_url"])

        beater = asyncio.create_task(beat())
        try:
            await asyncio.gather(read_out(), read_err())
            code = await proc.wait()
        except asyncio.CancelledError:
            _stop(proc)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 10)
            raise
        finally:
            beater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beater
            assert self.pool is not None
            async with self.pool.acquire() as conn:
                await conn.execute("UPDATE transfer_jobs SET log_tail = $2, updated_at = now() WHERE id = $1",
                                   job_id, progress.tail)
        if cancelled.is_set():
            return "cancelled", "cancelled" + (f" after {progress.done} of {progress.total} runs" if progress.total else "")
        if code == 0:
            return "succeeded", progress.result or "done"
        if code == 1:
            return "failed", progress.result or f"some runs were not copied (exit 1): {_last_line(progress.tail)}"
        if code == 2:
            return "failed", progress.error or _last_line(progress.tail) or "the copy could not start (exit 2)"
        return "failed", f"`runyard transfer` ended with code {code}: {_last_line(progress.tail)}"

    async def _finish(self, job_id: int, state: str, message: str) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            done = await conn.fetchval(
                """UPDATE transfer_jobs SET state = $2, message = $3, finished_at = now(), updated_at = now(),
                          heartbeat_at = NULL WHERE id = $1 AND state = 'running' RETURNING id""",
                job_id, state, message[:4000])
            await conn.execute(
                """UPDATE transfer_job_runs SET status = CASE WHEN $2 = 'cancelled' THEN 'cancelled' ELSE 'failed' END,
                          detail = CASE WHEN detail = '' THEN $3 ELSE detail END, updated_at = now()
                    WHERE job_id = $1 AND status IN ('waiting', 'reading', 'sending')""",
                job_id, state, "not copied: " + ("the job was cancelled" if state == "cancelled" else message)[:4000])
        if done is not None:
            JOBS_FINISHED.labels(state).inc()
            log.info("job %d: %s: %s", job_id, state, message)

    async def _requeue(self, job_id: int) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await conn.execute(
                """UPDATE transfer_jobs SET state = 'queued', worker = '', heartbeat_at = NULL, updated_at = now()
                    WHERE id = $1 AND state = 'running' AND worker = $2""", job_id, self.name)


class _JobError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else ""


class _Progress:
    """The JSON lines of `runyard transfer --progress json` (docs/transfer.md), written into the rows."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.tail = ""
        self.total = 0
        self.done = 0
        self.result = ""
        self.error = ""

    async def apply(self, conn: asyncpg.Connection, e: dict[str, Any], remote_url: str) -> None:
        kind = e.get("event")
        jid = self.job_id
        if kind == "start":
            runs = [str(r) for r in e.get("runs") or []]
            self.total = len(runs)
            async with conn.transaction():
                await conn.execute("DELETE FROM transfer_job_runs WHERE job_id = $1 AND NOT run_id = ANY($2::text[])",
                                   jid, runs)
                await conn.executemany(
                    """INSERT INTO transfer_job_runs (job_id, run_id, position) VALUES ($1, $2, $3)
                       ON CONFLICT (job_id, run_id) DO UPDATE SET position = EXCLUDED.position""",
                    [(jid, r, i) for i, r in enumerate(runs, 1)])
                await conn.execute("UPDATE transfer_jobs SET runs_total = $2, updated_at = now() WHERE id = $1",
                                   jid, len(runs))
        elif kind == "run_start":
            await self._run(conn, str(e.get("run_id")), "reading", "")
        elif kind == "records":
            await conn.execute(
                """UPDATE transfer_job_runs SET status = 'sending', records_sent = $3, records_total = $4,
                          updated_at = now() WHERE job_id = $1 AND run_id = $2""",
                jid, str(e.get("run_id")), int(e.get("had") or 0) + int(e.get("sent") or 0), int(e.get("total") or 0))
        elif kind == "run":
            await conn.execute(
                """INSERT INTO transfer_job_runs (job_id, run_id, status, records_sent, records_total, points,
                       files_sent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (job_id, run_id) DO UPDATE SET status = $3, records_sent = $4, records_total = $5,
                       points = $6, files_sent = $7, detail = $8, updated_at = now()""",
                jid, str(e.get("run_id")), str(e.get("status")), int(e.get("records_sent") or 0),
                int(e.get("records_total") or 0), int(e.get("points") or 0), int(e.get("files_sent") or 0),
                str(e.get("detail") or "")[:4000])
            await self._counts(conn)
        elif kind == "journal":
            target = str(e.get("target") or remote_url)
            await conn.execute(
                """UPDATE transfer_jobs SET journal = jsonb_set(
                          CASE WHEN journal ? $2 THEN journal ELSE journal || jsonb_build_object($2::text, '{}'::jsonb) END,
                          ARRAY[$2::text, $3::text], $4::jsonb) WHERE id = $1""",
                jid, target, str(e.get("key")), e.get("entry") or {})
        elif kind == "done":
            summary = [str(s) for s in e.get("summary") or []]
            self.result = summary[0] if summary else ""
            await conn.execute(
                """UPDATE transfer_jobs SET summary = $2, artifacts_created = $3, bytes_uploaded = $4,
                          updated_at = now() WHERE id = $1""",
                jid, summary, int(e.get("artifacts_created") or 0), int(e.get("bytes_uploaded") or 0))
        elif kind == "error":
            self.error = str(e.get("message") or "")
            await conn.execute("UPDATE transfer_jobs SET message = $2, updated_at = now() WHERE id = $1",
                               jid, self.error[:4000])

    async def _run(self, conn: asyncpg.Connection, run_id: str, status: str, detail: str) -> None:
        await conn.execute(
            """UPDATE transfer_job_runs SET status = $3, detail = $4, updated_at = now()
                WHERE job_id = $1 AND run_id = $2""", self.job_id, run_id, status, detail)

    async def _counts(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            """UPDATE transfer_jobs j SET runs_done = c.done, runs_failed = c.bad, updated_at = now()
                 FROM (SELECT count(*) FILTER (WHERE status = ANY($2::text[])) AS done,
                              count(*) FILTER (WHERE status = ANY($3::text[])) AS bad
                         FROM transfer_job_runs WHERE job_id = $1) c
                WHERE j.id = $1 RETURNING j.runs_done""", self.job_id, list(OK_STATUSES), list(BAD_STATUSES))
        self.done = int(row["runs_done"]) if row else self.done


def run_worker(settings: Settings, tsettings: TransferSettings) -> int:
    """Run until SIGTERM/SIGINT; jobs still running go back to the queue."""
    async def main() -> None:
        worker = Worker(settings, tsettings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stopping.set)
        await worker.run()

    asyncio.run(main())
    return 0
