"""PyTorch Lightning logger: hyperparameters to config, metrics at the global step."""

from __future__ import annotations

from typing import Any

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from .conftest import history  # noqa: E402


class _Tiny(pl.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: Any, idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def test_lightning_logger_logs_hparams_and_metrics(online: Any, tmp_path: Any) -> None:
    from runyard.integration.lightning import RunyardLogger

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    logger = RunyardLogger(project="lightning-logger")
    trainer = pl.Trainer(
        max_epochs=2, logger=logger, log_every_n_steps=2, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
    )
    trainer.fit(_Tiny(lr=0.05, hidden=8), data)
    run = logger.experiment
    assert not run.finished  # the logger never finishes a run: trainer.test() could still log into it
    run.finish()

    rows = history(online, run)
    steps = [r["_step"] for r in rows if "train_loss" in r]
    assert steps == [1, 3, 5, 7, 9, 11, 13, 15]  # 16 optimizer steps, logged every 2nd
    remote = online.run(f"{run.entity}/lightning-logger/{run.id}")
    assert remote.config["lr"] == 0.05 and remote.config["hidden"] == 8
    assert remote.state == "finished"
