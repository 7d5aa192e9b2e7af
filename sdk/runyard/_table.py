"""`runyard.Table`: rows and columns whose cells may be numbers, strings, None, lists or media.

    t = Table(columns=["image", "pred", "true"]); t.add_data(Image(x), 3, 5)
    t.add_column("score", [0.9]); t.get_column("pred") -> [3]
    Table(dataframe=df); t.get_dataframe()

Stored as one JSON file `{"columns": [...], "data": [[...], ...]}` (media cells become their
descriptors, their bytes files beside it); the history row holds `{"_type": "table-file", "path", "nrows",
"ncols", ...}`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._media_base import Media, file_entry

__all__ = ["Table"]

MAX_ROWS = 200_000


class Table(Media):
    """A table. `columns` and `data` (a list of rows), or `dataframe=` (pandas), or `rows=` (W&B's alias
    of `data`). Every row must have one value per column."""

    _type = "table-file"

    def __init__(self, columns: Sequence[Any] | None = None, data: Iterable[Sequence[Any]] | None = None,
                 rows: Iterable[Sequence[Any]] | None = None, dataframe: Any = None, dtype: Any = None,
                 optional: Any = True, allow_mixed_types: bool = False, log_mode: str | None = None) -> None:
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        if data is None:
            data = rows
        if data is not None and not isinstance(data, (list, tuple)) and hasattr(data, "tolist"):
            data = data.tolist()  # a 2-D NumPy array
        self.columns: list[str] = [str(c) for c in (columns or [])]
        self.data: list[list[Any]] = []
        for row in data or []:
            self.add_data(*row)

    # ---- building ------------------------------------------------------------------------------------
    def add_data(self, *row: Any) -> None:
        """Append one row (one value per column)."""
        if self.columns and len(row) != len(self.columns):
            raise ValueError(f"runyard.Table: a row has {len(row)} values for {len(self.columns)} columns "
                             f"({', '.join(self.columns)})")
        if not self.columns:
            self.columns = [f"c{i}" for i in range(len(row))]
        if len(self.data) >= MAX_ROWS:
            raise ValueError(f"runyard.Table: at most {MAX_ROWS} rows; log a sample, or save the data as an artifact")
        self.data.append(list(row))

    add_row = add_data

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        """Add a column; `data` has one value per row (on an empty table it sets the number of rows)."""
        name = str(name)
        if name in self.columns:
            raise ValueError(f"runyard.Table: there is already a column {name!r}")
        values = data.tolist() if hasattr(data, "tolist") and not isinstance(data, list) else list(data)
        if self.data and len(values) != len(self.data):
            raise ValueError(f"runyard.Table: column {name!r} has {len(values)} values for {len(self.data)} rows")
        if not self.data and not self.columns:
            self.data = [[] for _ in values]
        elif not self.data:
            raise ValueError(f"runyard.Table: column {name!r} added to a table with columns and no rows")
        self.columns.append(name)
        for row, value in zip(self.data, values):
            row.append(value)

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], Mapping[str, Any]]) -> None:
        """Add the columns `fn(index, row_as_dict)` returns (a dict of new column -> value) for every row."""
        new: list[Mapping[str, Any]] = [fn(i, dict(zip(self.columns, row))) for i, row in enumerate(self.data)]
        names: list[str] = []
        for result in new:
            for k in result:
                if k not in names:
                    names.append(str(k))
        for name in names:
            self.add_column(name, [r.get(name) for r in new])

    # ---- reading ---------------------------------------------------------------------------------------
    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of one column (a NumPy array with `convert_to="numpy"`)."""
        try:
            i = self.columns.index(str(name))
        except ValueError:
            raise KeyError(f"runyard.Table: no column {name!r} (columns: {', '.join(self.columns)})") from None
        values = [row[i] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.asarray(values)
        return values

    def get_index(self) -> list[int]:
        """The row indexes (0 .. len-1), as W&B's tables give them."""
        return list(range(len(self.data)))

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Any:
        return iter(self.iterrows())

    def iterrows(self) -> list[tuple[int, list[Any]]]:
        return list(enumerate(self.data))

    def __repr__(self) -> str:
        return f"<runyard.Table {len(self.data)} rows x {len(self.columns)} columns>"

    # ---- storing ----------------------------------------------------------------------------------------
    def to_body(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        """`{"columns", "data"}` with media cells bound (their files written under `files_dir`)."""
        from ._jsonify import jsonable

        def cell(value: Any, r: int, c: int) -> Any:
            if isinstance(value, Media):
                return value.bind(files_dir, f"{key}_r{r}c{c}", step)
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
                value = value.item()  # numpy / torch scalars
                if isinstance(value, float) and not math.isfinite(value):
                    return str(value)
                return value
            return jsonable(value, what=f"a cell of table {key!r}")

        return {"columns": self.columns,
                "data": [[cell(v, r, c) for c, v in enumerate(row)] for r, row in enumerate(self.data)]}

    def bind(self, files_dir: Path, key: str, step: int) -> dict[str, Any]:
        raw = json.dumps(self.to_body(files_dir, key, step), ensure_ascii=False, allow_nan=False).encode()
        desc: dict[str, Any] = {"_type": self._type, "ncols": len(self.columns), "nrows": len(self.data)}
        desc.update(file_entry(files_dir, "tables", key, step, raw, "table.json"))
        return desc

    @classmethod
    def from_body(cls, body: Mapping[str, Any], files_dir: Path | None = None) -> Table:
        """A Table from its stored JSON; image cells become `Image`s of the files under `files_dir`."""
        from .media import Image

        def cell(value: Any) -> Any:
            if (isinstance(value, dict) and value.get("_type") == "image-file" and files_dir is not None
                    and isinstance(value.get("path"), str) and (files_dir / value["path"]).is_file()):
                return Image(files_dir / value["path"], caption=value.get("caption"))
            return value

        return cls(columns=list(body.get("columns") or []), data=[[cell(v) for v in row] for row in body.get("data") or []])
