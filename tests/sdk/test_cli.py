"""`runyard login|status|offline|online|--help` against the real stack."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.cli import main as cli

pytestmark = [pytest.mark.e2e, pytest.mark.local]


def _settings_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.json"


def test_login_checks_the_key_and_writes_a_private_file(full_server: Any, admin_key: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["login", "--host", full_server.base_url, "ry_wrong_key_000"]) == 1
    assert "refused" in capsys.readouterr().err and not _settings_file(tmp_path).exists()
    assert cli(["login", "--host", full_server.base_url + "/", admin_key]) == 0
    assert "as admin" in capsys.readouterr().out
    path = _settings_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"base_url": full_server.base_url, "api_key": admin_key,
                                            "hosts": {full_server.base_url: admin_key}}  # a key per host
    api = runyard.Api()  # the SDK now finds host and key in the file
    assert api.base_url == full_server.base_url and api.default_entity == "admin"
    closed = "http://127.0.0.1:9"
    assert cli(["login", "--host", closed, admin_key]) == 1
    assert "nothing was saved" in capsys.readouterr().err
    assert json.loads(path.read_text())["base_url"] == full_server.base_url


def test_login_prompts_without_a_key(full_server: Any, admin_key: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    asked: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or admin_key)
    monkeypatch.setenv("RUNYARD_BASE_URL", full_server.base_url)
    assert cli(["login"]) == 0
    assert asked and json.loads(_settings_file(tmp_path).read_text())["api_key"] == admin_key
    assert runyard.login() is True


def test_offline_and_online_switch_the_default_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["offline"]) == 0
    assert json.loads(_settings_file(tmp_path).read_text())["mode"] == "offline"
    run = runyard.init(project="p", dir=tmp_path, settings={"system_metrics": False})
    assert run.mode == "offline"  # no key needed
    run.finish()
    assert cli(["status", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mode: offline" in out and "not logged in" in out and run.folder.name in out
    monkeypatch.setenv("RUNYARD_MODE", "disabled")  # the environment still wins
    assert runyard.init(project="p", dir=tmp_path).mode == "disabled"
    monkeypatch.delenv("RUNYARD_MODE")
    assert cli(["online"]) == 0
    assert json.loads(_settings_file(tmp_path).read_text())["mode"] == "online"


@pytest.mark.parametrize("command", ["", "login", "sync", "status", "offline", "online", "version"])
def test_every_command_has_help(command: str) -> None:
    args = [sys.executable, "-m", "runyard.cli", *([command] if command else []), "--help"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0 and "usage: runyard" in proc.stdout, proc.stderr
