"""The artifact service fails fast on missing S3 settings; `runyard-server gc` runs from RUNYARD_* variables."""

from __future__ import annotations

import argparse

import pytest

from runyard_server.artifact import create_app
from runyard_server.artifact import gc as gc_cmd
from runyard_server.artifact.app import is_artifact_path
from runyard_server.common.settings import SettingsError, load_settings

from .harness import ArtifactEnv


def test_missing_s3_settings_name_every_variable() -> None:
    settings = load_settings(database_url="postgresql://u:p@localhost/db", s3_endpoint="", s3_access_key="todo")
    with pytest.raises(SettingsError) as err:
        create_app(settings)
    text = str(err.value)
    assert "RUNYARD_S3_ENDPOINT" in text and "RUNYARD_S3_ACCESS_KEY" in text and "RUNYARD_S3_SECRET_KEY" in text


def test_front_door_paths() -> None:
    assert is_artifact_path("/api/v1/artifacts/alice/p/cifar/v0")
    assert is_artifact_path("/api/v1/artifacts/_uploads/abc/parts")
    assert is_artifact_path("/api/v1/runs/alice/p/r1/files")
    assert is_artifact_path("/api/v1/runs/alice/p/r1/files/media/a.png")
    assert is_artifact_path("/api/v1/runs/alice/p/r1/artifacts")
    assert not is_artifact_path("/api/v1/runs/alice/p/r1")
    assert not is_artifact_path("/api/v1/runs/alice/p/r1/history")
    assert not is_artifact_path("/api/v1/projects/alice/p")


@pytest.mark.local
def test_gc_command_reads_the_environment(env: ArtifactEnv, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    s = env.settings
    for name, value in {"DATABASE_URL": s.database_url, "S3_ENDPOINT": s.s3_endpoint, "S3_BUCKET": s.s3_bucket,
                        "S3_ACCESS_KEY": s.s3_access_key, "S3_SECRET_KEY": s.s3_secret_key}.items():
        monkeypatch.setenv("RUNYARD_" + name, value)
    parser = argparse.ArgumentParser()
    gc_cmd.add_arguments(parser)
    assert gc_cmd.command(parser.parse_args(["--dry-run"])) == 0
    assert "dry run: 0 object(s)" in capsys.readouterr().out
    assert gc_cmd.command(parser.parse_args(["--grace", "0", "--sweep-bucket"])) == 0
    assert "deleted 0 object(s)" in capsys.readouterr().out
