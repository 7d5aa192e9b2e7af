"""Where `runyard transfer` and `runyard import` read runs from: an instance (its public REST API) or a
bundle written by `runyard export` (docs/bundle.md). Both give the same run bodies, the same record
streams (so the same digests) and the same file and artifact listings; bytes come back as local files."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from . import _transfer as t
from ._runcopy import RunStream, build_stream, open_request, q, run_path
from .errors import AuthenticationError, NotFoundError, RunyardError

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleSource", "InstanceSource", "Source", "TransferError",
           "write_bundle"]

BUNDLE_FORMAT = "runyard-bundle"
BUNDLE_VERSION = 1
MANIFEST = "runyard-bundle.json"


class TransferError(RunyardError):
    """The transfer cannot go on (a key refused, no write access, a missing source): nothing more is done."""


class Source:
    """Read access to runs, files and artifacts (see InstanceSource, BundleSource)."""

    label: str

    def project(self, entity: str, project: str) -> None:
        raise NotImplementedError

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        raise NotImplementedError

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        raise NotImplementedError

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def artifact(self, entity: str, project: str, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def version(self, entity: str, project: str, name: str, version: str) -> dict[str, Any]:
        raise NotImplementedError

    def version_files(self, entity: str, project: str, name: str, version: str) -> list[dict[str, Any]]:
        """Manifest entries: stored files (`sha256`, `size`, and `url` or nothing) or references (`ref`)."""
        raise NotImplementedError

    def object(self, entry: dict[str, Any], cache: Cache) -> Path:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Cache:
    """Downloaded objects by sha256, each fetched once per command."""

    def __init__(self, stats: t.TransferStats) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="runyard-transfer-"))
        self.stats = stats
        self.paths: dict[str, Path] = {}

    def get(self, sha256: str, fetch: Callable[[Path], Path]) -> Path:
        got = self.paths.get(sha256)
        if got is None:
            got = self.paths[sha256] = fetch(self.root / sha256)
        return got

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class InstanceSource(Source):
    def __init__(self, base_url: str, api_key: str, workers: int = 4) -> None:
        self.label = base_url
        self.base_url = base_url
        self.api = t.Api(base_url, api_key, workers=workers)
        self.workers = workers

    def close(self) -> None:
        self.api.close()

    def get(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.api.call("GET", path, what=what, params=params)
        except NotFoundError as exc:
            raise TransferError(f"{what}: not found on {self.base_url} (or this key may not read it)") from exc
        except AuthenticationError as exc:
            raise TransferError(f"{self.base_url} refused the API key given for it (--from): {exc.message}") \
                from None

    def project(self, entity: str, project: str) -> None:
        self.get(f"/api/v1/projects/{q(entity)}/{q(project)}", f"reading project {entity}/{project}")

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        what = f"listing the runs of {entity}/{project} on {self.base_url}"
        out: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/api/v1/projects/{q(entity)}/{q(project)}/runs", what,
                            {"limit": 1000, "offset": len(out), "order": "created_at",
                             "fields": "name,state,updated_at,created_at"})
            out.extend(page["runs"])
            if not page["runs"] or len(out) >= int(page["total"]):
                return out

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(run_path(entity, project, run_id), f"reading run {entity}/{project}/{run_id}"))

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        return build_stream(self.api, run, spool, progress=progress)

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        path = run_path(entity, project, run_id) + "/files"
        while True:
            page = self.get(path, f"listing the files of run {run_id}",
                            {"recursive": "true", "limit": 10_000, "offset": len(out)})
            for f in page["files"]:
                out[f["path"]] = f
            if not page["files"] or len(out) >= int(page["total"]):
                return out

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        def fetch(dest: Path) -> Path:
            link = self.get(run_path(entity, project, run_id) + "/files/" + "/".join(
                q(s) for s in rec["path"].split("/")), f"reading run file {rec['path']}")
            return t.download_url(self.api, link["url"], dest, sha256=rec["sha256"], size=int(rec["size"]),
                                  workers=self.workers, stats=cache.stats)

        return cache.get(rec["sha256"], fetch)

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(run_path(entity, project, run_id) + "/artifacts", f"reading the artifacts of {run_id}"))

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v1/artifacts/{q(entity)}/{q(project)}",
                             f"listing the artifacts of {entity}/{project}")["artifacts"])

    def artifact(self, entity: str, project: str, name: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/artifacts/{q(entity)}/{q(project)}/{q(name)}", f"reading artifact {name}"))

    def version(self, entity: str, project: str, name: str, version: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/artifacts/{q(entity)}/{q(project)}/{q(name)}/{q(version)}",
                             f"reading {name}:{version}"))

    def version_files(self, entity: str, project: str, name: str, version: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/api/v1/artifacts/{q(entity)}/{q(project)}/{q(name)}/{q(version)}/files",
                            f"reading the files of {name}:{version}", {"urls": "true", "limit": 1000, "offset": len(out)})
            out.extend(page["files"])
            if not page["files"] or len(out) >= int(page["total"]):
                return out

    def object(self, entry: dict[str, Any], cache: Cache) -> Path:
        def fetch(dest: Path) -> Path:
            return t.download_url(self.api, entry["url"], dest, sha256=entry["sha256"], size=int(entry["size"]),
                                  workers=self.workers, stats=cache.stats)

        return cache.get(entry["sha256"], fetch)


# ---- bundles -------------------------------------------------------------------------------------
def _frames_digest(run: dict[str, Any], records: Path, spool: IO[bytes]) -> RunStream:
    """Copy a bundle's record log into `spool`, counting and hashing as `build_stream` does."""
    stream = RunStream()
    stream._hash.update(open_request(run, "", "").SerializeToString(deterministic=True))
    from runyard_proto.v1 import ingest_pb2 as pb

    with gzip.open(records, "rb") as fh:
        while True:
            head = fh.read(4)
            if len(head) < 4:
                break
            (n,) = struct.unpack(">I", head)
            data = fh.read(n)
            if len(data) != n:
                raise RunyardError(f"{records} ends in the middle of a record: the bundle is damaged")
            stream.count += 1
            rec = pb.Record.FromString(data)
            if rec.seq != stream.count:
                raise RunyardError(f"{records}: record {stream.count} is numbered {rec.seq}: the bundle is damaged")
            kind = rec.WhichOneof("payload")
            if kind == "history":
                stream.history_rows += 1
                stream.points += len(rec.history.keys)
            elif kind == "history_block":
                keys = len(rec.history_block.keys)
                rows = len(rec.history_block.rows) // (8 * (2 + keys))
                stream.history_rows += rows
                stream.points += rows * keys
            elif kind == "system":
                stream.points += len(rec.system.keys)
            elif kind == "output":
                stream.output_lines += len(rec.output.lines)
            elif kind == "finish":
                stream.finished = True
            stream._hash.update(head)
            stream._hash.update(data)
            spool.write(head)
            spool.write(data)
    stream.digest = stream._hash.hexdigest()
    spool.flush()
    return stream


