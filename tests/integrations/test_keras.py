"""Keras 3 (torch backend) callback: metrics per epoch and batch, example images with labels."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

from .conftest import history  # noqa: E402


def test_keras_callback_logs_metrics_and_labelled_examples(online: Any) -> None:
    import numpy as np

    import runyard
    from runyard.integration.keras import RunyardCallback

    digits = sklearn_datasets.load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None][:400]
    y = digits.target[:400]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    run = runyard.init(project="keras-cb", config={"dense": 10})
    model.fit(
        x[:320], y[:320], validation_data=(x[320:], y[320:]), epochs=2, batch_size=64, verbose=0,
        callbacks=[RunyardCallback(log_freq=2, validation_data=(x[320:], y[320:]), num_samples=4,
                                   labels=[f"digit {d}" for d in range(10)])],
    )
    run.finish()

    rows = history(online, run)
    epochs = [r for r in rows if "val_loss" in r]
    assert [r["epoch"] for r in epochs] == [0, 1]
    assert all(0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["loss"]) for r in epochs)
    batches = [r for r in rows if "batch/loss" in r]
    assert len(batches) == 5 * 2 // 2  # 5 batches per epoch, every 2nd batch of the run
    examples = epochs[-1]["examples"]
    assert len(examples) == 4 and all(e["_type"] == "image-file" for e in examples)
    captions = [e["caption"] for e in examples]
    assert all(c.startswith("pred: digit ") and " / true: digit " in c for c in captions)
    true_labels = [int(c.rsplit(" ", 1)[1]) for c in captions]
    assert true_labels == [int(v) for v in y[320:324]]
    summary = online.run(f"{run.entity}/keras-cb/{run.id}").summary
    assert summary["model/parameters"] == model.count_params()
