"""The chart drives a real run: the kind values rendered by helm, every rendered container started on this
machine with its exact command, args and environment, against the session's embedded PostgreSQL, Redis
and S3; then a run logged through the SDK and read back, through the rendered Ingress's routes.

How a cluster is mapped onto one machine (a wrong env var name, port, command or route in the chart
still fails this test):
  - Environment: the rendered ConfigMap (envFrom) and Secrets (secretKeyRef) are resolved as the kubelet
    would. Values that name a bundled store's Service DNS name (runyard-postgresql[.runyard.svc...]) get
    that name replaced by 127.0.0.1 and the store's port on this machine; so do values naming another
    Runyard Service (the W&B protocol's RUNYARD_WANDB_* addresses: its pod's port). The chart's generated PostgreSQL
    role and password are created in the embedded server (its database gets its own name via --set, so
    the session's database is untouched); the embedded Redis has no password, so the one in the Redis URL
    is dropped; the embedded S3 was started with its own keys, so RUNYARD_S3_ACCESS_KEY/_SECRET_KEY are set
    to those, and the kind values' public endpoint http://localhost:9000 (a port-forward to MinIO) is
    the embedded S3's address.
  - Ports: each pod has its own network namespace in a cluster; here every containerPort gets a free port
    and the env variables holding the listen ports (RUNYARD_HTTP_PORT, RUNYARD_INGEST_PORT,
    RUNYARD_INGEST_METRICS_PORT) and hosts are set to it. Probes are sent to the mapped ports. The other
    pods get ingest's mapped port as RUNYARD_INGEST_PORT (kind's `port-forward svc/runyard-ingest 8081`).
  - Files: /opt/runyard/web (where the Dockerfile puts the UI) is services/web/dist; `runyard-server` is the
    console script of this virtualenv, as it is on the image's PATH.
  - The Ingress: a small proxy answers like ingress-nginx with use-regex (longest path first,
    case-insensitive, anchored) and forwards to the Service's pod port. gRPC goes straight to ingest, as
    kind's port-forward does.
"""

from __future__ import annotations

import http.client
import http.server
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runyard_server.local import run_coro
from runyard_server.local.processes import Child, free_port, spawn, tail

from .helm import NAMESPACE, RELEASE, ROOT, find, one, render

pytestmark = [pytest.mark.chart, pytest.mark.slow, pytest.mark.local]

DATABASE = "runyard_chart_run"
BIN = Path(sys.executable).parent
CONTAINER_PATHS = {"/opt/runyard/web": str(ROOT / "services" / "web" / "dist")}
PORT_SETTINGS = {"http": "RUNYARD_HTTP_PORT", "grpc": "RUNYARD_INGEST_PORT", "metrics": "RUNYARD_INGEST_METRICS_PORT"}


def _dns_names(service: str) -> set[str]:
    return {service, f"{service}.{NAMESPACE}", f"{service}.{NAMESPACE}.svc", f"{service}.{NAMESPACE}.svc.cluster.local"}


