"""The run folders can never shadow the installed package (issue 11), even with a plain PEP 660
editable install, where a `./runyard/` folder without `__init__.py` did (namespace packages win over
the editable finder); old `./runyard/` folders are still read by `runyard sync` and `runyard status`."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import runyard
import runyard_proto
from runyard._sync import find_run_dirs
from runyard.settings import RUN_ROOT

from .conftest import REPO

SDK = REPO / "sdk"


@pytest.mark.slow
def test_a_plain_editable_install_is_not_shadowed_by_the_run_folders(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the SDK's dependencies from this environment (its .pth files are not processed: a plain path entry)
    deps = [sysconfig.get_paths()["purelib"], str(Path(runyard_proto.__file__).resolve().parents[1])]
    (Path(purelib) / "deps.pth").write_text("\n".join(deps) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-build-isolation", "-e", str(SDK)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert any(p.name.endswith("_finder.py") for p in Path(purelib).iterdir()), "not a PEP 660 editable install"
    work = tmp_path / "work"
    work.mkdir()
    script = ("import runyard; run = runyard.init(project='p', mode='offline', settings={'system_metrics': False}); "
              "run.log({'x': 1}); run.finish(); print(runyard.__file__)")
    env = {"PATH": "/usr/bin:/bin", "RUNYARD_CONFIG_DIR": str(tmp_path / "cfg")}
    for _ in range(2):  # the second one starts in a folder that now holds the run folders
        proc = subprocess.run([str(python), "-c", script], cwd=work, capture_output=True, text=True, env=env,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(SDK / "runyard" / "__init__.py")
    assert len(list((work / RUN_ROOT).glob("run-*"))) == 2
    assert not (work / "runyard").exists()
    assert not RUN_ROOT.isidentifier()  # so `import runyard...` can never find it


def test_old_run_folders_are_still_found(tmp_path: Path) -> None:
    old = runyard.init(project="p", mode="offline", dir=tmp_path, settings={"system_metrics": False})
    old.finish()
    assert old.folder is not None and old.folder.parent.name == RUN_ROOT
    legacy = tmp_path / "runyard" / old.folder.name.replace("run-", "run-0")
    legacy.parent.mkdir()
    old.folder.rename(legacy)
    new = runyard.init(project="p", mode="offline", dir=tmp_path, settings={"system_metrics": False})
    new.finish()
    found = find_run_dirs(tmp_path)
    assert [d.name for d in found] == sorted([legacy.name, new.folder.name if new.folder else ""])
    assert find_run_dirs(tmp_path / "runyard") == [legacy.resolve()]
