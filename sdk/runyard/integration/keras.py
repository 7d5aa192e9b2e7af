"""Keras 3 callback (works on the torch, JAX and TensorFlow backends).

    run = runyard.init(project="digits", config={...})
    model.fit(x, y, validation_data=(xv, yv), epochs=5,
              callbacks=[RunyardCallback(validation_data=(xv, yv), labels=[str(d) for d in range(10)])])

Logs every metric Keras reports: per epoch (`loss`, `accuracy`, `val_loss`, ... with `epoch`) and, with
`log_freq="batch"` or an integer N, per batch (`batch/loss`, ...) every N batches. Given validation data,
logs `examples`: sample images with the predicted and the true label as captions, at each epoch end.

W&B's callbacks under their names (`WandbMetricsLogger`, `WandbModelCheckpoint`, `WandbEvalCallback`,
and the older `WandbCallback`, also as `runyard.keras.WandbCallback`) are importable from here; see
`runyard.integration._keras_wandb`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..media import Image
from ._common import active_run, scalars
from ._keras_wandb import WandbCallback, WandbEvalCallback, WandbMetricsLogger, WandbModelCheckpoint

__all__ = ["RunyardCallback", "WandbCallback", "WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]


class RunyardCallback(keras.callbacks.Callback):
    def __init__(
        self,
        run: Any = None,
        log_freq: str | int = "epoch",
        validation_data: tuple[Any, Any] | None = None,
        labels: list[str] | None = None,
        num_samples: int = 16,
        examples_key: str = "examples",
        log_model_summary: bool = True,
    ) -> None:
        super().__init__()
        if log_freq not in ("epoch", "batch") and not (isinstance(log_freq, int) and log_freq > 0):
            raise ValueError("RunyardCallback: log_freq must be 'epoch', 'batch' or a positive integer")
        self._run = run
        self.batch_every = 1 if log_freq == "batch" else (log_freq if isinstance(log_freq, int) else 0)
        self.validation_data = validation_data
        self.labels = labels
        self.num_samples = num_samples
        self.examples_key = examples_key
        self.log_model_summary = log_model_summary
        self._batches = 0

    @property
    def run(self) -> Any:
        return active_run(self._run)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.log_model_summary and self.model is not None:
            try:
                params = int(self.model.count_params())
                self.run.summary["model/parameters"] = params
                self.run.config.update({"model/optimizer": type(self.model.optimizer).__name__}, allow_val_change=True)
            except Exception:
                pass

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if self.batch_every and self._batches % self.batch_every == 0:
            self.run.log({**scalars(logs, "batch/"), "batch/step": self._batches})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row: dict[str, Any] = {**scalars(logs), "epoch": epoch}
        if self.validation_data is not None:
            try:
                row[self.examples_key] = self._examples()
            except Exception as exc:  # a plotting problem must not stop training
                import warnings

                warnings.warn(f"runyard: could not log example predictions: {exc}", stacklevel=2)
        self.run.log(row)

    def _examples(self) -> list[Image]:
        x, y = self.validation_data  # type: ignore[misc]
        x = np.asarray(x)[: self.num_samples]
        y_true = np.asarray(y)[: self.num_samples]
        probs = np.asarray(keras.ops.convert_to_numpy(self.model.predict(x, verbose=0)))
        pred = probs.argmax(axis=-1) if probs.ndim > 1 and probs.shape[-1] > 1 else (probs.ravel() > 0.5).astype(int)
        true = y_true.argmax(axis=-1) if y_true.ndim > 1 and y_true.shape[-1] > 1 else y_true.ravel().astype(int)
        out = []
        for img, p, t in zip(x, pred, true):
            arr = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
            out.append(Image(arr, caption=f"pred: {self._label(int(p))} / true: {self._label(int(t))}"))
        return out

    def _label(self, index: int) -> str:
        if self.labels and 0 <= index < len(self.labels):
            return str(self.labels[index])
        return str(index)
