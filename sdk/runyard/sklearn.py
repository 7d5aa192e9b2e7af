# ruff: noqa: N803, N806  (X, X_train, ... are W&B's and scikit-learn's argument names)
"""scikit-learn charts with W&B's `wandb.sklearn` names: each `plot_*` computes a table, logs it as a
chart to the active run (key as in W&B: `roc`, `confusion_matrix`, ...) and returns the chart.

    runyard.init(project="iris")
    runyard.sklearn.plot_classifier(model, X_train, X_test, y_train, y_test, y_pred, y_probas, labels)
    runyard.sklearn.plot_regressor(reg, X_train, X_test, y_train, y_test)
    runyard.sklearn.plot_clusterer(kmeans, X, cluster_labels)

Needs scikit-learn (the model's own library). Charts: docs/sdk.md, "Charts".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ._table import Table
from .plot import Chart, bar, confusion_matrix, line, pr_curve, roc_curve

__all__ = ["plot_calibration_curve", "plot_class_proportions", "plot_classifier", "plot_clusterer",
           "plot_confusion_matrix", "plot_elbow_curve", "plot_feature_importances", "plot_learning_curve",
           "plot_outlier_candidates", "plot_precision_recall", "plot_regressor", "plot_residuals", "plot_roc",
           "plot_silhouette", "plot_summary_metrics"]

MAX_POINTS = 2000  # scatter-like charts keep a sample of this many points


def _log(key: str, chart: Chart) -> Chart:
    from ._state import require

    require(f"sklearn.plot_{key}").log({key: chart})
    return chart


def _np() -> Any:
    import numpy as np

    return np


def _sample(n: int) -> Any:
    np = _np()
    return np.arange(n) if n <= MAX_POINTS else np.random.default_rng(0).choice(n, MAX_POINTS, replace=False)


def _name(labels: Sequence[Any] | None, value: Any) -> str:
    v = value.item() if hasattr(value, "item") else value
    if labels is not None and isinstance(v, int) and 0 <= v < len(labels):
        return str(labels[v])
    return str(v)


# ---- classifiers ---------------------------------------------------------------------------------------
def plot_classifier(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, y_pred: Any, y_probas: Any,
                    labels: Sequence[Any] | None = None, model_name: str = "Classifier",
                    feature_names: Sequence[str] | None = None, log_learning_curve: bool = False,
                    is_binary: bool = False) -> None:
    """All the classifier charts: feature importances, confusion matrix, summary metrics, class
    proportions, calibration curve (binary), ROC and precision-recall (and the learning curve if asked)."""
    plot_feature_importances(model, feature_names)
    plot_confusion_matrix(y_test, y_pred, labels)
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_class_proportions(y_train, y_test, labels)
    if is_binary:
        plot_calibration_curve(model, X_train, y_train, model_name)
    plot_roc(y_test, y_probas, labels)
    plot_precision_recall(y_test, y_probas, labels)
    if log_learning_curve:
        plot_learning_curve(model, X_train, y_train)


def plot_roc(y_true: Any = None, y_probas: Any = None, labels: Sequence[Any] | None = None, plot_micro: bool = True,
             plot_macro: bool = True, classes_to_plot: Sequence[Any] | None = None) -> Chart:
    return _log("roc", roc_curve(y_true, y_probas, _str_labels(labels), classes_to_plot))  # type: ignore[arg-type]


def plot_precision_recall(y_true: Any = None, y_probas: Any = None, labels: Sequence[Any] | None = None,
                          plot_micro: bool = True, classes_to_plot: Sequence[Any] | None = None) -> Chart:
    return _log("precision_recall", pr_curve(y_true, y_probas, _str_labels(labels), classes_to_plot))


def plot_confusion_matrix(y_true: Any = None, y_pred: Any = None, labels: Sequence[Any] | None = None,
                          true_labels: Sequence[Any] | None = None, pred_labels: Sequence[Any] | None = None,
                          normalize: bool = False) -> Chart:
    np = _np()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    names = _str_labels(labels)
    ints = np.issubdtype(y_true.dtype, np.integer) and np.issubdtype(y_pred.dtype, np.integer)
    if names is not None and ints and max(int(y_true.max()), int(y_pred.max())) < len(names):
        chart = confusion_matrix(y_true=y_true, preds=y_pred, class_names=names, title="Confusion Matrix")
    else:
        chart = confusion_matrix(y_true=y_true, preds=y_pred, title="Confusion Matrix")
    if normalize:
        totals: dict[str, int] = {}
        for actual, _, n in chart.table.data:
            totals[actual] = totals.get(actual, 0) + n
        for row in chart.table.data:
            row[2] = round(row[2] / totals[row[0]], 6) if totals[row[0]] else 0.0
    return _log("confusion_matrix", chart)


def plot_summary_metrics(model: Any = None, X: Any = None, y: Any = None, X_test: Any = None, y_test: Any = None) -> Chart:
    """Accuracy, precision, recall and F1 (classifiers) or MAE, MSE and R² (regressors) on the test set."""
    from sklearn import metrics
    from sklearn.base import is_classifier

    pred = model.predict(X_test)
    table = Table(columns=["metric_name", "metric_value", "model_name"])
    name = type(model).__name__
    if is_classifier(model):
        table.add_data("accuracy", round(float(metrics.accuracy_score(y_test, pred)), 6), name)
        for fn in ("precision", "recall", "f1"):
            score = getattr(metrics, f"{fn}_score")(y_test, pred, average="weighted", zero_division=0)
            table.add_data(fn, round(float(score), 6), name)
    else:
        table.add_data("mae", round(float(metrics.mean_absolute_error(y_test, pred)), 6), name)
        table.add_data("mse", round(float(metrics.mean_squared_error(y_test, pred)), 6), name)
        table.add_data("r2", round(float(metrics.r2_score(y_test, pred)), 6), name)
    return _log("summary_metrics", bar(table, "metric_name", "metric_value", title="Summary metrics"))


def plot_class_proportions(y_train: Any = None, y_test: Any = None, labels: Sequence[Any] | None = None) -> Chart:
    """How many samples of each class the train and test sets hold."""
    np = _np()
    table = Table(columns=["class", "dataset", "count"])
    classes = np.unique(np.r_[np.asarray(y_train).ravel(), np.asarray(y_test).ravel()])
    for ds, ys in (("train", np.asarray(y_train).ravel()), ("test", np.asarray(y_test).ravel())):
        for c in classes:
            table.add_data(_name(labels, c), ds, int((ys == c).sum()))
    chart = Chart(table, "bar", {"label": "class", "value": "count", "color": "dataset"}, "Class proportions",
                  preset="class_proportions")
    return _log("class_proportions", chart)


def plot_feature_importances(model: Any = None, feature_names: Sequence[str] | None = None,
                             title: str = "Feature Importance", max_num_features: int = 50) -> Chart | None:
    """`feature_importances_` (trees) or the mean absolute `coef_` (linear models), largest first."""
    np = _np()
    values = getattr(model, "feature_importances_", None)
    if values is None and getattr(model, "coef_", None) is not None:
        coef = np.asarray(model.coef_)
        values = np.abs(coef).mean(axis=0) if coef.ndim > 1 else np.abs(coef)
    if values is None:
        from ._console import warn

        warn(f"sklearn.plot_feature_importances: {type(model).__name__} has no feature_importances_ or coef_")
        return None
    values = np.asarray(values, dtype=np.float64)
    names = [str(n) for n in feature_names] if feature_names is not None else None
    if names is None or len(names) != len(values):
        fitted = getattr(model, "feature_names_in_", None)
        names = [str(n) for n in fitted] if fitted is not None and len(fitted) == len(values) else [
            str(i) for i in range(len(values))]
    order = np.argsort(values)[::-1][:max_num_features]
    table = Table(columns=["feature_names", "importance"], data=[[names[i], round(float(values[i]), 6)] for i in order])
    return _log("feature_importances", bar(table, "feature_names", "importance", title=title))


def plot_calibration_curve(clf: Any = None, X: Any = None, y: Any = None, clf_name: str = "Classifier") -> Chart:
    """Fraction of positives against the mean predicted probability, in 10 bins (binary classifiers)."""
    from sklearn.calibration import calibration_curve
    from sklearn.model_selection import train_test_split

    np = _np()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    model = _clone(clf).fit(X_tr, y_tr)
    prob = model.predict_proba(X_te)[:, 1] if hasattr(model, "predict_proba") else model.decision_function(X_te)
    if not hasattr(model, "predict_proba"):
        prob = (prob - prob.min()) / ((prob.max() - prob.min()) or 1.0)
    positive = np.unique(y_te)[-1]
    frac, mean = calibration_curve(np.asarray(y_te) == positive, prob, n_bins=10)
    table = Table(columns=["model", "mean_predicted", "fraction_positive"])
    for m, f in zip(mean, frac):
        table.add_data(clf_name, round(float(m), 6), round(float(f), 6))
    for v in (0.0, 1.0):
        table.add_data("Perfectly calibrated", v, v)
    chart = Chart(table, "line", {"x": "mean_predicted", "y": "fraction_positive", "stroke": "model"},
                  "Calibration curve", x_label="Mean predicted value", y_label="Fraction of positives",
                  preset="calibration_curve")
    return _log("calibration_curve", chart)


def plot_learning_curve(model: Any = None, X: Any = None, y: Any = None, cv: Any = None, shuffle: bool = False,
                        random_state: Any = None, train_sizes: Any = None, n_jobs: int = 1,
                        scoring: Any = None) -> Chart:
    """Train and cross-validation score against the number of training samples."""
    from sklearn.model_selection import learning_curve

    np = _np()
    sizes = np.linspace(0.1, 1.0, 5) if train_sizes is None else train_sizes
    n, train, test = learning_curve(model, X, y, cv=cv, n_jobs=n_jobs, train_sizes=sizes, scoring=scoring,
                                    shuffle=shuffle, random_state=random_state)
    table = Table(columns=["dataset", "train_size", "score"])
    for ds, scores in (("train", train), ("test", test)):
        for size, s in zip(n, scores.mean(axis=1)):
            table.add_data(ds, int(size), round(float(s), 6))
    chart = Chart(table, "line", {"x": "train_size", "y": "score", "stroke": "dataset"}, "Learning curve",
                  x_label="Training samples", y_label="Score", preset="learning_curve")
    return _log("learning_curve", chart)


# ---- regressors ----------------------------------------------------------------------------------------
def plot_regressor(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, model_name: str = "Regressor") -> None:
    """Summary metrics, learning curve, outlier candidates and residuals."""
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_learning_curve(model, X_train, y_train)
    plot_outlier_candidates(model, X_train, y_train)
    plot_residuals(model, X_train, y_train)


def plot_residuals(regressor: Any = None, X: Any = None, y: Any = None) -> Chart:
    """Residuals (true - predicted) against the prediction, train and test split 80/20."""
    from sklearn.model_selection import train_test_split

    np = _np()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
    model = _clone(regressor).fit(X_tr, y_tr)
    table = Table(columns=["dataset", "predicted", "residual"])
    for ds, xs, ys in (("train", X_tr, y_tr), ("test", X_te, y_te)):
        pred = np.asarray(model.predict(xs), dtype=np.float64)
        res = np.asarray(ys, dtype=np.float64) - pred
        for i in _sample(len(pred)):
            table.add_data(ds, round(float(pred[i]), 6), round(float(res[i]), 6))
    chart = Chart(table, "scatter", {"x": "predicted", "y": "residual", "color": "dataset"}, "Residuals",
                  x_label="Predicted value", y_label="Residual", preset="residuals")
    return _log("residuals", chart)


def plot_outlier_candidates(regressor: Any = None, X: Any = None, y: Any = None) -> Chart:
    """Cook's distance of each training sample (a linear fit); samples above 4/n are outlier candidates."""
    np = _np()
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    model = _clone(regressor).fit(Xa, ya)
    resid = ya - model.predict(Xa)
    design = np.c_[np.ones(len(Xa)), Xa]
    hat = np.einsum("ij,ij->i", design, design @ np.linalg.pinv(design.T @ design))
    p = design.shape[1]
    mse = float(resid @ resid) / max(1, len(ya) - p)
    cooks = (resid ** 2 / (p * mse or 1.0)) * hat / np.clip((1 - hat) ** 2, 1e-12, None)
    table = Table(columns=["index", "cooks_distance", "outlier"])
    threshold = 4.0 / len(ya)
    for i in _sample(len(ya)):
        table.add_data(int(i), round(float(cooks[i]), 6), bool(cooks[i] > threshold))
    chart = Chart(table, "bar", {"label": "index", "value": "cooks_distance", "color": "outlier"},
                  "Outlier candidates (Cook's distance)", preset="outlier_candidates")
    return _log("outlier_candidates", chart)


