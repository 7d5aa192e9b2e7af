"""Confusion matrix, ROC and precision-recall charts, computed with NumPy only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._table import Table
from ._chart import Chart

__all__ = ["binary_curve", "confusion_matrix", "pr_curve", "roc_curve"]

MAX_POINTS = 1000  # per class; a longer curve is thinned evenly (its end points kept)


def _np() -> Any:
    import numpy as np

    return np


def binary_curve(y: Any, scores: Any) -> tuple[Any, Any, Any]:
    """(false positives, true positives, thresholds) at each distinct score, highest score first,
    starting at (0, 0)."""
    np = _np()
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], y[order].astype(np.float64)
    last = np.r_[np.where(np.diff(s))[0], t.size - 1]
    tps = np.cumsum(t)[last]
    fps = 1 + last - tps
    return np.r_[0.0, fps], np.r_[0.0, tps], np.r_[np.inf, s[last]]


def _thin(*cols: Any) -> list[Any]:
    np = _np()
    n = len(cols[0])
    if n <= MAX_POINTS:
        return list(cols)
    idx = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
    return [c[idx] for c in cols]


def _classes(y_true: Any, y_probas: Any, labels: Sequence[Any] | None, classes_to_plot: Sequence[Any] | None,
             what: str) -> tuple[Any, Any, list[tuple[int, Any, str]]]:
    """(y_true, y_probas (n, k), [(column, class value, name)]) as W&B pairs them: column i of the
    probabilities belongs to the i-th class of sorted(set(y_true))."""
    np = _np()
    y = np.asarray(y_true)
    p = np.asarray(y_probas, dtype=np.float64)
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ValueError(f"runyard.plot.{what}: y_probas must be (samples, classes) for {y.shape[0]} samples, "
                         f"got shape {p.shape}")
    classes = np.unique(y)
    out = []
    for i in range(p.shape[1]):
        value = classes[i] if i < len(classes) else i
        if classes_to_plot is not None and value not in classes_to_plot:
            continue
        if labels is not None and isinstance(value, (int, np.integer)) and 0 <= int(value) < len(labels):
            name = str(labels[int(value)])
        elif labels is not None and i < len(labels) and not isinstance(value, (int, np.integer)):
            name = str(labels[i])
        else:
            name = str(value.item() if hasattr(value, "item") else value)
        out.append((i, value, name))
    return y, p, out


def roc_curve(y_true: Sequence[Any], y_probas: Sequence[Sequence[float]] | None = None, labels: Sequence[str] | None = None,
              classes_to_plot: Sequence[Any] | None = None, title: str = "ROC Curve", split_table: bool = False) -> Chart:
    """One ROC curve per class (one-vs-rest): true positive rate against false positive rate."""
    np = _np()
    if y_probas is None:
        raise ValueError("runyard.plot.roc_curve: y_probas is required")
    y, p, classes = _classes(y_true, y_probas, labels, classes_to_plot, "roc_curve")
    table = Table(columns=["class", "fpr", "tpr"])
    for col, value, name in classes:
        fps, tps, _ = binary_curve((y == value).astype(np.int64), p[:, col])
        fpr = fps / fps[-1] if fps[-1] else np.zeros_like(fps)
        tpr = tps / tps[-1] if tps[-1] else np.zeros_like(tps)
        for f, t in zip(*_thin(fpr, tpr)):
            table.add_data(name, round(float(f), 6), round(float(t), 6))
    return Chart(table, "line", {"x": "fpr", "y": "tpr", "stroke": "class"}, title, preset="roc_curve",
                 x_label="False positive rate", y_label="True positive rate", split_table=split_table)


def pr_curve(y_true: Sequence[Any] | None = None, y_probas: Sequence[Any] | None = None, labels: Sequence[str] | None = None,
             classes_to_plot: Sequence[Any] | None = None, interp_size: int = 21, title: str = "Precision-Recall Curve",
             split_table: bool = False) -> Chart:
    """One precision-recall curve per class (one-vs-rest), precision interpolated at `interp_size`
    evenly spaced recall values (the best precision at that recall or above)."""
    np = _np()
    if y_true is None or y_probas is None:
        raise ValueError("runyard.plot.pr_curve: y_true and y_probas are required")
    y, p, classes = _classes(y_true, y_probas, labels, classes_to_plot, "pr_curve")
    grid = np.linspace(0.0, 1.0, max(2, int(interp_size)))
    table = Table(columns=["class", "recall", "precision"])
    for col, value, name in classes:
        fps, tps, _ = binary_curve((y == value).astype(np.int64), p[:, col])
        if not tps[-1]:
            continue
        recall = tps[1:] / tps[-1]
        precision = tps[1:] / (tps[1:] + fps[1:])
        best = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or higher
        for r in grid:
            idx = np.searchsorted(recall, r, side="left")
            prec = float(best[idx]) if idx < len(best) else 0.0
            table.add_data(name, round(float(r), 6), round(prec, 6))
    return Chart(table, "line", {"x": "recall", "y": "precision", "stroke": "class"}, title, preset="pr_curve",
                 x_label="Recall", y_label="Precision", split_table=split_table)


def confusion_matrix(probs: Sequence[Sequence[float]] | None = None, y_true: Sequence[Any] | None = None,
                     preds: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
                     title: str = "Confusion Matrix Curve", split_table: bool = False) -> Chart:
    """Counts of (actual, predicted) class pairs, every pair listed (zeros included). Give `preds` or
    `probs` (argmax is taken); class ids index `class_names` when given."""
    np = _np()
    if y_true is None:
        raise ValueError("runyard.plot.confusion_matrix: y_true is required")
    if (probs is None) == (preds is None):
        raise ValueError("runyard.plot.confusion_matrix: give exactly one of probs and preds")
    truth = np.asarray(y_true).ravel()
    guess = np.asarray(probs).argmax(axis=-1) if probs is not None else np.asarray(preds).ravel()
    if truth.shape != guess.shape:
        raise ValueError(f"runyard.plot.confusion_matrix: {truth.size} true labels for {guess.size} predictions")
    if class_names is not None:
        names = [str(c) for c in class_names]
        ids = list(range(len(names)))
        bad = sorted({int(v) for v in np.r_[truth, guess] if not (0 <= int(v) < len(names))})
        if bad:
            raise ValueError(f"runyard.plot.confusion_matrix: class ids {bad[:5]} are outside class_names "
                             f"(0..{len(names) - 1})")
    else:
        values = sorted({v.item() if hasattr(v, "item") else v for v in np.r_[truth, guess]}, key=str)
        ids = values
        names = [str(v) for v in values]
    index = {v: i for i, v in enumerate(ids)}
    counts = np.zeros((len(ids), len(ids)), dtype=np.int64)
    for t, g in zip(truth.tolist(), guess.tolist()):
        counts[index[t], index[g]] += 1
    table = Table(columns=["Actual", "Predicted", "nPredictions"])
    for i, actual in enumerate(names):
        for j, predicted in enumerate(names):
            table.add_data(actual, predicted, int(counts[i, j]))
    return Chart(table, "heatmap", {"x": "Predicted", "y": "Actual", "value": "nPredictions"}, title,
                 preset="confusion_matrix", x_label="Predicted", y_label="Actual", split_table=split_table)
