"""kopf entry point: the handlers and one startup handler; the logic lives in handlers/.

    runyard-operator run        (or: kopf run -m runyard_operator.main --standalone -A)

Settings are read once, here, from RUNYARD_OPERATOR_* (config.py); the timer period is one of them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from . import metrics
from .config import load_config
from .handlers import Context, finalize, reconcile, resync
from .kube import KubeClient, login
from .schema import GROUP, PLURAL, VERSION

CONFIG = load_config()
FINALIZER = "runyard.io/finalizer"
Logger = logging.Logger | logging.LoggerAdapter[Any]


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: Logger, **_: Any) -> None:
    CONFIG.check()
    settings.persistence.finalizer = FINALIZER
    # kopf's bookkeeping in annotations, so the status holds only what the CRD declares
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="runyard.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="runyard.io", key="last-handled-configuration")
    # least privilege: the CRD is installed with the chart, so no CRD or namespace watching is needed
    settings.scanning.disabled = True
    settings.posting.reporting_component = "runyard-operator"
    metrics.forget_all()
    memo.ctx = Context(config=CONFIG, client=KubeClient(lambda: login(settings=settings, logger=logger),
                                                       field_manager=CONFIG.field_manager))
    memo.stop_metrics = metrics.start_metrics_server(CONFIG.metrics_port) if CONFIG.metrics_port else None
    where = ", ".join(CONFIG.watched_namespaces) or "every namespace"
    logger.info(f"runyard-operator watching TrackerInstances in {where}; chart {CONFIG.chart}, helm {CONFIG.helm}")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.ctx.client.close()
    if memo.get("stop_metrics"):
        memo.stop_metrics()


@kopf.on.login()
def authenticate(**kwargs: Any) -> kopf.ConnectionInfo:
    return login(**kwargs)


@kopf.on.create(GROUP, VERSION, PLURAL)
async def create(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, retry: int, **_: Any) -> None:
    await reconcile(memo.ctx, body, patch, logger, trigger="create", retry=retry)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def update(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, retry: int, **_: Any) -> None:
    await reconcile(memo.ctx, body, patch, logger, trigger="update", retry=retry)


@kopf.on.resume(GROUP, VERSION, PLURAL)
async def resume(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, retry: int, **_: Any) -> None:
    await reconcile(memo.ctx, body, patch, logger, trigger="resume", retry=retry)


@kopf.timer(GROUP, VERSION, PLURAL, interval=CONFIG.resync_seconds, initial_delay=CONFIG.resync_seconds)
async def drift(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, **kwargs: Any) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]  # set when the operator stops: the pass gives up
    await resync(memo.ctx, body, patch, logger, stopped=stopped.wait())


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def delete(body: kopf.Body, memo: kopf.Memo, logger: Logger, **_: Any) -> None:
    await finalize(memo.ctx, body, logger)
