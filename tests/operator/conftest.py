"""Fixtures of the operator tests: the emulated cluster and the real kopf runtime running in-process.

`operator` starts `kopf.operator(...)` with runyard_operator.main's handlers (the same registry, settings
and startup handler as `runyard-operator run`) against a fresh `Cluster` (cluster.py), logged in through
a kubeconfig that points at it, and stops it after the test.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml

from .cluster import TI, Cluster, all_of, condition, declare, live, mark_rolled_out, until

ROOT = Path(__file__).resolve().parents[2]

# Read once by runyard_operator.main at import: short waits and a 1 s drift-correction timer.
os.environ.setdefault("RUNYARD_OPERATOR_RETRY_SECONDS", "0.2")
os.environ.setdefault("RUNYARD_OPERATOR_RESYNC_SECONDS", "1")
os.environ.setdefault("RUNYARD_OPERATOR_METRICS_PORT", "0")
os.environ.setdefault("RUNYARD_OPERATOR_CHART", str(ROOT / "charts" / "runyard"))
if (ROOT / ".tools" / "bin" / "helm").exists():
    os.environ.setdefault("RUNYARD_OPERATOR_HELM", str(ROOT / ".tools" / "bin" / "helm"))


def helm_or_skip() -> str:
    from tests.chart.helm import helm_binary

    try:
        return helm_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc))  # `make test` installs it; a missing helm is a set-up error, never a skip


@dataclass
class Operator:
    cluster: Cluster
    namespace: str

    async def create(self, body: dict[str, Any]) -> None:
        """kubectl apply: POST the TrackerInstance (the watch stream reports it)."""
        ns = body["metadata"]["namespace"]
        resp = await self.cluster.post(f"/apis/runyard.io/v1alpha1/namespaces/{ns}/trackerinstances", json=body)
        assert resp.status in (200, 201), await resp.text()

    async def patch_spec(self, name: str, spec: dict[str, Any], namespace: str | None = None) -> None:
        ns = namespace or self.namespace
        resp = await self.cluster.patch(f"/apis/runyard.io/v1alpha1/namespaces/{ns}/trackerinstances/{name}",
                                        json={"spec": spec}, headers={"Content-Type": "application/merge-patch+json"})
        assert resp.status == 200, await resp.text()

    async def delete(self, name: str, namespace: str | None = None) -> None:
        ns = namespace or self.namespace
        resp = await self.cluster.delete(f"/apis/runyard.io/v1alpha1/namespaces/{ns}/trackerinstances/{name}")
        assert resp.status == 200, await resp.text()

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return live(self.cluster, TI, namespace or self.namespace, name)

    async def ready(self, name: str, version: str = "0.1.0") -> dict[str, Any]:
        """Wait for the operator to apply the Deployments, play their controller, wait for Ready."""
        await until(lambda: len(all_of(self.cluster, "apps/v1/deployments", self.namespace)) >= 7,
                    "the Deployments to be applied")
        mark_rolled_out(self.cluster, self.namespace)
        body = await until(lambda: (b := self.get(name)) and condition(b, "Ready").get("status") == "True"
                           and b["status"].get("version") == version and b, f"{name} Ready at {version}")
        return body  # type: ignore[no-any-return]


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with Cluster() as emulated, kmock.Server(emulated):
        declare(emulated)
        yield emulated


@pytest.fixture
async def operator(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Operator]:
    import kopf

    helm_or_skip()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "emulated",
        "clusters": [{"name": "emulated", "cluster": {"server": str(cluster.url).rstrip("/")}}],
        "users": [{"name": "tester", "user": {}}],
        "contexts": [{"name": "emulated", "context": {"cluster": "emulated", "user": "tester"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    from runyard_operator import main  # noqa: F401  (registers the handlers in kopf's default registry)

    # kopf owns its event loop: on stop it cancels every task created after its start (kopf's documented
    # behaviour), which in a shared loop would include the test's own. So it runs in a thread, like
    # kopf.testing.KopfRunner, and talks to the emulator over a real socket.
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(kopf.operator(clusterwide=True, standalone=True, stop_flag=stop, ready_flag=ready,
                                      settings=kopf.OperatorSettings()))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()
    assert await asyncio.to_thread(ready.wait, 15), f"the operator did not start: {failure}"
    try:
        yield Operator(cluster, "ml-vision")
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 20)
        assert not thread.is_alive(), "the operator did not stop"
        if failure:
            raise failure[0]