def _extract(tar: tarfile.TarFile, root: Path) -> None:
    """Extract only plain files and folders inside `root` (tarfile's `data` filter where Python has it)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(root, filter="data")
        return
    for member in tar.getmembers():  # Python releases before the filter (3.10.11 and older)
        parts = member.name.split("/")
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise TransferError(f"the bundle holds {member.name!r}, which is not a plain file inside it")
    tar.extractall(root)  # every member was checked above


class BundleSource(Source):
    """A bundle file (docs/bundle.md), unpacked into a temporary folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.root = Path(tempfile.mkdtemp(prefix="runyard-bundle-"))
        try:
            with tarfile.open(self.path, "r") as tar:
                _extract(tar, self.root)
        except (OSError, tarfile.TarError) as exc:
            self.close()
            raise TransferError(f"cannot read the bundle {self.path}: {exc}") from None
        try:
            self.manifest = json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            self.close()
            raise TransferError(f"{self.path} is not a Runyard bundle (no readable {MANIFEST})") from None
        if self.manifest.get("format") != BUNDLE_FORMAT:
            self.close()
            raise TransferError(f"{self.path} is not a Runyard bundle ({MANIFEST} names format "
                                f"{self.manifest.get('format')!r})")
        if int(self.manifest.get("version") or 0) > BUNDLE_VERSION:
            self.close()
            raise TransferError(f"{self.path} is a bundle of format version {self.manifest.get('version')}; this SDK "
                                f"reads versions up to {BUNDLE_VERSION}: upgrade the runyard package")
        self.label = f"bundle:{self.manifest.get('source') or self.path.name}"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _json(self, rel: str) -> Any:
        try:
            return json.loads((self.root / rel).read_text())
        except (OSError, ValueError) as exc:
            raise TransferError(f"the bundle {self.path} lacks {rel} or it is damaged: {exc}") from None

    def _check(self, entity: str, project: str) -> None:
        if (entity, project) != (self.manifest["entity"], self.manifest["project"]):
            raise TransferError(f"the bundle holds {self.manifest['entity']}/{self.manifest['project']}, "
                                f"not {entity}/{project}")

    def project(self, entity: str, project: str) -> None:
        self._check(entity, project)

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        self._check(entity, project)
        return [{"id": r} for r in self.manifest["runs"]]

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        self._check(entity, project)
        if run_id not in self.manifest["runs"]:
            raise TransferError(f"the bundle {self.path} holds no run {run_id}")
        return dict(self._json(f"runs/{run_id}/run.json"))

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        return _frames_digest(run, self.root / "runs" / str(run["id"]) / "records.bin.gz", spool)

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        return {f["path"]: f for f in self._json(f"runs/{run_id}/files.json")}

    def _object(self, sha256: str) -> Path:
        p = self.root / "objects" / sha256
        if not p.is_file():
            raise TransferError(f"the bundle {self.path} lacks the bytes of object {sha256[:12]}: it is damaged")
        return p

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        return self._object(rec["sha256"])

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return dict(self._json(f"runs/{run_id}/artifacts.json"))

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        return [self._json(f"artifacts/{name}.json")["artifact"] for name in self.manifest.get("artifacts", [])]

    def artifact(self, entity: str, project: str, name: str) -> dict[str, Any]:
        return dict(self._json(f"artifacts/{name}.json")["artifact"])

    def version(self, entity: str, project: str, name: str, version: str) -> dict[str, Any]:
        return dict(self._json(f"artifacts/{name}.json")["versions"][version]["detail"])

    def version_files(self, entity: str, project: str, name: str, version: str) -> list[dict[str, Any]]:
        return list(self._json(f"artifacts/{name}.json")["versions"][version]["files"])

    def object(self, entry: dict[str, Any], cache: Cache) -> Path:
        return self._object(entry["sha256"])


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda message: say(prefix + message)


