"""Rich values for `run.log`: Image, Table, Histogram, Video, Audio, Html, Object3D, Molecule, Plotly.

A media value becomes a small JSON descriptor in the history row; its bytes (if any) are written to the
run folder under `media/` and uploaded as a run file, so the UI can fetch them with a presigned URL.

    run.log({"examples": [runyard.Image(x, caption="pred 3 / true 5") for x in batch]})
    run.log({"preds": runyard.Table(columns=["id", "pred"], data=[[1, 3], [2, 5]])})
    run.log({"grads": runyard.Histogram(np.random.randn(1000))})
    run.log({"fig": fig})            # a matplotlib figure (or `plt`) becomes an image, drawn at log() time
    run.log({"chart": plotly_fig})   # a plotly figure becomes a plotly chart (its JSON)
    run.log({"df": dataframe})       # a pandas DataFrame becomes a table

`Media.bind(files_dir, key, step)` writes the bytes and returns the descriptor; the run calls it once
per logged value. Pillow and NumPy are needed for images (`pip install runyard[media]`). The descriptor
of every type is listed in docs/sdk.md ("Media descriptors").
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ._media_base import (
    Media,
    array_to_pil,
    figure_png,
    file_entry,
    is_matplotlib_figure,
    is_pyplot,
    safe_key,
    to_numpy,
    write_file,
)
from ._media_rich import Audio, Html, Molecule, Object3D, Plotly, Video
from ._table import Table

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "Molecule", "Object3D", "Plotly", "Table", "Video",
           "as_media", "converter_for"]

# kept for modules that imported the private helpers from here
_safe = safe_key
_write = write_file
_to_numpy = to_numpy
_array_to_pil = array_to_pil


class Image(Media):
    """An image from a NumPy array (HW, HWC or CHW; floats in [0, 1] or any range), a PIL image, a torch
    tensor, a matplotlib figure (or `plt`), or a file path; with a caption, and optional segmentation
    masks and bounding boxes:

        Image(x, caption="cat", masks={"pred": {"mask_data": m, "class_labels": {0: "bg", 1: "cat"}}},
              boxes={"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2,
              "maxY": 0.5}, "class_id": 1, "box_caption": "cat 0.93"}], "class_labels": {1: "cat"}}})

    A figure is drawn when the Image is made, so later changes to it do not show. `file_type="jpg"`
    stores a JPEG instead of a PNG.
    """

    _type = "image-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, mode: str | None = None,
                 masks: Mapping[str, Mapping[str, Any]] | None = None,
                 boxes: Mapping[str, Mapping[str, Any]] | None = None,
                 classes: Any = None, file_type: str | None = None, grouping: int | None = None,
                 normalize: bool = True, **_ignored: Any) -> None:
        self.caption = None if caption is None else str(caption)
        self.masks = dict(masks or {})
        self.boxes = dict(boxes or {})
        self.classes = _classes(classes)
        self._png: bytes | None = None
        self._path: Path | None = None
        self._format = "png"
        self._pil: Any = None
        self.width: int = 0
        self.height: int = 0
        data = data_or_path
        if isinstance(data, (str, os.PathLike)):
            self._path = Path(data)
            if not self._path.is_file():
                raise FileNotFoundError(f"runyard.Image: no such file: {self._path}")
            self._format = self._path.suffix.lstrip(".").lower() or "png"
            return
        if isinstance(data, Image):  # Image(Image(...)): the same picture, maybe another caption
            self._path, self._format, self._png = data._path, data._format, data._png
            if data._path is None:
                self._pil, self.width, self.height = data._pil, data.width, data.height
            return
        if is_pyplot(data) or is_matplotlib_figure(data):
            from PIL import Image as PILImage

            self._png = figure_png(data)
            self._pil = PILImage.open(io.BytesIO(self._png))
        else:
            self._pil = data if hasattr(data, "save") and hasattr(data, "size") else array_to_pil(to_numpy(data), mode)
        self.width, self.height = self._pil.size
        if file_type in ("jpg", "jpeg"):
            self._format = "jpg"
            self._png = None

    def _bytes(self) -> bytes:
        if self._path is not None:
            return self._path.read_bytes()
        if self._png is None:
            buf = io.BytesIO()
            if self._format == "jpg":
                self._pil.convert("RGB").save(buf, format="JPEG", quality=90)
            else:
                self._pil.save(buf, format="PNG")
            self._png = buf.getvalue()
        return self._png

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        data = self._bytes()
        desc: dict[str, Any] = {"_type": self._type, "format": self._format}
        desc.update(file_entry(files_dir, "images", key, step, data, self._format))
        if self._path is None:
            desc["width"], desc["height"] = self.width, self.height
        if self.caption is not None:
            desc["caption"] = self.caption
        if self.masks:
            desc["masks"] = {}
            for name, mask in self.masks.items():
                pil = array_to_pil(to_numpy(mask["mask_data"]).astype("uint8"), "L")
                buf = io.BytesIO()
                pil.save(buf, format="PNG")
                raw = buf.getvalue()
                h = hashlib.sha256(raw).hexdigest()[:12]
                entry = write_file(files_dir, f"media/images/mask/{safe_key(key)}_{step}_{safe_key(name)}_{h}.png", raw)
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

    def __repr__(self) -> str:
        return f"<runyard.Image {self.caption or ''}>".replace(" >", ">")


class Classes:
    """W&B's `wandb.Classes([{"id": 1, "name": "cat"}, ...])`: class ids and names of masks and boxes."""

    def __init__(self, class_set: Sequence[Mapping[str, Any]]) -> None:
        self.class_set = [dict(c) for c in class_set]


def _classes(classes: Any) -> list[dict[str, Any]]:
    if classes is None:
        return []
    if isinstance(classes, Classes):
        return classes.class_set
    return [dict(c) for c in classes]


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
            arr = to_numpy(sequence).astype(np.float64).ravel()
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
        if not all(math.isfinite(e) for e in self.edges):
            raise ValueError("runyard.Histogram: bin edges must be finite")

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        return {"_type": self._type, "values": self.counts, "bins": self.edges}


# ---------------------------------------------------------------------------------------------------
# Values of other libraries logged directly. They are mutable (a script keeps drawing on a figure, or
# edits a DataFrame), so they are converted when log() is called, not later on the streamer thread.

Converter = Callable[[Any], Any]


def _pyplot_or_module(value: Any) -> Any:
    return Image(value) if is_pyplot(value) else value


def _dataframe(value: Any) -> Any:
    return Table(dataframe=value)


def _series(value: Any) -> Any:
    return Table(dataframe=value.to_frame())


def _plotly(value: Any) -> Any:
    return Plotly(value)


def _figure(value: Any) -> Any:
    return Image(value)


def converter_for(t: type) -> Converter | None:
    """How to turn a value of type `t` into a Media at log() time, or None (the value stays as it is)."""
    if t is ModuleType:
        return _pyplot_or_module
    mod = getattr(t, "__module__", "") or ""
    root = mod.split(".", 1)[0]
    name = t.__name__
    if root == "pandas":
        if name == "DataFrame":
            return _dataframe
        if name == "Series":
            return _series
        return None
    if root == "plotly" and name == "Figure":
        return _plotly
    if root == "matplotlib" and (hasattr(t, "savefig") or (hasattr(t, "get_figure") and name.endswith("Axes"))):
        return _figure
    return None


def as_media(value: Any) -> Any:
    """`value` as a Media when it is a figure, a DataFrame or the pyplot module; else `value` itself."""
    conv = converter_for(type(value))
    return conv(value) if conv is not None else value
