"""What every integration needs: the run to log to, and numbers out of framework values."""

from __future__ import annotations

from typing import Any


def active_run(run: Any = None) -> Any:
    """The run passed in, else the one `runyard.init()` made; a clear error when there is none."""
    if run is not None:
        return run
    import runyard

    current = getattr(runyard, "run", None)
    if current is None:
        raise RuntimeError("runyard: call runyard.init() before using a framework integration (or pass run=)")
    return current


def scalar(value: Any) -> float | None:
    """A Python float out of a number, a 0-d tensor or array; None when it is not a scalar."""
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)):
            return float(value)
    except Exception:
        return None
    return None


def scalars(logs: dict[str, Any] | None, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in (logs or {}).items():
        f = scalar(v)
        if f is not None:
            out[prefix + k] = f
    return out


def reopen(run: Any) -> Any:
    """The same run again after it was finished (a Lightning `trainer.test()` or a Transformers
    `trainer.evaluate()` after training ended an integration-owned run): resumed by id, so what is
    logged next lands in that run, not a new one."""
    import runyard

    settings = getattr(run, "_settings", None)
    return runyard.init(project=run.project, entity=run.entity, id=run.id, resume="allow", mode=run.mode,
                        dir=getattr(settings, "dir", None) or None, reinit="create_new",
                        settings={"system_metrics": settings.system_metrics} if settings is not None else None)

