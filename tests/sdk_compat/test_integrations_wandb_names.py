"""Framework integrations under W&B's names, used the way W&B's examples use them, against the real stack:
Keras' WandbMetricsLogger / WandbModelCheckpoint / WandbEvalCallback / WandbCallback (+ restore of the saved
model), Lightning's WandbLogger with `trainer.test()` after `fit()`, and Transformers' `evaluate()` after
`train()` (the runs stay whole)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runyard

from .conftest import Rest

pytestmark = [pytest.mark.slow]


def _digits() -> tuple[Any, Any]:
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    return (d.images / 16.0).astype("float32")[..., None], d.target


def test_keras_callbacks_of_wandb(online: dict[str, str], rest: Rest, tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from runyard.integration.keras import WandbEvalCallback, WandbMetricsLogger, WandbModelCheckpoint
    from runyard.keras import WandbCallback

    x, y = _digits()
    onehot = keras.utils.to_categorical(y[:300], 10)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    class Eval(WandbEvalCallback):
        def add_ground_truth(self, logs: Any = None) -> None:
            for i in range(6):
                self.data_table.add_data(i, runyard.Image(x[250 + i, ..., 0]), int(y[250 + i]))

        def add_model_predictions(self, epoch: int, logs: Any = None) -> None:
            preds = model.predict(x[250:256], verbose=0).argmax(-1)
            for i in self.data_table_ref.get_index():
                row = self.data_table_ref.data[i]
                self.pred_table.add_data(epoch, row[0], row[1], row[2], int(preds[i]))

    run = runyard.init(project="keras-wandb", config={"epochs": 2})
    model.fit(x[:250], onehot[:250], validation_data=(x[250:300], onehot[250:300]), epochs=2, batch_size=50, verbose=0,
              callbacks=[WandbMetricsLogger(log_freq=2),
                         WandbModelCheckpoint(str(tmp_path / "ckpt.keras")),
                         Eval(["idx", "image", "label"], ["epoch", "idx", "image", "label", "pred"]),
                         WandbCallback(monitor="val_loss", data_type="image", labels=[str(i) for i in range(10)],
                                       predictions=4)])  # examples from fit()'s validation arrays
    run.finish()

    assert len(rest.column(run, "epoch/loss")) == 2 and len(rest.column(run, "epoch/epoch")) == 2
    assert len(rest.column(run, "batch/loss")) == 6  # 5 batches an epoch, logged at batches 0, 2, 4 of each
    assert rest.column(run, "epoch") == [0, 1] and len(rest.column(run, "val_loss")) == 2
    examples = rest.column(run, "examples")
    assert len(examples) == 2 and len(examples[-1]) == 4 and "(true: " in examples[-1][0]["caption"]
    server_run = rest.run(run)
    assert "best_val_loss" in server_run["summary"] and server_run["summary"]["best_epoch"] in (0, 1)
    files = rest.files(run)
    saved = "model-best.keras"
    assert saved in files
    ckpt = rest.artifact(run.entity, run.project, f"run_{run.id}_model")
    assert "epoch_1" in ckpt["versions"][-1]["aliases"] and "epoch_0" in ckpt["versions"][0]["aliases"]
    assert len(ckpt["versions"]) == 2 and ckpt["type"] == "model"
    preds = rest.artifact(run.entity, run.project, f"run_{run.id}_pred")
    assert len(preds["versions"]) == 2 and rest.artifact(run.entity, run.project, "val")["type"] == "dataset"

    # a later process restores the best model from the run (wandb.restore), as the resume examples do
    again = runyard.init(project="keras-wandb", id=run.id, resume="allow")
    handle = runyard.restore(saved)
    assert handle is not None and Path(handle.name).parent == Path(again.dir)
    restored = keras.models.load_model(handle.name)
    assert restored.count_params() == model.count_params()
    restored.fit(x[:50], onehot[:50], epochs=1, verbose=0)  # training goes on from the restored model
    assert runyard.restore("no-such-file.bin") is None
    again.finish()


def test_lightning_wandb_logger_keeps_test_metrics_in_its_own_run(online: dict[str, str], rest: Rest, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("lightning.pytorch")
    from runyard.integration.lightning import WandbLogger

    x, y = _digits()
    ds = torch.utils.data.TensorDataset(torch.tensor(x[:256, ..., 0]).reshape(-1, 64), torch.tensor(y[:256]))

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(64, 10)

        def training_step(self, batch: Any, idx: int) -> Any:
            loss = torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, idx: int) -> None:
            self.log("val_loss", torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1]))

        def test_step(self, batch: Any, idx: int) -> None:
            self.log("test_loss", torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1]))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = torch.utils.data.DataLoader(ds, batch_size=64)
    logger = WandbLogger(project="lightning-wandb", log_model=True)
    trainer = pl.Trainer(max_epochs=2, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path))
    model = Tiny()
    trainer.fit(model, loader, loader)
    run = logger.experiment
    assert not run.finished  # the logger started it and leaves it open: test() logs into it
    trainer.test(model, loader)
    assert logger.experiment is run
    runyard.finish()
    assert len(rest.column(run, "train_loss")) == 8 and len(rest.column(run, "val_loss")) == 2
    assert len(rest.column(run, "test_loss")) == 1
    assert rest.run(run)["state"] == "finished"
    model_art = rest.artifact(run.entity, run.project, f"model-{run.id}")
    assert model_art["type"] == "model" and "best" in model_art["versions"][-1]["aliases"]


def test_user_started_run_survives_lightning_and_transformers(online: dict[str, str], rest: Rest, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import runyard.integration.transformers

    class Random(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, n: int) -> None:
            g = torch.Generator().manual_seed(n)
            self.x = torch.randint(0, 100, (n, 8), generator=g)
            self.y = torch.randint(0, 2, (n,), generator=g)

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.x[i], "labels": self.y[i]}

    run = runyard.init(project="hf-user-run")
    config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, num_labels=2)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), report_to=["runyard"], max_steps=4,
                                          logging_steps=2, per_device_train_batch_size=8, eval_strategy="no",
                                          use_cpu=True, save_strategy="no", disable_tqdm=True)
    trainer = transformers.Trainer(model=transformers.BertForSequenceClassification(config), args=args,
                                   train_dataset=Random(32), eval_dataset=Random(16))
    trainer.train()
    assert not run.finished  # the user's run: the callback leaves it open
    metrics = trainer.evaluate()
    run.log({"final/eval_loss": metrics["eval_loss"]})
    run.finish()
    assert rest.column(run, "eval/loss") == [pytest.approx(metrics["eval_loss"])]
    assert len(rest.column(run, "train/loss")) == 2 and len(rest.column(run, "final/eval_loss")) == 1
