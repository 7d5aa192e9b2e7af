"""Framework integrations of the wandb package itself (not Runyard's): Keras `WandbMetricsLogger`,
Lightning `WandbLogger`, Transformers `report_to="wandb"`, each fitting a tiny model once on CPU, and
what Runyard stores compared with what the framework reported."""

from __future__ import annotations

import math

import pytest

from .conftest import WandbWorld

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "wb-frameworks"


def test_keras_fit_with_wandb_metrics_logger(wandb_world: WandbWorld) -> None:
    res = wandb_world.script("keras", f"""
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        import keras, wandb
        from sklearn.datasets import load_digits
        from wandb.integration.keras import WandbMetricsLogger

        digits = load_digits()
        x = (digits.images / 16.0).astype("float32")[..., None][:400]
        y = digits.target[:400]
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        run = wandb.init(project="{PROJECT}", config={{"epochs": 3, "batch_size": 64}})
        fit = model.fit(x[:320], y[:320], validation_data=(x[320:], y[320:]), epochs=3, batch_size=64,
                        verbose=0, callbacks=[WandbMetricsLogger()])
        save_out(id=run.id, history={{k: [float(v) for v in vs] for k, vs in fit.history.items()}})
        run.finish()
    """)
    reported = res.out["history"]
    keys = [f"epoch/{k}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")]
    stored = wandb_world.history(PROJECT, res.out["id"], [*keys, "epoch/epoch"])
    epochs = sorted(stored["epoch/epoch"].items())
    assert [int(e) for _, e in epochs] == [0, 1, 2]
    for key in keys:
        values = [stored[key][step] for step, _ in epochs]
        assert values == pytest.approx(reported[key.split("/", 1)[1]], rel=1e-6), key
    run = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{res.out['id']}")
    assert run["state"] == "finished" and run["config"]["epochs"] == 3


def test_lightning_fit_with_wandb_logger(wandb_world: WandbWorld) -> None:
    res = wandb_world.script("lightning", f"""
        import torch, lightning.pytorch as pl
        from lightning.pytorch.loggers import WandbLogger

        losses = {{}}

        class Tiny(pl.LightningModule):
            def __init__(self, lr=0.05, hidden=8):
                super().__init__()
                self.save_hyperparameters()
                self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

            def training_step(self, batch, idx):
                x, y = batch
                loss = torch.nn.functional.mse_loss(self.net(x), y)
                self.log("train_loss", loss)
                losses[self.global_step] = float(loss)
                return loss

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

        torch.manual_seed(0)
        x = torch.randn(64, 4)
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
        logger = WandbLogger(project="{PROJECT}", log_model=False)
        trainer = pl.Trainer(max_epochs=2, logger=logger, log_every_n_steps=2, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=".")
        trainer.fit(Tiny(), data)
        save_out(id=logger.experiment.id, losses=losses)
        logger.experiment.finish()
    """)
    stored = wandb_world.history(PROJECT, res.out["id"], ["train_loss", "trainer/global_step"])
    assert len(stored["train_loss"]) == 8  # 16 optimizer steps, every 2nd logged
    computed = list(res.out["losses"].values())
    for step, loss in stored["train_loss"].items():
        assert int(stored["trainer/global_step"][step]) in range(1, 17)
        assert any(abs(loss - c) <= 1e-6 * abs(c) for c in computed), loss  # a loss the model computed
    run = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{res.out['id']}")
    assert (run["config"]["lr"], run["config"]["hidden"]) == (0.05, 8)


def test_transformers_trainer_reports_to_wandb(wandb_world: WandbWorld) -> None:
    res = wandb_world.script("transformers", f"""
        import os, torch, transformers
        os.environ["WANDB_PROJECT"] = "{PROJECT}"

        class Random(torch.utils.data.Dataset):
            def __init__(self, n):
                g = torch.Generator().manual_seed(0)
                self.ids = torch.randint(5, 100, (n, 12), generator=g)
                self.labels = torch.randint(0, 2, (n,), generator=g)
            def __len__(self):
                return len(self.labels)
            def __getitem__(self, i):
                return {{"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long),
                        "labels": self.labels[i]}}

        config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, num_labels=2)
        model = transformers.BertForSequenceClassification(config)
        args = transformers.TrainingArguments(output_dir="out", report_to="wandb", max_steps=6, logging_steps=2,
                                              per_device_train_batch_size=8, per_device_eval_batch_size=8,
                                              eval_strategy="steps", eval_steps=3, use_cpu=True, save_strategy="no",
                                              run_name="tiny-bert", disable_tqdm=True)
        trainer = transformers.Trainer(model=model, args=args, train_dataset=Random(64), eval_dataset=Random(16))
        trainer.train()
        import wandb
        run_id = wandb.run.id
        wandb.finish()
        save_out(id=run_id, log=trainer.state.log_history)
    """)
    stored = wandb_world.history(PROJECT, res.out["id"], ["train/loss", "eval/loss", "train/global_step"])
    train = {e["step"]: e["loss"] for e in res.out["log"] if "loss" in e}
    evals = {e["step"]: e["eval_loss"] for e in res.out["log"] if "eval_loss" in e}
    assert sorted(train) == [2, 4, 6] and sorted(evals) == [3, 6]
    for key, reported in (("train/loss", train), ("eval/loss", evals)):
        at = {int(stored["train/global_step"][s]): v for s, v in stored[key].items()}
        assert at == pytest.approx(reported, rel=1e-6), key
    run = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{res.out['id']}")
    assert run["name"] == "tiny-bert" and run["config"]["max_steps"] == 6
    runtime = [v for k, v in run["summary"].items() if k.endswith("train_runtime")]
    assert runtime and all(math.isfinite(v) for v in runtime), run["summary"]
