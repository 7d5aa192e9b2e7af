"""charts/runyard renders the TensorBoard component: its own Deployment (command, bucket credentials, cache
size and the emptyDir that holds it), the /tensorboard route and monitor; inside the front door when that
is enabled; nothing with tensorboard.enabled=false; a bad cache size fails at install time."""

from __future__ import annotations

import re
from typing import Any

import pytest

from runyard_server.tensorboard import is_tensorboard_path
from tests.chart.helm import find, one, render, run_helm, template_args

pytestmark = pytest.mark.chart


def _env(dep: dict[str, Any]) -> dict[str, Any]:
    c = dep["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def _tmp_limit(dep: dict[str, Any]) -> str:
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    return str(vols["tmp"]["emptyDir"]["sizeLimit"])


def test_the_component_renders_with_its_cache_and_route() -> None:
    docs = render("defaults")
    dep = one(docs, "Deployment", "runyard-tensorboard")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["runyard-server", "tensorboard"]
    assert {p["name"] for p in c["ports"]} == {"http", "metrics"}  # /metrics only on the internal port
    env = _env(dep)
    assert env["RUNYARD_TENSORBOARD_CACHE_BYTES"] == "2147483648"
    assert "secretKeyRef" in env["RUNYARD_S3_ACCESS_KEY"] and "secretKeyRef" in env["RUNYARD_S3_SECRET_KEY"]
    assert _tmp_limit(dep) == "3Gi"
    assert _tmp_limit(one(docs, "Deployment", "runyard-query")) == "256Mi"
    assert one(docs, "Service", "runyard-tensorboard")["spec"]["ports"][0]["name"] == "http"
    http = one(docs, "Ingress", "runyard-http")
    routes = [(p["path"], p["backend"]["service"]["name"]) for p in http["spec"]["rules"][0]["http"]["paths"]]
    tb = [path for path, svc in routes if svc == "runyard-tensorboard"]
    assert tb == ["/tensorboard(/|$)"]
    assert routes[-1][1] == "runyard-query"
    pattern = re.compile(tb[0])
    for path in ("/tensorboard", "/tensorboard/runs/a/b/c/", "/tensorboard/status/a/b/c", "/tensorboardx", "/api/x"):
        assert bool(pattern.match(path)) == is_tensorboard_path(path), path
    monitored = render("networkpolicy")  # monitoring on
    assert one(monitored, "ServiceMonitor", "runyard-tensorboard")["spec"]["endpoints"][0]["port"] == "metrics"


def test_inside_the_front_door_and_switched_off() -> None:
    gw = render("gateway-frontdoor")
    assert not find(gw, "Deployment", "runyard-tensorboard")
    front = one(gw, "Deployment", "runyard-frontdoor")
    assert _env(front)["RUNYARD_TENSORBOARD_CACHE_BYTES"] == "2147483648" and _tmp_limit(front) == "3Gi"
    assert "RUNYARD_TENSORBOARD_ENABLED" not in _env(front)
    front_off = one(render("gateway-frontdoor", {"tensorboard.enabled": "false"}), "Deployment", "runyard-frontdoor")
    assert _env(front_off)["RUNYARD_TENSORBOARD_ENABLED"] == "false" and _tmp_limit(front_off) == "256Mi"
    off = render("defaults", {"tensorboard.enabled": "false"})
    assert not find(off, "Deployment", "runyard-tensorboard")
    http = one(off, "Ingress", "runyard-http")
    assert all(p["backend"]["service"]["name"] != "runyard-tensorboard" for p in http["spec"]["rules"][0]["http"]["paths"])
    sized = render("defaults", {"tensorboard.cache.maxBytes": "5368709120", "tensorboard.cache.sizeLimit": "6Gi"})
    dep = one(sized, "Deployment", "runyard-tensorboard")
    assert _env(dep)["RUNYARD_TENSORBOARD_CACHE_BYTES"] == "5368709120" and _tmp_limit(dep) == "6Gi"


def test_a_cache_too_small_fails_at_install_time() -> None:
    proc = run_helm(*template_args("defaults", {"tensorboard.cache.maxBytes": "1000"}), check=False)
    assert proc.returncode != 0 and "tensorboard/cache/maxBytes" in proc.stderr, proc.stderr
