"""W&B's Keras callbacks under their own names, on Keras 3 (any backend):

    from runyard.integration.keras import WandbMetricsLogger, WandbModelCheckpoint, WandbEvalCallback
    from runyard.keras import WandbCallback                       # the older all-in-one callback

- `WandbMetricsLogger(log_freq="epoch"|"batch"|N)`: `epoch/<metric>` with `epoch/epoch` (or `batch/...`
  with `batch/batch_step` every N batches) and the learning rate, each with its step metric defined.
- `WandbModelCheckpoint(filepath, monitor, save_best_only, ...)`: Keras' ModelCheckpoint, and each saved
  file (or folder) logged as the artifact `run_<id>_model` (type `model`, aliases `latest`, `epoch_N`).
- `WandbEvalCallback(data_table_columns, pred_table_columns)`: subclass it and fill `add_ground_truth` and
  `add_model_predictions`; the data table is logged once as the artifact `val` (`data_table_ref` reads it
  back), each epoch's prediction table as a version of `run_<id>_pred`.
- `WandbCallback(monitor="val_loss", save_model=True, log_weights=False, data_type=None, labels=None,
  validation_data=None, ...)`: per-epoch metrics with `epoch`, `best_<monitor>` and `best_epoch` in the
  summary, the best model saved as the run file `model-best.keras` (Keras 3's format; W&B's Keras 2 callback
  wrote `model-best.h5`; `model-best.weights.h5` with `save_weights_only`), weight
  histograms, and example predictions for `data_type="image"` (from `validation_data=`, else from the
  arrays given to `fit(validation_data=...)`; datasets and generators need `validation_data=`).
"""

from __future__ import annotations

import abc
import operator
import os
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .. import _console
from ..media import Histogram, Image, Table
from ._common import active_run, scalar

__all__ = ["WandbCallback", "WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]


def _run() -> Any:
    return active_run(None)


def _learning_rate(model: Any) -> float | None:
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    try:
        lr = opt.learning_rate
        if callable(lr) and not hasattr(lr, "shape"):
            lr = lr(opt.iterations)
        return float(keras.ops.convert_to_numpy(lr))
    except Exception:
        return None


class WandbMetricsLogger(keras.callbacks.Callback):
    def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        run = _run()
        if log_freq == "batch":
            log_freq = 1
        if not (log_freq == "epoch" or (isinstance(log_freq, int) and log_freq > 0)):
            raise ValueError("WandbMetricsLogger: log_freq must be 'epoch', 'batch' or a positive integer")
        self.logging_batch_wise = isinstance(log_freq, int)
        self.log_freq: int | None = log_freq if isinstance(log_freq, int) else None
        self.global_batch = 0
        self.global_step = initial_global_step
        if self.logging_batch_wise:
            run.define_metric("batch/batch_step")
            run.define_metric("batch/*", step_metric="batch/batch_step")
        run.define_metric("epoch/epoch")
        run.define_metric("epoch/*", step_metric="epoch/epoch")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row: dict[str, Any] = {f"epoch/{k}": f for k, v in (logs or {}).items() if (f := scalar(v)) is not None}
        row["epoch/epoch"] = epoch
        lr = _learning_rate(self.model)
        if lr is not None:
            row["epoch/learning_rate"] = lr
        _run().log(row)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.logging_batch_wise and self.log_freq and batch % self.log_freq == 0:
            row: dict[str, Any] = {f"batch/{k}": f for k, v in (logs or {}).items() if (f := scalar(v)) is not None}
            row["batch/batch_step"] = self.global_batch
            lr = _learning_rate(self.model)
            if lr is not None:
                row["batch/learning_rate"] = lr
            _run().log(row)
            self.global_batch += self.log_freq


class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):
    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None, **kwargs: Any) -> None:
        super().__init__(filepath=os.fspath(filepath), monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                         save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold, **kwargs)
        _run()
        self._logged: dict[str, float] = {}

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch" and self._batches_seen_since_last_saving == 0:
            epoch = getattr(self, "_current_epoch", 0)
            self._log_file(self._get_file_path(epoch, batch, logs), ["latest", f"epoch_{epoch}_batch_{batch}"])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        if self.save_freq == "epoch":
            self._log_file(self._get_file_path(epoch, None, logs), ["latest", f"epoch_{epoch}"])

    def _log_file(self, filepath: str, aliases: list[str]) -> None:
        from ..artifacts import Artifact

        path = Path(filepath)
        if not path.exists():  # save_best_only and no improvement: nothing new was written
            return
        mtime = path.stat().st_mtime
        if self.save_best_only and self._logged.get(str(path)) == mtime:
            return
        self._logged[str(path)] = mtime
        run = _run()
        art = Artifact(f"run_{run.id}_model", type="model")
        if path.is_dir():
            art.add_dir(path)
        else:
            art.add_file(path)
        run.log_artifact(art, aliases=aliases)


