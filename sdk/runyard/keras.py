"""W&B's `wandb.keras` module path: `from runyard.keras import WandbCallback` (Keras 3, any backend).

The callbacks live in `runyard.integration.keras`; this module only gives them W&B's older import path.
"""

from __future__ import annotations

from .integration.keras import (
    RunyardCallback,
    WandbCallback,
    WandbEvalCallback,
    WandbMetricsLogger,
    WandbModelCheckpoint,
)

__all__ = ["RunyardCallback", "WandbCallback", "WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]
