"""charts/runyard rendered by the real helm over the values matrix, validated offline and inspected.

Each values set is rendered once per session (tests/chart/helm.py). The manifests are validated with
kubernetes-validate in strict mode for the oldest and newest Kubernetes the chart claims.
"""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runyard_server.artifact.app import is_artifact_path
from runyard_server.auth.app import ROUTE_PREFIXES, owns_path
from runyard_server.transfer_jobs import is_transfer_path
from runyard_server.wandb_compat import owns_path as wandb_owns_path

from .helm import CHART, MATRIX, find, one, pod_spec, render, run_helm, template_args

pytestmark = pytest.mark.chart

K8S_VERSIONS = ("1.28.0", "1.37.0")  # Chart.yaml kubeVersion >=1.28; the newest kubernetes-validate knows
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "HTTPRoute", "GRPCRoute"}
SECRET_SETTINGS = {"RUNYARD_DATABASE_URL", "RUNYARD_REDIS_URL", "RUNYARD_S3_ACCESS_KEY", "RUNYARD_S3_SECRET_KEY",
                   "RUNYARD_OIDC_CLIENT_SECRET"}


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(d, s) for d in docs if (s := pod_spec(d)) is not None]


def test_chart_metadata_claims_the_tested_versions() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.28.0-0"
    assert chart["annotations"]["runyard.io/tested-kubernetes-versions"] == "1.28, 1.37"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_lint_strict(name: str) -> None:
    args = template_args(name)[2:]  # chart path, namespace and values files
    run_helm("lint", "--strict", *args)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_manifests_validate_strictly(name: str) -> None:
    docs = render(name)
    assert docs, "nothing rendered"
    problems = []
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            assert doc["apiVersion"] in ("monitoring.coreos.com/v1", "gateway.networking.k8s.io/v1"), doc["apiVersion"]
            assert doc["metadata"]["name"] and doc["spec"]
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{version} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_container_is_unprivileged_with_resources_and_probes(name: str) -> None:
    docs = render(name)
    for doc, spec in workloads(docs):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["automountServiceAccountToken"] is False, where
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc.get("privileged") is False and sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"], where
            assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"], where
            assert c["resources"]["limits"]["memory"], where
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for c in spec["containers"]:
                assert "readinessProbe" in c and "livenessProbe" in c, f"{where} {c['name']} has no probes"


def _answers(command: str, path: str) -> bool:
    """Does the service behind `runyard-server <command>` have a route for `path` (any answer but 404)?"""
    if command == "ingest":  # a small asyncio HTTP side, not an ASGI app: its handler names each path
        from runyard_server.ingest import server

        return f'path == "{path}"' in open(server.__file__).read()
    from fastapi.testclient import TestClient

    from runyard_server.common.settings import load_settings

    settings = load_settings(database_url="postgresql://u:p@db.invalid:5432/x", s3_endpoint="http://s3.invalid:9000",
                             s3_access_key="k", s3_secret_key="s")
    if command == "query":
        from runyard_server.query.app import create_app as factory
    elif command == "auth":
        from runyard_server.auth.app import create_app as factory  # type: ignore[assignment]
    elif command == "artifact":
        from runyard_server.artifact.app import create_app as factory  # type: ignore[assignment]
    elif command == "wandb":
        from runyard_server.wandb_compat import WandbSettings
        from runyard_server.wandb_compat import create_app as create_wandb

        def factory(s: Any) -> Any:  # type: ignore[misc]
            return create_wandb(s, WandbSettings(api_url="http://runyard.invalid"))
    else:
        from runyard_server.local.frontdoor import create_app as factory  # type: ignore[assignment]
    client = TestClient(factory(settings), raise_server_exceptions=False)  # no lifespan: no database needed
    return client.get(path).status_code != 404


