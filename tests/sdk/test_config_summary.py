"""run.config and run.summary as dict-likes, and what they record (no server)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from runyard import Config, Summary


def test_config_attribute_and_item_access() -> None:
    changes: list[tuple[dict[str, Any], list[str]]] = []
    cfg = Config(argparse.Namespace(lr=0.1, layers=[1, 2]), sink=lambda s, r: changes.append((s, r)))
    assert cfg.lr == 0.1 and cfg["layers"] == [1, 2] and "lr" in cfg and len(cfg) == 2
    cfg.batch = 8
    cfg["opt"] = {"name": "adam"}
    cfg.update({"epochs": 3}, allow_val_change=True)
    del cfg.lr
    assert cfg.as_dict() == {"layers": [1, 2], "batch": 8, "opt": {"name": "adam"}, "epochs": 3}
    assert changes == [({"batch": 8}, []), ({"opt": {"name": "adam"}}, []), ({"epochs": 3}, []), ({}, ["lr"])]
    with pytest.raises(AttributeError):
        cfg.missing  # noqa: B018
    with pytest.raises(TypeError):
        Config(42)  # type: ignore[arg-type]


def test_summary_explicit_wins_and_removal_follows_logging_again() -> None:
    changes: list[tuple[dict[str, Any], list[str]]] = []
    summ = Summary(sink=lambda s, r: changes.append((s, r)))
    summ._logged.update({"loss": 1.0, "acc": 0.5})
    summ["loss"] = 0.1
    summ._logged["loss"] = 2.0  # a later log() of loss
    assert summ["loss"] == 0.1 and summ["acc"] == 0.5
    assert sorted(summ) == ["acc", "loss"] and len(summ) == 2
    del summ["loss"]
    assert "loss" not in summ
    summ._logged["loss"] = 3.0
    assert summ["loss"] == 3.0
    assert changes == [({"loss": 0.1}, []), ({}, ["loss"])]
