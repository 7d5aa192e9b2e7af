"""The real kopf runtime (runyard_operator.main's handlers in `kopf.operator(...)`) against the emulated
Kubernetes API (cluster.py). The tests play the controllers: they mark Deployments rolled out and Jobs
complete, then check what the operator applied, in which order, and the status it wrote."""

from __future__ import annotations

import base64
from typing import Any

import kmock
import pytest

from runyard_operator import metrics

from .cluster import TI, all_of, condition, instance, live, mark_job, mark_rolled_out, until
from .conftest import Operator

pytestmark = pytest.mark.operator

NS = "ml-vision"
DEPLOYMENTS = "apps/v1/deployments"
JOBS = "batch/v1/jobs"


def _image(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_create_becomes_ready_with_owned_objects_and_status(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    progressing = await until(lambda: condition(operator.get("vision"), "Progressing").get("status") == "True"
                              and operator.get("vision"), "Progressing while the pods start")
    assert condition(progressing, "Ready")["status"] == "False"
    assert condition(progressing, "Ready")["reason"] == "RollingOut"
    assert "ingest: " in condition(progressing, "Progressing")["message"]

    body = await operator.ready("vision")
    status = body["status"]
    assert status["url"] == "https://runyard-vision.ml.internal"
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert set(status["components"]) == {"ingest", "query", "auth", "artifact", "wandb", "tensorboard", "transfers",
                                         "postgresql", "redis", "minio"}
    assert all(c["ready"] == c["desired"] == 1 for c in status["components"].values())
    assert condition(body, "Degraded")["status"] == "False"
    assert condition(body, "Progressing")["status"] == "False"
    assert status["migration"]["version"] == "0.1.0"  # the bundled database: the init container migrated
    assert "runyard.io/finalizer" in body["metadata"]["finalizers"]

    uid = body["metadata"]["uid"]
    deployments = all_of(operator.cluster, DEPLOYMENTS, NS)
    assert set(deployments) == {f"vision-runyard-{c}" for c in ("ingest", "query", "auth", "artifact", "wandb", "tensorboard", "transfers")}
    for obj in deployments.values():
        assert obj["metadata"]["ownerReferences"] == [{
            "apiVersion": "runyard.io/v1alpha1", "kind": "TrackerInstance", "name": "vision", "uid": uid,
            "controller": True, "blockOwnerDeletion": True}]
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "runyard-operator"
        assert _image(obj) == "runyard/runyard-server:0.1.0"
    # the migration hook is pre-upgrade only with the bundled database: no Job on install
    assert not all_of(operator.cluster, JOBS, NS)
    # every write is a server-side apply with the operator's field manager, except the generated credentials
    patches = [r for r in list(operator.cluster) if r.method == "PATCH" and "/deployments/" in str(r.url)]
    assert patches and all(r.headers["Content-Type"] == "application/apply-patch+yaml" for r in patches)
    assert all(r.params == {"fieldManager": "runyard-operator", "force": "true"} for r in patches)
    secret = live(operator.cluster, "v1/secrets", NS, "vision-runyard-postgresql")
    assert secret is not None and len(secret["stringData"]["password"]) == 32
    creates = [r for r in list(operator.cluster) if r.method == "POST" and "/secrets" in str(r.url)]
    assert {r.params["fieldManager"] for r in creates} == {"runyard-operator-credentials"}


async def test_a_workload_deleted_during_the_rollout_is_applied_again(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await until(lambda: len(all_of(operator.cluster, DEPLOYMENTS, NS)) >= 5, "the Deployments")
    resp = await operator.cluster.delete(f"/apis/apps/v1/namespaces/{NS}/deployments/vision-runyard-query")
    assert resp.status == 200
    await until(lambda: live(operator.cluster, DEPLOYMENTS, NS, "vision-runyard-query"), "query applied again")
    await operator.ready("vision")


async def test_generated_credentials_survive_reconciles(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    before = live(operator.cluster, "v1/secrets", NS, "vision-runyard-postgresql")
    await operator.patch_spec("vision", {"size": "medium"})
    await until(lambda: live(operator.cluster, DEPLOYMENTS, NS, "vision-runyard-auth")["spec"].get("replicas") == 2,
                "the medium preset applied")
    mark_rolled_out(operator.cluster, NS)
    await until(lambda: condition(operator.get("vision"), "Ready").get("status") == "True", "Ready again")
    assert live(operator.cluster, "v1/secrets", NS, "vision-runyard-postgresql") == before


async def test_upgrade_runs_the_migration_job_before_rolling_the_services(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    applies_before = len(list(operator.cluster))

    await operator.patch_spec("vision", {"version": "0.2.0"})
    job = await until(lambda: live(operator.cluster, JOBS, NS, "vision-runyard-migrate"), "the migration Job")
    assert _image(job) == "runyard/runyard-server:0.2.0"
    assert job["metadata"]["ownerReferences"][0]["name"] == "vision"
    # while the Job runs, nothing rolls: the Deployments keep the old image through several retries
    await until(lambda: condition(operator.get("vision"), "Progressing").get("reason") == "Migrating", "Migrating")
    retries = len([r for r in list(operator.cluster) if r.method == "GET" and "/jobs/" in str(r.url)])
    await until(lambda: len([r for r in list(operator.cluster) if r.method == "GET" and "/jobs/" in str(r.url)])
                >= retries + 3, "a few more checks of the Job")
    for obj in all_of(operator.cluster, DEPLOYMENTS, NS).values():
        assert _image(obj) == "runyard/runyard-server:0.1.0", obj["metadata"]["name"]
    body = operator.get("vision")
    assert condition(body, "Ready")["status"] == "False" and body["status"]["version"] == "0.1.0"

    mark_job(operator.cluster, NS, "vision-runyard-migrate")
    await until(lambda: all(_image(o) == "runyard/runyard-server:0.2.0"
                            for o in all_of(operator.cluster, DEPLOYMENTS, NS).values()), "the services rolled")
    body = await operator.ready("vision", "0.2.0")
    assert body["status"]["migration"]["version"] == "0.2.0"
    assert body["status"]["migration"]["job"] == "vision-runyard-migrate"

    # order on the wire: the Job was created before any Deployment got the new image
    later = list(operator.cluster)[applies_before:]
    job_at = next(i for i, r in enumerate(later) if r.method == "PATCH" and r.url.path.endswith("/jobs/vision-runyard-migrate"))
    first_roll = next(i for i, r in enumerate(later) if r.method == "PATCH" and "/deployments/" in r.url.path
                      and "0.2.0" in r.text)
    assert job_at < first_roll


async def test_failed_migration_is_degraded_and_nothing_rolls(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    await operator.patch_spec("vision", {"version": "0.2.0"})
    await until(lambda: live(operator.cluster, JOBS, NS, "vision-runyard-migrate"), "the migration Job")
    mark_job(operator.cluster, NS, "vision-runyard-migrate", failed=True)
    body = await until(lambda: (b := operator.get("vision")) and condition(b, "Degraded").get("status") == "True"
                       and b, "Degraded")
    degraded = condition(body, "Degraded")
    assert degraded["reason"] == "MigrationFailed"
    assert "kubectl -n ml-vision logs job/vision-runyard-migrate" in degraded["message"]
    assert all(_image(o).endswith(":0.1.0") for o in all_of(operator.cluster, DEPLOYMENTS, NS).values())


async def test_downgrade_below_the_migrated_schema_is_refused(operator: Operator) -> None:
    await operator.create(instance("vision", NS, version="0.2.0"))
    await operator.ready("vision", "0.2.0")
    await operator.patch_spec("vision", {"version": "0.1.0"})
    body = await until(lambda: (b := operator.get("vision")) and condition(b, "Degraded").get("reason")
                       == "DowngradeRefused" and b, "DowngradeRefused")
    assert "allowDowngrade" in condition(body, "Degraded")["message"]
    assert all(_image(o).endswith(":0.2.0") for o in all_of(operator.cluster, DEPLOYMENTS, NS).values())
    await operator.patch_spec("vision", {"allowDowngrade": True})
    await until(lambda: all(_image(o).endswith(":0.1.0") for o in all_of(operator.cluster, DEPLOYMENTS, NS).values()),
                "the acknowledged downgrade rolled")
    assert not all_of(operator.cluster, JOBS, NS), "an older image's migration never runs"


def _pvc(name: str, component: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"data-vision-runyard-{component}-0", "namespace": NS, "labels": {
                "app.kubernetes.io/name": "runyard", "app.kubernetes.io/instance": name,
                "app.kubernetes.io/component": component}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}}}


@pytest.mark.parametrize("retention", ["Retain", "Delete"])
async def test_delete_honours_retention(operator: Operator, retention: str) -> None:
    await operator.create(instance("vision", NS, retention=retention))
    body = await operator.ready("vision")
    uid = body["metadata"]["uid"]
    # the StatefulSet controller's volume claims, and an unrelated claim of the namespace
    for component in ("postgresql", "redis", "minio"):
        operator.cluster.objects["v1/persistentvolumeclaims", NS, f"data-vision-runyard-{component}-0"] = \
            _pvc("vision", component)
    operator.cluster.objects["v1/persistentvolumeclaims", NS, "notebooks"] = {
        **_pvc("other", "postgresql"), "metadata": {"name": "notebooks", "namespace": NS, "labels": {}}}

    await operator.delete("vision")
    await until(lambda: operator.get("vision") is None, "the finalizer to let the instance go")
    claims = set(all_of(operator.cluster, "v1/persistentvolumeclaims", NS))
    store_secrets = {f"vision-runyard-{c}" for c in ("postgresql", "redis", "minio")}
    secrets = all_of(operator.cluster, "v1/secrets", NS)
    if retention == "Delete":
        assert claims == {"notebooks"}
        assert not store_secrets & set(secrets)
    else:
        assert claims == {"notebooks", *(f"data-vision-runyard-{c}-0" for c in ("postgresql", "redis", "minio"))}
        for name in store_secrets:
            refs = secrets[name]["metadata"].get("ownerReferences") or []
            assert not [r for r in refs if r["uid"] == uid], f"{name} would be garbage-collected"


async def test_retained_credentials_are_adopted_by_a_new_instance(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    password = live(operator.cluster, "v1/secrets", NS, "vision-runyard-postgresql")["stringData"]["password"]
    await operator.delete("vision")
    await until(lambda: operator.get("vision") is None, "deleted")
    # garbage collection of what the old instance owned (the emulator has no collector)
    for name in list(all_of(operator.cluster, DEPLOYMENTS, NS)):
        del operator.cluster.objects[DEPLOYMENTS, NS, name]

    await operator.create(instance("vision", NS))
    body = await operator.ready("vision")
    secret = live(operator.cluster, "v1/secrets", NS, "vision-runyard-postgresql")
    assert secret["stringData"]["password"] == password
    assert [r["uid"] for r in secret["metadata"]["ownerReferences"]] == [body["metadata"]["uid"]]


async def test_missing_secret_is_degraded_then_recovers_when_created(operator: Operator) -> None:
    spec = {"database": {"secretRef": {"name": "vision-db"}}}
    await operator.create(instance("vision", NS, **spec))
    body = await until(lambda: (b := operator.get("vision")) and condition(b, "Degraded").get("status") == "True"
                       and b, "Degraded")
    degraded = condition(body, "Degraded")
    assert degraded["reason"] == "SecretMissing"
    assert degraded["message"].startswith("spec.database.secretRef: Secret ml-vision/vision-db does not exist")
    assert "--from-literal=database-url=" in degraded["message"]
    assert condition(body, "Ready")["status"] == "False"
    assert body["status"]["observedGeneration"] == 1
    assert not all_of(operator.cluster, DEPLOYMENTS, NS), "nothing is half-applied"

    dsn = base64.b64encode(b"postgresql://runyard:pw@db.internal:5432/runyard").decode()
    operator.cluster.objects["v1/secrets", NS, "vision-db"] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vision-db", "namespace": NS},
        "data": {"database-url": dsn}}
    # the drift timer notices; the external database has a pre-install migration Job
    await until(lambda: live(operator.cluster, JOBS, NS, "vision-runyard-migrate"), "the pre-install migration Job")
    assert not all_of(operator.cluster, DEPLOYMENTS, NS), "the services wait for the migration"
    mark_job(operator.cluster, NS, "vision-runyard-migrate")
    body = await operator.ready("vision")
    assert condition(body, "Degraded")["status"] == "False"


@pytest.mark.parametrize(("spec", "reason", "message"), [
    ({"size": "huge"}, "InvalidSpec", "spec.size: 'huge' is not one of ['small', 'medium', 'large']"),
    ({"hostname": "runyard-vision.ml.internal"}, "HostnameClash",
     "spec.hostname: runyard-vision.ml.internal is already served by TrackerInstance ml-vision/vision"),
    ({"exposure": {"type": "Ingress"}, "allowedCIDRs": ["10.0.0.0/8"], "database": {"secretRef": {"name": "db"}}},
     "RenderFailed", "spec.egressCIDRs.database.cidrs: list the address ranges of your PostgreSQL"),
])
async def test_invalid_spec_is_degraded_with_the_message(operator: Operator, spec: dict[str, Any], reason: str,
                                                         message: str) -> None:
    operator.cluster.objects["v1/secrets", NS, "db"] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": NS},
        "data": {"database-url": base64.b64encode(b"postgresql://u:p@h:5432/d").decode()}}
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    # "work" sorts after "vision": created within the same second (creationTimestamp has whole seconds), the
    # operator gives the hostname to the first by name, so "vision" must keep it whatever the timing
    await operator.create(instance("work", NS, **spec))
    body = await until(lambda: (b := operator.get("work")) and condition(b, "Degraded").get("status") == "True"
                       and b, "Degraded")
    assert condition(body, "Degraded")["reason"] == reason
    assert message in condition(body, "Degraded")["message"]
    assert not [n for n in all_of(operator.cluster, DEPLOYMENTS, NS) if n.startswith("work-")]
    assert condition(operator.get("vision"), "Ready")["status"] == "True", "the other instance is untouched"


async def test_transient_api_error_is_retried(operator: Operator) -> None:
    errors_before = metrics.ERRORS.labels("api")._value.get()
    failing = operator.cluster[kmock.action.UPDATE, kmock.resource("apps/v1/deployments")][:2] << 503 << {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503, "reason": "ServiceUnavailable",
        "message": "etcdserver: leader changed"}
    await operator.create(instance("vision", NS))
    body = await operator.ready("vision")
    history = operator.cluster.objects[TI, NS, "vision"].history
    retried = [v for v in history if v and condition(dict(v), "Progressing").get("reason") == "ApiError"]
    assert retried and "etcdserver: leader changed" in condition(dict(retried[0]), "Progressing")["message"]
    assert len(failing) == 2
    assert metrics.ERRORS.labels("api")._value.get() >= errors_before + 2
    assert condition(body, "Degraded")["status"] == "False"


async def test_drift_is_corrected_by_the_timer(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    # someone edits a managed object by hand
    resp = await operator.cluster.patch(f"/apis/apps/v1/namespaces/{NS}/deployments/vision-runyard-query",
                                        json={"spec": {"replicas": 7}},
                                        headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200
    await until(lambda: live(operator.cluster, DEPLOYMENTS, NS, "vision-runyard-query")["spec"]["replicas"] == 1,
                "the timer to re-apply the Deployment")


async def test_paused_applies_nothing(operator: Operator) -> None:
    await operator.create(instance("vision", NS))
    await operator.ready("vision")
    await operator.patch_spec("vision", {"paused": True, "version": "0.2.0"})
    body = await until(lambda: (b := operator.get("vision")) and condition(b, "Progressing").get("reason") == "Paused"
                       and b, "Paused")
    assert condition(body, "Ready")["status"] == "True", "a paused instance keeps serving"
    requests = len(list(operator.cluster))
    await until(lambda: len(list(operator.cluster)) > requests + 3, "a few timer ticks", timeout=5)
    assert not all_of(operator.cluster, JOBS, NS)
    assert all(_image(o).endswith(":0.1.0") for o in all_of(operator.cluster, DEPLOYMENTS, NS).values())