class WandbEvalCallback(keras.callbacks.Callback, abc.ABC):
    def __init__(self, data_table_columns: list[str], pred_table_columns: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _run()
        self.data_table_columns = data_table_columns
        self.pred_table_columns = pred_table_columns

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.init_data_table(column_names=self.data_table_columns)
        self.add_ground_truth(logs)
        self.log_data_table()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.init_pred_table(column_names=self.pred_table_columns)
        self.add_model_predictions(epoch, logs)
        self.log_pred_table()

    @abc.abstractmethod
    def add_ground_truth(self, logs: dict[str, Any] | None = None) -> None:
        """Fill `self.data_table` (called once, at the start of training)."""

    @abc.abstractmethod
    def add_model_predictions(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Fill `self.pred_table` (called at the end of each epoch)."""

    def init_data_table(self, column_names: list[str]) -> None:
        self.data_table = Table(columns=column_names, allow_mixed_types=True)

    def init_pred_table(self, column_names: list[str]) -> None:
        self.pred_table = Table(columns=column_names)

    def log_data_table(self, name: str = "val", type: str = "dataset", table_name: str = "val_data") -> None:
        from ..artifacts import Artifact

        data_artifact = Artifact(name, type=type)
        data_artifact.add(self.data_table, table_name)
        _run().use_artifact(data_artifact)
        data_artifact.wait()
        self.data_table_ref = data_artifact.get(table_name)

    def log_pred_table(self, type: str = "evaluation", table_name: str = "eval_data",
                       aliases: list[str] | None = None) -> None:
        from ..artifacts import Artifact

        run = _run()
        pred_artifact = Artifact(f"run_{run.id}_pred", type=type)
        pred_artifact.add(self.pred_table, table_name)
        run.log_artifact(pred_artifact, aliases=aliases or ["latest"])


_MODES = {"min": (operator.lt, np.inf), "max": (operator.gt, -np.inf)}


class WandbCallback(keras.callbacks.Callback):
    def __init__(self, monitor: str = "val_loss", verbose: int = 0, mode: str = "auto", save_weights_only: bool = False,
                 log_weights: bool = False, log_gradients: bool = False, save_model: bool = True,
                 training_data: Any = None, validation_data: Any = None, labels: list[str] | None = None,
                 predictions: int = 36, generator: Any = None, input_type: str | None = None,
                 output_type: str | None = None, log_evaluation: bool = False, validation_steps: int | None = None,
                 class_colors: Any = None, log_batch_frequency: int | None = None, log_best_prefix: str = "best_",
                 save_graph: bool = True, validation_indexes: Any = None, validation_row_processor: Any = None,
                 prediction_row_processor: Any = None, infer_missing_processors: bool = True,
                 log_evaluation_frequency: int = 0, compute_flops: bool = False, data_type: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        _run()
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
        if mode not in _MODES:
            raise ValueError(f"WandbCallback: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.verbose = verbose
        self.monitor_op, self.best = _MODES[mode]
        self.save_weights_only = save_weights_only
        self.save_model = save_model
        self.log_weights = log_weights
        self.log_batch_frequency = log_batch_frequency
        self.log_best_prefix = log_best_prefix
        self.validation_data = validation_data
        self.labels = list(labels or [])
        self.predictions = predictions
        self.data_type = data_type or ("image" if input_type == "image" else None)
        self._batches = 0
        unsupported = [n for n, v in (("log_gradients", log_gradients), ("log_evaluation", log_evaluation),
                                       ("generator", generator is not None), ("compute_flops", compute_flops))
                       if v]
        if unsupported:
            _console.warn(f"WandbCallback: {', '.join(unsupported)} is not supported by Runyard and is ignored")
        self._warned_no_data = False

    @property
    def _model_file(self) -> str:
        # Keras 3's own formats: a legacy `model-best.h5` (W&B's name under Keras 2) loads, but Keras 3 cannot
        # go on training it (its optimizer state does not match), so resuming scripts restore this name
        return "model-best.weights.h5" if self.save_weights_only else "model-best.keras"

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if self.log_batch_frequency and self._batches % self.log_batch_frequency == 0:
            row = {k: f for k, v in (logs or {}).items() if (f := scalar(v)) is not None}
            _run().log(row, commit=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        run = _run()
        row: dict[str, Any] = {k: f for k, v in (logs or {}).items() if (f := scalar(v)) is not None}
        row["epoch"] = epoch
        if self.log_weights:
            row.update(self._weight_histograms())
        if self.data_type == "image":
            data = self.validation_data if self.validation_data is not None else self._fit_validation_data()
            if data is not None:
                try:
                    row["examples"] = self._examples(data)
                except Exception as exc:  # a plotting problem must not stop training
                    _console.warn(f"WandbCallback: could not log example predictions: {exc}")
            elif not self._warned_no_data:
                self._warned_no_data = True
                _console.warn("WandbCallback: data_type='image' found no validation arrays (pass validation_data=(x, "
                              "y) to the callback); no example images are logged")
        current = row.get(self.monitor)
        if current is not None and self.monitor_op(current, self.best):
            self.best = current
            run.summary[f"{self.log_best_prefix}{self.monitor}"] = current
            run.summary[f"{self.log_best_prefix}epoch"] = epoch
            if self.save_model:
                self._save(run)
        run.log(row)

    def _save(self, run: Any) -> None:
        target = Path(run.dir) / self._model_file
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.save_weights_only:
                    self.model.save_weights(str(target))
                else:
                    self.model.save(str(target))
        except Exception as exc:
            _console.warn(f"WandbCallback: could not save the model to {target.name}: {exc}")
            return
        run.save(str(target), base_path=str(target.parent), policy="now")

    def _weight_histograms(self) -> dict[str, Histogram]:
        out: dict[str, Histogram] = {}
        for layer in self.model.layers:
            for w in layer.weights:
                try:
                    out[f"parameters/{layer.name}.{w.name}"] = Histogram(keras.ops.convert_to_numpy(w))
                except Exception:
                    continue
        return out

    def _fit_validation_data(self) -> Any:
        """fit()'s validation arrays: Keras 3 keeps them in the model's evaluation iterator while fit() runs
        (Keras 2 gave them to callbacks as `validation_data`). None for datasets and generators."""
        adapter = getattr(getattr(self.model, "_eval_epoch_iterator", None), "data_adapter", None)
        inputs = getattr(adapter, "_inputs", None)
        if isinstance(inputs, tuple) and len(inputs) >= 2 and hasattr(inputs[0], "shape") and hasattr(inputs[1], "shape"):
            return inputs
        return None

    def _examples(self, data: Any) -> list[Image]:
        x, y = data[0], data[1]
        x = np.asarray(x)[: self.predictions]
        truth = np.asarray(y)[: self.predictions]
        probs = np.asarray(keras.ops.convert_to_numpy(self.model.predict(x, verbose=0)))
        pred = probs.argmax(axis=-1) if probs.ndim > 1 and probs.shape[-1] > 1 else (probs.ravel() > 0.5).astype(int)
        true = truth.argmax(axis=-1) if truth.ndim > 1 and truth.shape[-1] > 1 else truth.ravel().astype(int)
        out = []
        for img, p, t in zip(x, pred, true):
            arr = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
            out.append(Image(arr, caption=f"{self._label(int(p))} (true: {self._label(int(t))})"))
        return out

    def _label(self, index: int) -> str:
        return str(self.labels[index]) if 0 <= index < len(self.labels) else str(index)
