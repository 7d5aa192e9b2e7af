"""The chart's PrometheusRule: `promtool check rules` and `promtool test rules` (alerts_test.yaml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import one, render

from .promtool import binary

pytestmark = pytest.mark.chart
HERE = Path(__file__).resolve().parent


def test_rendered_alerts_pass_promtool(tmp_path: Path) -> None:
    rule = one(render("networkpolicy"), "PrometheusRule", "runyard")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copy(HERE / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    check = subprocess.run([binary("promtool"), "check", "rules", str(tmp_path / "rules.yaml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "SUCCESS: 6 rules found" in check.stdout, check.stdout + check.stderr
    test = subprocess.run([binary("promtool"), "test", "rules", "alerts_test.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout
