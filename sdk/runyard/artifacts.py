"""Artifacts and run files: `runyard.Artifact`, and the functions behind `run.log_artifact`,
`run.use_artifact`, `run.save` and the public API.

    art = runyard.Artifact("mnist", type="dataset")
    art.add_dir("data/")                       # files are hashed; identical bytes are stored once
    art.add_reference("s3://bucket/raw/")      # kept as a reference, never copied
    run.log_artifact(art, aliases=["best"])    # -> mnist:v0, `latest` moves to it
    art = run.use_artifact("mnist:latest")     # lineage: this run used mnist:v0
    path = art.download()                      # ./artifacts/mnist:v0, every file checked by sha256

The module-level functions take the connection explicitly (`base_url, api_key, entity, project,
run_id`) so the run object only forwards its own settings; see docs/artifacts.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import glob as _glob
import json as _json
import mimetypes
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from . import _transfer as t
from .errors import ServerError, UsageError

__all__ = [
    "Artifact",
    "ArtifactEntry",
    "IntegrityError",
    "TransferStats",
    "download_run_file",
    "get_artifact",
    "list_run_files",
    "log_artifact",
    "project_storage",
    "run_file_url",
    "save_files",
    "upload_run_files",
    "use_artifact",
]

TransferStats = t.TransferStats
IntegrityError = t.IntegrityError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MANIFEST_PAGE = 5000


def _q(part: str) -> str:
    return quote(part, safe="")


def _qpath(path: str) -> str:
    return quote(path, safe="/")


def _check_rel(name: str) -> str:
    name = name.replace(os.sep, "/") if os.sep != "/" else name
    while name.startswith("./"):  # `./model.pt` (W&B accepts it) is `model.pt`
        name = name[2:]
    name = "/".join(p for p in name.split("/") if p != ".") if "/./" in f"/{name}/" else name
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"{name!r} is not a plain relative path inside the artifact")
    return name


@dataclass(frozen=True)
class _Local:
    path: Path


@dataclass(frozen=True)
class _Ref:
    uri: str
    digest: str | None
    size: int | None


class Artifact:
    """A versioned set of files. Build it with `add_file`/`add_dir`/`add_reference`, then log it with a
    run; or get one with `use_artifact` and `download()` it."""

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None, incremental: bool = False, use_as: str | None = None,
                 **_ignored: Any) -> None:
        if not _NAME.match(name or ""):
            raise UsageError(f"artifact name {name!r}: use 1-128 letters, digits, '_', '.' or '-'")
        if not _TYPE.match(type or ""):
            raise UsageError(f"artifact type {type!r}: use 1-64 letters, digits, '_', '.' or '-'")
        self.name = name
        self.type = type
        self.description = description or ""
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._entries: dict[str, _Local | _Ref] = {}
        # set once logged or fetched
        self.entity: str | None = None
        self.project: str | None = None
        self.version: str | None = None
        self.digest: str | None = None
        self.aliases: list[str] = []
        self.size: int | None = None
        self.created: bool | None = None
        self._conn: tuple[str, str | None] | None = None
        self._remote_files: list[dict[str, Any]] | None = None
        self.stats: t.TransferStats | None = None
        self._objects: dict[str, Any] = {}  # name -> media object added with add() (get() returns it)
        self._staging: Path | None = None
        self._saved_fields = (self.description, _json_text(self.metadata))

    # ---- building ---------------------------------------------------------------------------------
    def _check_mutable(self) -> None:
        if self.version is not None:
            raise UsageError(f"{self.qualified_name} is already logged; make a new Artifact to change it")

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None, is_tmp: bool = False,
                 **_ignored: Any) -> str:
        """Add one file, as `name` inside the artifact (default: its file name)."""
        self._check_mutable()
        p = Path(local_path)
        if not p.is_file():
            raise UsageError(f"{p} is not a file")
        key = _check_rel(name or p.name)
        self._entries[key] = _Local(p)
        return key

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None, **_ignored: Any) -> list[str]:
        """Add every file below a folder (recursively), under the prefix `name` (default: the root)."""
        self._check_mutable()
        root = Path(local_path)
        if not root.is_dir():
            raise UsageError(f"{root} is not a folder")
        prefix = _check_rel(name.strip("/")) + "/" if name and name.strip("/") else ""
        added = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                full = Path(dirpath) / fn
                if full.is_file():
                    rel = full.relative_to(root).as_posix()
                    added.append(self.add_file(full, prefix + rel))
        return added

    def add_reference(self, uri: str, name: str | None = None, *, digest: str | None = None,
                      size: int | None = None) -> str:
        """Record a URI (s3://, gs://, http(s)://, file://) as an entry; its bytes are not copied.

        `digest` (an ETag or checksum) makes a changed object produce a new version.
        """
        self._check_mutable()
        if not re.match(r"^(s3|gs|https?|file)://\S+$", uri):
            raise UsageError(f"reference {uri!r}: use an s3://, gs://, http(s):// or file:// URI")
        key = _check_rel(name or uri.rstrip("/").rsplit("/", 1)[-1])
        self._entries[key] = _Ref(uri, digest, size)
        return key

    def add(self, obj: Any, name: str, overwrite: bool = False) -> str:
        """Add a media value (a Table, Image, chart, ...) as `name`: a table becomes `<name>.table.json`,
        other media `<name>.<type>.json` (their descriptor), with the files they refer to beside them.
        `get(name)` gives it back."""
        from ._media_base import Media
        from ._table import Table
        from .media import as_media

        self._check_mutable()
        obj = as_media(obj)
        if not isinstance(obj, Media):
            raise UsageError(f"Artifact.add: {type(obj).__name__} is not a media value (Table, Image, ...); "
                             "use add_file() or new_file() for other data")
        rel = _check_rel(name)
        stage = self._stage_dir()
        if isinstance(obj, Table):
            body = obj.to_body(stage, rel.replace("/", "_"), 0)
            entry = f"{rel}.table.json"
            data = _json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
        else:
            desc = obj.bind(stage, rel.replace("/", "_"), 0)
            entry = f"{rel}.{desc.get('_type', 'media')}.json"
            data = _json.dumps(desc, ensure_ascii=False, allow_nan=False).encode()
        if entry in self._entries and not overwrite:
            raise UsageError(f"Artifact.add: {entry} is already in {self.name}; pass overwrite=True to replace it")
        target = stage / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self._entries[entry] = _Local(target)
        for media_file in _media_paths(_json.loads(data)):  # images of table cells and the like
            if (stage / media_file).is_file():
                self._entries[_check_rel(media_file)] = _Local(stage / media_file)
        self._objects[rel] = obj
        return entry

    def _stage_dir(self) -> Path:
        if self._staging is None:
            import tempfile

            self._staging = Path(tempfile.mkdtemp(prefix=f"runyard-artifact-{self.name}-"))
        return self._staging

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a new file straight into the artifact: `with art.new_file("labels.txt") as f: f.write(...)`."""
        self._check_mutable()
        rel = _check_rel(name)
        if rel in self._entries:
            raise UsageError(f"Artifact.new_file: {rel} is already in {self.name}")
        path = self._stage_dir() / "new" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "b" not in mode
        with open(path, mode, encoding=(encoding or "utf-8") if text else None) as f:
            yield f
        self._entries[rel] = _Local(path)

    def get_entry(self, name: str) -> ArtifactEntry:
        return self.get_path(name)

    def get_path(self, name: str) -> ArtifactEntry:
        """One entry by its path in the artifact; `.download()` fetches it (logged artifacts) or gives its
        local path (artifacts being built)."""
        rel = _check_rel(name)
        if self._conn is not None:
            for f in self._remote_files or self._fetch_manifest(urls=False):
                if f["path"] == rel:
                    return ArtifactEntry(self, rel, f)
        elif rel in self._entries:
            e = self._entries[rel]
            record = {"path": rel, "local_path": str(e.path)} if isinstance(e, _Local) else {
                "path": rel, "ref": e.uri, "digest": e.digest, "size": e.size}
            return ArtifactEntry(self, rel, record)
        raise KeyError(f"{self.qualified_name} has no entry {rel!r}")

    def get(self, name: str) -> Any:
        """A media value added with `add(obj, name)` (a Table comes back as a Table, an image as an
        Image); None when there is no such entry."""
        rel = _check_rel(name)
        if rel in self._objects:
            return self._objects[rel]
        if self._conn is None:
            return None
        from ._table import Table

        manifest = self._remote_files or self._fetch_manifest(urls=False)
        paths = {f["path"] for f in manifest}
        entry = next((p for p in (f"{rel}.table.json", rel) if p in paths), None)
        if entry is None:
            entry = next((p for p in sorted(paths) if p.startswith(rel + ".") and p.endswith(".json")), None)
        if entry is None:
            return None
        root = Path(self._download_root())
        self.download(str(root))
        body = _json.loads((root / entry).read_text())
        if entry.endswith(".table.json"):
            obj: Any = Table.from_body(body, root)
        elif body.get("_type") == "image-file":
            from .media import Image

            obj = Image(root / body["path"], caption=body.get("caption"))
        else:
            obj = body
        self._objects[rel] = obj
        return obj

    def _download_root(self) -> str:
        return str(Path("artifacts") / f"{self.name}:{self.version}")

    # ---- changing a logged version ------------------------------------------------------------------
    def save(self, project: str | None = None, settings: Any = None) -> Artifact:
        """Not logged yet: log it with the active run. Logged: store changed `description` and `metadata`
        and the aliases added to or removed from `aliases`."""
        if self.version is None:
            from ._state import active

            run = active()
            if run is None:
                raise UsageError("Artifact.save() of a new artifact needs a run: call runyard.init() first, "
                                 "or run.log_artifact(artifact)")
            run.log_artifact(self)
            return self
        assert self._conn is not None and self.entity and self.project
        base_url, api_key = self._conn
        with t.Api(base_url, api_key) as api:
            path = f"{_art_base(self.entity, self.project)}/{_q(self.name)}"
            if (self.description, _json_text(self.metadata)) != self._saved_fields:
                body = api.call("PATCH", f"{path}/{_q(self.version)}",
                                json={"description": self.description, "metadata": self.metadata},
                                what=f"updating {self.qualified_name}")
                self._saved_fields = (self.description, _json_text(self.metadata))
            current = api.call("GET", f"{path}/{_q(self.version)}", what=f"reading {self.qualified_name}")
            have = set(current.get("aliases") or [])
            for alias in [a for a in self.aliases if a not in have and a != "latest"]:
                api.call("PUT", f"{path}/aliases/{_q(alias)}", json={"version": self.version},
                         what=f"setting alias {alias} of {self.qualified_name}")
            for alias in [a for a in have if a not in self.aliases and a != "latest"]:
                api.call("DELETE", f"{path}/aliases/{_q(alias)}", what=f"removing alias {alias}")
            body = api.call("GET", f"{path}/{_q(self.version)}", what=f"reading {self.qualified_name}")
        return self._load(body, base_url, api_key)

    def wait(self, timeout: float | None = None) -> Artifact:
        """Logging is done when `log_artifact` returns, so this only checks that it was logged."""
        if self.version is None:
            raise UsageError(f"{self.name} is not logged; log it with run.log_artifact() (or use_artifact) first")
        return self

    def is_draft(self) -> bool:
        return self.version is None

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its files stay in storage while another version or run uses them)."""
        if self._conn is None or not (self.entity and self.project and self.version):
            raise UsageError(f"{self.name} is not logged; there is nothing to delete")
        base_url, api_key = self._conn
        with t.Api(base_url, api_key) as api:
            api.call("DELETE", f"{_art_base(self.entity, self.project)}/{_q(self.name)}/{_q(self.version)}",
                     params={"delete_aliases": str(bool(delete_aliases)).lower()},
                     what=f"deleting {self.qualified_name}")

    def link(self, target_path: str, aliases: list[str] | None = None) -> Artifact:
        """Make this version also a version of `target_path` (`name`, `project/name`, `entity/project/name`;
        W&B registry paths too): same files, no upload. Returns the linked version."""
        if self._conn is None or not (self.entity and self.project and self.version):
            raise UsageError(f"{self.name} is not logged; log it before linking it")
        base_url, api_key = self._conn
        entity, project, name = _link_target(target_path, self.entity, self.project)
        files = [{k: v for k, v in f.items() if k in ("path", "sha256", "size", "ref", "digest")}
                 for f in self._fetch_manifest(urls=False)]
        body = {"type": self.type, "description": self.description,
                "metadata": {**self.metadata, "linked_from": self.qualified_name},
                "aliases": list(aliases or []), "files": files}
        with t.Api(base_url, api_key) as api:
            out = api.call("POST", f"{_art_base(entity, project)}/{_q(name)}/versions", json=body,
                           what=f"linking {self.qualified_name} to {entity}/{project}/{name}")
        linked = Artifact(out["name"], out["type"])
        return linked._load(out, base_url, api_key)

    # ---- reading ----------------------------------------------------------------------------------
    @property
    def qualified_name(self) -> str:
        head = f"{self.entity}/{self.project}/" if self.entity else ""
        return f"{head}{self.name}:{self.version or 'unlogged'}"

    def files(self) -> list[dict[str, Any]]:
        """The manifest: `{"path", "sha256", "size"}` for stored files, `{"path", "ref", ...}` for references."""
        if self._remote_files is None and self._conn is not None:
            self._remote_files = self._fetch_manifest(urls=False)
        if self._remote_files is not None:
            return [{k: v for k, v in f.items() if k != "url"} for f in self._remote_files]
        out: list[dict[str, Any]] = []
        for path, e in sorted(self._entries.items()):
            if isinstance(e, _Ref):
                out.append({"path": path, "ref": e.uri, "digest": e.digest, "size": e.size})
            else:
                out.append({"path": path, "local_path": str(e.path)})
        return out

    def _fetch_manifest(self, urls: bool) -> list[dict[str, Any]]:
        assert self._conn is not None and self.entity and self.project and self.version
        base_url, api_key = self._conn
        out: list[dict[str, Any]] = []
        with t.Api(base_url, api_key) as api:
            offset = 0
            while True:
                page = api.call(
                    "GET", f"/api/v1/artifacts/{_q(self.entity)}/{_q(self.project)}/{_q(self.name)}/{_q(self.version)}/files",
                    params={"urls": "true" if urls else "false", "limit": _MANIFEST_PAGE, "offset": offset},
                    what=f"reading the manifest of {self.qualified_name}",
                )
                out.extend(page["files"])
                offset += len(page["files"])
                if not page["files"] or offset >= int(page["total"]):
                    break
        return out

    def download(self, root: str | os.PathLike[str] | None = None, *, workers: int = 4) -> str:
        """Fetch every stored file into `root` (default `./artifacts/NAME:VERSION`) and check its sha256.

        Files already there with the right sha256 are kept; references are not fetched (see `files()`).
        """
        if self._conn is None:
            raise UsageError("this artifact is not logged yet; download() works on logged or used artifacts")
        target = Path(root) if root is not None else Path("artifacts") / f"{self.name}:{self.version}"
        target.mkdir(parents=True, exist_ok=True)
        entries = self._fetch_manifest(urls=True)
        self._remote_files = entries
        base_url, api_key = self._conn
        stats = t.TransferStats()
        with t.Api(base_url, api_key, workers=workers) as api:
            todo = []
            for e in entries:
                if "sha256" not in e:
                    continue
                dest = t.safe_join(target, e["path"])
                if dest.is_file() and dest.stat().st_size == e["size"] and t.hash_file(dest).sha256 == e["sha256"]:
                    continue
                todo.append((e, dest))
            big = [x for x in todo if x[0]["size"] > t.RANGED_DOWNLOAD_ABOVE]
            small = [x for x in todo if x[0]["size"] <= t.RANGED_DOWNLOAD_ABOVE]
            with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runyard-dl") as ex:
                for fut in [ex.submit(t.download_url, api, e["url"], d, sha256=e["sha256"], size=e["size"],
                                      workers=1, stats=stats) for e, d in small]:
                    fut.result()
            for e, d in big:
                t.download_url(api, e["url"], d, sha256=e["sha256"], size=e["size"], workers=workers, stats=stats)
        self.stats = stats
        return str(target)

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type}>"

    # ---- filled from the server -------------------------------------------------------------------
    def _load(self, body: dict[str, Any], base_url: str, api_key: str | None) -> Artifact:
        self.entity, self.project = body["entity"], body["project"]
        self.name, self.type = body["name"], body["type"]
        self.version, self.digest = body["version"], body["digest"]
        self.aliases = list(body.get("aliases", []))
        self.size = body.get("size")
        self.description = body.get("description", self.description)
        self.metadata = dict(body.get("metadata") or self.metadata)
        self.created = body.get("created")
        self._conn = (base_url, api_key)
        self._saved_fields = (self.description, _json_text(self.metadata))
        return self


class ArtifactEntry:
    """One file of an artifact (`art.get_path(name)`): `.path`, `.size`, `.digest`, `.ref`,
    `.download(root=None)` -> the local path of the file."""

    def __init__(self, artifact: Artifact, path: str, record: Mapping[str, Any]) -> None:
        self._artifact = artifact
        self.path = path
        self.name = path
        self.size: int | None = record.get("size")
        self.digest: str | None = record.get("sha256") or record.get("digest")
        self.ref: str | None = record.get("ref")
        self._local: str | None = record.get("local_path")

    def download(self, root: str | os.PathLike[str] | None = None, skip_cache: bool | None = None) -> str:
        if self._local is not None:
            return self._local
        if self.ref is not None:
            raise UsageError(f"{self.path} is a reference ({self.ref}); fetch it from there")
        art = self._artifact
        assert art._conn is not None and art.entity and art.project and art.version
        target = Path(root) if root is not None else Path(art._download_root())
        dest = t.safe_join(target, self.path)
        base_url, api_key = art._conn
        with t.Api(base_url, api_key) as api:
            rec = api.call("GET", f"{_art_base(art.entity, art.project)}/{_q(art.name)}/{_q(art.version)}/files/"
                           f"{_qpath(self.path)}", what=f"reading {self.path} of {art.qualified_name}")
            if not (dest.is_file() and t.hash_file(dest).sha256 == rec["sha256"]):
                t.download_url(api, rec["url"], dest, sha256=rec["sha256"], size=rec["size"])
        return str(dest)

    def __repr__(self) -> str:
        return f"<ArtifactEntry {self.path}>"


def _json_text(value: Any) -> str:
    return _json.dumps(value, sort_keys=True, default=str)


def _media_paths(desc: Any) -> list[str]:
    out: list[str] = []
    stack = [desc]
    while stack:
        d = stack.pop()
        if isinstance(d, dict):
            if isinstance(d.get("path"), str) and "sha256" in d:
                out.append(d["path"])
            stack.extend(d.values())
        elif isinstance(d, list):
            stack.extend(d)
    return out


_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def artifact_name(name: str) -> str:
    """A W&B collection name (`MNIST Grayscale 28x28`) as a Runyard artifact name (`MNIST-Grayscale-28x28`)."""
    clean = _NAME_BAD.sub("-", name.strip()).strip("-.")[:128]
    if not clean or not _NAME.match(clean):
        raise UsageError(f"artifact name {name!r}: use letters, digits, '_', '.' or '-'")
    return clean


def _link_target(target: str, entity: str, project: str) -> tuple[str, str, str]:
    """(entity, project, name) of a link target. W&B registry paths (`wandb-registry-model/Name`,
    `org/wandb-registry-model/Name`) name a collection `Name` in the source artifact's own project."""
    parts = [p for p in target.split("/") if p]
    registry = [i for i, p in enumerate(parts) if p.startswith("wandb-registry-")]
    if registry:
        parts = parts[registry[-1] + 1:]
        if len(parts) != 1:
            raise UsageError(f"link target {target!r}: use wandb-registry-<kind>/<name>")
        return entity, project, artifact_name(parts[0])
    if len(parts) == 3:
        entity, project, name = parts
    elif len(parts) == 2:
        project, name = parts
    elif len(parts) == 1:
        (name,) = parts
    else:
        raise UsageError(f"link target {target!r}: use name, project/name or entity/project/name")
    return entity, artifact_name(project) if not _NAME.match(project) else project, artifact_name(name)


