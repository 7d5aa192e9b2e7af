"""Hugging Face Transformers: `Trainer(..., args=TrainingArguments(report_to=["runyard"]))`.

Importing this module registers the name "runyard" with Transformers' reporting integrations; the
callback can also be passed directly: `Trainer(callbacks=[RunyardCallback()])`.
The active run is used, or one is started with `project=` from `RUNYARD_PROJECT` (default
"huggingface"). TrainingArguments and the model config go to the run config; every `logs` dict
(`loss`, `learning_rate`, `eval_*`, ...) is logged at `state.global_step` with `train/` or `eval/`
prefixes, as the W&B integration does.

The callback never finishes a run by itself (as W&B's): `trainer.evaluate()` and anything the script logs
after `train()` go to the same run, which ends with `runyard.finish()` or when the script exits.
`RunyardCallback(finish_on_end=True)` finishes it when training ends (a later `evaluate()` then reopens
it, resumed by id).

Models are logged as artifacts when `RUNYARD_LOG_MODEL` (or W&B's `WANDB_LOG_MODEL`) asks for it: `end`
(or `true`) logs the trained model as `model-<run id>` (type "model") when training ends; `checkpoint`
(or `all`) also logs each checkpoint the Trainer saves as `checkpoint-<run id>`, aliased
`checkpoint_global_step_<step>`.
`RUNYARD_WATCH` (or `WANDB_WATCH`) = `gradients`, `parameters` or `all` calls `runyard.watch(model)`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ._common import reopen, scalar

__all__ = ["RunyardCallback"]


class RunyardCallback(TrainerCallback):  # type: ignore[misc]
    def __init__(self, run: Any = None, finish_on_end: bool = False) -> None:
        self._run = run
        self._owns_run = False
        self._finish_on_end = finish_on_end
        self._configured = False
        self._watched = False

    def _ensure_run(self, args: Any, model: Any = None) -> Any:
        if self._run is not None and self._owns_run and self._run.finished:  # evaluate() after a finished train()
            self._run = reopen(self._run)
        if self._run is not None and not self._configured and not self._owns_run:
            self._configure(args, model)
        if self._run is None:
            import runyard

            self._run = getattr(runyard, "run", None)
            if self._run is None:
                self._run = runyard.init(project=os.environ.get("RUNYARD_PROJECT", "huggingface"),
                                         name=getattr(args, "run_name", None) or None)
                self._owns_run = True
            self._configure(args, model)
        return self._run

    def _configure(self, args: Any, model: Any) -> None:
        self._configured = True
        config: dict[str, Any] = {}
        try:
            config.update({k: v for k, v in args.to_dict().items()
                           if isinstance(v, (int, float, str, bool, type(None)))})
        except Exception:
            pass
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config.update({f"model/{k}": v for k, v in model_config.to_dict().items()
                           if isinstance(v, (int, float, str, bool, type(None)))})
        self._run.config.update(config, allow_val_change=True)
        watch = (os.environ.get("RUNYARD_WATCH") or os.environ.get("WANDB_WATCH") or "false").lower()
        if model is not None and watch in ("gradients", "parameters", "all") and not self._watched:
            self._watched = True
            self._run.watch(model, log=watch, log_freq=max(1, int(getattr(args, "logging_steps", 100) or 100)))

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if state.is_world_process_zero:
            self._ensure_run(args, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        run = self._ensure_run(args, kw.get("model"))
        row: dict[str, float] = {}
        for k, v in (logs or {}).items():
            f = scalar(v)
            if f is None:
                continue
            if k.startswith("eval_"):
                row["eval/" + k[5:]] = f
            elif k.startswith("test_"):
                row["test/" + k[5:]] = f
            elif k in ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss"):
                run.summary[k] = f
            else:
                row["train/" + k] = f
        if row:
            row["train/global_step"] = float(state.global_step)
            run.log(row, step=state.global_step)

    def _log_model_setting(self) -> str:
        settings = getattr(self._run, "_settings", None)
        if settings is not None:
            return str(settings.log_model)
        from ..settings import resolve

        return resolve({}).log_model

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero or self._run is None:
            return
        if self._log_model_setting() not in ("checkpoint", "all"):
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            self._run.log_artifact(str(folder), name=f"checkpoint-{self._run.id}", type="model",
                                   aliases=[f"checkpoint_global_step_{state.global_step}", "latest"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero or self._run is None:
            return
        model = kw.get("model")
        if self._log_model_setting() != "false" and model is not None and hasattr(model, "save_pretrained"):
            with tempfile.TemporaryDirectory(prefix="runyard-model-") as tmp:
                model.save_pretrained(tmp)
                self._run.log_artifact(tmp, name=f"model-{self._run.id}", type="model", aliases=["latest"])
        if self._finish_on_end and not self._run.finished:
            self._run.finish()



def _register() -> None:
    try:
        from transformers.integrations import integration_utils
    except ImportError:
        return
    table = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if isinstance(table, dict):
        table["runyard"] = RunyardCallback


_register()