class Cluster:
    """The rendered kind values, started as processes; `stop()` ends them all."""

    def __init__(self, stack: Any, logs: Path) -> None:
        self.stack = stack
        self.logs = logs
        self.docs = render("kind", {"postgresql.bundled.database": DATABASE})
        self.config = one(self.docs, "ConfigMap", f"{RELEASE}-config")["data"]
        self.secrets = {s["metadata"]["name"]: s["stringData"] for s in find(self.docs, "Secret")}
        self.children: list[Child] = []
        self.pod_ports: dict[str, dict[str, int]] = {}  # component -> port name -> local port
        parsed = {name: urllib.parse.urlsplit(url) for name, url in
                  (("postgresql", stack.database_url), ("redis", stack.redis_url), ("minio", stack.s3.endpoint))}
        self.stores = {f"{RELEASE}-{name}": f"127.0.0.1:{u.port}" for name, u in parsed.items()}

    # ---- the kubelet's part --------------------------------------------------------------------------
    def env_of(self, container: dict[str, Any], ports: dict[str, int]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        for source in container.get("envFrom", []):
            env.update(one(self.docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]]
        for name, value in list(env.items()):
            if name.startswith("RUNYARD_"):
                env[name] = self._map_value(name, value)
        if "grpc" not in ports and "ingest" in self.pod_ports:
            # what `kubectl port-forward svc/runyard-ingest 8081` gives an SDK on kind: the REST host's
            # ingest port, which query advertises from RUNYARD_INGEST_PORT
            env["RUNYARD_INGEST_PORT"] = str(self.pod_ports["ingest"]["grpc"])
        for port_name, local in ports.items():
            setting = PORT_SETTINGS[port_name]
            if port_name == "metrics" and "grpc" not in ports:
                setting = "RUNYARD_METRICS_PORT"  # the HTTP services' internal metrics port
            env[setting] = str(local)
        env["RUNYARD_HTTP_HOST"] = env["RUNYARD_INGEST_HOST"] = "127.0.0.1"
        if "RUNYARD_S3_ACCESS_KEY" in env:
            env["RUNYARD_S3_ACCESS_KEY"], env["RUNYARD_S3_SECRET_KEY"] = self.stack.s3.access_key, self.stack.s3.secret_key
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _map_value(self, name: str, value: str) -> str:
        value = CONTAINER_PATHS.get(value, value)
        if "://" not in value:
            host = value.rpartition(":")[0]  # a host:port naming a Service (the W&B protocol's ingest address)
            return next((address for service, address in self.app_services().items() if host in _dns_names(service)),
                        value)
        url = urllib.parse.urlsplit(value)
        if name == "RUNYARD_S3_PUBLIC_ENDPOINT" and url.netloc == "localhost:9000":
            return self.stack.s3.endpoint  # kind's `kubectl port-forward svc/runyard-minio 9000`
        for service, address in {**self.stores, **self.app_services()}.items():
            if url.hostname in _dns_names(service):
                userinfo = url.netloc.rpartition("@")[0]
                if name == "RUNYARD_REDIS_URL":
                    userinfo = ""  # the embedded Redis has no password
                netloc = f"{userinfo}@{address}" if userinfo else address
                return urllib.parse.urlunsplit(url._replace(netloc=netloc))
        return value

    def app_services(self) -> dict[str, str]:
        """The Services of the pods started so far (the W&B protocol's calls to the others): their local
        address, as the Service's DNS name resolves in a cluster."""
        out = {}
        for svc in find(self.docs, "Service"):
            component = svc["spec"]["selector"].get("app.kubernetes.io/component")
            if component in self.pod_ports:
                target = svc["spec"]["ports"][0]["targetPort"]
                out[svc["metadata"]["name"]] = f"127.0.0.1:{self.pod_ports[component][target]}"
        return out

    def argv(self, container: dict[str, Any]) -> list[str]:
        command = [*container.get("command", []), *container.get("args", [])]
        assert command[0] == "runyard-server", command
        return [str(BIN / "runyard-server"), *command[1:]]

    def run_to_completion(self, name: str, container: dict[str, Any]) -> str:
        proc = subprocess.run(self.argv(container), env=self.env_of(container, {}), capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout + proc.stderr

    # ---- set-up ------------------------------------------------------------------------------------
    def create_database_role(self) -> None:
        """The chart's generated role and password, in the embedded PostgreSQL, owning a fresh database."""
        dsn = urllib.parse.urlsplit(self.secrets[f"{RELEASE}-postgresql"]["database-url"])
        user, password = dsn.username, dsn.password
        assert dsn.path == f"/{DATABASE}" and user and password

        async def go() -> None:
            conn = await asyncpg.connect(self.stack.database_url)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", user)
                verb = "ALTER" if exists else "CREATE"
                await conn.execute(f"{verb} ROLE \"{user}\" LOGIN PASSWORD '{password}'")
                await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
                await conn.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{user}"')
            finally:
                await conn.close()

        run_coro(go())

    def start_deployments(self) -> None:
        # ingest first: its port is what query advertises (see env_of); the W&B protocol last: it is given
        # the others' addresses (app_services)
        deployments = sorted(find(self.docs, "Deployment"), key=lambda d: (
            d["metadata"]["name"].endswith("-wandb"), not d["metadata"]["name"].endswith("-ingest")))
        for dep in deployments:
            component = dep["metadata"]["labels"]["app.kubernetes.io/component"]
            spec = dep["spec"]["template"]["spec"]
            for init in spec.get("initContainers", []):
                self.run_to_completion(f"{component} init {init['name']}", init)
            (container,) = spec["containers"]
            ports = {p["name"]: free_port() for p in container["ports"]}
            self.pod_ports[component] = ports
            self.children.append(spawn(component, self.argv(container), self.logs / f"{component}.log",
                                       env=self.env_of(container, ports)))

    def probes(self) -> list[tuple[str, str, str]]:
        """(component, probe, url) for every rendered httpGet probe."""
        out = []
        for dep in find(self.docs, "Deployment"):
            component = dep["metadata"]["labels"]["app.kubernetes.io/component"]
            (container,) = dep["spec"]["template"]["spec"]["containers"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container[probe]["httpGet"]
                port = self.pod_ports[component][get["port"]]
                out.append((component, probe, f"http://127.0.0.1:{port}{get['path']}"))
        return out

    def service_port(self, service: str, port_name: str) -> int:
        svc = one(self.docs, "Service", service)
        component = svc["spec"]["selector"]["app.kubernetes.io/component"]
        target = next(p["targetPort"] for p in svc["spec"]["ports"] if p["name"] == port_name)
        return self.pod_ports[component][target]

    def logs_tail(self) -> str:
        return "\n".join(f"==> {c.name}\n{tail(c.log_path, 30)}" for c in self.children)

    def stop(self) -> None:
        for child in self.children:
            child.stop(10)


class IngressProxy(http.server.ThreadingHTTPServer):
    """Routes like ingress-nginx with use-regex (longest path first), then forwards to the backend port."""

    daemon_threads = True

    def __init__(self, cluster: Cluster, ingress: dict[str, Any]) -> None:
        self.routes = []
        for p in sorted(ingress["spec"]["rules"][0]["http"]["paths"], key=lambda p: len(p["path"]), reverse=True):
            backend = p["backend"]["service"]
            port = cluster.service_port(backend["name"], backend["port"]["name"])
            self.routes.append((re.compile(p["path"], re.IGNORECASE), port, backend["name"]))
        self.hits: dict[str, int] = {}
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    def backend(self, path: str) -> tuple[int, str]:
        for pattern, port, name in self.routes:
            if pattern.match(path):
                self.hits[name] = self.hits.get(name, 0) + 1
                return port, name
        raise LookupError(path)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: IngressProxy

    def _forward(self) -> None:
        port, _name = self.server.backend(urllib.parse.urlsplit(self.path).path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def cluster(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(stack, tmp_path_factory.mktemp("chart-run"))
    try:
        yield c
    finally:
        c.stop()


def _wait_ok(url: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=3, trust_env=False).status_code
            if status == 200:
                return status
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return status


SDK_SCRIPT = """
import runyard
with runyard.init(project="chart-run", config={"lr": 0.1}) as run:
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
    open("notes.txt", "w").write("logged through the chart")
    run.save("notes.txt", policy="now")
print("RUN", run.entity, run.id)
"""


def test_the_chart_drives_a_real_run(cluster: Cluster, tmp_path: Path) -> None:
    cluster.create_database_role()
    job = one(cluster.docs, "Job", f"{RELEASE}-migrate")
    out = cluster.run_to_completion("migration Job", job["spec"]["template"]["spec"]["containers"][0])
    assert re.search(r"applied [1-9]\d* migration", out), out
    cluster.start_deployments()
    assert set(cluster.pod_ports) == {"ingest", "query", "auth", "artifact", "wandb", "tensorboard", "transfers"}

    for component, probe, url in cluster.probes():
        assert _wait_ok(url) == 200, f"{component} {probe} {url}\n{cluster.logs_tail()}"

    proxy = IngressProxy(cluster, one(cluster.docs, "Ingress", f"{RELEASE}-http"))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    base = f"http://localhost:{proxy.server_address[1]}"  # the Ingress host of the kind values is localhost
    try:
        signup = httpx.post(f"{base}/api/v1/auth/signup", json={"username": "platform", "password": "platform-pw-1"},
                            timeout=30, trust_env=False)
        assert signup.status_code == 201, signup.text
        key = signup.json()["api_key"]
        info = httpx.get(f"{base}/api/v1/server-info", timeout=10, trust_env=False).json()
        assert info["ingest_address"] == f"localhost:{cluster.pod_ports['ingest']['grpc']}"
        assert info["ingest_tls"] is False

        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        env.update({"RUNYARD_BASE_URL": base, "RUNYARD_API_KEY": key, "RUNYARD_DIR": str(tmp_path),
                    "NO_PROXY": "*", "no_proxy": "*"})
        proc = subprocess.run([sys.executable, "-c", SDK_SCRIPT], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{cluster.logs_tail()}"
        entity, run_id = proc.stdout.split("RUN ")[1].split()

        headers = {"Authorization": f"Bearer {key}"}
        run = httpx.get(f"{base}/api/v1/runs/{entity}/chart-run/{run_id}", headers=headers, timeout=10, trust_env=False)
        assert run.status_code == 200 and run.json()["state"] == "finished", run.text
        history = httpx.get(f"{base}/api/v1/runs/{entity}/chart-run/{run_id}/history/full",
                            params={"keys": "loss"}, headers=headers, timeout=10, trust_env=False)
        assert history.status_code == 200, history.text
        assert "0.02" in history.text  # the last logged loss, 1/50
        files = httpx.get(f"{base}/api/v1/runs/{entity}/chart-run/{run_id}/files", headers=headers, timeout=10,
                          trust_env=False)
        assert files.status_code == 200 and "notes.txt" in files.text, f"{files.text}\n{proc.stderr}"
        tb = httpx.get(f"{base}/tensorboard/status/{entity}/chart-run/{run_id}", headers=headers, timeout=30,
                       trust_env=False)  # the TensorBoard component, through its Ingress route
        assert tb.status_code == 200 and tb.json()["event_files"] == 0, tb.text
        # the W&B protocol's Deployment, through the Ingress: it reaches auth (the viewer) and query (the
        # run) at their Services, and ingest (the file stream) at its Service address
        gql = {"query": "mutation { upsertBucket(input: {name: \"wb1\", modelName: \"chart-run\"}) "
                        "{ bucket { name project { entity { name } } } } }"}
        resp = httpx.post(f"{base}/graphql", json=gql, auth=("api", key), timeout=30, trust_env=False)
        assert resp.status_code == 200 and "errors" not in resp.json(), f"{resp.text}\n{cluster.logs_tail()}"
        assert resp.json()["data"]["upsertBucket"]["bucket"]["project"]["entity"]["name"] == entity
        stream = {"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": 0, "acc": 0.5}']}}}
        resp = httpx.post(f"{base}/files/{entity}/chart-run/wb1/file_stream", json=stream, auth=("api", key),
                          timeout=30, trust_env=False)
        assert resp.status_code == 200, f"{resp.text}\n{cluster.logs_tail()}"
        acc = httpx.get(f"{base}/api/v1/runs/{entity}/chart-run/wb1/history/full", params={"keys": "acc"},
                        headers=headers, timeout=10, trust_env=False)
        assert acc.status_code == 200 and "0.5" in acc.text, acc.text
        assert {"runyard-auth", "runyard-query", "runyard-artifact", "runyard-tensorboard", "runyard-wandb"} <= set(proxy.hits)
    finally:
        proxy.shutdown()
        proxy.server_close()

    gc = one(cluster.docs, "CronJob", f"{RELEASE}-gc")
    out = cluster.run_to_completion("gc CronJob", gc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
    assert "delet" in out.lower(), out
