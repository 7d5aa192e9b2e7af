"""Settings precedence and validation (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runyard.errors import SettingsError
from runyard.settings import DEFAULT_BASE_URL, resolve


def test_defaults(tmp_path: Path) -> None:
    s = resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path)})
    assert s.base_url == DEFAULT_BASE_URL and s.mode == "online" and s.api_key is None


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"base_url": "http://file:1", "api_key": "filekey"}))
    env = {"RUNYARD_CONFIG_DIR": str(tmp_path)}
    assert resolve({}, env).api_key == "filekey"
    env.update(RUNYARD_API_KEY="envkey", RUNYARD_BASE_URL="http://env:2/", RUNYARD_PROJECT="p1",
               RUNYARD_FINISH_TIMEOUT="7.5", RUNYARD_MODE="OFFLINE")
    s = resolve({}, env)
    assert (s.api_key, s.base_url, s.project, s.finish_timeout, s.mode) == ("envkey", "http://env:2", "p1", 7.5, "offline")
    s = resolve({"project": "p2", "mode": "disabled", "api_key": "argkey"}, env)
    assert (s.project, s.mode, s.api_key) == ("p2", "disabled", "argkey")


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"RUNYARD_FINISH_TIMEOUT": "soon"}, "RUNYARD_FINISH_TIMEOUT"),
        ({"RUNYARD_MODE": "sometimes"}, "RUNYARD_MODE"),
        ({"RUNYARD_BASE_URL": "localhost:8080"}, "RUNYARD_BASE_URL"),
        ({"RUNYARD_BATCH_MAX_RECORDS": "-3"}, "RUNYARD_BATCH_MAX_RECORDS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str, tmp_path: Path) -> None:
    env["RUNYARD_CONFIG_DIR"] = str(tmp_path)
    with pytest.raises(SettingsError, match=fragment):
        resolve({}, env)


def test_init_takes_a_settings_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runyard

    monkeypatch.setenv("RUNYARD_PROJECT", "from-env")
    run = runyard.init(mode="offline", dir=tmp_path, settings=runyard.Settings(finish_timeout=3))
    assert run.project == "from-env"  # a default left in the object does not hide the environment
    assert run._finish_timeout == 3
    run.finish()
