"""PyTorch: runyard.watch logs gradient and parameter histograms beside the loss."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from .conftest import history  # noqa: E402


def test_watch_logs_gradient_and_parameter_histograms(online: Any) -> None:
    import runyard

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = runyard.init(project="torch-watch")
    runyard.watch(model, log="all", log_freq=2)
    for step in range(4):
        opt.zero_grad()
        loss = model(torch.randn(16, 4)).pow(2).mean()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()}, step=step)
    runyard.unwatch(model)
    run.finish()

    rows = {r["_step"]: r for r in history(online, run)}
    assert sorted(rows) == [0, 1, 2, 3]
    for step in (0, 2):  # every 2nd pass
        hist = rows[step]["gradients/0.weight"]
        assert hist["_type"] == "histogram" and sum(hist["values"]) == 8 * 4
        assert rows[step]["parameters/2.bias"]["_type"] == "histogram"
    assert "gradients/0.weight" not in rows[1] and "loss" in rows[1]
