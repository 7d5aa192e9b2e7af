"""TensorBoard events -> what a run stores: scalars, images, histograms and text, at their global step.

Both generations of summaries are read:
- TF1 style (torch's SummaryWriter, tensorboardX, `tf.compat.v1.summary`): `simple_value`, `image`, `histo`;
- TF2 style (`tf.summary`, Keras, torch with `new_style=True`): a `tensor` with the plugin named in the
  summary metadata (`scalars`, `images`, `histograms`, `text`). TF2 writers put the metadata only on the
  first value of a tag, so a `Converter` remembers each tag's plugin for its file.

Scalars keep the exact value the file holds (a float32 `simple_value` widened to float64, a DT_DOUBLE
tensor bit for bit). Other summaries (audio, PR curves, graphs, hyperparameters, meshes) are not turned
into run data; they stay viewable in the run's TensorBoard tab.

The protobuf classes come from the `tensorboard` package or, without it, from `tensorboardX`
(`pip install runyard[tensorboard]`).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["Converter", "Point", "event_class", "histogram_edges"]

# tensorflow DataType enum values used by summaries
_DT = {1: ("f", 4), 2: ("d", 8), 3: ("i", 4), 9: ("q", 8), 10: ("?", 1), 19: ("e", 2), 4: ("B", 1), 5: ("h", 2),
       6: ("b", 1), 17: ("H", 2), 22: ("I", 4), 23: ("Q", 8)}
_DT_STRING = 7
_DT_BFLOAT16 = 14
_MAX_BINS = 512


def event_class() -> Any:
    """The `Event` protobuf class of the installed TensorBoard writer package."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event

        return Event
    except ImportError:
        pass
    try:
        from tensorboardX.proto.event_pb2 import Event as XEvent

        return XEvent
    except ImportError:
        from ..errors import UsageError

        raise UsageError("reading TensorBoard event files needs the tensorboard package: "
                         "pip install 'runyard[tensorboard]'") from None


@dataclass
class Point:
    """One value of a summary: kind is scalar (float), image (list of encoded images), histogram
    ((counts, edges)) or text (str)."""

    kind: str
    tag: str
    step: int
    wall_time: float
    value: Any


def _tensor_values(t: Any) -> list[Any]:
    """The flat values of a TensorProto (numbers as Python floats/ints, strings as bytes)."""
    dtype = int(t.dtype)
    if dtype == _DT_STRING:
        return list(t.string_val)
    if t.tensor_content:
        raw = bytes(t.tensor_content)
        if dtype == _DT_BFLOAT16:
            return [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        code, size = _DT.get(dtype, ("", 0))
        if not code:
            return []
        return list(struct.unpack(f"<{len(raw) // size}{code}", raw))
    for field in ("double_val", "float_val", "int64_val", "int_val", "bool_val", "uint32_val", "uint64_val"):
        vals = getattr(t, field, None)
        if vals:
            return list(vals)
    if dtype in (19, _DT_BFLOAT16) and t.half_val:
        if dtype == 19:
            return [struct.unpack("<e", struct.pack("<H", v))[0] for v in t.half_val]
        return [struct.unpack("<f", struct.pack("<I", v << 16))[0] for v in t.half_val]
    return []


def _shape(t: Any) -> list[int]:
    return [int(d.size) for d in t.tensor_shape.dim]


def histogram_edges(limits: list[float], counts: list[float], lo: float, hi: float) -> tuple[list[float], list[float]]:
    """TF1 histogram buckets (right limits, counts, min, max) -> (counts, edges) for `runyard.Histogram`:
    empty buckets at both ends left out, the outermost edges clamped to min and max, and more than 512
    buckets merged into at most 64 (counts are added, so the total stays exact)."""
    nonzero = [i for i, c in enumerate(counts) if c]
    if not nonzero:
        return [0.0], [lo, hi if hi > lo else lo + 1.0]
    first, last = nonzero[0], nonzero[-1]
    kept = [float(c) for c in counts[first:last + 1]]
    # the smallest value lies in the first non-empty bucket and the largest in the last one
    edges = [lo] + [float(x) for x in limits[first:last]] + [hi]
    if any(b <= a for a, b in itertools.pairwise(edges)):
        return [sum(kept)], [lo, hi if hi > lo else lo + 1.0]
    if len(kept) > _MAX_BINS:
        group = -(-len(kept) // 64)
        merged = [sum(kept[i:i + group]) for i in range(0, len(kept), group)]
        edges = [*edges[0:-1:group], edges[-1]]
        kept = merged
    return kept, edges


class Converter:
    """Turns the records of one event file into `Point`s; remembers each tag's plugin across records."""

    def __init__(self) -> None:
        self._event = event_class()
        self._plugins: dict[str, str] = {}

    def points(self, payload: bytes) -> list[Point]:
        ev = self._event.FromString(payload)
        if ev.WhichOneof("what") != "summary":
            return []
        out: list[Point] = []
        step, wall = int(ev.step), float(ev.wall_time)
        for v in ev.summary.value:
            tag = v.tag
            if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
                self._plugins[tag] = v.metadata.plugin_data.plugin_name
            which = v.WhichOneof("value")
            if which == "simple_value":
                out.append(Point("scalar", tag, step, wall, float(v.simple_value)))
            elif which == "image":
                out.append(Point("image", tag, step, wall, [bytes(v.image.encoded_image_string)]))
            elif which == "histo":
                h = v.histo
                counts, edges = histogram_edges(list(h.bucket_limit), list(h.bucket), float(h.min), float(h.max))
                out.append(Point("histogram", tag, step, wall, (counts, edges)))
            elif which == "tensor":
                point = self._tensor_point(tag, step, wall, v.tensor)
                if point is not None:
                    out.append(point)
        return out

    def _tensor_point(self, tag: str, step: int, wall: float, t: Any) -> Point | None:
        plugin = self._plugins.get(tag, "")
        if plugin == "scalars":
            vals = _tensor_values(t)
            return Point("scalar", tag, step, wall, float(vals[0])) if len(vals) == 1 else None
        if plugin == "images":
            vals = _tensor_values(t)  # [width, height, image, image, ...]
            images = [bytes(x) for x in vals[2:]]
            return Point("image", tag, step, wall, images) if images else None
        if plugin == "histograms":
            vals = [float(x) for x in _tensor_values(t)]
            shape = _shape(t)
            if len(shape) != 2 or shape[1] != 3 or not vals:
                return None
            rows = [vals[i:i + 3] for i in range(0, len(vals), 3)]
            edges = [r[0] for r in rows] + [rows[-1][1]]
            counts = [r[2] for r in rows]
            if any(b <= a for a, b in itertools.pairwise(edges)):  # one-value histograms: left == right
                lo, hi = edges[0], edges[-1]
                return Point("histogram", tag, step, wall, ([sum(counts)], [lo, hi if hi > lo else lo + 1.0]))
            if len(counts) > _MAX_BINS:
                counts, edges = histogram_edges(edges[1:], counts, edges[0], edges[-1])
            return Point("histogram", tag, step, wall, (counts, edges))
        if plugin == "text":
            vals = _tensor_values(t)
            text = "\n".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in vals)
            return Point("text", tag, step, wall, text)
        return None
