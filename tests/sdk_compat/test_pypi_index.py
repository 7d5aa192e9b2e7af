"""The instance serves its SDK as a PEP 503 index: a real `pip install --index-url .../pypi/simple runyard`
into a fresh virtual environment, offline (the dependencies come from a local wheelhouse repacked from this
test environment's own installed distributions; no other index is reachable to pip)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard_server.query.sdk_wheels import WheelIndex, build_sdk_wheels, normalize
from tests.services.world import World, running_world

pytestmark = [pytest.mark.slow]

PY = f"{sys.version_info[0]}{sys.version_info[1]}"
NATIVE = f"runyard-0.1.0-cp{PY}-cp{PY}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}.whl"


def _requirements(dist: str) -> list[str]:
    out = []
    for req in metadata.requires(dist) or []:
        name, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", name)
        if m:
            out.append(m.group(1))
    return out


def _closure(root: str) -> list[str]:
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = normalize(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement under a marker this Python does not need
        seen[key] = dist.metadata["Name"]
        todo.extend(_requirements(dist.metadata["Name"]))
    return [n for k, n in seen.items() if k not in ("runyard", "runyard-proto")]


def repack(name: str, out: Path) -> Path:
    """A wheel of an installed distribution, made from its files and RECORD (files outside site-packages,
    such as console scripts, are left out; pip recreates those from entry_points.txt)."""
    dist = metadata.distribution(name)
    info = Path(str(dist._path))  # type: ignore[attr-defined]
    site = info.parent
    tags = [line.split(":", 1)[1].strip() for line in (info / "WHEEL").read_text().splitlines() if line.startswith("Tag:")]
    fname = f"{re.sub(r'[-.]+', '_', dist.metadata['Name'])}-{dist.version}-{tags[0]}.whl"
    target = out / fname
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for row in csv.reader(io.StringIO((info / "RECORD").read_text())):
            rel = row[0]
            if not rel or rel.startswith("..") or rel.endswith(("RECORD", ".pyc")) or "__pycache__" in rel:
                continue
            data = (site / rel).read_bytes()
            zf.writestr(rel, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{rel},sha256={digest},{len(data)}")
        record = f"{info.name}/RECORD"
        zf.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    return target


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    built = build_sdk_wheels(folder, force=True)
    # runyard twice: for every platform, and with the C packer for this interpreter (make install gives a compiler)
    assert sorted(p.name for p in built) == sorted(["runyard-0.1.0-py3-none-any.whl", NATIVE,
                                                    "runyard_proto-0.1.0-py3-none-any.whl"])
    return folder


@pytest.fixture(scope="module")
def index(stack: Any, wheels: Path) -> Iterator[World]:
    with running_world(stack, artifact=False, sdk_wheels_dir=str(wheels)) as w:
        yield w


def test_index_pages_follow_pep_503(index: World, wheels: Path) -> None:
    base = index.query_url
    root = httpx.get(f"{base}/pypi/simple/")
    assert root.status_code == 200 and 'href="runyard/"' in root.text and 'href="runyard-proto/"' in root.text
    page = httpx.get(f"{base}/pypi/simple/runyard/")
    wheel = next(wheels.glob("runyard-*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'href="../../files/{wheel.name}#sha256={digest}"' in page.text and 'data-requires-python="&gt;=3.10"' in page.text
    redirect = httpx.get(f"{base}/pypi/simple/Runyard_Proto/")
    assert redirect.status_code == 301 and redirect.headers["location"] == "/pypi/simple/runyard-proto/"
    assert httpx.get(f"{base}/pypi/files/{wheel.name}").content == wheel.read_bytes()
    assert httpx.get(f"{base}/pypi/files/..%2Fetc%2Fpasswd").status_code == 404
    assert httpx.get(f"{base}/pypi/simple/grpcio/").status_code == 404
    info = httpx.get(f"{base}/pypi/install.json").json()
    assert info["complete"] is False and "grpcio" in info["missing"]
    assert info["command"] == f"pip install --index-url {base}/pypi/simple --extra-index-url https://pypi.org/simple runyard"


def test_pip_installs_the_sdk_from_the_instance(index: World, wheels: Path, tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    house.mkdir()
    for dep in _closure("runyard"):
        repack(dep, house)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "RUNYARD_", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index or find-links of this machine's pip configuration
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
         "--index-url", f"{index.query_url}/pypi/simple", "--find-links", str(house), "runyard"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{index.query_url}/pypi/files/{NATIVE}" in proc.stdout + proc.stderr  # pip prefers the one that fits
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import runyard, runyard_proto; print(runyard.__file__); "
                            "from runyard import _items, _speedups; assert _items.PACK_ROW is _speedups.pack_row"],
                           env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert check.returncode == 0 and str(venv) in check.stdout, check.stderr
    # another platform and Python get the wheel that installs everywhere
    other = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
         "--disable-pip-version-check", "--platform", "macosx_11_0_arm64", "--python-version", "3.12",
         "--index-url", f"{index.query_url}/pypi/simple", "-d", str(tmp_path / "other"), "runyard"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert other.returncode == 0, other.stdout + other.stderr
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["runyard-0.1.0-py3-none-any.whl"]
    cli = subprocess.run([str(venv / "bin" / "runyard"), "version"], env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and "0.1.0" in cli.stdout + cli.stderr

    # with the dependency wheels in the served folder too, the index alone is enough for this Python
    for whl in house.glob("*.whl"):
        (wheels / whl.name).write_bytes(whl.read_bytes())
    # only what Python 3.10 alone needs is missing (anyio's exceptiongroup)
    assert WheelIndex(wheels).missing("runyard") == (["exceptiongroup"] if sys.version_info >= (3, 11) else [])


def _fake_wheel(folder: Path, name: str, requires: list[str]) -> None:
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Python: >=3.10\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(folder / f"{name.replace('-', '_')}-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr(f"{name.replace('-', '_')}-1.0.dist-info/METADATA", meta)


def test_missing_dependencies_follow_requirements(tmp_path: Path) -> None:
    _fake_wheel(tmp_path, "runyard", ["Dep_One>=1", "extra-only; extra == 'media'"])
    _fake_wheel(tmp_path, "dep-one", ["dep.two; python_version < '3.11'"])
    index = WheelIndex(tmp_path)
    assert index.missing("runyard") == ["dep-two"]  # a marker dependency counts; an extra's does not
    _fake_wheel(tmp_path, "dep-two", [])
    assert index.missing("runyard") == [] and sorted(index.projects()) == ["dep-one", "dep-two", "runyard"]
    assert index.projects()["runyard"][0].requires_python == ">=3.10"


def test_without_a_compiler_only_the_wheel_for_every_platform_is_built(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no C compiler builds the SDK without its C packer: the index then serves the
    py3-none-any wheel alone, and a stale native wheel of an earlier build is not served next to it."""
    (tmp_path / NATIVE).write_bytes(b"an earlier build")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    built = build_sdk_wheels(tmp_path, force=True)
    assert sorted(p.name for p in built) == ["runyard-0.1.0-py3-none-any.whl", "runyard_proto-0.1.0-py3-none-any.whl"]
    assert sorted(p.name for p in tmp_path.glob("*.whl")) == sorted(p.name for p in built)
