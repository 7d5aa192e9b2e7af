"""The SDK wheels an instance serves at `/pypi/simple/` (routes/pypi.py): finding them and building them.

`WheelIndex(folder)` lists the `*.whl` files of `RUNYARD_SDK_WHEELS_DIR` by project (PEP 503 normalized
names), with their sha256 and Requires-Python, re-reading a file only when its size or mtime changed.
Every wheel in the folder is served: the ones `build_sdk_wheels` makes (`runyard`, `runyard-proto`) and any
dependency wheels an operator adds (`pip download runyard -d DIR` on a machine that can reach a package
index), so a network without any index can install from the instance alone.

`build_sdk_wheels(out)` builds `runyard` and `runyard-proto` from a source checkout (the `sdk/` and `proto/`
folders next to this package) with `pip wheel --no-deps --no-build-isolation` (setuptools must be
installed; nothing is downloaded): runyard as a py3-none-any wheel, and where a C compiler is found also as
a wheel for the building interpreter and platform that holds the C packer (runyard._speedups). The local
launcher calls it at start, into `<data dir>/wheels`, and skips the build when the wheels are newer than
every source file; the container image calls
`runyard-server build-sdk-wheels --source . --out DIR --with-deps` at build time (docs/sdk.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

__all__ = ["WheelFile", "WheelIndex", "build_sdk_wheels", "download_dependencies", "normalize", "source_checkout"]

_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[A-Za-z0-9_.!+]+)(-\d[^-]*)?"
                    r"-[^-]+-[^-]+-[^-]+\.whl$")
PACKAGES = ("proto", "sdk")  # folders of the source checkout that hold the distributions served


def normalize(name: str) -> str:
    """PEP 503: runs of `-`, `_`, `.` become one `-`, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class WheelFile:
    filename: str
    project: str
    version: str
    sha256: str
    requires_python: str | None
    requires: tuple[str, ...]  # normalized names of Requires-Dist without an `extra ==` marker
    path: Path


class WheelIndex:
    """The wheels in one folder; refreshed on each call (a stat per file), hashed once per file version."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, tuple[tuple[int, int], WheelFile]] = {}

    def wheels(self) -> list[WheelFile]:
        out: list[WheelFile] = []
        if not self.folder.is_dir():
            return out
        seen = set()
        for entry in sorted(self.folder.iterdir()):
            m = _WHEEL.match(entry.name)
            if m is None or not entry.is_file():
                continue
            st = entry.stat()
            sig = (st.st_size, st.st_mtime_ns)
            cached = self._cache.get(entry.name)
            if cached is None or cached[0] != sig:
                cached = (sig, self._read(entry, m.group("name"), m.group("version")))
                self._cache[entry.name] = cached
            seen.add(entry.name)
            out.append(cached[1])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return out

    @staticmethod
    def _read(path: Path, name: str, version: str) -> WheelFile:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        requires_python = None
        deps: list[str] = []
        try:
            with zipfile.ZipFile(path) as zf:
                meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
                if meta is not None:
                    headers = HeaderParser().parsestr(zf.read(meta).decode("utf-8", "replace"))
                    requires_python = headers.get("Requires-Python")
                    for req in headers.get_all("Requires-Dist") or []:
                        spec, _, marker = req.partition(";")
                        if "extra" in marker:
                            continue
                        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
                        if m:
                            deps.append(normalize(m.group(1)))
        except zipfile.BadZipFile:
            pass
        return WheelFile(path.name, normalize(name), version, digest.hexdigest(), requires_python,
                         tuple(dict.fromkeys(deps)), path)

    def projects(self) -> dict[str, list[WheelFile]]:
        out: dict[str, list[WheelFile]] = {}
        for w in self.wheels():
            out.setdefault(w.project, []).append(w)
        return out

    def file(self, filename: str) -> WheelFile | None:
        return next((w for w in self.wheels() if w.filename == filename), None)

    def missing(self, project: str = "runyard") -> list[str]:
        """Projects that installing `project` needs and this folder lacks (dependencies of dependencies
        included; a requirement under an environment marker counts as needed). Empty: the index alone
        installs it."""
        projects = self.projects()
        if project not in projects:
            return [project]
        needed, todo, lacking = {project}, [project], []
        while todo:
            name = todo.pop()
            files = projects.get(name)
            if not files:
                lacking.append(name)
                continue
            for dep in {d for w in files for d in w.requires}:
                if dep not in needed:
                    needed.add(dep)
                    todo.append(dep)
        return sorted(lacking)


def source_checkout() -> Path | None:
    """The repository root when this package runs from a source checkout with sdk/ and proto/, else None."""
    root = Path(__file__).resolve().parents[3]
    if all((root / pkg / "pyproject.toml").is_file() for pkg in PACKAGES):
        return root
    return None


def _newest_source(root: Path) -> float:
    newest = 0.0
    for pkg in PACKAGES:
        base = root / pkg
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "build", "dist") and not d.endswith(".egg-info")]
            for fn in filenames:
                if fn.endswith((".py", ".toml", ".pyi", ".proto", ".typed", ".c")):
                    newest = max(newest, (Path(dirpath) / fn).stat().st_mtime)
    return newest


def _has_speedups(wheel: Path) -> bool:
    with zipfile.ZipFile(wheel) as zf:
        return any(n.startswith("runyard/_speedups.") and n.endswith((".so", ".pyd")) for n in zf.namelist())


def build_sdk_wheels(out: str | os.PathLike[str], root: Path | None = None, *, force: bool = False,
                     say: object = None) -> list[Path]:
    """Build the runyard and runyard-proto wheels from the source checkout into `out`; returns the wheel
    paths. runyard comes twice where this machine compiles C: a py3-none-any wheel that installs on every
    platform and Python (log() packs rows in Python) and one for this interpreter and platform with the C
    packer (runyard._speedups, about 0.4 us a log() call less), which pip prefers where it fits. Skipped
    (returning the existing wheels) when they are newer than every source file, unless `force`. Raises
    RuntimeError with pip's message when a build fails."""
    root = root or source_checkout()
    if root is not None and not all((root / pkg / "pyproject.toml").is_file() for pkg in PACKAGES):
        raise RuntimeError(f"{root} holds no {' and '.join(PACKAGES)} folders with a pyproject.toml")
    if root is None:
        raise RuntimeError("no source checkout with sdk/ and proto/ next to runyard_server; build the wheels "
                           "where the sources are (runyard-server build-sdk-wheels --out DIR) and set "
                           "RUNYARD_SDK_WHEELS_DIR to that folder")
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    existing: dict[str, list[Path]] = {}
    for w in target.glob("*.whl"):
        if (m := _WHEEL.match(w.name)) is not None:
            existing.setdefault(normalize(m.group("name")), []).append(target / w.name)
    ours = existing.get("runyard", []) + existing.get("runyard-proto", [])
    if not force and existing.get("runyard") and existing.get("runyard-proto"):
        if min(p.stat().st_mtime for p in ours) >= _newest_source(root):
            return sorted(ours)
    built: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="runyard-wheels-") as tmp:
        out_dir = Path(tmp) / "out"
        # (folder, RUNYARD_SDK_PURE): sdk/setup.py leaves the optional C packer out of the pure wheel
        for pkg, pure in (("proto", ""), ("sdk", "1"), ("sdk", "")):
            # build from a copy: setuptools writes build/ and *.egg-info into the source folder
            src = Path(tmp) / f"{pkg}{pure}"
            shutil.copytree(root / pkg, src, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.so", "*.pyd", "build", "dist", "*.egg-info", "runyard-data"))
            stage = Path(tmp) / f"stage-{pkg}{pure}"
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "--disable-pip-version-check", "-q", "-w", str(stage), str(src)],
                capture_output=True, text=True, timeout=600, env={**os.environ, "RUNYARD_SDK_PURE": pure},
            )
            if proc.returncode != 0:
                raise RuntimeError(f"building the {pkg} wheel failed (setuptools must be installed):\n"
                                   + (proc.stderr or proc.stdout).strip()[-2000:])
            for wheel in stage.glob("*.whl"):
                # a native build where nothing compiled (no C compiler here) is the pure wheel again
                if pkg == "sdk" and not pure and not _has_speedups(wheel):
                    continue
                out_dir.mkdir(exist_ok=True)
                shutil.move(str(wheel), out_dir / wheel.name)
        for wheel in sorted(out_dir.glob("*.whl")):
            dest = target / wheel.name
            tmp_dest = dest.with_name(dest.name + ".part")
            shutil.copyfile(wheel, tmp_dest)
            os.replace(tmp_dest, dest)
            built.append(dest)
    for old in ours:  # other versions or builds of ours: only the new ones are served
        if old not in built:
            old.unlink(missing_ok=True)
    return built