def write_bundle(source: InstanceSource, entity: str, project: str, run_id: str | None, out: Path,
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """Export a project (or one run) of `source` into the bundle file `out` (docs/bundle.md); returns counts."""
    from . import __version__

    source.project(entity, project)
    runs = [source.run(entity, project, run_id)] if run_id else source.runs(entity, project)
    stats = t.TransferStats()
    cache = Cache(stats)
    part = out.with_name(out.name + ".part")
    counts = {"runs": 0, "records": 0, "points": 0, "files": 0, "objects": 0, "artifact_versions": 0, "bytes": 0}
    objects: set[str] = set()
    try:
        with tarfile.open(part, "w") as tar:
            def add_json(rel: str, value: Any) -> None:
                data = json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False).encode()
                info = tarfile.TarInfo(rel)
                info.size, info.mtime = len(data), int(time.time())
                import io

                tar.addfile(info, io.BytesIO(data))

            def add_object(sha: str, path: Path) -> None:
                if sha not in objects:
                    objects.add(sha)
                    tar.add(path, f"objects/{sha}")
                    counts["bytes"] += path.stat().st_size

            ids: list[str] = []
            names: set[str] = set()
            for i, brief in enumerate(runs, 1):
                rid = str(brief["id"])
                run = source.run(entity, project, rid)
                say(f"[{i}/{len(runs)}] {rid}: reading")
                with tempfile.TemporaryFile(dir=cache.root) as spool, \
                        tempfile.NamedTemporaryFile(dir=cache.root, suffix=".gz", delete=False) as gz_file:
                    stream = source.stream(run, spool, _prefixed(say, f"  {rid}: "))
                    spool.seek(0)
                    with gzip.GzipFile(fileobj=gz_file, mode="wb", mtime=0) as gz:
                        shutil.copyfileobj(spool, gz)
                    gz_file.close()
                    tar.add(gz_file.name, f"runs/{rid}/records.bin.gz")
                    Path(gz_file.name).unlink()
                add_json(f"runs/{rid}/run.json", run)
                files = source.files(entity, project, rid)
                add_json(f"runs/{rid}/files.json", sorted(files.values(), key=lambda f: f["path"]))
                for rec in files.values():
                    add_object(rec["sha256"], source.file(entity, project, rid, rec, cache))
                arts = source.run_artifacts(entity, project, rid)
                add_json(f"runs/{rid}/artifacts.json", arts)
                names.update(v["name"] for v in arts["logged"] + arts["used"]
                             if v["entity"] == entity and v["project"] == project)
                ids.append(rid)
                counts["runs"] += 1
                counts["records"] += stream.count
                counts["points"] += stream.points
                counts["files"] += len(files)
                say(f"[{i}/{len(runs)}] {rid}: {stream.count} records, {len(files)} files")
            arts_all = source.artifacts(entity, project)
            kept = [a for a in arts_all if run_id is None or a["name"] in names]
            for art in sorted(kept, key=lambda a: str(a["name"])):
                full = source.artifact(entity, project, art["name"])
                versions: dict[str, Any] = {}
                for v in full["versions"]:
                    detail = source.version(entity, project, art["name"], v["version"])
                    entries = source.version_files(entity, project, art["name"], v["version"])
                    for e in entries:
                        if e.get("sha256"):
                            add_object(e["sha256"], source.object(e, cache))
                    versions[v["version"]] = {"detail": detail, "files": [
                        {k: val for k, val in e.items() if k not in ("url", "expires_in")} for e in entries]}
                    counts["artifact_versions"] += 1
                add_json(f"artifacts/{art['name']}.json", {"artifact": full, "versions": versions})
            counts["objects"] = len(objects)
            add_json(MANIFEST, {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "source": source.base_url,
                                "entity": entity, "project": project, "runs": ids,
                                "artifacts": sorted(a["name"] for a in kept), "created_at": time.time(),
                                "created_by": f"runyard {__version__}", "counts": counts})
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
        cache.close()
    return counts