@pytest.mark.parametrize("name", ["defaults", "gateway-frontdoor"])
def test_probes_point_at_served_paths_and_named_ports(name: str) -> None:
    docs = render(name)
    for dep in find(docs, "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        command = c["command"][1]
        ports = {p["name"] for p in c["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = c[probe]["httpGet"]
            assert _answers(command, get["path"]), f"{dep['metadata']['name']} {probe}: {command} has no {get['path']}"
            assert get["port"] in ports
        assert not _answers(command, "/no-such-probe-path") or command == "query", "the check can fail"


def test_network_policy_present_when_cidrs_are_set() -> None:
    assert not find(render("defaults"), "NetworkPolicy")
    docs = render("networkpolicy")
    deny = one(docs, "NetworkPolicy", "runyard-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny["spec"]
    app = one(docs, "NetworkPolicy", "runyard-app")
    sources = app["spec"]["ingress"][0]["from"]
    assert {s["ipBlock"]["cidr"] for s in sources if "ipBlock" in s} == {"10.0.0.0/8", "192.168.10.0/24"}
    assert {s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in sources
            if "namespaceSelector" in s} == {"ingress-nginx", "monitoring"}
    egress_blocks = [t["ipBlock"]["cidr"] for rule in app["spec"]["egress"] for t in rule["to"] if "ipBlock" in t]
    assert egress_blocks == ["10.9.0.0/24"], "egress goes only to the listed OIDC range besides DNS and the stores"
    assert all("0.0.0.0/0" not in json.dumps(p) for p in find(docs, "NetworkPolicy"))
    pg = one(docs, "NetworkPolicy", "runyard-postgresql")
    assert pg["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "runyard", "app.kubernetes.io/instance": "runyard", "runyard.io/role": "app"}}}]
    # the W&B protocol's pods call ingest and the REST services: app pods reach each other on 8080/8081 only
    app_pods = {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "runyard", "app.kubernetes.io/instance": "runyard", "runyard.io/role": "app"}}}
    both = [{"port": 8080, "protocol": "TCP"}, {"port": 8081, "protocol": "TCP"}]
    assert {"from": [app_pods], "ports": both} in app["spec"]["ingress"]
    assert {"to": [app_pods], "ports": both} in app["spec"]["egress"]
    off = render("networkpolicy", {"wandb.enabled": "false"})
    assert {"from": [app_pods], "ports": both} not in one(off, "NetworkPolicy", "runyard-app")["spec"]["ingress"]
    eks = render("eks")
    assert one(eks, "NetworkPolicy", "runyard-app")["spec"]["ingress"][0]["from"][0] == {"ipBlock": {"cidr": "10.20.0.0/16"}}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_no_secret_values_in_config_maps(name: str) -> None:
    docs = render(name)
    secret_values = {v for s in find(docs, "Secret") for v in s.get("stringData", {}).values() if len(v) >= 8}
    for cm in find(docs, "ConfigMap"):
        for key, value in cm["data"].items():
            assert key not in SECRET_SETTINGS, f"{cm['metadata']['name']} holds {key}"
            assert not re.search(r"://[^/@\s]*:[^/@\s]+@", value), f"{key} holds credentials"
            assert not any(s in value for s in secret_values), f"{key} holds a Secret's value"
    for _doc, spec in workloads(docs):
        for c in containers(spec):
            for env in c.get("env", []):
                if env["name"] in SECRET_SETTINGS:
                    assert "secretKeyRef" in env.get("valueFrom", {}), f"{env['name']} is not a Secret reference"


def test_migration_hook_runs_before_the_services() -> None:
    external = render("external")
    job = one(external, "Job", "runyard-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    spec = job["spec"]["template"]["spec"]
    # nothing the release creates exists at pre-install: no chart ConfigMap, no chart ServiceAccount
    assert "envFrom" not in spec["containers"][0] and "serviceAccountName" not in spec
    assert spec["containers"][0]["command"] == ["runyard-server", "migrate"]
    assert all("initContainers" not in d["spec"]["template"]["spec"] for d in find(external, "Deployment"))
    bundled = render("defaults")
    assert one(bundled, "Job", "runyard-migrate")["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    for dep in find(bundled, "Deployment"):
        init = dep["spec"]["template"]["spec"]["initContainers"]
        assert [c["command"] for c in init] == [["runyard-server", "migrate"]], dep["metadata"]["name"]
    cron = one(bundled, "CronJob", "runyard-gc")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["containers"][0]["command"] == ["runyard-server", "gc"]  # type: ignore[index]


def test_config_change_rolls_the_pods() -> None:
    def checksums(docs: list[dict[str, Any]]) -> set[str]:
        return {d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for d in find(docs, "Deployment")}

    before, after = checksums(render("defaults")), checksums(render("defaults", {"logLevel": "DEBUG"}))
    assert len(before) == 1 and len(after) == 1 and before != after


def _ingress_route(ingress: dict[str, Any], path: str) -> str:
    """ingress-nginx with use-regex: case-insensitive regex locations, longest path first."""
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    for p in sorted(paths, key=lambda p: len(p["path"]), reverse=True):
        if re.match(p["path"], path, re.IGNORECASE):
            return str(p["backend"]["service"]["name"]).removeprefix("runyard-")
    raise AssertionError(f"no Ingress path matches {path}")


def test_ingress_routes_every_path_where_the_front_door_would() -> None:
    docs = render("defaults")
    http = one(docs, "Ingress", "runyard-http")
    assert http["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    auth_paths = {p["path"].removesuffix("(/|$)") for p in http["spec"]["rules"][0]["http"]["paths"]
                  if p["backend"]["service"]["name"] == "runyard-auth"}
    assert auth_paths == set(ROUTE_PREFIXES)
    samples = [
        "/", "/projects/alice/mnist", "/api/v1/server-info", "/api/v1/projects/alice/mnist/runs",
        "/api/v1/projects/alice/mnist/events", "/api/v1/runs/alice/mnist/r1", "/api/v1/runs/alice/mnist/r1/history",
        "/api/v1/runs/alice/mnist/r1/files", "/api/v1/runs/alice/mnist/r1/files/config.yaml",
        "/api/v1/runs/alice/mnist/r1/artifacts", "/api/v1/artifacts/_uploads/u1/complete",
        "/api/v1/artifacts/alice/mnist/model/v1", "/api/v1/auth/signup", "/api/v1/auth/oidc/callback",
        "/api/v1/viewer", "/api/v1/teams/vision/members", "/api/v1/entities/alice", "/api/v1/admin/users",
        "/api/v1/authors", "/api/v1/runs/alice/mnist/r1/output",
        # the W&B client protocol
        "/graphql", "/files/alice/mnist/r1/file_stream", "/files/alice/mnist/r1/media/images/a.png",
        "/files/_wandb/manifests/t0k3n", "/graphqlx", "/alice/files",
        # copy jobs (before auth: /api/v1/admin/remotes)
        "/api/v1/transfers", "/api/v1/transfers/alice/mnist/3/cancel", "/api/v1/admin/remotes/company/check",
        "/api/v1/admin/remotesx",
    ]
    for path in samples:
        expected = ("transfers" if is_transfer_path(path) else "auth" if owns_path(path) else "artifact" if is_artifact_path(path)
                    else "wandb" if wandb_owns_path(path) else "query")
        assert _ingress_route(http, path) == expected, path
    grpc = one(docs, "Ingress", "runyard-grpc")
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert next(p["path"] for p in grpc["spec"]["rules"][0]["http"]["paths"]) == "/runyard.v1.Ingest"
    ingest = one(docs, "Service", "runyard-ingest")
    assert {p["name"]: p["appProtocol"] for p in ingest["spec"]["ports"]}["grpc"] == "kubernetes.io/h2c"


def test_alb_and_gateway_routes() -> None:
    eks = render("eks")
    http = one(eks, "Ingress", "runyard-http")
    ann = http["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internal" and ann["external-dns.alpha.kubernetes.io/hostname"]
    paths = [(p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in http["spec"]["rules"][0]["http"]["paths"]]
    assert ("/api/v1/runs/*/*/*/files*", "ImplementationSpecific", "runyard-artifact") in paths
    assert paths[-1] == ("/", "Prefix", "runyard-query"), "the catch-all comes last (ALB keeps the listed order)"
    assert one(eks, "Ingress", "runyard-grpc")["metadata"]["annotations"][
        "alb.ingress.kubernetes.io/backend-protocol-version"] == "GRPC"
    gw = render("gateway-frontdoor")
    route = one(gw, "HTTPRoute", "runyard")
    assert [r["backendRefs"][0]["name"] for r in route["spec"]["rules"]] == ["runyard-frontdoor"]
    grpc = one(gw, "GRPCRoute", "runyard-ingest")
    assert grpc["spec"]["rules"][0]["matches"][0]["method"]["service"] == "runyard.v1.Ingest"
    gce = one(gw, "Ingress", "runyard-http")
    assert [p["pathType"] for p in gce["spec"]["rules"][0]["http"]["paths"]] == ["Prefix"]
    assert not find(gw, "Deployment", "runyard-query")


def test_public_ingest_address_and_identity() -> None:
    def config(docs: list[dict[str, Any]]) -> dict[str, str]:
        return one(docs, "ConfigMap", "runyard-config")["data"]  # type: ignore[no-any-return]

    eks = render("eks")
    assert config(eks)["RUNYARD_PUBLIC_INGEST_ADDRESS"] == "runyard.ml.internal:443"
    assert config(eks)["RUNYARD_PUBLIC_INGEST_TLS"] == "true"
    assert config(eks)["RUNYARD_S3_CREDENTIALS"] == "environment"
    sa = one(eks, "ServiceAccount", "runyard")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    artifact_env = {e["name"] for e in one(eks, "Deployment", "runyard-artifact")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "RUNYARD_S3_ACCESS_KEY" not in artifact_env, "IRSA: no static keys"
    gke = render("gke")
    assert one(gke, "ServiceAccount", "runyard")["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert config(render("kind"))["RUNYARD_PUBLIC_INGEST_ADDRESS"] == ""  # the REST host, port 8081
    ext = render("external")
    assert config(ext)["RUNYARD_PUBLIC_INGEST_ADDRESS"] == "ingest.ml.internal:8081"
    svc = one(ext, "Service", "runyard-ingest")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == "ingest.ml.internal"
    assert config(ext)["RUNYARD_MAX_BATCH_RECORDS"] == "5000"
    assert one(ext, "ConfigMap", "runyard-config")["data"]["RUNYARD_OIDC_REDIRECT_URL"] == \
        "https://runyard.ml.internal/api/v1/auth/oidc/callback"


def test_autoscaling_disruption_budgets_and_image() -> None:
    defaults = render("defaults")
    assert {h["metadata"]["name"] for h in find(defaults, "HorizontalPodAutoscaler")} == {"runyard-ingest", "runyard-query"}
    assert {p["metadata"]["name"] for p in find(defaults, "PodDisruptionBudget")} == {
        "runyard-ingest", "runyard-query", "runyard-auth", "runyard-artifact", "runyard-wandb"}
    assert "replicas" not in one(defaults, "Deployment", "runyard-ingest")["spec"]
    spread = one(defaults, "Deployment", "runyard-query")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [s["topologyKey"] for s in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    off = render("hpa-off")
    assert not find(off, "HorizontalPodAutoscaler")
    assert one(off, "Deployment", "runyard-ingest")["spec"]["replicas"] == 3
    images = {c["image"] for _d, s in workloads(off) for c in containers(s) if "runyard-server" in c["image"]}
    assert images == {"runyard/runyard-server@sha256:" + "0123456789abcdef" * 4}
    kind = render("kind")
    assert not find(kind, "PodDisruptionBudget", "runyard-ingest"), "one replica: a PDB would block node drains"


def test_monitoring_objects() -> None:
    docs = render("networkpolicy")
    monitors = find(docs, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {
        f"runyard-{c}" for c in ("ingest", "query", "auth", "artifact", "wandb", "tensorboard")}
    for m in monitors:
        ep = m["spec"]["endpoints"][0]
        assert ep["port"] == "metrics"  # /metrics only on the internal port (404 on the service port)
        assert ep["relabelings"][0]["replacement"] == m["metadata"]["name"]  # job=runyard-<component>
    dash = one(docs, "ConfigMap", "runyard-dashboard")
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dash["data"]["runyard.json"]) == json.loads((CHART / "dashboards" / "runyard.json").read_text())
    rules = one(docs, "PrometheusRule", "runyard")
    assert {r["alert"] for r in rules["spec"]["groups"][0]["rules"]} == {
        "RunyardIngestErrors", "RunyardIngestCommitSlow", "RunyardHttp5xx", "RunyardTargetDown",
        "RunyardPodsNotReady", "RunyardMigrationFailed"}


@pytest.mark.parametrize(("sets", "expected"), [
    ({"ingest.replicaz": "3"}, "at '/ingest': additional properties 'replicaz' not allowed"),
    ({"postgresql.bundled.enabled": "false"}, "postgresql.external.existingSecret: name the Secret"),
    ({"bucket.bundled.enabled": "false", "bucket.external.endpoint": "https://s3.example"},
     "bucket.external.existingSecret: name the Secret"),
    ({"auth.oidc.issuer": "https://sso.example"}, "auth.oidc.existingSecret: name the Secret"),
    ({"postgresql.bundled.replicas": "2"}, "at '/postgresql/bundled/replicas': maximum: got 2, want 1"),
    ({"minio": "x"}, "additional properties 'minio' not allowed"),
    ({"hostname": "changeme"}, "hostname: still holds the placeholder"),
    ({"config.RUNYARD_S3_SECRET_KEY": "abc"}, "config.RUNYARD_S3_SECRET_KEY: a secret never goes into values"),
    ({"frontdoor.enabled": "true", "query.enabled": "false", "auth.enabled": "false", "artifact.enabled": "false"},
     "frontdoor.enabled: the front door serves query, auth, artifact and the W&B protocol itself; "
     "set wandb.enabled=false"),
])
def test_bad_values_fail_at_install_time_with_a_clear_message(sets: dict[str, str], expected: str) -> None:
    args = template_args("defaults", sets)
    proc = run_helm(*args, check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr


def test_validate_values_reports_every_problem_at_once() -> None:
    proc = run_helm(*template_args("defaults", {
        "postgresql.bundled.enabled": "false", "redis.bundled.enabled": "false", "bucket.bundled.enabled": "false",
        "tls.enabled": "false"}), check=False)
    assert "(5 problem(s))" in proc.stderr, proc.stderr
    for key in ("postgresql.external.existingSecret", "redis.external", "bucket.external.endpoint",
                "bucket.external.existingSecret", "ingress.grpc.enabled"):
        assert f"  - {key}" in proc.stderr


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    out = {}
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out[path] = sub
        out.update(_schema_paths(sub, path))
    return out


def test_schema_covers_and_describes_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    known = _schema_paths(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict):
            return
        for key, sub in node.items():
            path = f"{prefix}.{key}" if prefix else key
            parent = known.get(prefix, schema) if prefix else schema
            if "properties" in parent:
                assert path in known, f"values.yaml key {path} is missing from values.schema.json"
                if "properties" not in known[path]:  # a leaf (or free-form map) is described
                    assert known[path].get("description"), f"{path} has no `# --` comment in values.yaml"
                walk(sub, path)

    walk(values, "")
    for path, sub in known.items():
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{path} accepts unknown keys"
