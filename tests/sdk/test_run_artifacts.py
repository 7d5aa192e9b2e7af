"""run.log_artifact / run.use_artifact through the artifact service, online and staged offline + sync."""

from __future__ import annotations

from pathlib import Path

import pytest

import runyard
from runyard.cli import main as cli

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

QUIET = {"system_metrics": False, "capture_requirements": False, "capture_git": False, "console": "off",
         "save_code": False}


def test_log_and_use_artifacts_online(sdk_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("alpha")
    (data / "b.txt").write_text("beta")
    producer = runyard.init(project="arts", settings=QUIET)
    art = runyard.Artifact("dataset", type="dataset")
    art.add_dir(data)
    logged = producer.log_artifact(art, aliases=["best"])
    assert logged.version == "v0" and "best" in logged.aliases
    model = producer.log_artifact(str(data / "a.txt"), name="model", type="model")
    assert model.version == "v0" and model.type == "model"
    producer.finish()

    consumer = runyard.init(project="arts", settings=QUIET)
    used = consumer.use_artifact("dataset:best", type="dataset")
    target = Path(used.download(root=tmp_path / "dl"))
    assert (target / "a.txt").read_text() == "alpha" and (target / "b.txt").read_text() == "beta"
    with pytest.raises(runyard.UsageError):
        consumer.use_artifact("dataset:best", type="model")
    consumer.finish()
    assert runyard.Api().artifact("arts/dataset:v0").name == "dataset"


def test_offline_artifact_is_logged_by_sync(sdk_env: dict[str, str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "w.bin").write_bytes(b"weights")
    run = runyard.init(project="arts-off", mode="offline", settings=QUIET)
    run.log({"x": 1})
    art = run.log_artifact(str(tmp_path / "w.bin"), name="weights", type="model", aliases=["final"])
    assert art.version is None
    run.finish()
    assert cli(["sync", str(run.folder)]) == 0
    assert "logged 1 artifacts" in capsys.readouterr().out
    got = runyard.Api().artifact("arts-off/weights:final")
    assert got.version == "v0" and [f["path"] for f in got.files()] == ["w.bin"]
    assert cli(["sync", str(run.folder)]) == 0  # not logged again
    assert "logged" not in capsys.readouterr().out
    assert runyard.Api().artifact("arts-off/weights:latest").version == "v0"


def test_artifact_calls_in_disabled_and_offline_modes(tmp_path: Path) -> None:
    run = runyard.init(project="p", mode="offline", dir=tmp_path, settings=QUIET)
    with pytest.raises(runyard.UsageError, match="offline"):
        run.use_artifact("x:latest")
    run.finish()
