"""The TensorBoard cache stays within RUNYARD_TENSORBOARD_CACHE_BYTES when many runs are opened: a front door
with a 1 MiB cache, eight runs of about 300 kB of event files (ten noise images) each, opened one after the other."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ui import harness

from .conftest import run_script

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOUND = 1024 * 1024
PROJECT = "tb-cache"

TREE = textwrap.dedent('''
    import sys
    import numpy as np
    from tensorboardX import SummaryWriter
    rng = np.random.default_rng(1)
    for r in range(8):  # noise does not compress: about 30 kB per image
        with SummaryWriter(f"{sys.argv[1]}/run{r}") as w:
            for s in range(10):
                w.add_image("noise", rng.integers(0, 256, (3, 100, 100), dtype=np.uint8), s)
            w.add_scalar("loss", 1.0 / (r + 1), 0)
''')


def _disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def small_cache(tb_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cache = tmp_path_factory.mktemp("tbcache")
    env = {**tb_server.service_env(), "RUNYARD_TENSORBOARD_CACHE_BYTES": str(BOUND),
           "RUNYARD_TENSORBOARD_CACHE_DIR": str(cache), "RUNYARD_TENSORBOARD_MAX_VIEWS": "4"}
    with harness.frontdoor(env, tb_server.database_url, harness.ensure_dist(), tb_server.logs_dir) as base:
        yield base, cache


@pytest.fixture(scope="module")
def eight_runs(sdk_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    work = tmp_path_factory.mktemp("tbcache-tree")
    assert run_script(TREE, [str(work / "logs")], sdk_env, work).returncode == 0
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    full.update(sdk_env)
    proc = subprocess.run([sys.executable, "-m", "runyard.cli", "import", "tensorboard", str(work / "logs"),
                           "--project", PROJECT], env=full, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sizes = [p.stat().st_size for p in (work / "logs").rglob("*tfevents*")]
    assert len(sizes) == 8 and all(200_000 < s < BOUND // 2 for s in sizes), sizes
    with httpx.Client(base_url=sdk_env["RUNYARD_BASE_URL"],
                      headers={"Authorization": f"Bearer {sdk_env['RUNYARD_API_KEY']}"}, timeout=30) as c:
        runs = c.get(f"/api/v1/projects/admin/{PROJECT}/runs", params={"limit": 100}).json()["runs"]
    return sorted(r["id"] for r in runs)


def test_cache_stays_within_its_bound(small_cache: tuple[str, Path], eight_runs: list[str], admin_key: str) -> None:
    base, cache = small_cache
    assert len(eight_runs) == 8
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as c:
        for round_ in range(2):  # the second round reopens runs evicted in the first
            for run_id in eight_runs:
                tb = f"/tensorboard/runs/admin/{PROJECT}/{run_id}/"
                tags = c.get(tb + "data/plugin/scalars/tags")
                assert tags.status_code == 200, tags.text
                assert list(tags.json()["."]) == ["loss"]
                images = c.get(tb + "data/plugin/images/images", params={"run": ".", "tag": "noise"}).json()
                assert [i["step"] for i in images] == list(range(10))
                used = _disk(cache / "runs")
                assert 0 < used <= BOUND, (round_, run_id, used)
        # more runs in one view than the cache holds: a clear refusal, and still within the bound
        too_many = c.get(f"/tensorboard/projects/admin/{PROJECT}/{','.join(eight_runs)}/")
        assert too_many.status_code == 507 and "RUNYARD_TENSORBOARD_CACHE_BYTES" in too_many.text
        assert _disk(cache / "runs") <= BOUND
        assert c.get(f"/tensorboard/runs/admin/{PROJECT}/{eight_runs[0]}/data/runs").json() == ["."]
