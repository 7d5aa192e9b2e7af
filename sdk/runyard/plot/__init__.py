"""Charts drawn from tables, with W&B's `wandb.plot` names and arguments:

    run.log({"loss_by_lr": runyard.plot.line(table, "step", "loss", stroke="lr", title="Loss")})
    run.log({"conf": runyard.plot.confusion_matrix(preds=pred, y_true=y, class_names=names)})
    run.log({"roc": runyard.plot.roc_curve(y, probas, labels=names)})

Each returns a `Chart` (a table plus how to draw it); logged, it becomes a table file and one descriptor
in the history row (docs/sdk.md, "Charts"). NumPy is needed; scikit-learn is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._table import Table
from ._chart import KINDS, Chart
from ._curves import confusion_matrix, pr_curve, roc_curve

__all__ = ["KINDS", "Chart", "CustomChart", "bar", "confusion_matrix", "histogram", "line", "line_series", "plot_table",
           "pr_curve", "roc_curve", "scatter", "visualize"]

CustomChart = Chart  # W&B's class name


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "", split_table: bool = False) -> Chart:
    """A line per value of `stroke` (one line without it), `y` against `x`."""
    return Chart(table, "line", {"x": x, "y": y, "stroke": stroke}, title, x_label=x, y_label=y,
                 split_table=split_table)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> Chart:
    return Chart(table, "scatter", {"x": x, "y": y}, title, x_label=x, y_label=y, split_table=split_table)


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> Chart:
    return Chart(table, "bar", {"label": label, "value": value}, title, split_table=split_table)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> Chart:
    """The distribution of the column `value` (the UI bins it)."""
    return Chart(table, "histogram", {"value": value}, title, x_label=value, split_table=split_table)


def line_series(xs: Iterable[Any], ys: Iterable[Iterable[Any]], keys: Iterable[str] | None = None, title: str = "",
                xname: str = "x", split_table: bool = False) -> Chart:
    """Several lines on one chart: `ys` is a list of series; `xs` one x list shared by all, or one per
    series; `keys` names the lines (default `key_0`, `key_1`, ...)."""
    ys_l = [list(_flat(y)) for y in ys]
    xs_l = list(xs)
    if xs_l and not isinstance(xs_l[0], (list, tuple)) and not hasattr(xs_l[0], "__len__"):
        xs_per = [xs_l] * len(ys_l)
    else:
        xs_per = [list(_flat(x)) for x in xs_l]
        if len(xs_per) == 1:
            xs_per = xs_per * len(ys_l)
    if len(xs_per) != len(ys_l):
        raise ValueError(f"runyard.plot.line_series: {len(xs_per)} x series for {len(ys_l)} y series")
    names = [str(k) for k in keys] if keys is not None else [f"key_{i}" for i in range(len(ys_l))]
    if len(names) != len(ys_l):
        raise ValueError(f"runyard.plot.line_series: {len(names)} keys for {len(ys_l)} series")
    table = Table(columns=["lineKey", "lineVal", "step"])
    for name, x, y in zip(names, xs_per, ys_l):
        if len(x) != len(y):
            raise ValueError(f"runyard.plot.line_series: series {name!r} has {len(y)} y values for {len(x)} x values")
        for xv, yv in zip(x, y):
            table.add_data(name, _num(yv), _num(xv))
    return Chart(table, "line", {"x": "step", "y": "lineVal", "stroke": "lineKey"}, title, x_label=xname,
                 y_label="value", preset="line_series", split_table=split_table)


def plot_table(vega_spec_name: str, data_table: Table, fields: Mapping[str, str],
               string_fields: Mapping[str, Any] | None = None, split_table: bool = False) -> Chart:
    """W&B's custom chart: a table with a named Vega spec. Runyard stores both; its UI draws the table
    (custom Vega specs are not rendered)."""
    return Chart(data_table, "custom", dict(fields), str(string_fields.get("title", "") if string_fields else ""),
                 spec=vega_spec_name, string_fields=string_fields, split_table=split_table)


def _flat(values: Any) -> Iterable[Any]:
    return values.tolist() if hasattr(values, "tolist") else values


def _num(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def visualize(vega_spec_name: str, table: Table) -> Chart:
    """W&B's older `wandb.plot_table` spelling without fields."""
    return plot_table(vega_spec_name, table, {})

