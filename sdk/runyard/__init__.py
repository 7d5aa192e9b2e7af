"""Runyard SDK: log metrics, config and summaries of training runs to a self-hosted Runyard server.

    import runyard
    with runyard.init(project="mnist", config={"lr": 1e-3}) as run:
        for step in range(100):
            run.log({"loss": 0.5, "acc": {"train": 0.9}})   # -> keys loss, acc/train
        run.summary["best_acc"] = 0.93

The surface mirrors `wandb`, so `import runyard as wandb` runs a typical script. See DESIGN.md, "The SDK
contract", and `runyard.errors` for the exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import errors
from ._config import Config
from ._init import init
from ._run import Run
from ._state import PreInit
from ._state import require as _require
from ._summary import Summary
from .api import Api, ApiRun
from .errors import AuthenticationError, CommError, RunyardError, UsageError
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Api",
    "ApiRun",
    "AuthenticationError",
    "CommError",
    "Config",
    "Run",
    "RunyardError",
    "Settings",
    "Summary",
    "UsageError",
    "__version__",
    "config",
    "errors",
    "finish",
    "init",
    "log",
    "run",
    "summary",
]

# Mirrors of the active run, replaced by init() and reset by finish() (see _state.py).
run: Run | None = None
config: Config | Any = PreInit("config")
summary: Summary | Any = PreInit("summary")


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = True) -> None:
    """`runyard.run.log(...)` of the active run."""
    _require("log").log(data, step=step, commit=commit)


def finish(exit_code: int = 0, *, timeout: float | None = None) -> None:
    """Finish the active run, if any (`runyard.run.finish(...)`)."""
    from ._state import active

    current = active()
    if current is not None:
        current.finish(exit_code, timeout=timeout)
