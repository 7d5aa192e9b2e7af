"""Media values turn into descriptors and files the UI can show."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from runyard.media import Histogram, Image, Table


def _load(files: Path, desc: dict) -> PILImage.Image:  # type: ignore[type-arg]
    data = (files / desc["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == desc["sha256"] and len(data) == desc["size"]
    return PILImage.open(io.BytesIO(data))


def test_float_chw_array_becomes_a_png_with_caption(tmp_path: Path) -> None:
    x = np.zeros((3, 8, 10), dtype=np.float32)
    x[0] = 1.0  # red
    desc = Image(x, caption="pred 3 / true 5").bind(tmp_path, "val/examples", 7)
    assert desc["_type"] == "image-file" and desc["caption"] == "pred 3 / true 5"
    assert (desc["width"], desc["height"]) == (10, 8)
    assert desc["path"].startswith("media/images/val_examples_7_")
    img = _load(tmp_path, desc)
    assert img.size == (10, 8) and img.getpixel((0, 0)) == (255, 0, 0)


def test_torch_tensor_and_pil_and_grayscale(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    t = torch.linspace(0, 1, 16).reshape(4, 4)
    img = _load(tmp_path, Image(t).bind(tmp_path, "t", 0))
    assert img.size == (4, 4) and img.getpixel((0, 0)) == 0 and img.getpixel((3, 3)) == 255
    pil = PILImage.new("RGB", (5, 6), (1, 2, 3))
    assert _load(tmp_path, Image(pil).bind(tmp_path, "p", 1)).getpixel((2, 2)) == (1, 2, 3)


def test_masks_and_boxes_keep_class_labels(tmp_path: Path) -> None:
    mask = np.zeros((4, 4), dtype=np.int64)
    mask[1:3, 1:3] = 2
    box = {"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.1, "maxY": 0.5}, "class_id": 2, "box_caption": "cat"}
    desc = Image(
        np.zeros((4, 4)), masks={"pred": {"mask_data": mask, "class_labels": {0: "bg", 2: "cat"}}},
        boxes={"pred": {"box_data": [box], "class_labels": {2: "cat"}}},
    ).bind(tmp_path, "seg", 3)
    m = desc["masks"]["pred"]
    assert m["class_labels"] == {"0": "bg", "2": "cat"}
    assert _load(tmp_path, m).getpixel((1, 1)) == 2
    assert desc["boxes"]["pred"]["box_data"][0]["box_caption"] == "cat"


def test_table_with_image_cells_and_wrong_row_length(tmp_path: Path) -> None:
    t = Table(columns=["image", "pred", "score"])
    t.add_data(Image(np.ones((2, 2))), 3, float("nan"))
    t.add_data(Image(np.zeros((2, 2))), np.int64(5), 0.5)
    with pytest.raises(ValueError, match="3 columns"):
        t.add_data(1, 2)
    desc = t.bind(tmp_path, "preds", 0)
    assert (desc["nrows"], desc["ncols"]) == (2, 3)
    body = json.loads((tmp_path / desc["path"]).read_text())
    assert body["columns"] == ["image", "pred", "score"]
    assert body["data"][0][0]["_type"] == "image-file" and body["data"][0][2] == "nan"
    assert body["data"][1][1] == 5


def test_histogram_from_values_and_from_np_histogram(tmp_path: Path) -> None:
    h = Histogram(np.r_[np.arange(100.0), np.nan], num_bins=10).bind(tmp_path, "w", 0)
    assert h["_type"] == "histogram" and sum(h["values"]) == 100 and len(h["bins"]) == 11
    counts, edges = np.histogram([1, 2, 2, 3], bins=3)
    assert Histogram(np_histogram=(counts, edges)).bind(tmp_path, "w", 1)["values"] == [1, 2, 1]
    with pytest.raises(ValueError):
        Histogram(np_histogram=([1, 2], [0, 1]))
