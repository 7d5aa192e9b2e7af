"""One reconcile pass of a TrackerInstance, and the status it leaves.

    validate the spec (the CRD's schema)      -> Degraded InvalidSpec
    referenced Secrets exist, hostname unique -> Degraded SecretMissing / HostnameClash
    install, upgrade or refused downgrade     -> Degraded DowngradeRefused (versions.py)
    render charts/runyard (helm template)     -> Degraded RenderFailed (the chart's own checks)
    apply `base` (config, credentials, Services, NetworkPolicies, bundled stores)
    run the migration Job when the plan says  -> Progressing Migrating / Degraded MigrationFailed
    apply `workloads`, then `routes`
    every Deployment and StatefulSet ready    -> Progressing RollingOut until then
    prune what is no longer rendered          -> Ready RolloutComplete

Change handlers (create, update, resume) raise kopf.PermanentError for a spec problem and
kopf.TemporaryError while waiting or after a transient API error, so kopf retries with a delay. The
timer (`resync`) runs the same pass for drift correction and status refresh, never raising: it leaves an
instance alone while its change handler is still retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any

import kopf

from .. import metrics
from ..conditions import now, set_conditions
from ..errors import ApiError, NotReady, ReconcileError, SpecError
from ..render import Rendered, render_async
from ..schema import apply_defaults, spec_schema, validate_spec
from ..values import instance_url
from .apply import apply_objects, owner_reference, prune, run_migration
from .checks import check_hostname, check_secrets
from .context import Context
from .readiness import observe
from .versions import plan

__all__ = ["reconcile", "resync"]


class _Paused(Exception):
    pass


def _key(body: Mapping[str, Any]) -> tuple[str, str]:
    return body["metadata"]["namespace"], body["metadata"]["name"]


async def _pass(ctx: Context, body: Mapping[str, Any], patch: kopf.Patch, logger: logging.Logger | logging.LoggerAdapter[Any],
                *, timer: bool) -> str:
    """Apply the spec once; returns the message of a completed rollout, or raises ReconcileError."""
    namespace, name = _key(body)
    spec = apply_defaults(spec_schema(), dict(body.get("spec") or {}))
    status = dict(body.get("status") or {})
    if spec.get("paused"):
        raise _Paused()
    problems = validate_spec(spec)
    if problems:
        raise SpecError("; ".join(problems), reason="InvalidSpec")
    client, config = ctx.client, ctx.config
    await check_secrets(client, namespace, spec)
    await check_hostname(client, body, spec, config.watched_namespaces)
    rollout = plan(spec, status)
    rendered: Rendered = await render_async(spec, name=name, namespace=namespace, chart=config.chart,
                                            helm=config.helm, timeout=config.helm_timeout_seconds)
    patch.status["url"] = instance_url(spec)
    owner = owner_reference(body)
    # the timer (drift correction) sends everything; a retrying change handler skips what it already sent
    applied = ctx.applied.setdefault((namespace, name), {})
    if timer:
        applied.clear()

    await apply_objects(client, rendered.stage("base"), owner, applied)
    migrated = False
    for hook in rendered.hooks:
        if hook.obj["kind"] == "Job" and hook.events & rollout.migrate_events:
            record = await run_migration(client, hook, owner, spec["version"])
            if (status.get("migration") or {}).get("image") != record["image"]:
                logger.info(f"migration Job {record['job']} completed for {record['version']}")
            patch.status["migration"] = record
            migrated = True
    await apply_objects(client, rendered.stage("workloads"), owner, applied)
    await apply_objects(client, rendered.stage("routes") + rendered.stage("other"), owner, applied)

    components, waiting, missing = await observe(client, rendered)
    patch.status["components"] = components
    for key in missing:
        applied.pop(key, None)  # deleted behind our back: the next pass applies it again
    if waiting:
        raise NotReady(f"{rollout.note}: " + "; ".join(waiting), reason="RollingOut")
    if not timer:
        deleted = await prune(client, rendered, name, namespace, body["metadata"]["uid"])
        if deleted:
            logger.info(f"pruned what is no longer rendered: {', '.join(deleted)}")
    if rollout.install and not migrated and rendered.hooks:
        # the bundled database: the services' migrate init container applied this version's schema
        patch.status["migration"] = {"version": spec["version"], "image": rendered.values["image"]["repository"]
                                     + ":" + spec["version"], "job": "init container migrate", "completedAt": now()}
    patch.status["version"] = spec["version"]
    return f"{len(components)} components ready at {spec['version']}"


def _write(body: Mapping[str, Any], patch: kopf.Patch, **conditions: tuple[bool, str, str]) -> None:
    generation = body["metadata"].get("generation")
    current = (body.get("status") or {}).get("conditions")
    patch.status["conditions"] = set_conditions(current, generation, **conditions)
    if generation is not None:
        patch.status["observedGeneration"] = generation


def _degraded(body: Mapping[str, Any], patch: kopf.Patch, exc: ReconcileError) -> None:
    _write(body, patch, Ready=(False, exc.reason, exc.message), Progressing=(False, exc.reason, exc.message),
           Degraded=(True, exc.reason, exc.message))
    metrics.set_instance(*_key(body), "Degraded")


def _progressing(body: Mapping[str, Any], patch: kopf.Patch, exc: ReconcileError) -> None:
    _write(body, patch, Ready=(False, exc.reason, exc.message), Progressing=(True, exc.reason, exc.message),
           Degraded=(False, "AsExpected", ""))
    metrics.set_instance(*_key(body), "Progressing")


def _ready(body: Mapping[str, Any], patch: kopf.Patch, message: str) -> None:
    _write(body, patch, Ready=(True, "RolloutComplete", message), Progressing=(False, "RolloutComplete", message),
           Degraded=(False, "AsExpected", ""))
    metrics.set_instance(*_key(body), "Ready")


def _paused(body: Mapping[str, Any], patch: kopf.Patch) -> None:
    _write(body, patch, Progressing=(False, "Paused", "spec.paused is true: nothing is applied until it is false"))
    metrics.set_instance(*_key(body), "Paused")


def _error_kind(exc: ReconcileError) -> str:
    if isinstance(exc, ApiError):
        return "api"
    return {"RenderFailed": "render", "MigrationFailed": "migration"}.get(exc.reason, "spec")


async def reconcile(ctx: Context, body: Mapping[str, Any], patch: kopf.Patch,
                    logger: logging.Logger | logging.LoggerAdapter[Any], *, trigger: str, retry: int = 0) -> None:
    """The change handlers' pass (create, update, resume): raises what kopf should do next."""
    key = _key(body)
    ctx.pending.add(key)
    started = time.monotonic()
    result = "error"
    try:
        async with ctx.lock(key):  # waits for a timer pass of the previous spec to finish
            message = await _pass(ctx, body, patch, logger, timer=False)
    except _Paused:
        ctx.pending.discard(key)
        _paused(body, patch)
        result = "paused"
    except SpecError as exc:
        ctx.pending.discard(key)
        _degraded(body, patch, exc)
        metrics.ERRORS.labels(_error_kind(exc)).inc()
        result = "degraded"
        raise kopf.PermanentError(f"{exc.reason}: {exc.message}") from exc
    except NotReady as exc:
        _progressing(body, patch, exc)
        result = "progressing"
        raise kopf.TemporaryError(exc.message, delay=ctx.config.retry_seconds) from exc
    except ApiError as exc:
        metrics.ERRORS.labels("api").inc()
        if exc.transient:
            delay = min(60.0, ctx.config.retry_seconds * 2 ** min(retry, 6))
            _progressing(body, patch, ReconcileError(f"retrying in {delay:g}s: {exc.message}", reason="ApiError"))
            raise kopf.TemporaryError(f"{exc.message} (retrying in {delay:g}s)", delay=delay) from exc
        ctx.pending.discard(key)
        _degraded(body, patch, exc)
        result = "degraded"
        raise kopf.PermanentError(f"ApiError: {exc.message}") from exc
    except Exception:
        metrics.ERRORS.labels("internal").inc()
        raise
    else:
        ctx.pending.discard(key)
        _ready(body, patch, message)
        result = "ready"
    finally:
        metrics.RECONCILES.labels(trigger, result).inc()
        metrics.RECONCILE_SECONDS.labels(trigger).observe(time.monotonic() - started)


