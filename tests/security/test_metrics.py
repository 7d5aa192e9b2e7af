"""`/metrics` is not public: 404 on the service port unless a token is configured (then Bearer only), or
served on an internal port of its own (RUNYARD_METRICS_PORT)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runyard_server.common.settings import SettingsError, load_settings
from runyard_server.local.processes import free_port
from tests.services.harness import METRICS_AUTH, running_services

from .conftest import Population

pytestmark = [pytest.mark.local]


@pytest.mark.parametrize("service", ["query", "auth", "artifact"])
def test_metrics_are_not_served_on_the_service_port_by_default(population: Population, service: str) -> None:
    for who in (None, "root"):  # not even to an admin's API key
        r = population.call(who, "GET", "/metrics", service=service)
        assert r.status_code == 404 and "RUNYARD_METRICS_PORT" in r.json()["detail"], r.text
        assert "runyard_" not in r.text


def test_metrics_token_and_internal_port(stack: Any) -> None:
    port = free_port()
    with running_services(stack.database_url, metrics_port=port) as svc:
        for base in (svc.query_url, svc.auth_url):
            assert httpx.get(base + "/metrics").status_code == 401
            r = httpx.get(base + "/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            r = httpx.get(base + "/metrics", headers=METRICS_AUTH)
            assert r.status_code == 200 and "runyard_" in r.text
        # the internal port: only metrics, no token (NetworkPolicy keeps it to the cluster's Prometheus)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "runyard_query_requests_total" in text and "runyard_auth_requests_total" in text
    with pytest.raises(httpx.TransportError):  # closed with the services
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.parametrize("token", ["changeme", "short", "<placeholder>"])
def test_a_weak_metrics_token_stops_the_service(token: str) -> None:
    with pytest.raises(SettingsError, match="RUNYARD_METRICS_TOKEN"):
        load_settings(database_url="postgresql://u:p@db/x", metrics_token=token)
