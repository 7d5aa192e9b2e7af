#!/usr/bin/env bash
# `make e2e-kind`: the operator end to end on a throw-away kind cluster, for machines with kind and Docker
# (or Podman). `make test` never runs it. Steps: create the cluster (ingress-nginx on http://localhost),
# build and load both images, install charts/runyard-operator, apply operator/examples/kind.yaml, wait for
# Ready, log a run through the SDK at the instance URL and read it back, delete the instance, check that
# everything it owned is gone (retention Delete removes the bundled volumes too), delete the cluster.
#
#   make e2e-kind                 # KEEP=1 keeps the cluster afterwards; CLUSTER=name picks its name
#   INGRESS_NGINX_MANIFEST=...    # a mirror of kind's ingress-nginx manifest, for clusters without internet
set -euo pipefail

CLUSTER=${CLUSTER:-runyard-e2e}
KEEP=${KEEP:-0}
NS=runyard
OPERATOR_NS=runyard-system
INSTANCE=demo
INGRESS_NGINX_MANIFEST=${INGRESS_NGINX_MANIFEST:-https://kind.sigs.k8s.io/examples/ingress/deploy-ingress-nginx.yaml}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TAG=$(python3 -c "import re;print(re.search(r'^appVersion: \"(.+)\"',open('charts/runyard/Chart.yaml').read(),re.M).group(1))")
ENGINE=${ENGINE:-$(command -v docker >/dev/null 2>&1 && echo docker || echo podman)}
PIDS=()

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'e2e-kind FAILED: %s\n' "$*" >&2; exit 1; }
for tool in kind kubectl helm "$ENGINE" python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (kind: https://kind.sigs.k8s.io; make helm installs helm and kubectl)"
done

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then
    echo "KEEP=1: the cluster stays (kind delete cluster --name $CLUSTER)"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "kind cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --config charts/runyard/examples/kind-cluster.yaml --wait 180s
kubectl config use-context "kind-$CLUSTER" >/dev/null

step "ingress-nginx (kind's manifest)"
kubectl apply -f "$INGRESS_NGINX_MANIFEST"
kubectl -n ingress-nginx wait --for=condition=Ready pod -l app.kubernetes.io/component=controller --timeout=300s

step "images runyard/runyard-server:$TAG and runyard/runyard-operator:$TAG"
make image ENGINE="$ENGINE" TAG="$TAG"
make operator-image ENGINE="$ENGINE" TAG="$TAG"
kind load docker-image "runyard/runyard-server:$TAG" "runyard/runyard-operator:$TAG" --name "$CLUSTER"

step "operator chart (CRD, RBAC, one replica)"
helm install runyard-operator charts/runyard-operator -n "$OPERATOR_NS" --create-namespace \
  --set image.tag="$TAG" --set resyncSeconds=30 --set retrySeconds=5 --wait --timeout 5m
kubectl get crd trackerinstances.runyard.io >/dev/null

step "TrackerInstance $NS/$INSTANCE (operator/examples/kind.yaml)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f operator/examples/kind.yaml
if ! kubectl -n "$NS" wait "trackerinstance/$INSTANCE" --for=condition=Ready --timeout=900s; then
  kubectl -n "$NS" describe "trackerinstance/$INSTANCE" || true
  kubectl -n "$OPERATOR_NS" logs deploy/runyard-operator --tail=100 || true
  fail "the instance never became Ready"
fi
kubectl -n "$NS" get ti "$INSTANCE"
URL=$(kubectl -n "$NS" get ti "$INSTANCE" -o jsonpath='{.status.url}')
[ "$URL" = "http://localhost" ] || fail "status.url is $URL, expected http://localhost"

step "a run through the SDK at $URL"
KEY=$(kubectl -n "$NS" exec "deploy/$INSTANCE-runyard-auth" -- runyard-server admin --json create-user e2e --admin \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')
kubectl -n "$NS" port-forward "svc/$INSTANCE-runyard-ingest" 8081:8081 >/dev/null 2>&1 & PIDS+=($!)
kubectl -n "$NS" port-forward "svc/$INSTANCE-runyard-minio" 9000:9000 >/dev/null 2>&1 & PIDS+=($!)
sleep 3
WORK=$(mktemp -d)
RUNYARD_BASE_URL="$URL" RUNYARD_API_KEY="$KEY" RUNYARD_DIR="$WORK" python3 - <<'PY'
import runyard

with runyard.init(project="e2e-kind", config={"lr": 0.01}) as run:
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1)})
rows = list(runyard.Api().run(f"{run.entity}/e2e-kind/{run.id}").scan_history(keys=["loss"]))
assert len(rows) == 100, f"read back {len(rows)} rows"
print(f"logged and read back {len(rows)} rows of run {run.id}")
PY

step "delete the instance (retention Delete)"
kubectl -n "$NS" delete trackerinstance "$INSTANCE" --wait --timeout=300s
for i in $(seq 1 60); do
  left=$(kubectl -n "$NS" get deploy,statefulset,svc,ingress,secret,pvc -l "app.kubernetes.io/instance=$INSTANCE" -o name | wc -l)
  [ "$left" = 0 ] && break
  sleep 5
done
[ "$left" = 0 ] || { kubectl -n "$NS" get deploy,statefulset,svc,ingress,secret,pvc -l "app.kubernetes.io/instance=$INSTANCE"; fail "$left objects left"; }
echo "everything of $INSTANCE is gone"
printf '\ne2e-kind passed\n'
