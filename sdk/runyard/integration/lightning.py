"""PyTorch Lightning loggers: `RunyardLogger`, and `WandbLogger` with W&B's arguments.

    trainer = lightning.Trainer(logger=RunyardLogger(project="digits"), max_epochs=3)
    trainer = lightning.Trainer(logger=WandbLogger(project="digits", log_model=True))  # W&B's spelling

Uses the active run (`runyard.init()` before) or starts one with the keyword arguments given (passed to
`runyard.init`). Metrics go to `run.log(metrics, step=trainer.global_step)` (with `trainer/global_step`);
hyperparameters to the config. The logger never finishes a run by itself (as W&B's): `trainer.test()` after
`fit()` logs into the same run, and the run ends with `runyard.finish()` or when the script exits (with
its exit code). `finish_on_end=True` finishes it when `fit()`/`test()` end with status "success"; a run
finished that way is reopened (resumed by id) if the trainer logs again. `log_model=True` logs the best
checkpoint as the artifact `model-<run id>` (type `model`) when training ends, `log_model="all"` every
checkpoint when it is saved.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only
except ImportError:  # the standalone `pytorch_lightning` package
    from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment  # type: ignore[no-redef,assignment]
    from pytorch_lightning.utilities import rank_zero_only  # type: ignore[no-redef]

from ._common import reopen, scalar

__all__ = ["RunyardLogger", "WandbLogger"]


class RunyardLogger(Logger):
    def __init__(self, run: Any = None, finish_on_end: bool = False, log_model: bool | str = False,
                 prefix: str = "", checkpoint_name: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self._run = run
        self._init_kwargs = init_kwargs
        self._owns_run = False
        self._finish_on_end = finish_on_end
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_name = checkpoint_name
        self._checkpoint_callback: Any = None
        self._logged_checkpoints: set[str] = set()

    @property
    def name(self) -> str:
        return str(self._init_kwargs.get("project") or getattr(self._run, "project", None) or "runyard")

    @property
    def version(self) -> str:
        return str(getattr(self.experiment, "id", "") or "")

    @property
    def save_dir(self) -> str | None:
        value = self._init_kwargs.get("dir")
        return str(value) if value is not None else None

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._run is None:
            import runyard

            self._run = getattr(runyard, "run", None)
            if self._run is None:
                self._run = runyard.init(**self._init_kwargs)
                self._owns_run = True
        elif self._owns_run and self._run.finished:  # test()/validate() after fit() finished it
            self._run = reopen(self._run)
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        clean = {}
        for k, v in params.items():
            clean[str(k)] = v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else repr(v)
        self.experiment.config.update(clean, allow_val_change=True)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        row = {self._prefix + k: f for k, v in metrics.items() if (f := scalar(v)) is not None}
        if row:
            if step is not None:
                row["trainer/global_step"] = float(step)
            self.experiment.log(row, step=step)

    # ---- W&B's extra logging helpers -----------------------------------------------------------------
    @rank_zero_only
    def log_table(self, key: str, columns: Sequence[str] | None = None, data: Sequence[Sequence[Any]] | None = None,
                  dataframe: Any = None, step: int | None = None) -> None:
        from ..media import Table

        self.experiment.log({key: Table(columns=columns, data=data, dataframe=dataframe)}, step=step)

    @rank_zero_only
    def log_text(self, key: str, columns: Sequence[str] | None = None, data: Sequence[Sequence[Any]] | None = None,
                 dataframe: Any = None, step: int | None = None) -> None:
        self.log_table(key, columns, data, dataframe, step)

    @rank_zero_only
    def log_image(self, key: str, images: Sequence[Any], step: int | None = None, **kwargs: Any) -> None:
        from ..media import Image

        extras = {k: v for k, v in kwargs.items() if isinstance(v, (list, tuple)) and len(v) == len(images)}
        values = [Image(img, **{k: v[i] for k, v in extras.items()}) for i, img in enumerate(images)]
        self.experiment.log({key: values}, step=step)

    def watch(self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True) -> None:
        self.experiment.watch(model, log=log, log_freq=log_freq)

    # ---- checkpoints as artifacts ----------------------------------------------------------------------
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        self._checkpoint_callback = checkpoint_callback
        if self._log_model == "all":
            self._log_checkpoints()

    def _log_checkpoints(self) -> None:
        cb = self._checkpoint_callback
        if cb is None:
            return
        best = getattr(cb, "best_model_path", "") or ""
        last = getattr(cb, "last_model_path", "") or ""
        for path in dict.fromkeys(p for p in (best, last) if p and os.path.isfile(p)):
            if path in self._logged_checkpoints and self._log_model != "all":
                continue
            self._logged_checkpoints.add(path)
            from ..artifacts import Artifact

            run = self.experiment
            name = self._checkpoint_name or f"model-{run.id}"
            art = Artifact(name, type="model", metadata={
                "score": scalar(getattr(cb, "best_model_score", None)),
                "monitor": getattr(cb, "monitor", None), "original_filename": Path(path).name})
            art.add_file(path, "model.ckpt")
            aliases = ["latest", "best"] if path == best else ["latest"]
            run.log_artifact(art, aliases=aliases)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._log_model is True or self._log_model == "all":
            self._log_checkpoints()
        if self._finish_on_end and status == "success" and self._run is not None and not self._run.finished:
            self._run.finish()


class WandbLogger(RunyardLogger):
    """W&B's `WandbLogger(name, save_dir, version, offline, dir, id, anonymous, project, log_model,
    experiment, prefix, checkpoint_name, **kwargs)` on Runyard: the arguments map to `runyard.init`
    (`version`/`id` -> id, `save_dir`/`dir` -> dir, `offline=True` -> offline mode); other keyword
    arguments (tags, group, notes, config, ...) go to `runyard.init` as they are."""

    def __init__(self, name: str | None = None, save_dir: str | os.PathLike[str] = ".", version: str | None = None,
                 offline: bool = False, dir: str | os.PathLike[str] | None = None, id: str | None = None,
                 anonymous: bool | None = None, project: str | None = None, log_model: bool | str = False,
                 experiment: Any = None, prefix: str = "", checkpoint_name: str | None = None,
                 **kwargs: Any) -> None:
        init: dict[str, Any] = dict(kwargs)
        if project is not None:
            init["project"] = project
        if name is not None:
            init["name"] = name
        run_id = id or version
        if run_id is not None:
            init["id"] = run_id
            init.setdefault("resume", "allow")
        where = dir if dir is not None else save_dir
        if where is not None and os.fspath(where) != ".":
            init["dir"] = os.fspath(where)
        if offline:
            init["mode"] = "offline"
        super().__init__(run=experiment, log_model=log_model, prefix=prefix, checkpoint_name=checkpoint_name, **init)
