"""`runyard.plot` and `runyard.sklearn`: the numbers in the chart tables are right, and a logged chart is a
table file plus the documented descriptor (docs/sdk.md, Charts). Offline runs: what is read back is the
run folder (write-ahead log and files), exactly what `runyard sync` uploads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runyard
import runyard.plot as plot
from runyard.wal import iter_frames
from runyard_proto.v1 import ingest_pb2 as pb


def _logged(run: Any) -> dict[str, list[Any]]:
    """Every JSON history value the run logged, by key, in order (from its write-ahead log)."""
    out: dict[str, list[Any]] = {}
    for _, data in iter_frames(Path(run.folder) / "wal"):
        rec = pb.Record.FromString(data)
        if rec.WhichOneof("payload") == "history":
            for k, v in zip(rec.history.json_keys, rec.history.json_values):
                out.setdefault(k, []).append(json.loads(v))
    return out


def _table(run: Any, desc: dict[str, Any]) -> dict[str, Any]:
    assert desc["_type"] == "chart"
    return dict(json.loads((Path(run.dir) / desc["table"]["path"]).read_text()))


def test_roc_pr_and_confusion_matrix_values() -> None:
    y = np.array([0, 0, 1, 1])
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    roc = plot.roc_curve(y, perfect, labels=["neg", "pos"])
    pos = [(f, t) for c, f, t in roc.table.data if c == "pos"]
    assert pos[0] == (0.0, 0.0) and (0.0, 1.0) in pos and pos[-1] == (1.0, 1.0)
    pr = plot.pr_curve(y, perfect, labels=["neg", "pos"], interp_size=5)
    assert [p for c, _, p in pr.table.data if c == "pos"] == [1.0] * 5  # a perfect ranking: precision 1 everywhere
    cm = plot.confusion_matrix(y_true=[0, 1, 2, 2], preds=[0, 2, 2, 2], class_names=["a", "b", "c"])
    counts = {(a, p): n for a, p, n in cm.table.data}
    assert len(counts) == 9 and counts[("c", "c")] == 2 and counts[("b", "c")] == 1 and counts[("a", "b")] == 0
    assert cm.kind == "heatmap" and cm.fields == {"x": "Predicted", "y": "Actual", "value": "nPredictions"}
    same = plot.confusion_matrix(probs=np.eye(3)[[0, 2, 2, 2]], y_true=[0, 1, 2, 2], class_names=["a", "b", "c"])
    assert same.table.data == cm.table.data
    with pytest.raises(ValueError, match="outside class_names"):
        plot.confusion_matrix(y_true=[0, 5], preds=[0, 1], class_names=["a", "b"])
    with pytest.raises(ValueError, match="no column"):
        plot.line(runyard.Table(columns=["a"], data=[[1]]), "a", "missing")


def test_logged_charts_are_a_table_file_and_a_descriptor(tmp_path: Path) -> None:
    run = runyard.init(project="charts", mode="offline", dir=str(tmp_path))
    t = runyard.Table(columns=["step", "loss", "lr"], data=[[i, 1 / (i + 1), lr] for lr in (0.1, 0.01) for i in range(3)])
    run.log({"loss": plot.line(t, "step", "loss", stroke="lr", title="Loss"),
             "pts": plot.scatter(t, "step", "loss"), "bars": plot.bar(t, "lr", "loss"), "hist": plot.histogram(t, "loss"),
             "series": plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"], xname="epoch")})
    run.finish()
    logged = _logged(run)
    line = logged["loss"][0]
    assert line["kind"] == "line" and line["title"] == "Loss" and line["fields"] == {"x": "step", "y": "loss", "stroke": "lr"}
    assert _table(run, line) == {"columns": ["step", "loss", "lr"], "data": t.data}
    assert line["table"]["nrows"] == 6 and (Path(run.dir) / line["table"]["path"]).is_file()
    assert [logged[k][0]["kind"] for k in ("pts", "bars", "hist")] == ["scatter", "bar", "histogram"]
    series = _table(run, logged["series"][0])
    assert series["data"][:3] == [["up", 1, 0], ["up", 2, 1], ["up", 3, 2]] and logged["series"][0]["x_label"] == "epoch"


def test_sklearn_helpers_log_wandb_keys(tmp_path: Path) -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.cluster import KMeans
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    run = runyard.init(project="sk", mode="offline", dir=str(tmp_path))
    x, y = datasets.load_breast_cancer(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, random_state=0).fit(xtr, ytr)
    runyard.sklearn.plot_classifier(clf, xtr, xte, ytr, yte, clf.predict(xte), clf.predict_proba(xte),
                                    ["malignant", "benign"], is_binary=True, model_name="RF")
    xr, yr = datasets.load_diabetes(return_X_y=True)
    runyard.sklearn.plot_regressor(Ridge().fit(xr[:300], yr[:300]), xr[:300], xr[300:], yr[:300], yr[300:])
    km = KMeans(n_clusters=3, n_init=3, random_state=0)
    runyard.sklearn.plot_clusterer(km, x[:200, :4], km.fit_predict(x[:200, :4]))
    run.finish()
    logged = _logged(run)
    for key in ("feature_importances", "confusion_matrix", "summary_metrics", "class_proportions",
                "calibration_curve", "roc", "precision_recall", "learning_curve", "outlier_candidates", "residuals",
                "elbow_curve", "silhouette_plot"):
        assert key in logged and logged[key][-1]["_type"] == "chart", key
    cm = _table(run, logged["confusion_matrix"][0])
    assert sum(n for _, _, n in cm["data"]) == len(yte)
    props = _table(run, logged["class_proportions"][0])
    assert sum(n for c, d, n in props["data"] if d == "train") == len(ytr)
    metrics = {name: v for name, v, _ in _table(run, logged["summary_metrics"][0])["data"]}
    assert 0.8 < metrics["accuracy"] <= 1.0
    silhouette = _table(run, logged["silhouette_plot"][0])
    assert len(silhouette["data"]) == 200 and all(-1 <= v <= 1 for _, v, _ in silhouette["data"])
