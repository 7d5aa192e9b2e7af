"""WANDB_LOG_MODEL (or RUNYARD_LOG_MODEL) with the Transformers Trainer: the trained model, and with
`checkpoint` each saved checkpoint, become artifacts of the run (offline here: staged in the run folder
for `runyard sync`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow


class _Random(torch.utils.data.Dataset):  # type: ignore[misc]
    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": torch.arange(8) % 50 + 5, "attention_mask": torch.ones(8, dtype=torch.long),
                "labels": torch.tensor(i % 2)}


def test_wandb_log_model_logs_checkpoints_and_the_final_model(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import runyard
    import runyard.integration.transformers  # registers report_to="runyard"

    monkeypatch.setenv("WANDB_LOG_MODEL", "checkpoint")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("RUNYARD_DIR", str(tmp_path))
    monkeypatch.setenv("RUNYARD_SYSTEM_METRICS", "false")
    config = transformers.BertConfig(vocab_size=60, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, num_labels=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to=["runyard"], max_steps=4, save_strategy="steps", save_steps=2,
        per_device_train_batch_size=8, use_cpu=True, disable_tqdm=True, logging_steps=2,
    )
    trainer = transformers.Trainer(model=transformers.BertForSequenceClassification(config), args=args,
                                   train_dataset=_Random())
    trainer.train()
    run = next(cb for cb in trainer.callback_handler.callbacks if type(cb).__name__ == "RunyardCallback")._run
    assert run is not None and run.finished and runyard.run is None
    staged = sorted((run.folder / "artifacts").iterdir())
    manifests = [json.loads((d / "artifact.json").read_text()) for d in staged]
    assert [(m["name"], m["type"]) for m in manifests] == [
        (f"checkpoint-{run.id}", "model"), (f"checkpoint-{run.id}", "model"), (f"model-{run.id}", "model")]
    assert "checkpoint_global_step_2" in manifests[0]["aliases"]
    assert "checkpoint_global_step_4" in manifests[1]["aliases"]
    assert any(p.name == "config.json" for p in (staged[-1] / "files").rglob("*"))
