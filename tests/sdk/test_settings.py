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


def test_capture_switches_resume_and_booleans(tmp_path: Path) -> None:
    env = {"RUNYARD_CONFIG_DIR": str(tmp_path), "RUNYARD_SYSTEM_METRICS": "off", "RUNYARD_SAVE_CODE": "0",
           "RUNYARD_CONSOLE": "OFF", "RUNYARD_SYSTEM_INTERVAL": "2.5", "RUNYARD_RESUME": "must",
           "RUNYARD_RUN_ID": "abc", "RUNYARD_TAGS": "a,b"}
    s = resolve({}, env)
    assert (s.system_metrics, s.save_code, s.console, s.system_interval) == (False, False, "off", 2.5)
    assert (s.resume, s.run_id, s.tags, s.capture_git) == ("must", "abc", "a,b", True)
    s = resolve({"resume": True, "console": False, "capture_git": "no"}, {"RUNYARD_CONFIG_DIR": str(tmp_path)})
    assert (s.resume, s.console, s.capture_git) == ("auto", "off", False)  # True: resume the last run
    for bad, fragment in (({"RUNYARD_SAVE_CODE": "maybe"}, "RUNYARD_SAVE_CODE"),
                          ({"RUNYARD_CONSOLE": "redirect-all"}, "console"),
                          ({"RUNYARD_RESUME": "sometimes"}, "resume")):
        with pytest.raises(SettingsError, match=fragment):
            resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), **bad})


def test_settings_file_holds_mode_and_entity(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"mode": "offline", "entity": "team", "api_key": "k"}))
    s = resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path)})
    assert (s.mode, s.entity, s.api_key) == ("offline", "team", "k")
    assert resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), "RUNYARD_MODE": "online"}).mode == "online"


def test_unknown_wandb_settings_and_arguments_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import runyard

    run = runyard.init(project="p", mode="offline", dir=tmp_path, anonymous="allow",
                       settings={"start_method": "thread", "system_metrics": False, "console": "off"})
    err = capsys.readouterr().err
    assert "ignores the settings start_method" in err and "ignores the arguments anonymous" in err
    run.finish()


def test_wandb_settings_object_with_unknown_names(tmp_path: Path) -> None:
    import runyard

    with pytest.warns(UserWarning, match="start_method"):
        s = runyard.Settings(start_method="thread", console="off", system_metrics=False)
    run = runyard.init(project="p", mode="offline", dir=tmp_path, settings=s)
    assert run._settings is not None and run._settings.console == "off" and not run._settings.system_metrics
    run.finish()


WANDB_ENV = {"WANDB_MODE": "dryrun", "WANDB_PROJECT": "wp", "WANDB_ENTITY": "team-w", "WANDB_RUN_ID": "wid1",
             "WANDB_RESUME": "auto", "WANDB_DIR": "/tmp/wandb-dir", "WANDB_TAGS": "a,b", "WANDB_NOTES": "n",
             "WANDB_NAME": "nm", "WANDB_RUN_GROUP": "g", "WANDB_JOB_TYPE": "train", "WANDB_SILENT": "true",
             "WANDB_LOG_MODEL": "checkpoint"}


def test_wandb_variables_count_when_the_runyard_ones_are_unset(tmp_path: Path) -> None:
    s = resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), **WANDB_ENV})
    assert (s.mode, s.project, s.entity, s.run_id, s.resume, s.dir) == (
        "offline", "wp", "team-w", "wid1", "auto", "/tmp/wandb-dir")
    assert (s.tags, s.notes, s.name, s.group, s.job_type, s.silent, s.log_model) == (
        "a,b", "n", "nm", "g", "train", True, "checkpoint")
    ours = {"RUNYARD_MODE": "online", "RUNYARD_PROJECT": "rp", "RUNYARD_RUN_GROUP": "unused",
            "RUNYARD_GROUP": "rg", "RUNYARD_SILENT": "false", "RUNYARD_LOG_MODEL": "false"}
    s = resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), **WANDB_ENV, **ours})
    assert (s.mode, s.project, s.group, s.silent, s.log_model, s.job_type) == (
        "online", "rp", "rg", False, "false", "train")
    assert resolve({"project": "arg"}, {"RUNYARD_CONFIG_DIR": str(tmp_path), **WANDB_ENV}).project == "arg"
    assert resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), "WANDB_LOG_MODEL": "true"}).log_model == "end"
    with pytest.raises(SettingsError, match="WANDB_MODE"):
        resolve({}, {"RUNYARD_CONFIG_DIR": str(tmp_path), "WANDB_MODE": "sideways"})


def test_wandb_habits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """log() with no data commits the step; resume=True without an id resumes the folder's last run;
    WANDB_SILENT hides progress lines but not warnings; termlog/termwarn/termerror."""
    import runyard

    from .conftest import history_rows, wal_records

    monkeypatch.setenv("WANDB_SILENT", "true")
    run = runyard.init(project="habits", mode="offline", dir=tmp_path, settings={"system_metrics": False})
    run.log({"a": 1}, commit=False)
    runyard.log()
    run.log()
    assert run.step == 2
    first = run.id
    run.finish()
    again = runyard.init(project="habits", mode="offline", dir=tmp_path, resume=True,
                         settings={"system_metrics": False})
    assert again.id == first and again.step == 2  # steps go on from where the last process stopped
    runyard.termlog("hello from termlog")
    runyard.termwarn("careful", repeat=False)
    runyard.termwarn("careful", repeat=False)
    runyard.termerror("broken")
    again.finish()
    err = capsys.readouterr().err
    assert "offline run" not in err and "hello from termlog" not in err  # silent: no progress lines
    assert err.count("runyard: WARNING careful") == 1 and "runyard: ERROR broken" in err
    steps = [h.step for h in history_rows(wal_records(run.folder))]
    assert steps == [0, 1]
    monkeypatch.delenv("WANDB_SILENT")
    fresh = runyard.init(project="other", mode="offline", dir=tmp_path, resume=True,
                         settings={"system_metrics": False})
    assert fresh.id != first  # nothing of this project to resume: a new run
    fresh.finish()
