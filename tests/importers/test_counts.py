"""Every importer ends with the same count line (runs new / completed / already there, points, files), a
second import adds nothing, and a missing optional package is named with the extra that installs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

RUNYARD = "import sys; from runyard.cli import main; sys.exit(main(sys.argv[1:]))"


def _runyard(args: list[str], env: dict[str, str], cwd: Path, hide: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`runyard ARGS` in its own process; `hide` makes those packages unimportable there (as if not installed)."""
    code = "".join(f"sys.modules[{m!r}] = None; " for m in hide)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "WANDB_", "MLFLOW_"))}
    full.update(env)
    return subprocess.run([sys.executable, "-c", "import sys; " + code + RUNYARD.split("; ", 1)[1], *args], env=full,
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def env(full_server: Any, admin_key: str, tmp_path: Path) -> dict[str, str]:
    return {"RUNYARD_BASE_URL": full_server.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(tmp_path),
            "RUNYARD_CONFIG_DIR": str(tmp_path / "config"), "NO_PROXY": "*"}


def test_tensorboard_and_bundle_imports_end_with_the_counts(env: dict[str, str], tmp_path: Path) -> None:
    logdir = tmp_path / "tb"
    write = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from tensorboardX import SummaryWriter
        with SummaryWriter({str(logdir / "exp1")!r}) as w:
            for s in range(4):
                w.add_scalar("loss", 1.0 / (s + 1), s)
            w.add_scalar("acc", 0.5, 3)
    """)], capture_output=True, text=True, timeout=120)
    assert write.returncode == 0, write.stderr
    args = ["import", "tensorboard", str(logdir), "--project", "counts-tb"]
    first = _runyard(args, env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "imported: 1 runs (1 new, 0 completed, 0 already there); sent 5 points, 1 files" \
        in first.stdout, first.stdout
    again = _runyard(args, env, tmp_path)
    assert "imported: 1 runs (0 new, 0 completed, 1 already there); sent 0 points, 0 files" \
        in again.stdout, again.stdout

    bundle = tmp_path / "b.tar"
    out = _runyard(["export", "admin/counts-tb", "-o", str(bundle)], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    args = ["import", "bundle", str(bundle), "--project", "counts-bundle"]
    first = _runyard(args, env, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "imported: 1 runs (1 new, 0 completed, 0 already there); sent 5 points, 1 files" \
        in first.stdout, first.stdout
    again = _runyard(args, env, tmp_path)
    assert "nothing to transfer" in again.stdout and \
        "imported: 1 runs (0 new, 0 completed, 1 already there); sent 0 points, 0 files" in again.stdout


@pytest.mark.parametrize(("argv", "hide", "extra"), [
    (["import", "wandb", "admin/p", "--wandb-host", "http://127.0.0.1:9"], ("wandb",), "runyard[wandb]"),
    (["import", "wandb", ".", "--project", "p"], ("wandb",), "runyard[wandb]"),
    (["import", "mlflow", "--tracking-uri", "http://127.0.0.1:9", "--project", "p"], ("mlflow",), "runyard[mlflow]"),
    (["import", "tensorboard", ".", "--project", "p"], ("tensorboard", "tensorboardX"), "runyard[tensorboard]"),
])
def test_a_missing_package_names_its_extra(env: dict[str, str], tmp_path: Path, argv: list[str],
                                           hide: tuple[str, ...], extra: str) -> None:
    proc = _runyard(argv, env, tmp_path, hide=hide)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert extra in proc.stderr and "pip install" in proc.stderr, proc.stderr
