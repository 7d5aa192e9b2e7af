"""`runyard transfer SRC --from A --to B`: copy a project or one run from one instance to another.

A is read through its public REST API only; B is written the way the SDK writes: records through
ingest (a sync stream), files and artifacts through the artifact service (content addressed: bytes the
bucket of B already holds are not sent, and each distinct object is downloaded from A once).

Each run becomes a deterministic record stream (`runyard._runcopy`): records 1..N and a digest. Before
sending, the stream's digest is noted in a journal (`$RUNYARD_CONFIG_DIR/transfers.json`, per target
and run); B's `last_seq` says how many records it holds, so a transfer killed midway goes on where it
stopped, and a second transfer sends nothing. A run id that B already holds with other data (a run
made there, or the run on A changed since it was copied) is a conflict: reported, left as it is.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _transfer as t
from ._runcopy import RunStream, build_stream, open_request, q, read_frames, run_path
from ._sources import Cache, InstanceSource, Source, TransferError
from .errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RunyardError,
    ServerError,
)

__all__ = ["Endpoint", "TransferError", "TransferReport", "copy_into", "host_key", "parse_source", "transfer"]

JOURNAL = "transfers.json"


@dataclass
class Endpoint:
    base_url: str
    api_key: str


def host_key(url: str, explicit: str | None) -> str:
    """The API key for `url`: `explicit`, else the key `runyard login --host URL` saved, else the login
    file's key when its host is `url`, else RUNYARD_API_KEY when RUNYARD_BASE_URL is `url`."""
    from ._login import read_login_file

    if explicit:
        return explicit
    url = url.rstrip("/")
    data = read_login_file()
    hosts = data.get("hosts")
    if isinstance(hosts, dict) and isinstance(hosts.get(url), str) and hosts[url]:
        return str(hosts[url])
    if str(data.get("base_url") or "").rstrip("/") == url and data.get("api_key"):
        return str(data["api_key"])
    if (os.environ.get("RUNYARD_BASE_URL") or "").strip().rstrip("/") == url and os.environ.get("RUNYARD_API_KEY"):
        return str(os.environ["RUNYARD_API_KEY"])
    raise TransferError(f"no API key for {url}: run `runyard login --host {url} KEY` first, or pass it with "
                        "--from-key / --to-key")


def parse_source(src: str) -> tuple[str, str, str | None]:
    parts = [p for p in src.strip("/").split("/")]
    if len(parts) not in (2, 3) or not all(parts):
        raise TransferError(f"SRC must be entity/project or entity/project/run_id, got {src!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


@dataclass
class RunResult:
    run_id: str
    status: str                 # copied | resumed | up to date | skipped | conflict | failed
    records_sent: int = 0
    records_total: int = 0
    points: int = 0
    files_sent: int = 0
    detail: str = ""


@dataclass
class TransferReport:
    runs: list[RunResult] = field(default_factory=list)
    artifacts_created: int = 0
    artifacts_present: int = 0
    artifact_conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: t.TransferStats = field(default_factory=t.TransferStats)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.runs if r.status == status)

    @property
    def moved_anything(self) -> bool:
        return bool(self.artifacts_created or self.stats.uploaded
                    or any(r.records_sent or r.files_sent or r.status in ("copied", "resumed") for r in self.runs))

    @property
    def ok(self) -> bool:
        return not self.artifact_conflicts and all(r.status not in ("conflict", "failed") for r in self.runs)


class Journal:
    """What this machine started copying where: {target: {entity/project/run_id: {...}}}. Written before
    records are sent (the digest and count) and after (done, both sides' updated_at)."""

    def __init__(self, target: str) -> None:
        from .settings import login_file_path

        self.path = login_file_path().parent / JOURNAL
        self.target = target
        self.on_put: Callable[[str, dict[str, Any]], None] = lambda _key, _entry: None

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any]:
        entry = (self._load().get(self.target) or {}).get(key)
        return entry if isinstance(entry, dict) else {}

    def put(self, key: str, entry: dict[str, Any]) -> None:
        data = self._load()
        data.setdefault(self.target, {})[key] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
        self.on_put(key, entry)


