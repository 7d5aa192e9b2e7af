"""`runyard.watch(model)`: histograms of a PyTorch model's gradients and parameters.

    runyard.watch(model, log="gradients", log_freq=100)   # or "parameters", "all"

Every `log_freq` backward passes, each parameter's gradient is logged as `gradients/<name>`; every
`log_freq` forward passes of the model, each parameter as `parameters/<name>`. Histograms join the row
of the current step (`commit=False`), so they line up with the loss logged in the same step.
`runyard.unwatch(model)` removes the hooks.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..media import Histogram
from ._common import active_run

__all__ = ["unwatch", "watch"]

_WATCHED: weakref.WeakKeyDictionary[Any, _Watch] = weakref.WeakKeyDictionary()


class _Watch:
    def __init__(self, model: Any, run: Any, log: str, log_freq: int, bins: int) -> None:
        self.model = model
        self.run = run
        self.log_freq = log_freq
        self.bins = bins
        self.handles: list[Any] = []
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._forward = 0
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if log in ("gradients", "all"):
            for name, p in params:
                self.handles.append(p.register_hook(self._grad_hook(name)))
        if log in ("parameters", "all"):
            self.handles.append(model.register_forward_hook(self._forward_hook))

    def _grad_hook(self, name: str) -> Any:
        def hook(grad: Any) -> None:
            with self._lock:
                n = self._calls.get(name, 0)
                self._calls[name] = n + 1
            if n % self.log_freq != 0:
                return
            try:
                hist = Histogram(grad.detach().float().cpu().numpy(), num_bins=self.bins)
            except Exception:
                return
            self.run.log({"gradients/" + name: hist}, commit=False)

        return hook

    def _forward_hook(self, module: Any, inputs: Any, output: Any) -> None:
        self._forward += 1
        if (self._forward - 1) % self.log_freq != 0:
            return
        row = {}
        for name, p in module.named_parameters():
            try:
                row["parameters/" + name] = Histogram(p.detach().float().cpu().numpy(), num_bins=self.bins)
            except Exception:
                pass
        if row:
            self.run.log(row, commit=False)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()


def watch(model: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 100,
          idx: int | None = None, log_graph: bool = False, run: Any = None, bins: int = 64) -> Any:
    """Log histograms of `model`'s gradients and/or parameters every `log_freq` passes."""
    if log not in ("gradients", "parameters", "all", None):
        raise ValueError("runyard.watch: log must be 'gradients', 'parameters', 'all' or None")
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"runyard.watch expects a torch.nn.Module, got {type(model).__name__}")
    if log_freq < 1:
        raise ValueError("runyard.watch: log_freq must be >= 1")
    unwatch(model)
    if log is None:
        return None
    w = _Watch(model, active_run(run), log, log_freq, bins)
    _WATCHED[model] = w
    return w


def unwatch(model: Any = None) -> None:
    """Stop watching `model` (all watched models when None)."""
    models = [model] if model is not None else list(_WATCHED.keys())
    for m in models:
        w = _WATCHED.pop(m, None)
        if w is not None:
            w.remove()