# ---- clusterers ----------------------------------------------------------------------------------------
def plot_clusterer(model: Any, X_train: Any, cluster_labels: Any, labels: Sequence[Any] | None = None,
                   model_name: str = "Clusterer") -> None:
    """Elbow curve (when the model has `n_clusters`) and silhouette plot."""
    if hasattr(model, "n_clusters"):
        plot_elbow_curve(model, X_train)
    plot_silhouette(model, X_train, cluster_labels, labels)


def plot_elbow_curve(clusterer: Any = None, X: Any = None, cluster_ranges: Sequence[int] | None = None,
                     n_jobs: int = 1, show_cluster_time: bool = True) -> Chart:
    """Sum of squared distances (`-score`) and fit time for each number of clusters."""
    from sklearn.base import clone

    ranges = list(cluster_ranges) if cluster_ranges is not None else list(range(1, 10, 2))
    table = Table(columns=["cluster_ranges", "errors", "clustering_time"])
    for k in ranges:
        model = clone(clusterer).set_params(n_clusters=k)
        start = time.perf_counter()
        model.fit(X)
        table.add_data(int(k), round(-float(model.score(X)), 6), round(time.perf_counter() - start, 6))
    chart = line(table, "cluster_ranges", "errors", title="Elbow curve")
    chart.preset = "elbow_curve"
    return _log("elbow_curve", chart)