# ---- artifacts ---------------------------------------------------------------------------------------
def _art_base(entity: str, project: str) -> str:
    return f"/api/v1/artifacts/{_q(entity)}/{_q(project)}"


def log_artifact(base_url: str, api_key: str | None, entity: str, project: str, run_id: str | None,
                 artifact: Artifact, aliases: Iterable[str] | None = None, *, workers: int = 4,
                 on_part: Callable[[int, int], None] | None = None, wait: float | None = None) -> Artifact:
    """Upload what the bucket lacks, then commit a version produced by `run_id`.

    A manifest equal to the newest version's creates no version (`artifact.created` is False) but
    still moves the given aliases to it. Returns the same Artifact, now logged.

    An outage of the server or the bucket is waited out for `wait` seconds (default: the setting
    `upload_wait`, `RUNYARD_UPLOAD_WAIT`, 600 s), saying so on the console; parts already sent are not
    sent again. After that it raises `CommError`, and logging the artifact again resumes the upload.
    """
    artifact._check_mutable()
    if wait is None:
        from .settings import resolve

        wait = resolve().upload_wait
    locals_ = {p: e for p, e in artifact._entries.items() if isinstance(e, _Local)}
    hashed = dict(zip(locals_, t.hash_files([e.path for e in locals_.values()], workers), strict=True))
    base = _art_base(entity, project)
    outage = t.Outage(wait, f"artifact {artifact.name}")
    with t.Api(base_url, api_key, workers=workers, outage=outage) as api:
        def begin(batch: list[t.LocalFile]) -> list[dict[str, Any]]:
            body = {"objects": [{"sha256": f.sha256, "size": f.size, "md5": f.md5} for f in batch]}
            return list(api.call("POST", f"{base}/_uploads", json=body, what="starting artifact uploads")["objects"])

        files: list[dict[str, Any]] = []
        for path, e in sorted(artifact._entries.items()):
            if isinstance(e, _Ref):
                files.append({"path": path, "ref": e.uri, "digest": e.digest, "size": e.size})
            else:
                h = hashed[path]
                files.append({"path": path, "sha256": h.sha256, "size": h.size})
        body = {"type": artifact.type, "description": artifact.description, "metadata": artifact.metadata,
                "aliases": list(aliases or []), "run_id": run_id, "files": files}
        stats = t.TransferStats()
        for attempt in range(3):
            t.ensure_uploaded(api, begin, list(hashed.values()), workers=workers, on_part=on_part, stats=stats)
            try:
                out = api.call("POST", f"{base}/{_q(artifact.name)}/versions", json=body,
                               what=f"logging artifact {artifact.name}")
                break
            except ServerError as exc:  # an object was collected between upload and commit: send it again
                if exc.code != "failed_precondition" or attempt == 2:
                    raise
    artifact.stats = stats
    stats.outages = outage.outages
    return artifact._load(out, base_url, api_key)


