"""Rich values for `run.log`: Image, Table, Histogram.

A media value becomes a small JSON descriptor in the history row; its bytes (if any) are written to the
run folder under `media/` and uploaded as a run file, so the UI can fetch them with a presigned URL.

    run.log({"examples": [runyard.Image(x, caption="pred 3 / true 5") for x in batch]})
    run.log({"preds": runyard.Table(columns=["id", "pred"], data=[[1, 3], [2, 5]])})
    run.log({"grads": runyard.Histogram(np.random.randn(1000))})

`Media.bind(files_dir, key, step)` writes the bytes and returns the descriptor; the run calls it once
per logged value. Pillow and NumPy are needed for images (`pip install runyard[media]`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Histogram", "Image", "Media", "Table"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _safe(key: str) -> str:
    return _SAFE.sub("_", key).strip("._")[:80] or "media"


def _write(files_dir: Path, rel: str, data: bytes) -> dict[str, Any]:
    path = files_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


class Media(ABC):
    """Base of values that `run.log` turns into a descriptor (and maybe a file)."""

    _type = "media"

    @abstractmethod
    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        """Write the value's bytes (if any) under `files_dir` and return its JSON descriptor."""


def _to_numpy(data: Any) -> Any:
    import numpy as np

    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch tensor
        data = data.detach().cpu().numpy()
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray):  # tf / keras tensors
        data = data.numpy()
    return np.asarray(data)


def _array_to_pil(arr: Any, mode: str | None) -> Any:
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


class Image(Media):
    """An image from a NumPy array (HW, HWC or CHW; floats in [0, 1] or any range), a PIL image, a torch
    tensor, or a file path; with a caption, and optional segmentation masks and bounding boxes:

        Image(x, caption="cat", masks={"pred": {"mask_data": m, "class_labels": {0: "bg", 1: "cat"}}},
              boxes={"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2,
              "maxY": 0.5}, "class_id": 1, "box_caption": "cat 0.93"}], "class_labels": {1: "cat"}}})
    """

    _type = "image-file"

    def __init__(self, data: Any, caption: str | None = None, mode: str | None = None,
                 masks: Mapping[str, Mapping[str, Any]] | None = None,
                 boxes: Mapping[str, Mapping[str, Any]] | None = None,
                 classes: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.caption = None if caption is None else str(caption)
        self.masks = dict(masks or {})
        self.boxes = dict(boxes or {})
        self.classes = list(classes or [])
        self._png: bytes | None = None
        self._path: Path | None = None
        self._format = "png"
        if isinstance(data, (str, os.PathLike)):
            self._path = Path(data)
            if not self._path.is_file():
                raise FileNotFoundError(f"runyard.Image: no such file: {self._path}")
            self._format = self._path.suffix.lstrip(".").lower() or "png"
        else:
            self._pil = data if hasattr(data, "save") and hasattr(data, "size") else _array_to_pil(_to_numpy(data), mode)
            self.width, self.height = self._pil.size

    def _bytes(self) -> bytes:
        if self._path is not None:
            return self._path.read_bytes()
        if self._png is None:
            buf = io.BytesIO()
            self._pil.save(buf, format="PNG")
            self._png = buf.getvalue()
        return self._png

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        data = self._bytes()
        digest = hashlib.sha256(data).hexdigest()[:12]
        desc: dict[str, Any] = {"_type": self._type, "format": self._format}
        desc.update(_write(files_dir, f"media/images/{_safe(key)}_{step}_{digest}.{self._format}", data))
        if self._path is None:
            desc["width"], desc["height"] = self.width, self.height
        if self.caption is not None:
            desc["caption"] = self.caption
        if self.masks:
            desc["masks"] = {}
            for name, mask in self.masks.items():
                pil = _array_to_pil(_to_numpy(mask["mask_data"]).astype("uint8"), "L")
                buf = io.BytesIO()
                pil.save(buf, format="PNG")
                raw = buf.getvalue()
                h = hashlib.sha256(raw).hexdigest()[:12]
                entry = _write(files_dir, f"media/images/mask/{_safe(key)}_{step}_{_safe(name)}_{h}.png", raw)
                entry["class_labels"] = {str(k): str(v) for k, v in (mask.get("class_labels") or {}).items()}
                desc["masks"][name] = entry
        if self.boxes:
            desc["boxes"] = {
                name: {
                    "box_data": list(b.get("box_data") or []),
                    "class_labels": {str(k): str(v) for k, v in (b.get("class_labels") or {}).items()},
                }
                for name, b in self.boxes.items()
            }
        if self.classes:
            desc["classes"] = self.classes
        return desc


class Table(Media):
    """Rows and columns; cells may be numbers, strings, None or Images.

        t = Table(columns=["image", "pred", "true"]); t.add_data(Image(x), 3, 5)
        Table(dataframe=df)
    """

    _type = "table-file"

    def __init__(self, columns: Sequence[str] | None = None, data: Sequence[Sequence[Any]] | None = None,
                 dataframe: Any = None) -> None:
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        self.columns = [str(c) for c in (columns or [])]
        self.data: list[list[Any]] = []
        for row in data or []:
            self.add_data(*row)

    def add_data(self, *row: Any) -> None:
        if self.columns and len(row) != len(self.columns):
            raise ValueError(f"runyard.Table: a row has {len(row)} values for {len(self.columns)} columns")
        if not self.columns:
            self.columns = [f"c{i}" for i in range(len(row))]
        self.data.append(list(row))

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        def cell(value: Any, r: int, c: int) -> Any:
            if isinstance(value, Media):
                return value.bind(files_dir, f"{key}_r{r}c{c}", step)
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if hasattr(value, "item") and callable(value.item):  # numpy scalar
                return value.item()
            return value

        body = {"columns": self.columns,
                "data": [[cell(v, r, c) for c, v in enumerate(row)] for r, row in enumerate(self.data)]}
        raw = json.dumps(body, ensure_ascii=False, default=str).encode()
        digest = hashlib.sha256(raw).hexdigest()[:12]
        desc: dict[str, Any] = {"_type": self._type, "ncols": len(self.columns), "nrows": len(self.data)}
        desc.update(_write(files_dir, f"media/tables/{_safe(key)}_{step}_{digest}.table.json", raw))
        return desc


class Histogram(Media):
    """A histogram of values (`Histogram(seq, num_bins=64)`) or of `np.histogram` output
    (`Histogram(np_histogram=(counts, edges))`). Stored inline in the history row."""

    _type = "histogram"
    MAX_BINS = 512

    def __init__(self, sequence: Any = None, np_histogram: tuple[Any, Any] | None = None, num_bins: int = 64) -> None:
        import numpy as np

        if np_histogram is not None:
            counts, edges = np_histogram
        elif sequence is not None:
            arr = _to_numpy(sequence).astype(np.float64).ravel()
            arr = arr[np.isfinite(arr)]
            counts, edges = np.histogram(arr, bins=max(1, min(int(num_bins), self.MAX_BINS)))
        else:
            raise ValueError("runyard.Histogram: pass a sequence or np_histogram=(counts, edges)")
        self.counts = [int(x) if float(x).is_integer() else float(x) for x in np.asarray(counts).tolist()]
        self.edges = [float(x) for x in np.asarray(edges).tolist()]
        if len(self.edges) != len(self.counts) + 1:
            raise ValueError("runyard.Histogram: np_histogram needs len(edges) == len(counts) + 1")
        if len(self.counts) > self.MAX_BINS:
            raise ValueError(f"runyard.Histogram: at most {self.MAX_BINS} bins")

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        return {"_type": self._type, "values": self.counts, "bins": self.edges}