def plot_silhouette(clusterer: Any = None, X: Any = None, cluster_labels: Any = None,
                    labels: Sequence[Any] | None = None, metric: str = "euclidean", kmeans: bool = True) -> Chart:
    """The silhouette coefficient of every sample, by cluster (sorted within each), and their mean."""
    from sklearn.metrics import silhouette_samples

    np = _np()
    clusters = np.asarray(cluster_labels if cluster_labels is not None else clusterer.fit_predict(X))
    values = silhouette_samples(X, clusters, metric=metric)
    table = Table(columns=["sample", "silhouette", "cluster"])
    pos = 0
    for c in np.unique(clusters):
        for v in np.sort(values[clusters == c])[::-1]:
            table.add_data(pos, round(float(v), 6), str(c.item() if hasattr(c, "item") else c))
            pos += 1
    chart = Chart(table, "bar", {"label": "sample", "value": "silhouette", "color": "cluster"},
                  f"Silhouette plot (mean {float(values.mean()):.3f})", preset="silhouette_plot")
    return _log("silhouette_plot", chart)


def _clone(model: Any) -> Any:
    from sklearn.base import clone

    return clone(model)


def _str_labels(labels: Sequence[Any] | None) -> list[str] | None:
    return None if labels is None else [str(v) for v in labels]

