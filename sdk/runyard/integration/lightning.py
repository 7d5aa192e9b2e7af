"""PyTorch Lightning logger.

    trainer = lightning.Trainer(logger=RunyardLogger(project="digits"), max_epochs=3)

Uses the active run (`runyard.init()` before) or starts one with the keyword arguments given (passed to
`runyard.init`). Metrics go to `run.log(metrics, step=trainer.global_step)`; hyperparameters to the
config; the run is finished when training ends with status "success" (left open otherwise, so the
script's own exit code decides).
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

try:
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only
except ImportError:  # the standalone `pytorch_lightning` package
    from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment  # type: ignore[no-redef,assignment]
    from pytorch_lightning.utilities import rank_zero_only  # type: ignore[no-redef]

from ._common import scalar

__all__ = ["RunyardLogger"]


class RunyardLogger(Logger):
    def __init__(self, run: Any = None, finish_on_end: bool | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self._run = run
        self._init_kwargs = init_kwargs
        self._owns_run = False
        self._finish_on_end = finish_on_end

    @property
    def name(self) -> str:
        return str(self._init_kwargs.get("project") or getattr(self._run, "project", None) or "runyard")

    @property
    def version(self) -> str:
        return str(getattr(self.experiment, "id", "") or "")

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._run is None:
            import runyard

            self._run = getattr(runyard, "run", None)
            if self._run is None:
                self._run = runyard.init(**self._init_kwargs)
                self._owns_run = True
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        clean = {}
        for k, v in params.items():
            clean[str(k)] = v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else repr(v)
        self.experiment.config.update(clean, allow_val_change=True)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        row = {k: f for k, v in metrics.items() if (f := scalar(v)) is not None}
        if row:
            self.experiment.log(row, step=step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        finish = self._owns_run if self._finish_on_end is None else self._finish_on_end
        if finish and status == "success" and self._run is not None:
            self._run.finish()
