"""Real Prometheus (Debian's) scrapes the session stack's /metrics (front door and ingest), a run is logged,
then every PromQL expression of the shipped Grafana dashboard is evaluated through Prometheus' HTTP API and
must return data. Jobs are named as the chart's ServiceMonitors name them (runyard-<component>)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard_server.local.processes import free_port, spawn, tail
from tests.chart.helm import CHART
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

from .promtool import binary

pytestmark = [pytest.mark.chart, pytest.mark.slow, pytest.mark.local]

SDK_SCRIPT = """
import runyard
with runyard.init(project="observed", config={"lr": 0.1}) as run:
    for step in range(200):
        run.log({"loss": 1.0 / (step + 1)})
    open("weights.txt", "w").write("w" * 1000)
    run.save("weights.txt", policy="now")
"""

# The real wandb client through the front door: GraphQL, the file stream and run files (the W&B row)
WANDB_SCRIPT = """
import wandb
run = wandb.init(project="observed-wandb", config={"lr": 0.1})
for step in range(20):
    run.log({"loss": 1.0 / (step + 1)})
run.finish()
"""


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10, trust_env=False)
    body = resp.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]  # type: ignore[no-any-return]


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads((CHART / "dashboards" / "runyard.json").read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]


def test_every_dashboard_query_returns_data(stack: Any, admin_key: str, tmp_path: Path) -> None:
    metrics_port = free_port()
    stack.stop_ingest()
    stack.start_ingest(env={"RUNYARD_INGEST_METRICS_PORT": str(metrics_port)})
    # the HTTP services serve /metrics only on their internal port (as the chart sets RUNYARD_METRICS_PORT)
    http_metrics_port = free_port()
    stack.stop_http()
    stack.start_http(env={"RUNYARD_METRICS_PORT": str(http_metrics_port)})
    front = f"127.0.0.1:{http_metrics_port}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "runyard-frontdoor", "static_configs": [{"targets": [front]}]},
            {"job_name": "runyard-ingest", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    prom = spawn("prometheus", [binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                 tmp_path / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if len([r for r in _query(url, "up == 1")]) == 2:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"Prometheus never scraped both targets:\n{tail(tmp_path / 'prometheus.log', 30)}")

        login = httpx.post(f"{stack.base_url}/api/v1/auth/login",
                           json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}, timeout=10)
        assert login.status_code == 200, login.text
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        env.update({"RUNYARD_BASE_URL": stack.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(tmp_path)})
        proc = subprocess.run([sys.executable, "-c", SDK_SCRIPT], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        wenv = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "WANDB_"))}
        wenv.update({"WANDB_BASE_URL": stack.base_url, "WANDB_API_KEY": admin_key, "WANDB_DIR": str(tmp_path),
                     "WANDB_CONFIG_DIR": str(tmp_path / ".wandb-config"), "WANDB_DISABLE_GIT": "true",
                     "WANDB_CACHE_DIR": str(tmp_path / ".wandb-cache"), "HOME": str(tmp_path), "NO_PROXY": "*"})
        proc = subprocess.run([sys.executable, "-c", WANDB_SCRIPT], env=wenv, cwd=tmp_path, capture_output=True,
                              text=True, timeout=240)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        # one TensorBoard request (a project the admin has no TensorBoard data for still answers, and counts)
        tb = httpx.get(f"{stack.base_url}/tensorboard/admin/observed/", headers={"Authorization": f"Bearer {admin_key}"},
                       timeout=30, follow_redirects=False)
        assert tb.status_code < 500, tb.text
        time.sleep(4)  # a few scrapes after the run

        empty = []
        for title, expr in dashboard_queries():
            if "runyard_operator_" in expr:
                continue  # the operator's row: tests/operator/test_metrics.py scrapes a running operator
            promql = expr.replace("$__rate_interval", "1m").replace("$namespace", ".*")
            if not _query(url, promql):
                empty.append(f"{title}: {promql}")
        assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

        def value(expr: str) -> float:
            result = _query(url, expr)
            return sum(float(r["value"][1]) for r in result)

        assert value('sum(increase(runyard_ingest_points_total[1m]))') >= 200
        assert value('sum(increase(runyard_ingest_records_total{result="ok"}[1m]))') > 0
        assert value('sum(increase(runyard_key_verifications_total[1m]))') > 0
        assert value('sum(increase(runyard_artifact_presigned_urls_total{kind="put"}[1m]))') > 0
        assert value('sum(increase(runyard_auth_logins_total{result="success"}[1m]))') >= 1
        assert value('sum(increase(runyard_ingest_grpc_requests_total{code="OK"}[1m]))') >= 1
        assert value('max(runyard_db_pool_connections{state="max"})') > 0
        assert value('sum(runyard_wandb_filestream_lines_total{result="ok"})') >= 20  # restarted above: this test's lines
        assert value('sum(runyard_tensorboard_cache_limit_bytes)') > 0
    finally:
        prom.stop(10)