# Where the SDK is installed from the image's index: CPython 3.10-3.13 on Linux (x86_64, aarch64),
# macOS and Windows. `pip download` with these picks binary wheels only.
DEPENDENCY_TARGETS = (
    ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
    ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
    ("macosx_11_0_arm64", "macosx_10_9_x86_64", "macosx_10_13_universal2"),
    ("win_amd64",),
)
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def download_dependencies(out: str | os.PathLike[str], index_args: list[str] | None = None) -> None:
    """Add the dependency wheels of the SDK (and theirs) to `out` with `pip download`, for every target of
    DEPENDENCY_TARGETS and PYTHONS, so the folder alone installs the SDK. Needs a reachable package index
    (the image build has one); raises RuntimeError with pip's message otherwise."""
    index = WheelIndex(out)
    # the py3-none-any ones: they install on every target (a native build of ours fits only this machine)
    ours = [w.path for w in index.wheels() if w.project in ("runyard", "runyard-proto")
            and w.filename.endswith("-none-any.whl")]
    if len(ours) < 2:
        raise RuntimeError(f"build the SDK wheels into {out} first")
    for platforms in DEPENDENCY_TARGETS:
        for py in PYTHONS:
            cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version", py,
                   "--implementation", "cp", "-q", "--disable-pip-version-check", "-d", str(out),
                   "--find-links", str(out), *[a for p in platforms for a in ("--platform", p)],
                   *(index_args or []), *map(str, ours)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"pip download for Python {py} on {platforms[0]} failed:\n"
                                   + (proc.stderr or proc.stdout).strip()[-2000:])
    # pip evaluates environment markers for the Python it runs on, not the target one: requirements under
    # a marker (`exceptiongroup; python_version < "3.11"`) are fetched by name (they are pure Python)
    for _ in range(5):
        missing = index.missing("runyard")
        if not missing:
            return
        cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-q", "--disable-pip-version-check",
               "-d", str(out), "--find-links", str(out), *(index_args or []), *missing]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"pip download of {', '.join(missing)} failed:\n" + (proc.stderr or proc.stdout).strip()[-2000:])
