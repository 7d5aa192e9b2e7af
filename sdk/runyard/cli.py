"""The `runyard` command: login, sync, transfer, export, import, status, offline, online, version (`runyard COMMAND --help`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _err(message: str) -> None:
    print(f"runyard: {message}", file=sys.stderr)


def _cmd_login(args: argparse.Namespace) -> int:
    from ._login import check_key, default_host, write_login_file
    from .errors import AuthenticationError, RunyardError

    host = (args.host or default_host()).rstrip("/")
    if not host.startswith(("http://", "https://")):
        _err(f"--host must start with http:// or https://, got {host!r}")
        return 2
    key = args.key
    if not key:
        import getpass

        print(f"Paste an API key for {host} (the UI shows one after sign-up, or under Settings > API keys).")
        try:
            key = getpass.getpass("API key: ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 1
        if not key:
            _err("no key given")
            return 1
    try:
        who = check_key(host, key)
    except AuthenticationError:
        _err(f"{host} refused this API key; nothing was saved. Make a new key in the UI and try again.")
        return 1
    except RunyardError as exc:
        _err(f"{exc.message}; nothing was saved")
        return 1
    from ._login import read_login_file

    hosts = read_login_file().get("hosts")
    hosts = dict(hosts) if isinstance(hosts, dict) else {}
    hosts[host] = key  # every host logged in to keeps its key (for `runyard transfer --from/--to`)
    path = write_login_file({"base_url": host, "api_key": key, "hosts": hosts})
    print(f"Logged in to {host} as {who.get('username')} (entity {who.get('entity') or who.get('username')}); "
          f"key saved in {path}")
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from ._sync import find_run_dirs, sync_run, sync_settings
    from .errors import RunyardError

    try:
        settings = sync_settings(args.host, args.api_key)
    except RunyardError as exc:
        _err(exc.message)
        return 2
    paths = args.paths or [os.environ.get("RUNYARD_DIR") or "."]
    dirs: list[Path] = []
    for p in paths:
        found = find_run_dirs(p)
        if not found:
            _err(f"no run folder at {p} (a run folder holds run.json; runs live in ./runyard-runs/run-*)")
            return 2
        dirs.extend(found)
    failed = incomplete = 0
    print(f"syncing {len(dirs)} run{'s' if len(dirs) != 1 else ''} to {settings.base_url}")
    for i, d in enumerate(dirs, 1):
        print(f"[{i}/{len(dirs)}] {d}")
        try:
            rec = sync_run(d, settings=settings, entity=args.entity, project=args.project)
        except RunyardError as exc:
            failed += 1
            _err(f"{d}: {exc.message}")
            continue
        what = (f"{rec['records_sent']} records sent" if rec["records_sent"] else "no new records")
        what += f", {rec['files_uploaded']} files uploaded" if rec["files_uploaded"] else ", files up to date"
        if rec["refused"]:
            what += f", {len(rec['refused'])} records refused by the server (named above)"
        print(f"  done: {what} -> {rec['url']}")
        if rec["missing"]:
            incomplete += 1
            _err(f"{d}: the copy on {settings.base_url} lacks what this folder does not hold: "
                 + "; ".join(rec["missing"]))
    if failed or incomplete:
        if failed:
            _err(f"{failed} of {len(dirs)} runs could not be synced; fix what is named above and run the same "
                 "command again (a second sync sends nothing twice)")
        if incomplete:
            _err(f"{incomplete} of {len(dirs)} runs were synced incompletely: their folders lack records (above)")
        return 1
    return 0


def _cmd_transfer(args: argparse.Namespace) -> int:
    from ._move import Endpoint, TransferError, host_key, summary_lines, transfer
    from .errors import RunyardError

    src_url, dst_url = args.source.rstrip("/"), args.target.rstrip("/")
    for opt, url in (("--from", src_url), ("--to", dst_url)):
        if not url.startswith(("http://", "https://")):
            _err(f"{opt} must start with http:// or https://, got {url!r}")
            return 2
    if src_url == dst_url and not (args.to_entity or args.to_project):
        _err("--from and --to name the same instance; give --to-entity or --to-project to copy within it")
        return 2
    as_json = args.progress == "json"

    def event(e: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(e, default=str), flush=True)

    def say(message: str) -> None:
        print(message, file=sys.stderr if as_json else sys.stdout, flush=as_json)

    only = [r for r in (args.runs or "").split(",") if r.strip()] or None
    try:
        source = Endpoint(src_url, host_key(src_url, args.from_key or os.environ.get("RUNYARD_TRANSFER_FROM_KEY")))
        target = Endpoint(dst_url, host_key(dst_url, args.to_key or os.environ.get("RUNYARD_TRANSFER_TO_KEY")))
        report = transfer(args.src, source, target, to_entity=args.to_entity, to_project=args.to_project,
                          workers=args.workers, include_running=args.include_running, only=only,
                          say=say, events=event)
    except TransferError as exc:
        event({"event": "error", "message": exc.message, "exit": 2})
        _err(exc.message)
        return 2
    except RunyardError as exc:
        event({"event": "error", "message": exc.message, "exit": 1})
        _err(f"{exc.message}; run the same command again to go on where it stopped")
        return 1
    lines = summary_lines(report)
    event({"event": "done", "ok": report.ok, "summary": lines, "artifacts_created": report.artifacts_created,
           "artifacts_present": report.artifacts_present, "artifact_conflicts": report.artifact_conflicts,
           "notes": report.notes, "bytes_uploaded": report.stats.bytes_uploaded, "seconds": round(report.seconds, 3)})
    for line in lines:
        say(line)
    if not report.ok:
        bad = [r for r in report.runs if r.status in ("conflict", "failed")]
        _err(f"{len(bad)} runs and {len(report.artifact_conflicts)} artifact versions were not transferred "
             "(named above); conflicts are never merged: delete or rename the run on the target to copy it")
        return 1
    return 0


def host_and_key(host: str | None, key: str | None) -> tuple[str, str]:
    from ._login import default_host
    from ._move import host_key

    url = (host or default_host()).rstrip("/")
    if not url.startswith(("http://", "https://")):
        from ._move import TransferError

        raise TransferError(f"--host must start with http:// or https://, got {url!r}")
    return url, host_key(url, key)


def _cmd_export(args: argparse.Namespace) -> int:
    from ._move import TransferError, parse_source
    from ._sources import InstanceSource, write_bundle
    from .errors import RunyardError

    out = Path(args.output)
    try:
        entity, project, one = parse_source(args.src)
        url, key = host_and_key(args.host, args.api_key)
        source = InstanceSource(url, key, args.workers)
        try:
            print(f"exporting {args.src} from {url} to {out}")
            counts = write_bundle(source, entity, project, one, out)
        finally:
            source.close()
    except TransferError as exc:
        _err(exc.message)
        return 2
    except RunyardError as exc:
        _err(f"{exc.message}; nothing was written to {out}")
        return 1
    print(f"wrote {out}: {counts['runs']} runs, {counts['records']} records ({counts['points']} points), "
          f"{counts['files']} run files, {counts['artifact_versions']} artifact versions, {counts['objects']} "
          f"distinct objects ({counts['bytes']} bytes)")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from ._login import read_login_file
    from ._sync import find_run_dirs, run_status
    from .errors import RunyardError
    from .settings import RUN_ROOT, login_file_path, resolve

    try:
        s = resolve({})
    except RunyardError as exc:
        _err(exc.message)
        return 2
    print(f"host: {s.base_url}")
    print(f"mode: {s.mode}" + (" (from RUNYARD_MODE)" if os.environ.get("RUNYARD_MODE") else ""))
    file_path = login_file_path()
    if s.api_key:
        from ._http import viewer

        try:
            who = viewer(s.base_url, s.api_key, min(s.http_timeout, 5.0))
            print(f"user: {who.get('username')} (entity {who.get('entity') or who.get('username')})")
        except RunyardError as exc:
            print(f"user: unknown ({exc.message})")
    else:
        print(f"user: not logged in (run `runyard login --host {s.base_url}`)")
    print(f"settings file: {file_path}{'' if read_login_file() else ' (none)'}")
    root = Path(args.dir) if args.dir else s.root_dir.parent
    dirs = find_run_dirs(root)
    pending = []
    for d in dirs:
        ok, text = run_status(d, s.base_url)
        if not ok:
            pending.append((d, text))
    where = dirs[0].parent if dirs and all(d.parent == dirs[0].parent for d in dirs) else root
    if not dirs:
        print(f"no runs in {root / RUN_ROOT}")
    elif not pending:
        print(f"{len(dirs)} runs in {where}, all synced to {s.base_url} (as that server acknowledged)")
    else:
        print(f"{len(pending)} of {len(dirs)} runs in {where} not synced to {s.base_url}:")
        for d, text in pending:
            print(f"  {d.name}: {text}")
        print(f"upload them with: runyard sync {where}")
    return 0


def _cmd_mode(mode: str) -> int:
    from ._login import write_login_file

    path = write_login_file({"mode": mode})
    note = " (RUNYARD_MODE in the environment still wins)" if os.environ.get("RUNYARD_MODE") else ""
    if mode == "offline":
        print(f"runs are now offline by default: they log to ./runyard-runs; upload with `runyard sync`{note}. "
              f"Saved in {path}")
    else:
        print(f"runs now go to the server by default{note}. Saved in {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runyard", description="Runyard command line: log in, sync offline runs, move runs "
                                                                 "between instances, import runs of other tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    login = sub.add_parser("login", help="check an API key and save it (with the host) in the settings file",
                           description="Check the key with GET /api/v1/viewer and save host and key in "
                                       "$RUNYARD_CONFIG_DIR/settings.json (default ~/.config/runyard, mode 0600). "
                                       "Without KEY it asks for one (not echoed).")
    login.add_argument("key", nargs="?", metavar="KEY", help="the API key (prompted for when left out)")
    login.add_argument("--host", help="the server's base URL, e.g. http://localhost:8080 "
                                      "(default: RUNYARD_BASE_URL, the saved host, or http://localhost:8080)")
    sync = sub.add_parser("sync", help="upload run folders written offline or not confirmed in time",
                          description="Replay each run's record log with its original sequence numbers and "
                                      "upload its files. Syncing twice changes nothing; --host recreates the run "
                                      "on another instance. Exits 1 when a run could not be synced, or when its "
                                      "folder lacks records (named: a damaged log, RUNYARD_KEEP_LOG=false).")
    sync.add_argument("paths", nargs="*", metavar="PATH",
                      help="run folders, or a folder holding runyard-runs/run-* (default: RUNYARD_DIR or .)")
    sync.add_argument("--host", help="target server base URL (default: RUNYARD_BASE_URL or the saved host)")
    sync.add_argument("--api-key", dest="api_key", help="API key for the target (default: RUNYARD_API_KEY or saved)")
    sync.add_argument("--entity", help="store the runs under this entity (default: the run's, or the key's user)")
    sync.add_argument("--project", help="store the runs in this project (default: the run's)")
    tr = sub.add_parser("transfer", help="copy a project or a run from one Runyard instance to another",
                        description="Read SRC (entity/project or entity/project/run_id) from --from through its "
                                    "public API and recreate it on --to: runs with their ids, names, steps, "
                                    "timestamps, config, summary, tags, notes, group, job type, state, exit code, "
                                    "console output and system metrics (through ingest), run files and artifact "
                                    "versions with aliases and lineage (through the artifact service; bytes the "
                                    "target already stores are not sent). A second transfer sends nothing; an "
                                    "interrupted one goes on where it stopped (progress is noted in "
                                    "$RUNYARD_CONFIG_DIR/transfers.json, default ~/.config/runyard). A run id the target holds with "
                                    "different data is a conflict: reported, never merged. Exits 0 when "
                                    "everything is on the target, 1 on conflicts or failed runs, 2 when it "
                                    "could not start (keys, access, a missing source).")
    tr.add_argument("src", metavar="SRC", help="entity/project or entity/project/run_id on the source")
    tr.add_argument("--from", dest="source", required=True, metavar="URL", help="the source instance's base URL")
    tr.add_argument("--to", dest="target", required=True, metavar="URL", help="the target instance's base URL")
    tr.add_argument("--from-key", dest="from_key",
                    help="API key for the source (default: RUNYARD_TRANSFER_FROM_KEY, else the key "
                         "`runyard login --host URL` saved for it)")
    tr.add_argument("--to-key", dest="to_key",
                    help="API key for the target; it needs write access (default: RUNYARD_TRANSFER_TO_KEY, else the "
                         "key saved for it)")
    tr.add_argument("--to-entity", dest="to_entity", help="entity on the target (default: the source's)")
    tr.add_argument("--to-project", dest="to_project", help="project on the target (default: the source's)")
    tr.add_argument("--include-running", dest="include_running", action="store_true",
                    help="also copy runs still running on the source, as far as they got (they are crashed on the "
                         "target, and a later transfer reports them as changed); default: skip them, named")
    tr.add_argument("--workers", type=int, default=4, help="parallel file transfers (default 4)")
    tr.add_argument("--runs", default=None, metavar="ID,ID",
                    help="with SRC entity/project: copy only these runs (comma-separated ids) and the artifacts "
                         "they logged or used")
    tr.add_argument("--progress", choices=("text", "json"), default="text",
                    help="json: one JSON object per line on stdout (events start, run_start, records, run, done, "
                         "error; docs/transfer.md) and the readable lines on stderr (what the server's copy jobs read)")
    ex = sub.add_parser("export", help="write a project or a run of an instance into a bundle file",
                        description="Read SRC (entity/project or entity/project/run_id) from --host through its "
                                    "public API and write a bundle (a tar file, format in docs/bundle.md): each "
                                    "run's record stream, run fields, file list and artifact lineage, the artifact "
                                    "versions of the project (of a single run: of the artifacts it logged or used), "
                                    "and every distinct object once. `runyard import BUNDLE --host URL` recreates "
                                    "it on any instance.")
    ex.add_argument("src", metavar="SRC", help="entity/project or entity/project/run_id")
    ex.add_argument("-o", "--output", required=True, metavar="BUNDLE", help="the bundle file to write (.tar)")
    ex.add_argument("--host", help="the instance to read (default: RUNYARD_BASE_URL or the saved host)")
    ex.add_argument("--api-key", dest="api_key", help="API key for it (default: the key saved for the host)")
    ex.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    status = sub.add_parser("status", help="show the host, the user and the runs not yet synced",
                            description="Which host and user the SDK uses, its mode, and which runs in "
                                        "./runyard-runs (or RUNYARD_DIR) the server has not acknowledged "
                                        "completely (records and files).")
    status.add_argument("--dir", help="folder holding runyard-runs/ (default: RUNYARD_DIR or .)")
    sub.add_parser("offline", help="make offline the default mode (saved in the settings file)",
                   description="Write mode=offline into the settings file: runs log to disk only until "
                               "`runyard online`; upload them with `runyard sync`.")
    sub.add_parser("online", help="make online the default mode again (saved in the settings file)",
                   description="Write mode=online into the settings file.")
    sub.add_parser("version", help="print the SDK version", description="Print the SDK version.")
    from .importers import add_parser as add_import_parser

    add_import_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "import" and not argv[1].startswith("-"):
        from .importers import SOURCES

        if argv[1] not in SOURCES and (argv[1].endswith(".tar") or Path(argv[1]).is_file()):
            argv.insert(1, "bundle")  # `runyard import BUNDLE.tar` is `runyard import bundle BUNDLE.tar`
    args = parser.parse_args(argv)
    if args.command == "version":
        from . import __version__

        print(__version__)
        return 0
    if args.command == "login":
        return _cmd_login(args)
    if args.command == "sync":
        return _cmd_sync(args)
    if args.command == "export":
        return _cmd_export(args)
    if args.command == "transfer":
        return _cmd_transfer(args)
    if args.command == "status":
        return _cmd_status(args)
    if args.command in ("offline", "online"):
        return _cmd_mode(args.command)
    if args.command == "import":
        from .importers import run as run_import

        return run_import(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