async def _unless_stopped(work: Awaitable[str], stopped: Awaitable[object] | None) -> str | None:
    """`work`'s result, or None when the operator stops first (the pass is cancelled: every step of it
    is idempotent, so the next operator picks up where it was)."""
    task = asyncio.ensure_future(work)
    if stopped is None:
        return await task
    halt = asyncio.ensure_future(stopped)
    try:
        await asyncio.wait({task, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def resync(ctx: Context, body: Mapping[str, Any], patch: kopf.Patch,
                 logger: logging.Logger | logging.LoggerAdapter[Any], stopped: Awaitable[object] | None = None) -> None:
    """The timer's pass: re-apply (correcting drift) and refresh the status. Never raises for a known
    failure; leaves an instance alone while its change handler is still retrying; gives up at once when
    the operator stops (`stopped`)."""
    key = _key(body)
    lock = ctx.lock(key)
    if key in ctx.pending or lock.locked() or body["metadata"].get("deletionTimestamp"):
        return
    started = time.monotonic()
    result = "error"
    try:
        async with lock:
            outcome = await _unless_stopped(_pass(ctx, body, patch, logger, timer=True), stopped)
        if outcome is None:
            result = "cancelled"
            patch.clear()  # no half-written status from a pass that was cut short
            return
        message = outcome
    except _Paused:
        _paused(body, patch)
        result = "paused"
    except (SpecError, NotReady) as exc:
        if isinstance(exc, SpecError):
            _degraded(body, patch, exc)
            metrics.ERRORS.labels(_error_kind(exc)).inc()
            result = "degraded"
        else:
            _progressing(body, patch, exc)
            result = "progressing"
    except ApiError as exc:
        metrics.ERRORS.labels("api").inc()
        logger.warning(f"resync failed, the next one retries: {exc.message}")
    except Exception:
        metrics.ERRORS.labels("internal").inc()
        logger.exception("resync failed")
    else:
        _ready(body, patch, message)
        result = "ready"
    finally:
        if result != "cancelled":
            metrics.RECONCILES.labels("timer", result).inc()
            metrics.RECONCILE_SECONDS.labels("timer").observe(time.monotonic() - started)
