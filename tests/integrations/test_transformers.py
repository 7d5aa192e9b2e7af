"""Hugging Face Trainer with report_to=["runyard"]: a tiny BERT made from a config (no download)."""

from __future__ import annotations

from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from .conftest import history  # noqa: E402


class _Random(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(5, 100, (n, 12), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.labels[i]}


def test_trainer_reports_to_runyard(online: Any, tmp_path: Any) -> None:
    import runyard.integration.transformers

    config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to=["runyard"], max_steps=6, logging_steps=2,
        per_device_train_batch_size=8, per_device_eval_batch_size=8, eval_strategy="steps", eval_steps=3,
        use_cpu=True, save_strategy="no", run_name="tiny-bert", disable_tqdm=True,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Random(64), eval_dataset=_Random(16))
    trainer.train()

    import runyard

    run = next(cb for cb in trainer.callback_handler.callbacks if type(cb).__name__ == "RunyardCallback")._run
    assert run is not None and not run.finished and run.name == "tiny-bert"  # evaluate() could still log
    run.finish()
    rows = history(online, run)
    assert [r["_step"] for r in rows if "train/loss" in r] == [2, 4, 6]
    assert [r["_step"] for r in rows if "eval/loss" in r] == [3, 6]
    remote = online.run(f"{run.entity}/{run.project}/{run.id}")
    assert remote.config["max_steps"] == 6 and remote.config["model/hidden_size"] == 16
    assert "train_runtime" in remote.summary
    assert runyard.run is None
