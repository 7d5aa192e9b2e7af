"""What every media type shares: the `Media` base class, writing bytes under the run's files folder, and
turning framework arrays and figures into NumPy arrays or PIL images.

A media value becomes a small JSON descriptor in the history row (`{"_type": "image-file", "path": ...,
"sha256": ..., "size": ...}`); its bytes are written under `files_dir` (the run's files folder, or an
artifact's staging folder) and uploaded as a file. `Media.bind(files_dir, key, step)` does both.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["Media", "array_to_pil", "figure_png", "file_entry", "is_pyplot", "read_source", "safe_key",
           "to_numpy", "write_file"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_key(key: str) -> str:
    """A history key made safe for a file name (`val/examples` -> `val_examples`)."""
    return _SAFE.sub("_", key).strip("._")[:80] or "media"


def write_file(files_dir: Path, rel: str, data: bytes) -> dict[str, Any]:
    """Write `data` to `files_dir/rel` atomically; returns `{"path", "size", "sha256"}`."""
    path = files_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_entry(files_dir: Path, folder: str, key: str, step: int, data: bytes, ext: str) -> dict[str, Any]:
    """Write media bytes as `media/<folder>/<key>_<step>_<digest>.<ext>` (content-addressed names, so
    the same bytes logged twice at one step are one file)."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    return write_file(files_dir, f"media/{folder}/{safe_key(key)}_{step}_{digest}.{ext}", data)


class Media(ABC):
    """Base of values that `run.log` turns into a descriptor (and usually a file)."""

    _type = "media"

    @abstractmethod
    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        """Write the value's bytes (if any) under `files_dir` and return its JSON descriptor."""


def to_numpy(data: Any) -> Any:
    """A NumPy array from an array, a list, a torch tensor or a TensorFlow/Keras tensor."""
    import numpy as np

    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch tensor
        data = data.detach().cpu().numpy()
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray):  # tf / keras tensors
        data = data.numpy()
    return np.asarray(data)


def array_to_pil(arr: Any, mode: str | None) -> Any:
    """A PIL image from an HW, HWC or CHW array; floats in [0, 1] are scaled to 0-255, other ranges
    are stretched to it."""
    import numpy as np
    from PIL import Image as PILImage

    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.transpose(a, (1, 2, 0))  # CHW -> HWC
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3):
        raise ValueError(f"runyard.Image: expected a 2-D or 3-D array, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        finite = a[np.isfinite(a)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 1.0
        if lo >= 0.0 and hi <= 1.0:
            a = a * 255.0
        elif lo < 0.0 or hi > 255.0:
            a = (a - lo) / ((hi - lo) or 1.0) * 255.0
        a = np.nan_to_num(a).clip(0, 255).astype(np.uint8)
    return PILImage.fromarray(a, mode=mode) if mode else PILImage.fromarray(a)


def is_pyplot(value: Any) -> bool:
    """The `matplotlib.pyplot` module itself (W&B scripts log `{"chart": plt}`)."""
    return getattr(value, "__name__", None) == "matplotlib.pyplot" and hasattr(value, "gcf")


def is_matplotlib_figure(value: Any) -> bool:
    t = type(value)
    return t.__module__.startswith("matplotlib") and hasattr(value, "savefig") and hasattr(value, "canvas")


def figure_png(value: Any, dpi: float | None = None) -> bytes:
    """PNG bytes of a matplotlib Figure, Axes or the pyplot module's current figure, drawn now."""
    fig = value.gcf() if is_pyplot(value) else value
    if not hasattr(fig, "savefig") and hasattr(fig, "get_figure"):  # an Axes
        fig = fig.get_figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _ext(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".pts.json"):
        return "pts.json"
    return Path(low).suffix.lstrip(".") or None


def read_source(data: Any, what: str) -> tuple[bytes, str | None]:
    """The bytes of a path or an open file object, and the file's extension (lower case, no dot)."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no such file: {path}")
        return path.read_bytes(), _ext(path.name)
    read = getattr(data, "read", None)
    if callable(read):
        raw = read()
        name = getattr(data, "name", None)
        return (raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)), _ext(name) if isinstance(name, str) else None
    raise TypeError(f"{what}: expected a path or an open file, got {type(data).__name__}")
