"""The operator's settings (a bad value names its variable) and its Kubernetes client against the
emulated API (apply creates, 404s, kinds the cluster lacks, a re-login after 401, transient errors)."""

from __future__ import annotations

from pathlib import Path

import kmock
import kopf
import pytest

from runyard_operator.config import ConfigError, OperatorConfig, load_config
from runyard_operator.errors import ApiError
from runyard_operator.kinds import lookup
from runyard_operator.kube import KubeClient

from .cluster import Cluster, live

pytestmark = pytest.mark.operator

CM = lookup("v1", "ConfigMap")


def test_bad_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNYARD_OPERATOR_RESYNC_SECONDS", "soon")
    with pytest.raises(ConfigError, match="RUNYARD_OPERATOR_RESYNC_SECONDS"):
        load_config()
    monkeypatch.setenv("RUNYARD_OPERATOR_RESYNC_SECONDS", "30")
    monkeypatch.setenv("RUNYARD_OPERATOR_NAMESPACES", "ml-vision, ML_NLP")
    with pytest.raises(ConfigError, match=r"RUNYARD_OPERATOR_NAMESPACES: .*'ML_NLP' is not a namespace name"):
        load_config()
    monkeypatch.setenv("RUNYARD_OPERATOR_NAMESPACES", "ml-vision, ml-nlp")
    assert load_config().watched_namespaces == ["ml-vision", "ml-nlp"]
    with pytest.raises(ConfigError, match="RUNYARD_OPERATOR_CHART: no chart at"):
        OperatorConfig(chart=tmp_path).check()
    with pytest.raises(ConfigError, match="RUNYARD_OPERATOR_HELM: no helm binary"):
        OperatorConfig(helm=str(tmp_path / "helm")).check()


def _client(cluster: Cluster, logins: list[int]) -> KubeClient:
    def credentials() -> kopf.ConnectionInfo:
        logins.append(1)
        return kopf.ConnectionInfo(server=str(cluster.url).rstrip("/"), token=f"token-{len(logins)}")

    return KubeClient(credentials, field_manager="runyard-operator")


async def test_client_against_the_emulated_api(cluster: Cluster) -> None:
    logins: list[int] = []
    client = _client(cluster, logins)
    try:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}
        await client.apply(obj)
        assert live(cluster, "v1/configmaps", "ns", "c")["data"] == {"a": "1"}
        assert (await client.get(CM, "ns", "c"))["data"] == {"a": "1"}
        assert await client.get(CM, "ns", "missing") is None
        assert await client.list(lookup("monitoring.coreos.com/v1", "ServiceMonitor"), "ns") == [], "no such CRD"
        assert await client.delete(CM, "ns", "c") is True and await client.delete(CM, "ns", "c") is False

        # an expired token: one new login, then the call succeeds
        cluster[kmock.action.LIST, kmock.resource("v1/configmaps")][:1] << 401 << {"kind": "Status", "code": 401}
        assert await client.list(CM, "ns") == []
        assert len(logins) == 2
        auth = [r.headers.get("Authorization") for r in list(cluster) if r.url.path.endswith("/configmaps")]
        assert auth[-2:] == ["Bearer token-1", "Bearer token-2"]

        cluster[kmock.action.FETCH, kmock.resource("v1/configmaps"), kmock.name("flaky")][:1] << 503 << {
            "kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "etcdserver: request timed out"}
        with pytest.raises(ApiError) as failed:
            await client.get(CM, "ns", "flaky")
        assert failed.value.status == 503 and failed.value.transient
        assert "etcdserver: request timed out" in failed.value.message
    finally:
        await client.close()
    dead = KubeClient(lambda: kopf.ConnectionInfo(server="http://127.0.0.1:9"), field_manager="x")
    with pytest.raises(ApiError) as unreachable:
        await dead.get(CM, "ns", "c")
    assert unreachable.value.status == 0 and unreachable.value.transient
    await dead.close()


@pytest.mark.slow
async def test_the_command_runs_the_operator_with_liveness_and_metrics(cluster: Cluster, tmp_path: Path) -> None:
    """`runyard-operator run` as the chart starts it: the liveness endpoint and /metrics answer, an
    instance is picked up, SIGTERM stops it cleanly."""
    import asyncio
    import os
    import signal
    import sys

    import httpx
    import yaml

    from runyard_server.local.processes import free_port

    from .cluster import TI, all_of, instance, until
    from .conftest import helm_or_skip

    helm_or_skip()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "e",
        "clusters": [{"name": "e", "cluster": {"server": str(cluster.url).rstrip("/")}}],
        "users": [{"name": "u", "user": {}}], "contexts": [{"name": "e", "context": {"cluster": "e", "user": "u"}}]}))
    health, metrics_port = free_port(), free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "RUNYARD_OPERATOR_METRICS_PORT": str(metrics_port)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runyard_operator.cli", "run", f"--liveness=http://127.0.0.1:{health}/healthz",
        "--log-format=plain", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            async def answers(url: str) -> bool:
                try:
                    return (await http.get(url, timeout=2)).status_code == 200
                except httpx.HTTPError:
                    return False

            deadline = asyncio.get_running_loop().time() + 60
            while not await answers(f"http://127.0.0.1:{health}/healthz"):
                assert asyncio.get_running_loop().time() < deadline, "the liveness endpoint never answered"
                await asyncio.sleep(0.2)
            body = instance("vision", "ml-vision")
            resp = await cluster.post("/apis/runyard.io/v1alpha1/namespaces/ml-vision/trackerinstances", json=body)
            assert resp.status in (200, 201)
            await until(lambda: len(all_of(cluster, "apps/v1/deployments", "ml-vision")) == 7, "the Deployments",
                        timeout=60)
            progressing = 'runyard_operator_instances{condition="Progressing"} 1.0'
            while progressing not in (await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)).text:
                assert asyncio.get_running_loop().time() < deadline + 60, "/metrics never counted the instance"
                await asyncio.sleep(0.2)
        ti = cluster.objects[TI, "ml-vision", "vision"]
        assert "runyard.io/finalizer" in ti["metadata"]["finalizers"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()[-3000:]
