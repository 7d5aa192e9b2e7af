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
from ._console import termerror, termlog, termwarn
from ._init import init
from ._metrics import MetricDefinition
from ._run import Run
from ._run_compat import AlertLevel
from ._state import PreInit
from ._state import require as _require
from ._summary import Summary
from .api import Api, ApiRun
from .errors import AuthenticationError, CommError, ConfigError, RunyardError, UsageError
from .media import Audio, Classes, Histogram, Html, Image, Molecule, Object3D, Plotly, Table, Video
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "ApiRun",
    "Artifact",
    "Audio",
    "AuthenticationError",
    "Classes",
    "CommError",
    "Config",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "MetricDefinition",
    "Molecule",
    "Object3D",
    "Plotly",
    "Run",
    "RunyardError",
    "Settings",
    "Summary",
    "Table",
    "UsageError",
    "Video",
    "__version__",
    "alert",
    "config",
    "define_metric",
    "errors",
    "finish",
    "init",
    "keras",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "plot",
    "plot_table",
    "restore",
    "run",
    "save",
    "sklearn",
    "summary",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]

# Mirrors of the active run, replaced by init() and reset by finish() (see _state.py).
run: Run | None = None
config: Config | Any = PreInit("config")
summary: Summary | Any = PreInit("summary")


def log(data: Mapping[str, Any] | None = None, step: int | None = None, commit: bool | None = True,
        sync: bool | None = None) -> None:
    """`runyard.run.log(...)` of the active run."""
    _require("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None, *, timeout: float | None = None) -> None:
    """Finish the active run, if any (`runyard.run.finish(...)`)."""
    from ._state import active

    current = active()
    if current is not None:
        current.finish(exit_code or 0, timeout=timeout, quiet=bool(quiet))


def define_metric(name: str, step_metric: str | None = None, **kwargs: Any) -> MetricDefinition:
    """`runyard.run.define_metric(...)` of the active run."""
    return _require("define_metric").define_metric(name, step_metric, **kwargs)


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
    """`runyard.run.save(...)` of the active run."""
    return _require("save").save(glob_str, base_path, policy)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: list[str] | None = None) -> Any:
    """`runyard.run.log_artifact(...)` of the active run."""
    return _require("log_artifact").log_artifact(artifact_or_path, name, type, aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None) -> Any:
    """`runyard.run.use_artifact(...)` of the active run."""
    return _require("use_artifact").use_artifact(artifact_or_name, type)


def watch(model: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 100, **kwargs: Any) -> Any:
    """Histograms of a PyTorch model's gradients and/or parameters (see runyard.integration.torch)."""
    from .integration.torch import watch as _watch

    return _watch(model, criterion, log=log, log_freq=log_freq, **kwargs)


def unwatch(model: Any = None) -> None:
    from .integration.torch import unwatch as _unwatch

    _unwatch(model)


def alert(title: str, text: str, level: str | AlertLevel | None = None, wait_duration: Any = None) -> None:
    """`runyard.run.alert(...)` of the active run: an alert shown on the run's page."""
    _require("alert").alert(title, text, level, wait_duration)


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """Download a run file (default: of the active run, into `run.dir`) and return it opened for reading."""
    from ._run_compat import restore as _restore

    return _restore(name, run_path=run_path, replace=replace, root=root)


def log_model(path: Any, name: str | None = None, aliases: list[str] | None = None) -> Any:
    """`runyard.run.log_model(...)`: a model file or folder as an artifact of type `model`."""
    return _require("log_model").log_model(path, name, aliases)


def use_model(name: str) -> str:
    """`runyard.run.use_model(...)`: download a model artifact, return its path."""
    return _require("use_model").use_model(name)


def link_model(path: Any, registered_model_name: str, name: str | None = None, aliases: list[str] | None = None) -> Any:
    """`runyard.run.link_model(...)`: log a model and link it to a collection."""
    return _require("link_model").link_model(path, registered_model_name, name, aliases)


Error = RunyardError  # W&B's `wandb.Error`


def login(key: str | None = None, host: str | None = None, relogin: bool = False, **_ignored: Any) -> bool:
    """Check an API key against the server and store it in the login file (like `runyard login`).

    Without `key`: True when a key is already configured (RUNYARD_API_KEY or the login file)."""
    from ._login import login as _login

    return _login(key=key, host=host, relogin=relogin)


def __getattr__(name: str) -> Any:  # lazy: artifacts load httpx, which `import runyard` does not need
    if name == "Artifact":
        from .artifacts import Artifact

        return Artifact
    if name in _LAZY_MODULES:  # runyard.plot, runyard.sklearn, runyard.keras (imports Keras)
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name in ("plot_table", "visualize"):
        from . import plot as _plot

        return getattr(_plot, name)
    raise AttributeError(f"module 'runyard' has no attribute {name!r}")


_LAZY_MODULES = ("plot", "sklearn", "keras", "integration", "media", "artifacts")


def _install_session_history() -> None:
    """Inside IPython/Jupyter, record executed cells from the moment the SDK is imported."""
    import sys

    if "IPython" not in sys.modules:
        return
    try:
        from .capture.notebook import SessionHistory

        SessionHistory.install()
    except Exception:
        pass


_install_session_history()
