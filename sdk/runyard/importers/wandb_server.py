"""Read a W&B project (a W&B server, W&B cloud, or anything answering the W&B API) through the wandb
package's own public API, `wandb.Api`, as a `Source` that `runyard._move.copy_into` writes to Runyard.

    runyard import wandb ENTITY/PROJECT [--run ID] [--wandb-host URL] --host RUNYARD_URL

The W&B key comes from the wandb package itself (WANDB_API_KEY, or what `wandb login` saved in
~/.netrc for that host). Each W&B run becomes a Runyard run with the same id; see docs/importers.md
for what is carried and what is not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from runyard_proto.v1 import ingest_pb2 as pb

from .. import _transfer as t
from .._runcopy import (
    RunStream,
    add_output,
    add_record,
    canon,
    finish_stream,
    history_row,
    iso_seconds,
    json_safe,
    new_stream,
)
from .._sources import Cache, Source, TransferError
from ._common import iso, run_dict

__all__ = ["WandbApiSource", "looks_like_project"]

HISTORY_PAGE = 1000
EVENTS_SAMPLES = 1_000_000  # every system sample the server keeps (W&B's own server may sample them down)
_PROJECT_PATH = re.compile(r"^[^/\s]+/[^/\s]+$")


def looks_like_project(arg: str) -> bool:
    """ENTITY/PROJECT (and not a folder that exists here)."""
    return bool(_PROJECT_PATH.match(arg)) and not Path(arg).exists()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return None


def _iso_of(value: Any) -> str | None:
    """A W&B time (`2026-01-01T12:00:00`, with or without fraction or zone; UTC) as the services write it."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        from datetime import timezone

        stamp = stamp.replace(tzinfo=timezone.utc)
    return iso(stamp.timestamp())


def _md5_hex(b64: str) -> str:
    try:
        return base64.b64decode(b64).hex()
    except (ValueError, TypeError):
        return ""


class _HashCache:
    """sha256 of files already read, by W&B's md5 (or path and upload time) and size, kept between imports
    (so a second import lists what it would send without downloading anything again)."""

    def __init__(self) -> None:
        from ..settings import login_file_path

        self.path = login_file_path().parent / "wandb-import-hashes.json"
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.data: dict[str, str] = data if isinstance(data, dict) else {}
        self.dirty = False

    def get(self, ident: str, size: int) -> str | None:
        return self.data.get(f"{ident}:{size}") if ident else None

    def put(self, ident: str, size: int, sha256: str) -> None:
        if ident and self.data.get(f"{ident}:{size}") != sha256:
            self.data[f"{ident}:{size}"] = sha256
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, sort_keys=True))
        os.replace(tmp, self.path)
        self.dirty = False


