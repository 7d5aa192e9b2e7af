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