def _parse_ref(ref: str, entity: str, project: str) -> tuple[str, str, str, str]:
    """`name`, `name:alias`, `name:v3`, `project/name:alias` or `entity/project/name:alias`."""
    path, _, version = ref.partition(":")
    parts = path.split("/")
    if len(parts) == 3:
        entity, project, name = parts
    elif len(parts) == 2:
        project, name = parts
    elif len(parts) == 1:
        (name,) = parts
    else:
        raise UsageError(f"artifact {ref!r}: use name[:alias], project/name[:alias] or entity/project/name[:alias]")
    if not _NAME.match(name):  # a W&B registry name with spaces: stored under its Runyard spelling
        name = artifact_name(name)
    return entity, project, name, version or "latest"


def use_artifact(base_url: str, api_key: str | None, entity: str, project: str, run_id: str | None,
                 artifact_or_name: Artifact | str, type: str | None = None, *, workers: int = 4) -> Artifact:
    """Resolve `name:alias` / `name:vN` (or log an Artifact object first) and record that `run_id` used it."""
    if isinstance(artifact_or_name, Artifact):
        art = artifact_or_name
        if art.version is None:
            log_artifact(base_url, api_key, entity, project, None, art, workers=workers)
        a_entity, a_project, name, version = art.entity or entity, art.project or project, art.name, art.version
        assert version is not None
    else:
        a_entity, a_project, name, version = _parse_ref(artifact_or_name, entity, project)
    path = f"{_art_base(a_entity, a_project)}/{_q(name)}/{_q(version)}"
    with t.Api(base_url, api_key) as api:
        if not run_id or type is not None:  # check the type before recording any lineage
            body = api.call("GET", path, what=f"reading artifact {name}:{version}")
            if type is not None and body["type"] != type:
                raise UsageError(f"artifact {name}:{version} has type {body['type']!r}, not {type!r}")
            path = f"{_art_base(a_entity, a_project)}/{_q(name)}/{_q(body['version'])}"  # the alias may move
        if run_id:
            body = api.call("POST", f"{path}/use",
                            json={"run": {"entity": entity, "project": project, "run_id": run_id}},
                            what=f"using artifact {name}:{version}")
    out = artifact_or_name if isinstance(artifact_or_name, Artifact) else Artifact(body["name"], body["type"])
    return out._load(body, base_url, api_key)


