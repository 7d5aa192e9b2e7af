"""Artifacts the W&B way, against the real stack: tables and media added by name and read back, entries by
path, files written straight into an artifact, `./` names, metadata saved after logging, delete, links
(registry-style names), and model helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import runyard
from runyard.errors import UsageError

from .conftest import Rest

pytestmark = [pytest.mark.slow]


def test_tables_and_entries_round_trip(online: dict[str, str], rest: Rest, tmp_path: Path) -> None:
    run = runyard.init(project="art-compat")
    table = runyard.Table(columns=["idx", "image", "label"])
    for i in range(3):
        table.add_data(i, runyard.Image(np.full((4, 4), i * 80, dtype=np.uint8)), i % 2)
    art = runyard.Artifact("val", type="dataset", incremental=True)
    assert art.add(table, "val_data") == "val_data.table.json"
    art.add_file(__file__, name="./code/test.py")  # W&B accepts `./` names
    with art.new_file("labels.txt") as f:
        f.write("even\nodd\n")
    assert art.get("val_data") is table and Path(art.get_path("labels.txt").download()).read_text() == "even\nodd\n"
    run.use_artifact(art)  # logs it first, like W&B's WandbEvalCallback does
    assert art.wait() is art and art.version == "v0"
    run.finish()

    fetched = runyard.Api().artifact("admin/art-compat/val:latest")
    paths = {f["path"] for f in fetched.files()}
    assert {"val_data.table.json", "code/test.py", "labels.txt"} <= paths and sum(p.startswith("media/") for p in paths) == 3
    again = fetched.get("val_data")
    assert again.columns == ["idx", "image", "label"] and again.get_column("label") == [0, 1, 0]
    assert isinstance(again.data[2][1], runyard.Image) and again.get_index() == [0, 1, 2]
    entry = fetched.get_path("labels.txt")
    assert Path(entry.download(root=str(tmp_path / "one"))).read_text() == "even\nodd\n" and entry.size == 9
    assert fetched.get("missing") is None
    with pytest.raises(KeyError):
        fetched.get_path("missing.txt")
    with pytest.raises(UsageError, match="media value"):
        runyard.Artifact("x", "y").add({"not": "media"}, "thing")


def test_save_delete_link_and_models(online: dict[str, str], rest: Rest, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    run = runyard.init(project="art-compat2")
    run.log_artifact(str(data), name="ds", type="dataset")
    art = run.use_artifact("ds:latest")
    art.description = "edited after logging"
    art.metadata = {"source": "local disk"}
    art.aliases.append("reviewed")
    art.save()
    stored = rest.get(f"/api/v1/artifacts/{run.entity}/art-compat2/ds/v0")
    assert stored["description"] == "edited after logging" and stored["metadata"] == {"source": "local disk"}
    assert "reviewed" in stored["aliases"] and stored["digest"] == art.digest  # the files are unchanged

    weights = tmp_path / "model.pt"
    weights.write_bytes(b"\x00weights" * 100)
    model = run.log_model(str(weights), name="cnn", aliases=["best"])
    assert model.type == "model" and model.version == "v0"
    linked = run.link_artifact(model, "MNIST Grayscale 28x28", aliases=["production"])
    assert linked.name == "MNIST-Grayscale-28x28" and "production" in linked.aliases
    path = run.use_model("MNIST Grayscale 28x28:production")  # the registry name as W&B scripts write it
    assert Path(path).name == "model.pt" and Path(path).read_bytes() == weights.read_bytes()
    registry = run.link_model(str(weights), "wandb-registry-model/Digits Classifier", aliases=["staging"])
    assert (registry.project, registry.name, registry.aliases) == ("art-compat2", "Digits-Classifier", ["latest", "staging"])
    lineage = rest.get(f"/api/v1/runs/{run.entity}/art-compat2/{run.id}/artifacts")
    assert {v["name"] for v in lineage["logged"]} >= {"ds", "cnn"}
    with pytest.raises(runyard.errors.ServerError, match="aliases"):
        linked.delete()  # it still has `production`
    linked.delete(delete_aliases=True)
    assert rest.c.get(f"/api/v1/artifacts/{run.entity}/art-compat2/MNIST-Grayscale-28x28/v0").status_code == 404
    run.finish()
