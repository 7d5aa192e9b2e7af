"""docs/configuration.md names every service setting (the doc a user reads first stays true)."""

from __future__ import annotations

from pathlib import Path

from runyard_server.common.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    missing = [f"RUNYARD_{name.upper()}" for name in Settings.model_fields if f"`RUNYARD_{name.upper()}`" not in text]
    assert not missing, f"add these to docs/configuration.md: {missing}"
