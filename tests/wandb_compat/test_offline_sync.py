"""Offline mode, then `wandb sync`: the run arrives whole, and syncing it again changes nothing."""

from __future__ import annotations

import math

import pytest

from .conftest import WandbWorld

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "wb-offline"


def test_offline_run_then_wandb_sync_is_exactly_once(wandb_world: WandbWorld) -> None:
    res = wandb_world.script("offline", f"""
        import math, wandb
        run = wandb.init(project="{PROJECT}", mode="offline", config={{"depth": 3}}, tags=["offline"])
        for i in range(200):
            wandb.log({{"wave": math.sin(i / 10), "i": i}})
        print("written while offline")
        run.summary["final"] = 42
        save_out(id=run.id)
        run.finish()
    """)
    run_id = res.out["id"]
    assert wandb_world.rest("GET", f"/api/v1/runs/admin/{PROJECT}/{run_id}").status_code == 404
    folders = list((res.folder / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(folders) == 1
    for attempt in range(2):
        sync = wandb_world.cli(res.folder, "sync", *(["--include-synced"] if attempt else []), str(folders[0]))
        assert sync.returncode == 0, sync.stdout + sync.stderr
        run = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}")
        assert (run["state"], run["tags"], run["config"]["depth"], run["summary"]["final"]) == \
            ("finished", ["offline"], 3, 42)
        hist = wandb_world.history(PROJECT, run_id, ["wave", "i"])
        assert hist["wave"] == {i: math.sin(i / 10) for i in range(200)}
        assert hist["i"] == {i: float(i) for i in range(200)}
        lines = wandb_world.get(f"/api/v1/runs/admin/{PROJECT}/{run_id}/output")
        assert [ln["line"] for ln in lines["lines"]] == ["written while offline"]
    stored = wandb_world.stack.fetch(
        """SELECT sum(c.n) AS n FROM history_chunks c JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
            JOIN runs r ON r.id = c.run_id WHERE r.run_id = $1 AND k.key = 'wave'""", run_id)
    assert stored[0]["n"] == 200  # the second sync sent everything again; nothing was stored twice