class WandbApiSource(Source):
    """Runs, files and artifacts of one W&B project, read through `wandb.Api`."""

    def __init__(self, path: str, host: str | None, run_id: str | None = None,
                 say: Callable[[str], None] = print) -> None:
        try:
            import wandb
        except ImportError:
            raise TransferError('the wandb importer needs the wandb package: pip install "runyard[wandb]"') from None
        entity, project = path.strip("/").split("/", 1)
        self.w_entity, self.w_project, self.one = entity, project, run_id
        self.host = (host or os.environ.get("WANDB_BASE_URL") or "").rstrip("/") or None
        self.say = say
        overrides: dict[str, Any] = {"entity": entity, "project": project}
        if self.host:
            overrides["base_url"] = self.host
        try:
            self.api: Any = wandb.Api(overrides=overrides, timeout=120)
        except Exception as exc:  # the wandb package raises its own types (UsageError, AuthenticationError)
            raise TransferError(f"cannot open the W&B API at {self.host or 'the default W&B host'}: {exc} "
                                "(the key comes from WANDB_API_KEY or `wandb login --host URL`)") from None
        self.label = f"wandb:{self.host or 'default'}/{entity}/{project}"
        self._tmp = Path(tempfile.mkdtemp(prefix="runyard-wandb-api-"))
        self._runs: dict[str, Any] = {}
        self._extras: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, dict[str, Any]]] = {}
        self._file_objs: dict[str, dict[str, Any]] = {}
        self._arts: dict[str, list[Any]] | None = None
        self._art_files: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}
        self.hashes = _HashCache()
        self.downloads = [0, 0]  # files, bytes read from W&B

    def close(self) -> None:
        import shutil

        self.hashes.save()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self.say(f"downloaded from W&B: {self.downloads[0]} files ({self.downloads[1]} bytes)")

    def _path(self, entity: str, project: str) -> str:
        return f"{self.w_entity}/{self.w_project}"

    def _fail(self, what: str, exc: Exception) -> TransferError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return TransferError(f"{what} on {self.host or 'W&B'}: {text}")

    # ---- runs -----------------------------------------------------------------------------------
    def project(self, entity: str, project: str) -> None:
        pass  # a missing project shows as an error of the run listing

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        try:
            found = list(self.api.runs(self._path(entity, project), order="+created_at", per_page=200))
        except Exception as exc:
            hint = f" (and there is no folder {entity}/{project} here to read as W&B run folders)" \
                if not self.host else ""
            raise TransferError(self._fail(f"listing the runs of {self.w_entity}/{self.w_project}", exc).message + hint) \
                from None
        for r in found:
            self._runs[r.id] = r
        self.say(f"found {len(found)} runs in {self.w_entity}/{self.w_project}")
        return [{"id": r.id} for r in found]

    def _run(self, run_id: str) -> Any:
        r = self._runs.get(run_id)
        if r is None:
            try:
                r = self._runs[run_id] = self.api.run(f"{self.w_entity}/{self.w_project}/{run_id}")
            except Exception as exc:
                raise self._fail(f"reading the W&B run {self.w_entity}/{self.w_project}/{run_id}", exc) from None
        return r

    def _extra(self, run_id: str) -> dict[str, Any]:
        """Fields the public Run object does not carry: exit code, host, last update. Servers that do not
        answer one of them leave it out."""
        if run_id in self._extras:
            return self._extras[run_id]
        r = self._run(run_id)
        variables = {"project": self.w_project, "entity": self.w_entity, "name": run_id}

        def ask(fields: tuple[str, ...]) -> dict[str, Any]:
            text = f"""query RunyardImportRunFields($project: String!, $entity: String!, $name: String!) {{
                project(name: $project, entityName: $entity) {{ run(name: $name) {{ {" ".join(fields)} }} }} }}"""
            execute = getattr(getattr(r, "_service_api", None), "execute_graphql", None)
            if execute is not None:  # wandb >= 0.2x: GraphQL through the wandb-core service
                res = execute(text, variables)
            else:  # older wandb: the Api's own GraphQL client
                from wandb_gql import gql

                res = self.api.client.execute(gql(text), variable_values=variables)
            run = (res.get("project") or {}).get("run") or {}
            return {f: run.get(f) for f in fields}

        fields = ("exitcode", "host", "updatedAt")
        try:
            out = ask(fields)
        except Exception:  # a server that lacks one of them: each on its own, the missing one left out
            out = {}
            for name in fields:
                try:
                    out.update(ask((name,)))
                except Exception:
                    out[name] = None
        self._extras[run_id] = out
        return out

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        r = self._run(run_id)
        extra = self._extra(run_id)
        config = dict(r.config)
        raw = getattr(r, "rawconfig", None) or {}
        if isinstance(raw, dict) and "_wandb" in raw:
            config["_wandb"] = raw["_wandb"]
        summary = dict(r.summary._json_dict)
        state = str(r.state)
        code = extra.get("exitcode")
        if state == "finished":
            code = 0 if not isinstance(code, int) else code
        elif state in ("failed", "killed"):
            code = code if isinstance(code, int) and code != 0 else 1
            state = "failed"
        else:  # crashed, running, preempted...: as far as it got
            state, code = ("running" if state == "running" else "crashed"), None
        created = _iso_of(r.created_at)
        ended = _iso_of(getattr(r, "heartbeat_at", None) or r._attrs.get("heartbeatAt"))
        runtime = ((summary.get("_wandb") or {}) if isinstance(summary.get("_wandb"), dict) else {}).get("runtime")
        if created and isinstance(runtime, (int, float)) and runtime >= 0:
            ended = iso(iso_seconds(created) + float(runtime))  # the run's own runtime, not the last heartbeat
        seen = hashlib.sha256(repr((extra.get("updatedAt"), r._attrs.get("heartbeatAt"), state,
                                    r._attrs.get("historyLineCount"))).encode()).hexdigest()[:16]
        return run_dict(
            id=r.id, name=r.name or "", config=json_safe(config), summary=json_safe(summary),
            tags=list(r.tags or []), group=r.group or "", job_type=r.job_type or "", notes=r.notes or "",
            host=extra.get("host") or "", state=state, exit_code=code,
            error="" if not code else f"exit code {code}", created_at=created,
            finished_at=ended if state in ("finished", "failed") else None,
            updated_at=f"wandb-api:{seen}", history_keys=[],
        )

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        r = self._run(run["id"])
        what = f"reading run {self.w_entity}/{self.w_project}/{run['id']}"
        stream = new_stream(run)
        try:
            self._history(r, spool, stream, progress)
            self._system(r, spool, stream)
            self._console(r, spool, stream, run)
        except TransferError:
            raise
        except Exception as exc:
            raise self._fail(what, exc) from None
        if run["summary"]:
            add_record(spool, stream, pb.Record(summary=pb.SummaryUpdate(set_json=canon(run["summary"]))))
        if run["state"] in ("finished", "failed"):
            add_record(spool, stream, pb.Record(finish=pb.Finish(
                exit_code=int(run["exit_code"]), error=run["error"], time=iso_seconds(run["finished_at"]))))
            stream.finished = True
        return finish_stream(stream, spool)

    def _history(self, r: Any, spool: IO[bytes], stream: RunStream, progress: Callable[[str], None]) -> None:
        rows: Iterator[dict[str, Any]] = iter(r.scan_history(page_size=HISTORY_PAGE))
        merged: dict[int, tuple[float, dict[str, Any]]] = {}
        for row in rows:
            step = row.get("_step")
            if not isinstance(step, int):
                continue
            ts = row.get("_timestamp")
            values = {k: v for k, v in row.items() if k not in ("_step", "_timestamp", "_runtime") and v is not None}
            old = merged.get(step)
            merged[step] = (float(ts) if isinstance(ts, (int, float)) else (old[0] if old else 0.0),
                            {**old[1], **values} if old else values)
            if len(merged) % 20_000 == 0:
                progress(f"read {len(merged)} history rows")
        for step in sorted(merged):
            ts, values = merged[step]
            h = history_row(step, ts if math.isfinite(ts) and ts >= 0 else 0.0, values, stream, _number)
            add_record(spool, stream, pb.Record(history=h))
            stream.history_rows += 1

    def _system(self, r: Any, spool: IO[bytes], stream: RunStream) -> None:
        samples: dict[int, dict[str, float]] = {}
        for row in r.history(samples=EVENTS_SAMPLES, pandas=False, stream="events"):
            ts = row.get("_timestamp")
            if not isinstance(ts, (int, float)):
                continue
            ms = math.floor(float(ts) * 1000 + 1e-6)
            for key, value in row.items():
                if key.startswith("system.") and (num := _number(value)) is not None:
                    samples.setdefault(ms, {})["system/" + key[len("system."):]] = num
        for ms in sorted(samples):
            sm = pb.SystemMetrics(timestamp=(ms + 0.5) / 1000.0)
            for key in sorted(samples[ms]):
                sm.keys.append(key)
                sm.values.append(samples[ms][key])
            add_record(spool, stream, pb.Record(system=sm))
            stream.points += len(sm.keys)

    def _console(self, r: Any, spool: IO[bytes], stream: RunStream, run: dict[str, Any]) -> None:
        lines: list[tuple[float, str, str]] = []
        try:
            for ln in r.console_logs(per_page=1000):
                ts = ln.timestamp.timestamp() if ln.timestamp is not None else iso_seconds(run["created_at"])
                lines.append((ts, "stderr" if ln.level == "error" else "stdout", str(ln.content)))
        except Exception as exc:  # an older server: the console log as the run's output.log file, untimed
            files = self.files(self.w_entity, self.w_project, run["id"])
            if "output.log" not in files:
                self.say(f"  {run['id']}: no console output read ({str(exc).splitlines()[0] if str(exc) else exc})")
                return
            text = Path(self.file(self.w_entity, self.w_project, run["id"], files["output.log"], Cache(t.TransferStats()))) \
                .read_text(errors="replace")
            start = iso_seconds(run["created_at"])
            lines = [(start, "stdout", line.rstrip("\r")) for line in text.split("\n")[:-1]]
        add_output(spool, stream, lines)

    # ---- run files ------------------------------------------------------------------------------
    def _download_file(self, f: Any, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        f.download(root=str(dest), replace=True).close()
        self.downloads[0] += 1
        self.downloads[1] += (dest / f.name).stat().st_size
        return dest / f.name

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        if run_id in self._files:
            return self._files[run_id]
        r = self._run(run_id)
        out: dict[str, dict[str, Any]] = {}
        objs: dict[str, Any] = {}
        try:
            for f in r.files(per_page=500):
                name = str(f.name)
                if not name or name.startswith("/") or ".." in name.split("/"):
                    continue
                size = int(f.size or 0)
                md5 = _md5_hex(str(f.md5 or ""))
                # what names these bytes: their MD5 where the server gives one, else the file's path and the
                # time it was last uploaded (a server that keeps no MD5 of run files)
                stamp = getattr(f, "updated_at", None) or (getattr(f, "_attrs", None) or {}).get("updatedAt")
                ident = md5 or (f"{self.label}/{run_id}/{name}@{stamp}" if stamp else "")
                sha = self.hashes.get(ident, size)
                rec: dict[str, Any] = {"path": name, "size": size, "md5": md5}
                if sha is None:
                    local = self._download_file(f, self._tmp / "files" / run_id)
                    h = t.hash_file(local)
                    sha, rec["size"], rec["local"] = h.sha256, h.size, str(local)
                    if ident and h.size == size:
                        self.hashes.put(ident, size, sha)
                rec["sha256"] = sha
                out[name], objs[name] = rec, f
        except TransferError:
            raise
        except Exception as exc:
            raise self._fail(f"listing the files of run {run_id}", exc) from None
        self._files[run_id], self._file_objs[run_id] = out, objs
        return out

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        if rec.get("local"):
            return Path(rec["local"])
        local = self._download_file(self._file_objs[run_id][rec["path"]], self._tmp / "files" / run_id)
        h = t.hash_file(local)
        if h.sha256 != rec["sha256"]:
            raise TransferError(f"run {run_id}: the file {rec['path']} changed on W&B while it was imported; "
                                "run the import again")
        rec["local"] = str(local)
        return local

    # ---- artifacts ------------------------------------------------------------------------------
    def _versions(self, art: Any) -> list[Any]:
        """Every version of the collection `art` belongs to, oldest first."""
        name = str(art.name).split(":", 1)[0]
        found = list(self.api.artifacts(art.type, f"{art.entity}/{art.project}/{name}", per_page=100))
        return sorted(found, key=lambda a: int(str(a.version).lstrip("v") or 0))

    def _collections(self) -> dict[str, list[Any]]:
        if self._arts is None:
            arts: dict[str, list[Any]] = {}
            try:
                # seeds: what the imported runs logged or used (every W&B artifact version is logged by a run);
                # then every version of each collection, so version numbers stay as they are
                for run_id in [self.one] if self.one else list(self._runs):
                    r = self._run(run_id)
                    for a in [*r.logged_artifacts(), *r.used_artifacts()]:
                        name = str(a.name).split(":", 1)[0]
                        if (a.entity, a.project) == (self.w_entity, self.w_project) and name not in arts:
                            arts[name] = self._versions(a)
            except Exception as exc:
                raise self._fail(f"listing the artifacts of {self.w_entity}/{self.w_project}", exc) from None
            self._arts = arts
        return self._arts

    def _version_obj(self, name: str, version: str) -> Any:
        for a in self._collections().get(name, []):
            if a.version == version:
                return a
        raise TransferError(f"no artifact version {name}:{version} in {self.w_entity}/{self.w_project} on W&B")

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        r = self._run(run_id)

        def brief(a: Any) -> dict[str, Any]:
            name = str(a.name).split(":", 1)[0]
            return {"name": name, "version": a.version, "entity": a.entity, "project": a.project,
                    "qualified_name": f"{a.entity}/{a.project}/{name}:{a.version}"}

        try:
            return {"logged": [brief(a) for a in r.logged_artifacts()], "used": [brief(a) for a in r.used_artifacts()]}
        except Exception as exc:
            raise self._fail(f"reading the artifacts of run {run_id}", exc) from None

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        return [{"name": name} for name in sorted(self._collections())]

    def artifact(self, entity: str, project: str, name: str) -> dict[str, Any]:
        versions = self._collections().get(name) or []
        if not versions:
            raise TransferError(f"no artifact {name} in {self.w_entity}/{self.w_project} on W&B")
        out = []
        for a in versions:
            out.append({"version": a.version, "version_index": int(str(a.version)[1:]),
                        "digest": self._digest(name, a.version), "aliases": [x for x in a.aliases if x != "latest"]})
        return {"name": name, "type": versions[0].type, "versions": out}

    def version(self, entity: str, project: str, name: str, version: str) -> dict[str, Any]:
        a = self._version_obj(name, version)
        try:
            producer = a.logged_by()
            users = a.used_by()
        except Exception as exc:
            raise self._fail(f"reading the lineage of {name}:{version}", exc) from None
        return {"version": version, "type": a.type, "description": a.description or "",
                "metadata": json_safe(dict(a.metadata or {})), "aliases": [x for x in a.aliases if x != "latest"],
                "entity": self.w_entity, "project": self.w_project,
                "created_by_run": {"run_id": producer.id} if producer is not None else None,
                "used_by": [{"entity": u.entity, "project": u.project, "run_id": u.id} for u in users]}

    def _entries(self, name: str, version: str) -> dict[str, tuple[Any, dict[str, Any]]]:
        key = f"{name}:{version}"
        if key in self._art_files:
            return self._art_files[key]
        a = self._version_obj(name, version)
        out: dict[str, tuple[Any, dict[str, Any]]] = {}
        try:
            entries = a.manifest.entries
            for path, e in sorted(entries.items()):
                if e.ref:
                    out[path] = (e, {"path": path, "ref": str(e.ref), "digest": str(e.digest or "") or None,
                                     "size": int(e.size) if e.size is not None else None})
                    continue
                size = int(e.size or 0)
                md5 = _md5_hex(str(e.digest or ""))
                rec: dict[str, Any] = {"path": path, "size": size}
                sha = self.hashes.get(md5, size)
                if sha is None:
                    local = self._fetch_entry(a, path, name, version)
                    h = t.hash_file(local)
                    sha, rec["size"], rec["local"] = h.sha256, h.size, str(local)
                    self.hashes.put(md5 or h.md5, h.size, sha)
                rec["sha256"] = sha
                out[path] = (e, rec)
        except TransferError:
            raise
        except Exception as exc:
            raise self._fail(f"reading the files of {name}:{version}", exc) from None
        self._art_files[key] = out
        return out

    def _fetch_entry(self, art: Any, path: str, name: str, version: str) -> Path:
        """One stored file of an artifact version, downloaded the way the wandb package downloads a version (its
        batched file URLs; references are never fetched)."""
        root = self._tmp / "artifacts" / name / version
        art.download(root=str(root), path_prefix=path)
        local = root / path
        if not local.is_file():
            raise TransferError(f"the wandb package did not download {path} of {name}:{version}")
        self.downloads[0] += 1
        self.downloads[1] += local.stat().st_size
        return local

    def _digest(self, name: str, version: str) -> str:
        """The digest Runyard gives a version holding these files (services/.../artifact/manifest.py)."""
        canon_entries = []
        for path, (_e, rec) in sorted(self._entries(name, version).items(), key=lambda x: x[0].encode()):
            content = f"sha256:{rec['sha256']}" if rec.get("sha256") else f"ref:{rec['ref']}#{rec.get('digest') or ''}"
            canon_entries.append([path, content, rec.get("size")])
        return hashlib.sha256(json.dumps(canon_entries, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()

    def version_files(self, entity: str, project: str, name: str, version: str) -> list[dict[str, Any]]:
        return [dict(rec, _art=f"{name}:{version}") for _e, rec in self._entries(name, version).values()]

    def object(self, entry: dict[str, Any], cache: Cache) -> Path:
        if entry.get("local"):
            return Path(entry["local"])
        name, version = str(entry["_art"]).rsplit(":", 1)
        _e, rec = self._entries(name, version)[entry["path"]]
        local = self._fetch_entry(self._version_obj(name, version), entry["path"], name, version)
        if t.hash_file(local).sha256 != rec["sha256"]:
            raise TransferError(f"the file {entry['path']} of {name}:{version} changed on W&B while it was imported")
        rec["local"] = str(local)
        return local