class _Mover:
    def __init__(self, src: Source, dst: Endpoint, say: Callable[[str], None], workers: int) -> None:
        self.src, self.dst, self.say, self.workers = src, dst, say, workers
        self.b = t.Api(dst.base_url, dst.api_key, workers=workers)
        self.journal = Journal(dst.base_url)
        self.report = TransferReport()
        self.cache = Cache(self.report.stats)
        self.runs_on_b: set[str] = set()
        self.include_running = False
        self.events: Callable[[dict[str, Any]], None] = lambda _e: None

    def close(self) -> None:
        self.b.close()
        self.cache.close()

    def get_b(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET on B; None for a 404."""
        try:
            return self.b.call("GET", path, what=what, params=params)
        except NotFoundError:
            return None
        except AuthenticationError as exc:
            raise TransferError(f"{self.dst.base_url} refused the API key given for it (--to): {exc.message}") \
                from None

    # ---- one run ------------------------------------------------------------------------------
    def copy_run(self, entity: str, project: str, run_id: str, to_entity: str, to_project: str,
                 label: str) -> RunResult:
        run = self.src.run(entity, project, run_id)
        b_path = run_path(to_entity, to_project, run_id)
        key = f"{to_entity}/{to_project}/{run_id}"
        b_run = self.get_b(b_path, f"reading run {key} on {self.dst.base_url}")
        entry = self.journal.get(key)
        result = RunResult(run_id, "copied")
        if run.get("state") == "running":
            if not self.include_running:
                return RunResult(run_id, "skipped", detail="still running on the source: transfer it when it has "
                                 "ended (or copy a snapshot with --include-running)")
            result.detail = "still running on the source: copied as far as it got (crashed on the target)"
        fresh = (b_run is not None and entry.get("done") and entry.get("a_updated_at") == run.get("updated_at")
                 and entry.get("b_updated_at") == b_run.get("updated_at")
                 and entry.get("source") == f"{self.src.label}/{entity}/{project}/{run_id}")
        if fresh:
            result.status = "up to date"
            result.records_total = int(entry.get("count") or 0)
        else:
            with tempfile.TemporaryFile(dir=self.cache.root) as spool:
                self.say(f"{label} {run_id}: reading from {self.src.label}")
                stream = self.src.stream(run, spool, lambda m: self.say(f"{label} {run_id}: {m}"))
                result.records_total, result.points = stream.count, stream.points
                decision = self._decide(run, b_run, entry, stream, to_entity, to_project)
                if decision is not None:
                    result.status, result.detail = decision
                    if result.status == "conflict":
                        return result
                else:
                    entry = {"source": f"{self.src.label}/{entity}/{project}/{run_id}", "digest": stream.digest,
                             "count": stream.count, "done": False}
                    self.journal.put(key, entry)
                    sent, resumed = self._send(run, stream, spool, to_entity, to_project, label, b_run is not None)
                    result.records_sent = sent
                    result.status = "resumed" if resumed else ("copied" if sent or b_run is None else "up to date")
            entry = {"source": f"{self.src.label}/{entity}/{project}/{run_id}", "digest": stream.digest,
                     "count": stream.count, "done": True, "a_updated_at": run.get("updated_at")}
        self.runs_on_b.add(run_id)
        files, conflicts = self._copy_files(entity, project, run_id, to_entity, to_project, label)
        if not fresh or files:
            b_run = self.get_b(b_path, f"reading run {key} on {self.dst.base_url}")
            self.journal.put(key, {**entry, "b_updated_at": (b_run or {}).get("updated_at")})
        result.files_sent = files
        if conflicts:
            result.status = "conflict"
            result.detail = "; ".join(conflicts)
        elif files and result.status == "up to date":
            result.status = "resumed"
        return result

    def _decide(self, run: dict[str, Any], b_run: dict[str, Any] | None, entry: dict[str, Any],
                stream: RunStream, to_entity: str, to_project: str) -> tuple[str, str] | None:
        """None: send (B lacks the run, or holds a prefix of this very stream); else (status, detail)."""
        if b_run is None:
            return None
        ours = entry.get("digest") == stream.digest and int(entry.get("count") or 0) == stream.count
        if ours and not (entry.get("done") and entry.get("b_updated_at") != b_run.get("updated_at")):
            return None  # our own earlier (maybe interrupted) copy of the same data: go on from B's last_seq
        # B has the run and we cannot tell it is ours: compare what B shows with what A shows
        with tempfile.TemporaryFile(dir=self.cache.root) as other:
            theirs = build_stream(self.b, b_run, other)
        if theirs.digest == stream.digest:
            return ("up to date", "")
        if ours:
            why = "the run was changed on the target since it was copied"
        elif entry.get("digest"):
            why = "the run changed on the source since it was copied"
        else:
            why = "the target already holds a run with this id and different data"
        return ("conflict", f"{why} ({_differences(run, b_run, stream, theirs)}); left as it is on both sides")

    def _send(self, run: dict[str, Any], stream: RunStream, spool: Any, to_entity: str, to_project: str,
              label: str, exists: bool) -> tuple[int, bool]:
        from ._session import StreamSession

        req = open_request(run, to_entity, to_project)
        req.resume = "allow" if exists else "never"
        try:
            session = StreamSession(self.dst.base_url, self.dst.api_key, req)
        except RunyardError as exc:
            raise self._write_error(exc) from None
        with session:
            try:
                opened = session.opened(60.0)
            except (PermissionDeniedError, AuthenticationError, NotFoundError) as exc:
                raise self._write_error(exc) from None
            have = int(opened.last_seq)
            if have > stream.count:
                raise RunyardError(f"the target holds {have} records of this run, more than the {stream.count} "
                                   "the source gives: it is not this copy")
            todo = stream.count - have
            if not todo:
                return 0, False
            if have:
                self.say(f"{label} {run['id']}: resuming: the target holds {have} of {stream.count} records")
            last = [time.monotonic()]

            def progress(n: int) -> None:
                if time.monotonic() - last[0] >= 2.0 or n == todo:
                    last[0] = time.monotonic()
                    self.events({"event": "records", "run_id": run["id"], "sent": n, "todo": todo, "had": have,
                                 "total": stream.count})
                    self.say(f"{label} {run['id']}: {n}/{todo} records sent ({100 * n // max(todo, 1)}%)")

            session.send(read_frames(spool, after=have), progress=progress, timeout=300.0)
            while session.conn.rejected:
                seq, reason = session.conn.rejected.popleft()
                self.report.notes.append(f"run {run['id']}: the target refused record {seq}: {reason}")
        return todo, bool(have)

    def _write_error(self, exc: RunyardError) -> TransferError:
        if isinstance(exc, (PermissionDeniedError, AuthenticationError, NotFoundError)):
            return TransferError(f"{self.dst.base_url} does not let this key write there: {exc.message}. "
                                 "Nothing was written; use a key of a user who may write to the target "
                                 "entity (--to-key, or `runyard login --host URL KEY`).")
        return TransferError(exc.message)

    # ---- files --------------------------------------------------------------------------------
    def _list_b_files(self, path: str, what: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        while True:
            page = self.b.call("GET", path + "/files", what=what,
                               params={"recursive": "true", "limit": 10_000, "offset": len(out)})
            for f in page["files"]:
                out[f["path"]] = f
            if not page["files"] or len(out) >= int(page["total"]):
                return out

    def _copy_files(self, entity: str, project: str, run_id: str, to_entity: str, to_project: str,
                    label: str) -> tuple[int, list[str]]:
        from .artifacts import upload_run_files

        theirs = self.src.files(entity, project, run_id)
        ours = self._list_b_files(run_path(to_entity, to_project, run_id),
                                  f"listing the files of run {run_id} on {self.dst.base_url}")
        conflicts = [f"file {p} differs on the target (left as it is)" for p, f in theirs.items()
                     if p in ours and ours[p]["sha256"] != f["sha256"]]
        todo = {p: f for p, f in theirs.items() if p not in ours}
        if not todo:
            return 0, conflicts
        self.say(f"{label} {run_id}: copying {len(todo)} files")
        local = {p: str(self.src.file(entity, project, run_id, f, self.cache)) for p, f in sorted(todo.items())}
        ctypes = {p: f.get("content_type") or "application/octet-stream" for p, f in todo.items()}
        try:
            upload_run_files(self.dst.base_url, self.dst.api_key, to_entity, to_project, run_id, local,
                             content_types=ctypes, workers=self.workers, stats=self.report.stats)
        except (PermissionDeniedError, AuthenticationError) as exc:
            raise self._write_error(exc) from None
        return len(todo), conflicts

    # ---- artifacts ----------------------------------------------------------------------------
    def copy_artifacts(self, entity: str, project: str, to_entity: str, to_project: str,
                       names: set[str] | None, runs: set[str]) -> None:
        base_b = f"/api/v1/artifacts/{q(to_entity)}/{q(to_project)}"
        for art in sorted(self.src.artifacts(entity, project), key=lambda a: str(a["name"])):
            if names is not None and art["name"] not in names:
                continue
            self._copy_artifact(entity, project, base_b, str(art["name"]), to_entity, to_project, runs)

    def _copy_artifact(self, entity: str, project: str, base_b: str, name: str, to_entity: str, to_project: str,
                       runs: set[str]) -> None:
        full = self.src.artifact(entity, project, name)
        mine = self.get_b(f"{base_b}/{q(name)}", f"reading artifact {name} on the target")
        have = {int(v["version_index"]): v for v in (mine or {}).get("versions") or []}
        versions = sorted(full["versions"], key=lambda v: int(v["version_index"]))
        for v in versions:
            idx = int(v["version_index"])
            detail = self.src.version(entity, project, name, v["version"])
            on_b = have.get(idx)
            if on_b is not None:
                if on_b["digest"] != v["digest"]:
                    self.report.artifact_conflicts.append(
                        f"artifact {name}:{v['version']} holds other files on the target (left as it is)")
                    continue
                self.report.artifacts_present += 1
            else:
                self._create_version(entity, project, base_b, name, full["type"], detail, runs)
            self._lineage(base_b, name, v["version"], detail, to_entity, to_project, runs)
        for v in versions:  # aliases as they are on the source now (`latest` is the service's)
            for alias in v["aliases"]:
                if alias == "latest":
                    continue
                cur = self.get_b(f"{base_b}/{q(name)}/{q(alias)}", f"reading {name}:{alias} on the target")
                if cur is None or int(cur["version_index"]) != int(v["version_index"]):
                    self.b.call("PUT", f"{base_b}/{q(name)}/aliases/{q(alias)}", json={"version": v["version"]},
                                what=f"moving alias {name}:{alias}")

    def _create_version(self, entity: str, project: str, base_b: str, name: str, kind: str, detail: dict[str, Any],
                        runs: set[str]) -> None:
        version = detail["version"]
        files: list[dict[str, Any]] = []
        wanted: list[t.LocalFile] = []
        for f in self.src.version_files(entity, project, name, version):
            if f.get("ref"):
                files.append({"path": f["path"], "ref": f["ref"], "digest": f.get("digest"), "size": f.get("size")})
                continue
            files.append({"path": f["path"], "sha256": f["sha256"], "size": f["size"]})
            wanted.append(t.hash_file(self.src.object(f, self.cache)))

        def begin(batch: list[t.LocalFile]) -> list[dict[str, Any]]:
            body = {"objects": [{"sha256": f.sha256, "size": f.size, "md5": f.md5} for f in batch]}
            return list(self.b.call("POST", f"{base_b}/_uploads", json=body, what="starting artifact uploads")["objects"])

        producer = (detail.get("created_by_run") or {}).get("run_id")
        body = {"type": kind, "description": detail.get("description") or "", "metadata": detail.get("metadata") or {},
                "aliases": [a for a in detail.get("aliases") or [] if a != "latest"],
                "run_id": producer if producer in runs else None, "files": files}
        if detail.get("created_at"):
            body["created_at"] = detail["created_at"]  # the version keeps the time it was made on the source
        try:
            uniq = list({f.sha256: f for f in wanted}.values())
            t.ensure_uploaded(self.b, begin, uniq, workers=self.workers, stats=self.report.stats)
            out = self.b.call("POST", f"{base_b}/{q(name)}/versions", json=body, what=f"logging {name}:{version}")
        except (PermissionDeniedError, AuthenticationError) as exc:
            raise self._write_error(exc) from None
        if out["version"] != version:
            self.report.notes.append(f"artifact {name}:{version} is {out['version']} on the target (the source "
                                     "has deleted versions before it)")
        if producer and producer not in runs:
            self.report.notes.append(f"artifact {name}:{version}: its producing run {producer} is not on the "
                                     "target; copied without it")
        self.report.artifacts_created += 1

    def _lineage(self, base_b: str, name: str, version: str, detail: dict[str, Any], to_entity: str,
                 to_project: str, runs: set[str]) -> None:
        users = [u for u in detail.get("used_by") or []
                 if u["entity"] == detail["entity"] and u["project"] == detail["project"] and u["run_id"] in runs]
        if not users:
            return
        on_b = self.get_b(f"{base_b}/{q(name)}/{q(version)}", f"reading {name}:{version} on the target") or {}
        known = {u["run_id"] for u in on_b.get("used_by") or []}
        for u in users:
            if u["run_id"] not in known:
                self.b.call("POST", f"{base_b}/{q(name)}/{q(version)}/use",
                            json={"run": {"entity": to_entity, "project": to_project, "run_id": u["run_id"]}},
                            what=f"recording that run {u['run_id']} used {name}:{version}")


def _differences(run: dict[str, Any], other: dict[str, Any], mine: RunStream, theirs: RunStream) -> str:
    diffs = [f for f in ("name", "config", "summary", "tags", "notes", "group", "job_type", "host", "state",
                         "exit_code", "created_at") if run.get(f) != other.get(f)]
    if mine.history_rows != theirs.history_rows:
        diffs.append(f"history rows {mine.history_rows} vs {theirs.history_rows}")
    if mine.output_lines != theirs.output_lines:
        diffs.append(f"console lines {mine.output_lines} vs {theirs.output_lines}")
    if not diffs:
        diffs.append("history or console values")
    return "differs in " + ", ".join(diffs)


def transfer(src: str, source: Endpoint, target: Endpoint, *, to_entity: str | None = None,
             to_project: str | None = None, say: Callable[[str], None] = print, workers: int = 4,
             include_running: bool = False, only: list[str] | None = None,
             events: Callable[[dict[str, Any]], None] | None = None) -> TransferReport:
    """Copy `src` (entity/project or entity/project/run_id) from `source` to `target`. Raises
    TransferError when it cannot start or must stop (keys, access, a missing source). `only`: of a
    project, just these run ids. `events`: called with one dict per step (docs/transfer.md, `--progress json`)."""
    entity, project, one = parse_source(src)
    reader = InstanceSource(source.base_url, source.api_key, workers)
    try:
        return copy_into(reader, entity, project, one, target, to_entity=to_entity, to_project=to_project,
                         say=say, workers=workers, include_running=include_running, only=only, events=events)
    finally:
        reader.close()


def copy_into(source: Source, entity: str, project: str, one: str | None, target: Endpoint, *,
              to_entity: str | None = None, to_project: str | None = None, say: Callable[[str], None] = print,
              workers: int = 4, verb: str = "transferring", include_running: bool = False,
              only: list[str] | None = None, events: Callable[[dict[str, Any]], None] | None = None) -> TransferReport:
    """Copy a project (or the run `one`, or of a project the runs `only`) of `source` to `target` (see the
    module docstring). Runs still running on the source are skipped unless `include_running` (a snapshot,
    `crashed` on the target)."""
    started = time.monotonic()
    mover = _Mover(source, target, say, workers)
    mover.include_running = include_running
    if events is not None:
        mover.events = events
        mover.journal.on_put = lambda key, entry: events({"event": "journal", "target": target.base_url,
                                                          "key": key, "entry": entry})
    try:
        who = mover.get_b("/api/v1/viewer", f"checking the key for {target.base_url}")
        if who is None:
            raise TransferError(f"{target.base_url} does not look like a Runyard server (no /api/v1/viewer)")
        dest_entity = to_entity or entity
        dest_project = to_project or project
        ents = mover.get_b("/api/v1/entities", f"listing the entities of the key on {target.base_url}") or {}
        mine = {e["name"]: e for e in ents.get("entities") or []}
        if not (mine.get(dest_entity) or {}).get("can_write") and not who.get("is_admin"):
            can = sorted(n for n, e in mine.items() if e.get("can_write"))
            raise TransferError(
                f"{target.base_url} does not let this key ({who.get('username')}) write to entity {dest_entity!r}. "
                f"Nothing was written; use a key of a user who may write there (--to-key, or `runyard login "
                f"--host {target.base_url} KEY`), or another entity with --to-entity"
                + (f" (this key may write to: {', '.join(can)})" if can else ""))
        source.project(entity, project)
        if one:
            runs = [source.run(entity, project, one)]
        elif only is not None:
            runs = [source.run(entity, project, run_id) for run_id in dict.fromkeys(only)]
        else:
            runs = source.runs(entity, project)
        n = len(runs)
        mover.events({"event": "start", "runs": [str(r["id"]) for r in runs], "source": f"{entity}/{project}",
                      "target": f"{dest_entity}/{dest_project}"})
        say(f"{verb} {n} run{'s' if n != 1 else ''} of {entity}/{project} from {source.label} to "
            f"{target.base_url} ({dest_entity}/{dest_project})")
        for i, r in enumerate(runs, 1):
            label = f"[{i}/{n}]"
            mover.events({"event": "run_start", "run_id": str(r["id"]), "index": i, "of": n})
            try:
                res = mover.copy_run(entity, project, str(r["id"]), dest_entity, dest_project, label)
            except TransferError:
                raise
            except RunyardError as exc:
                res = RunResult(str(r["id"]), "failed", detail=exc.message)
            mover.report.runs.append(res)
            say(f"{label} {res.run_id}: {_describe(res)}")
            mover.events({"event": "run", "run_id": res.run_id, "status": res.status, "records_sent": res.records_sent,
                          "records_total": res.records_total, "points": res.points, "files_sent": res.files_sent,
                          "detail": res.detail, "message": _describe(res)})
        names: set[str] | None = None
        chosen = [one] if one else ([str(r["id"]) for r in runs] if only is not None else [])
        if chosen:
            names = set()
            for run_id in chosen:
                arts = source.run_artifacts(entity, project, run_id)
                names |= {v["name"] for v in arts["logged"] + arts["used"]
                          if v["entity"] == entity and v["project"] == project}
                for v in arts["used"]:
                    if (v["entity"], v["project"]) != (entity, project):
                        mover.report.notes.append(
                            f"run {run_id} used {v['qualified_name']} of another project: not copied")
        # lineage may name runs already on the target that this transfer did not copy
        present = set(mover.runs_on_b)
        if names is None or names:
            try:
                mover.copy_artifacts(entity, project, dest_entity, dest_project, names,
                                     present | _runs_on(mover, dest_entity, dest_project))
            except ServerError as exc:
                if isinstance(exc, (PermissionDeniedError, AuthenticationError)):
                    raise mover._write_error(exc) from None
                raise
        mover.report.seconds = time.monotonic() - started
        return mover.report
    finally:
        mover.close()


def _runs_on(mover: _Mover, entity: str, project: str) -> set[str]:
    out: set[str] = set()
    offset = 0
    while True:
        page = mover.get_b(f"/api/v1/projects/{q(entity)}/{q(project)}/runs", "listing runs on the target",
                           {"limit": 1000, "offset": offset, "fields": "name"})
        if page is None:
            return out
        out.update(str(r["id"]) for r in page["runs"])
        offset += len(page["runs"])
        if not page["runs"] or offset >= int(page["total"]):
            return out


def _describe(r: RunResult) -> str:
    if r.status == "up to date":
        text = f"up to date ({r.records_total} records), nothing sent"
        if r.files_sent:
            text = f"records up to date, {r.files_sent} files copied"
    elif r.status == "skipped":
        return f"skipped: {r.detail}"
    elif r.status in ("copied", "resumed"):
        text = f"{r.status}: {r.records_sent} of {r.records_total} records sent, {r.points} points"
        text += f", {r.files_sent} files" if r.files_sent else ""
    else:
        text = f"{r.status.upper()}: {r.detail}"
        return text
    return text + (f" ({r.detail})" if r.detail else "")


def summary_lines(report: TransferReport) -> list[str]:
    s = report.stats
    runs = len(report.runs)
    lines = []
    skipped = report.count("skipped")
    if not report.moved_anything and report.ok and not skipped:
        lines.append(f"nothing to transfer: all {runs} runs and {report.artifacts_present} artifact versions are "
                     "already on the target")
    else:
        parts = [f"{report.count(k)} {k}" for k in ("copied", "resumed", "up to date", "skipped", "conflict", "failed")
                 if report.count(k)]
        lines.append(f"runs: {', '.join(parts) or 'none'}; artifact versions: {report.artifacts_created} created, "
                     f"{report.artifacts_present} already there")
    records = sum(r.records_sent for r in report.runs)
    points = sum(r.points for r in report.runs if r.records_sent)
    secs = max(report.seconds, 1e-6)
    lines.append(f"sent {records} records ({points} points), {s.uploaded} objects ({s.bytes_uploaded} bytes; "
                 f"{s.deduplicated} already stored on the target); downloaded {s.bytes_downloaded} bytes; "
                 f"{report.seconds:.1f} s ({runs / secs:.1f} runs/s)")
    lines.extend(f"note: {n}" for n in report.notes)
    lines.extend(f"CONFLICT: {c}" for c in report.artifact_conflicts)
    return lines
