"""Render charts/runyard with the real helm (installed by `make helm` into .tools/bin), once per values set.

    docs = render("kind")                       # examples/kind.yaml or tests/chart/values/<name>.yaml
    docs = render("defaults", sets={"a.b": "1"})
    find(docs, "Deployment", "runyard-query")
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "runyard"
VALUES = Path(__file__).resolve().parent / "values"
RELEASE = "runyard"
NAMESPACE = "runyard"

# name -> values files; "defaults" is the chart as shipped
MATRIX: dict[str, list[Path]] = {
    "defaults": [],
    "eks": [CHART / "examples" / "eks.yaml"],
    "gke": [CHART / "examples" / "gke.yaml"],
    "kind": [CHART / "examples" / "kind.yaml"],
    "external": [VALUES / "external.yaml"],
    "hpa-off": [VALUES / "hpa-off.yaml"],
    "networkpolicy": [VALUES / "networkpolicy.yaml"],
    "gateway-frontdoor": [VALUES / "gateway-frontdoor.yaml"],
}


def helm_binary() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError("helm is not installed: run `make helm` (it installs helm 4 into .tools/bin)")
    return found


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def template_args(name: str, sets: dict[str, str] | None = None) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for path in MATRIX[name]:
        args += ["-f", str(path)]
    for key, value in (sets or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


@functools.cache
def _render(name: str, sets: tuple[tuple[str, str], ...]) -> tuple[dict[str, Any], ...]:
    out = run_helm(*template_args(name, dict(sets))).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def render(name: str, sets: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rendered objects (cached per values set for the session)."""
    return list(_render(name, tuple(sorted((sets or {}).items()))))


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}: {[d['metadata']['name'] for d in find(docs, kind)]}"
    return found[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template spec of a workload (Deployment, StatefulSet, Job, CronJob), else None."""
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "Job"):
        return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return None
