"""The Dockerfile: its entrypoint and every command the chart runs exist in `runyard-server --help`, and the
UI lands where the chart points RUNYARD_WEB_DIST. (The image is built for real by `make image` where a
container engine exists; nothing here needs one.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helm import ROOT, find, pod_spec, render

pytestmark = pytest.mark.chart


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def subcommands() -> set[str]:
    bin_dir = Path(sys.executable).parent
    text = subprocess.run([str(bin_dir / "runyard-server"), "--help"], capture_output=True, text=True,
                          check=True).stdout
    match = re.search(r"\{([a-z,_-]+)\}", text)
    assert match, text
    return set(match.group(1).split(","))


def test_entrypoint_and_chart_commands_exist() -> None:
    ins = instructions()
    (entrypoint,) = [json.loads(rest) for word, rest in ins if word == "ENTRYPOINT"]
    assert entrypoint == ["runyard-server"]
    cmd = [json.loads(rest) for word, rest in ins if word == "CMD"][-1]
    commands = subcommands()
    assert {"ingest", "query", "auth", "artifact", "frontdoor", "wandb", "tensorboard", "transfers", "migrate",
            "gc"} <= commands
    assert cmd == ["--help"]
    used = set()
    for name in ("defaults", "gateway-frontdoor"):
        for doc in render(name):
            spec = pod_spec(doc)
            if spec is None or "runyard" not in doc["metadata"]["name"]:
                continue
            for c in [*spec.get("initContainers", []), *spec["containers"]]:
                if c["image"].startswith("runyard/runyard-server"):
                    assert c["command"][0] == entrypoint[0]
                    used.add(c["command"][1])
    assert used == {"ingest", "query", "auth", "artifact", "frontdoor", "wandb", "tensorboard", "transfers", "migrate",
                    "gc"}
    assert used <= commands


def test_runtime_stage_is_non_root_and_serves_the_ui_the_chart_names() -> None:
    ins = instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) == 3 and froms[-1].endswith("AS runtime"), "multi-stage: web, build, runtime"
    runtime = ins[max(i for i, (w, _r) in enumerate(ins) if w == "FROM"):]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users == ["10001:10001"]
    deps = find(render("defaults"), "Deployment")
    assert deps and all(d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001 for d in deps)
    web = [rest for word, rest in runtime if word == "COPY" and "--from=web" in rest]
    assert web and web[0].split()[-1] == "/opt/runyard/web"
    query = next(d for d in deps if d["metadata"]["name"].endswith("-query"))
    env = {e["name"]: e.get("value") for e in query["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RUNYARD_WEB_DIST"] == "/opt/runyard/web"
    # the instance serves the SDK (/pypi/simple): wheels built at image build time, where the chart looks
    build = ins[[i for i, (w, _r) in enumerate(ins) if w == "FROM"][1]:max(i for i, (w, _r) in enumerate(ins) if w == "FROM")]
    assert any(w == "RUN" and "build-sdk-wheels" in r and "--out /opt/runyard/wheels" in r and "--with-deps" in r
               for w, r in build)
    assert [r for w, r in runtime if w == "COPY" and r.endswith("/opt/runyard/wheels")]
    assert env["RUNYARD_SDK_WHEELS_DIR"] == "/opt/runyard/wheels"
    labels = " ".join(rest for word, rest in runtime if word == "LABEL")
    assert "org.opencontainers.image.version" in labels and "org.opencontainers.image.source" in labels
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!services/" in ignored and "!sdk/" in ignored, "the build context is allow-listed"
