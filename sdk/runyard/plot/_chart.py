"""`Chart`: a table plus a small spec saying how to draw it. Logged like any media value:

    run.log({"roc": runyard.plot.roc_curve(y_true, y_probas, labels=names)})

The history row holds one descriptor (documented in docs/sdk.md, "Charts"):

    {"_type": "chart", "kind": "line", "title": "ROC Curve", "preset": "roc_curve",
     "fields": {"x": "fpr", "y": "tpr", "stroke": "class"}, "x_label": "False positive rate",
     "y_label": "True positive rate", "table": {"_type": "table-file", "path": ..., "nrows": ..., ...}}

`kind` is one of KINDS; `fields` maps each role of that kind to a column of the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._media_base import Media
from .._table import Table

__all__ = ["KINDS", "Chart"]

# kind -> (required field roles, optional field roles)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "line": (("x", "y"), ("stroke",)),
    "scatter": (("x", "y"), ("color",)),
    "bar": (("label", "value"), ("color",)),
    "histogram": (("value",), ()),
    "heatmap": (("x", "y", "value"), ()),
    "custom": ((), ()),
}


class Chart(Media):
    """A table and how to draw it (`kind`, `fields` naming the table's columns, axis labels)."""

    _type = "chart"

    def __init__(self, table: Table, kind: str, fields: Mapping[str, str | None], title: str = "", *,
                 x_label: str | None = None, y_label: str | None = None, preset: str | None = None,
                 spec: str | None = None, string_fields: Mapping[str, Any] | None = None,
                 split_table: bool = False) -> None:
        if kind not in KINDS:
            raise ValueError(f"runyard.plot: unknown chart kind {kind!r} (kinds: {', '.join(KINDS)})")
        required, optional = KINDS[kind]
        for role in required:
            if role not in fields:
                raise ValueError(f"runyard.plot: a {kind} chart needs the field {role!r}")
        for role, column in fields.items():
            if kind != "custom" and role not in required + optional:
                raise ValueError(f"runyard.plot: a {kind} chart has no field {role!r}")
            if column is not None and column not in table.columns:
                raise ValueError(f"runyard.plot: the table has no column {column!r} "
                                 f"(columns: {', '.join(table.columns)})")
        self.table = table
        self.kind = kind
        self.fields = {k: v for k, v in fields.items() if v is not None}
        self.title = title or ""
        self.x_label = x_label
        self.y_label = y_label
        self.preset = preset
        self.spec = spec
        self.string_fields = dict(string_fields or {})
        self.split_table = split_table

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        desc: dict[str, Any] = {"_type": self._type, "kind": self.kind, "title": self.title, "fields": self.fields}
        for name in ("x_label", "y_label", "preset", "spec"):
            value = getattr(self, name)
            if value is not None:
                desc[name] = value
        if self.string_fields:
            desc["string_fields"] = self.string_fields
        desc["table"] = self.table.bind(files_dir, f"{key}_table", step)
        return desc

    def __repr__(self) -> str:
        return f"<runyard.plot.Chart {self.kind} {self.title!r} ({len(self.table.data)} rows)>"