def get_artifact(base_url: str, api_key: str | None, entity: str, project: str, name: str) -> Artifact:
    """Like `use_artifact` without a run (the public API): no lineage is recorded."""
    return use_artifact(base_url, api_key, entity, project, None, name)


# ---- run files ---------------------------------------------------------------------------------------
def _run_base(entity: str, project: str, run_id: str) -> str:
    return f"/api/v1/runs/{_q(entity)}/{_q(project)}/{_q(run_id)}"


def _content_type(path: str) -> str:
    ctype, _ = mimetypes.guess_type(path)
    return ctype or "application/octet-stream"


def upload_run_files(base_url: str, api_key: str | None, entity: str, project: str, run_id: str,
                     files: Mapping[str, str | os.PathLike[str]], *, content_types: Mapping[str, str] | None = None,
                     workers: int = 4, on_part: Callable[[int, int], None] | None = None,
                     stats: t.TransferStats | None = None) -> list[dict[str, Any]]:
    """Upload files of a run: `{name in the run: local path}`. Returns the server's file records.

    A name saved again replaces the earlier file; bytes the bucket already holds are not sent.
    """
    names = [_check_rel(n) for n in files]
    hashed = dict(zip(names, t.hash_files([files[n] for n in names], workers), strict=True))
    ctypes = {n: (content_types or {}).get(n) or _content_type(n) for n in names}
    by_sha: dict[str, str] = {}
    for n, h in hashed.items():
        by_sha.setdefault(h.sha256, n)
    base = _run_base(entity, project, run_id) + "/files"
    records: list[dict[str, Any]] = []
    with t.Api(base_url, api_key, workers=workers) as api:
        def begin(batch: list[t.LocalFile]) -> list[dict[str, Any]]:
            body = {"files": [{"path": by_sha[f.sha256], "sha256": f.sha256, "size": f.size, "md5": f.md5,
                               "content_type": ctypes[by_sha[f.sha256]]} for f in batch]}
            return list(api.call("POST", f"{base}/uploads", json=body, what="starting run file uploads")["files"])

        for attempt in range(3):
            stats = t.ensure_uploaded(api, begin, list(hashed.values()), workers=workers, on_part=on_part,
                                      stats=stats)
            try:
                records = []
                for batch in t.iter_batches(names, 1000):
                    body = {"files": [{"path": n, "sha256": hashed[n].sha256, "content_type": ctypes[n]} for n in batch]}
                    records.extend(api.call("POST", base, json=body, what="saving run files")["files"])
                break
            except ServerError as exc:
                if exc.code != "failed_precondition" or attempt == 2:
                    raise
    return records


