"""spec -> the manifests of one instance, rendered by charts/runyard (the single source of manifests).

    rendered = render(spec, name="vision", namespace="ml-vision", chart=..., helm=...)
    rendered.stage("base"), rendered.hooks, rendered.objects

`helm template` turns the values (values.py) into objects; nothing here talks to a cluster. Helm hooks
(the migration Job) are returned apart, with the events they run on, so the operator can run them first
(reconcile.py). Every object gets its namespace, `app.kubernetes.io/managed-by: runyard-operator` (the
operator finds and prunes its objects by it) and loses Helm's hook and resource-policy annotations,
which mean nothing outside Helm. Owner references are added when applying (they need the live uid).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError
from .kinds import STAGES, kind_of
from .values import CHART_TO_SPEC, to_values

__all__ = ["MANAGED_BY", "Hook", "Rendered", "helm_args", "parse_manifests", "render", "render_async"]

MANAGED_BY = "runyard-operator"
_HELM_ANNOTATIONS = re.compile(r"^helm\.sh/(hook|hook-weight|hook-delete-policy|resource-policy)$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~7x faster on a render
# helm's output per (values, release, namespace, chart, helm): the timer re-renders every instance on
# every pass, and the same values always render the same objects (the random passwords of the bundled
# stores differ, but those Secrets are only ever created once; see handlers/apply.py)
_CACHE: OrderedDict[str, str] = OrderedDict()
_CACHE_SIZE = 256


@dataclass(frozen=True)
class Hook:
    """A Helm hook of the chart (the migration Job) and the events it runs on (pre-install, pre-upgrade)."""

    obj: dict[str, Any]
    events: frozenset[str]


@dataclass(frozen=True)
class Rendered:
    objects: list[dict[str, Any]]
    hooks: list[Hook] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str) -> list[dict[str, Any]]:
        """The objects of one apply stage (kinds.STAGES), in rendering order."""
        return [o for o in self.objects if kind_of(o).stage == name]

    def find(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def helm_args(helm: str, chart: Path, release: str, namespace: str) -> list[str]:
    """`helm template`, the values (JSON) on standard input."""
    return [helm, "template", release, str(chart), "--namespace", namespace, "--values", "-"]


def parse_manifests(text: str, *, name: str, namespace: str, values: dict[str, Any]) -> Rendered:
    """`helm template` output -> Rendered (objects split from hooks, labelled, namespaced)."""
    objects: list[dict[str, Any]] = []
    hooks: list[Hook] = []
    for doc in yaml.load_all(text, Loader=_Loader):
        if not doc:
            continue
        info = kind_of(doc)  # a kind the operator cannot apply fails here, loudly
        meta = doc.setdefault("metadata", {})
        if info.namespaced:
            meta["namespace"] = namespace
        meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = MANAGED_BY
        meta["labels"]["app.kubernetes.io/instance"] = name
        annotations = meta.get("annotations", {})
        events = frozenset(e.strip() for e in annotations.get("helm.sh/hook", "").split(",") if e.strip())
        for key in [k for k in annotations if _HELM_ANNOTATIONS.match(k)]:
            del annotations[key]
        if not annotations:
            meta.pop("annotations", None)
        if events:
            hooks.append(Hook(doc, events))
        else:
            objects.append(doc)
    order = {stage: i for i, stage in enumerate(STAGES)}
    objects.sort(key=lambda o: order[kind_of(o).stage])  # stable: rendering order within a stage
    return Rendered(objects, hooks, values)


def _chart_error(stderr: str) -> SpecError:
    """helm's refusal as a SpecError naming the spec fields (validateValues names chart values)."""
    lines = [ln.strip(" -") for ln in stderr.splitlines() if ln.strip(" -")]
    problems = [ln for ln in lines if not ln.startswith(("Error:", "Invalid values for"))] or lines
    out = []
    for line in problems:
        for chart_path, spec_path in CHART_TO_SPEC:
            if line.startswith(chart_path):
                line = spec_path + line[len(chart_path):]
                break
        out.append(line)
    return SpecError("the runyard chart refused this spec: " + "; ".join(out), reason="RenderFailed")


def render(spec: dict[str, Any], *, name: str, namespace: str, chart: Path, helm: str,
           timeout: float = 60.0) -> Rendered:
    """Render the instance (blocking; for tests and the `runyard-operator render` command)."""
    values = to_values(spec)
    proc = subprocess.run(helm_args(helm, chart, name, namespace), input=json.dumps(values), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise _chart_error(proc.stderr)
    return parse_manifests(proc.stdout, name=name, namespace=namespace, values=values)


async def render_async(spec: dict[str, Any], *, name: str, namespace: str, chart: Path, helm: str,
                       timeout: float = 60.0) -> Rendered:
    """Render the instance without blocking the event loop (the handlers); helm runs once per distinct
    set of values."""
    values = to_values(spec)
    key = json.dumps([values, name, namespace, str(chart), helm], sort_keys=True)
    text = _CACHE.get(key)
    if text is None:
        proc = await asyncio.create_subprocess_exec(
            *helm_args(helm, chart, name, namespace),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(values).encode()), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise _chart_error(err.decode(errors="replace"))
        text = out.decode()
        _CACHE[key] = text
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return parse_manifests(text, name=name, namespace=namespace, values=values)


def kinds_in(rendered: Iterable[Rendered]) -> set[str]:
    return {f"{o['apiVersion']}/{o['kind']}" for r in rendered for o in [*r.objects, *(h.obj for h in r.hooks)]}
