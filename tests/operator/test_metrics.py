"""The operator's /metrics, scraped by a real Prometheus (Debian's) while the operator brings an instance
to Ready through an API error: every query of the dashboard's Operator row returns data, and the numbers
say what happened."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import kmock
import pytest

from runyard_operator import metrics
from runyard_server.local.processes import free_port, spawn, tail
from tests.observability.promtool import binary

from .cluster import instance, until
from .conftest import ROOT, Operator

pytestmark = [pytest.mark.operator, pytest.mark.slow]

DASHBOARD = ROOT / "charts" / "runyard" / "dashboards" / "runyard.json"


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10, trust_env=False).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]  # type: ignore[no-any-return]


def _operator_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])
            if "runyard_operator_" in t["expr"]]


async def test_dashboard_operator_row_has_data(operator: Operator, tmp_path: Path) -> None:
    queries = _operator_queries()
    assert len(queries) >= 3, "the dashboard has an Operator row"
    port = free_port()
    stop_metrics = metrics.start_metrics_server(port, addr="127.0.0.1")
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "runyard-operator", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    prom_port = free_port()
    prom = spawn("prometheus", [binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                 tmp_path / "prometheus.log")
    url = f"http://127.0.0.1:{prom_port}"
    try:
        def scraped() -> bool:
            try:
                return bool(_query(url, 'up{job="runyard-operator"} == 1'))
            except (httpx.HTTPError, ValueError):
                return False

        await until(lambda: scraped(), f"Prometheus to scrape the operator:\n{tail(tmp_path / 'prometheus.log', 20)}",
                    timeout=60)
        operator.cluster[kmock.action.UPDATE, kmock.resource("apps/v1/deployments")][:1] << 503 << {
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503, "message": "try again"}
        await operator.create(instance("vision", operator.namespace))
        await operator.ready("vision")
        await asyncio.sleep(4)  # a few scrapes after Ready

        empty = [f"{title}: {expr}" for title, expr in queries
                 if not _query(url, expr.replace("$__rate_interval", "1m"))]
        assert not empty, "operator dashboard queries without data:\n" + "\n".join(empty)

        def value(expr: str) -> float:
            return sum(float(r["value"][1]) for r in _query(url, expr))

        assert value('runyard_operator_instances{condition="Ready"}') == 1
        assert value('runyard_operator_instances{condition!="Ready"}') == 0
        assert value('sum(increase(runyard_operator_errors_total{kind="api"}[1m]))') >= 1
        assert value('sum(runyard_operator_reconciles_total{trigger="create", result="ready"})') >= 1
        assert value('sum(runyard_operator_reconciles_total{trigger="create", result="error"})') >= 1
        assert value('sum(runyard_operator_reconcile_duration_seconds_count)') >= 2
    finally:
        prom.stop(10)
        stop_metrics()