def save_files(base_url: str, api_key: str | None, entity: str, project: str, run_id: str, glob_str: str,
               base_path: str | None = None, *, workers: int = 4) -> list[dict[str, Any]]:
    """`run.save(glob_str, base_path)`: files matching the glob, named relative to `base_path`
    (default: the glob's folder part, as wandb does)."""
    matches = sorted(p for p in _glob.glob(glob_str, recursive=True) if os.path.isfile(p))
    if not matches:
        return []
    if base_path is None:
        base_path = os.path.dirname(glob_str.split("*", 1)[0]) or "."
    mapping: dict[str, str] = {}
    for m in matches:
        rel = os.path.relpath(m, base_path)
        if rel.startswith(".."):
            rel = os.path.basename(m)
        mapping[Path(rel).as_posix()] = m
    return upload_run_files(base_url, api_key, entity, project, run_id, mapping, workers=workers)


def list_run_files(base_url: str, api_key: str | None, entity: str, project: str, run_id: str,
                   prefix: str = "", recursive: bool = False) -> dict[str, Any]:
    """`{"prefix", "folders": [...], "files": [...], "total"}` (every page fetched)."""
    out: dict[str, Any] | None = None
    with t.Api(base_url, api_key) as api:
        offset = 0
        while True:
            page = api.call("GET", _run_base(entity, project, run_id) + "/files",
                            params={"prefix": prefix, "recursive": str(recursive).lower(), "limit": 10_000,
                                    "offset": offset}, what="listing run files")
            if out is None:
                out = page
            else:
                out["files"].extend(page["files"])
            offset += len(page["files"])
            if not page["files"] or offset >= int(page["total"]):
                break
    assert out is not None
    return out


def run_file_url(base_url: str, api_key: str | None, entity: str, project: str, run_id: str,
                 path: str) -> dict[str, Any]:
    """The file's record with a presigned `url` (valid `expires_in` seconds)."""
    with t.Api(base_url, api_key) as api:
        return dict(api.call("GET", _run_base(entity, project, run_id) + "/files/" + _qpath(_check_rel(path)),
                             what=f"reading run file {path}"))


def download_run_file(base_url: str, api_key: str | None, entity: str, project: str, run_id: str, path: str,
                      dest: str | os.PathLike[str], *, workers: int = 4) -> Path:
    """Download one run file to `dest` (a file path), checking its sha256."""
    rec = run_file_url(base_url, api_key, entity, project, run_id, path)
    with t.Api(base_url, api_key, workers=workers) as api:
        return t.download_url(api, rec["url"], dest, sha256=rec["sha256"], size=rec["size"], workers=workers)


def project_storage(base_url: str, api_key: str | None, entity: str, project: str) -> dict[str, Any]:
    """Bytes used by a project's run files and artifacts (each stored object counted once)."""
    with t.Api(base_url, api_key) as api:
        return dict(api.call("GET", _art_base(entity, project) + "/_storage", what="reading storage use"))
