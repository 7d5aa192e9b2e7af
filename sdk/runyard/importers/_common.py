"""What the importers of other tools share: the target instance, and one copy through `runyard._move`
(so every importer is idempotent, resumable and reports conflicts like `runyard transfer`)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any

from .._sources import Source

__all__ = ["add_target_arguments", "import_runs", "iso", "need", "print_counts"]


def need(module: str, extra: str) -> None:
    """Raise TransferError naming the extra to install when `module` cannot be imported."""
    import importlib

    from .._sources import TransferError

    try:
        importlib.import_module(module)
    except ImportError:
        raise TransferError(f'the {extra} importer needs the {module} package: pip install "runyard[{extra}]"') \
            from None


def iso(seconds: float | None) -> str | None:
    """Unix seconds as the services write times (ISO 8601 UTC with Z); None stays None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_target_arguments(parser: argparse.ArgumentParser, project_help: str | None = None) -> None:
    parser.add_argument("--project", required=project_help is None,
                        help=project_help or "the Runyard project to import into")
    parser.add_argument("--entity", help="the entity to import into (default: the key's own)")
    parser.add_argument("--host", help="the Runyard instance (default: RUNYARD_BASE_URL or the saved host)")
    parser.add_argument("--api-key", dest="api_key", help="API key with write access (default: the key saved "
                                                          "for the host)")
    parser.add_argument("--workers", type=int, default=4, help="parallel uploads (default 4)")


def _err(message: str) -> None:
    print(f"runyard: {message}", file=sys.stderr)


def import_runs(source: Source, args: argparse.Namespace, what: str, *, src_entity: str = "-",
                src_project: str = "-", one: str | None = None) -> int:
    """Copy every run `source` lists (or only the run `one`) into --entity/--project; prints progress and
    counts. Exit code."""
    from .._http import viewer
    from .._move import Endpoint, TransferError, copy_into, summary_lines
    from ..cli import host_and_key
    from ..errors import RunyardError

    try:
        url, key = host_and_key(args.host, args.api_key)
        entity = args.entity or str(viewer(url, key, 30.0).get("entity") or "")
        report = copy_into(source, src_entity, src_project, one, Endpoint(url, key), to_entity=entity,
                           to_project=args.project or src_project, workers=args.workers,
                           verb=f"importing ({what})")
    except TransferError as exc:
        _err(exc.message)
        return 2
    except RunyardError as exc:
        _err(f"{exc.message}; run the same command again to go on where it stopped")
        return 1
    finally:
        source.close()
    for line in summary_lines(report):
        print(line)
    print_counts(report)
    if not report.ok:
        _err("some runs were not imported (named above); a run id the project holds with other data is a conflict "
             "and is never merged")
        return 1
    return 0


def print_counts(report: Any) -> None:
    """The last line of every importer: runs (new, completed, already there), then the points and files sent
    now (a second import of the same data says `sent 0 points, 0 files`)."""
    runs = len(report.runs)
    points = sum(r.points for r in report.runs if r.records_sent)
    files = sum(r.files_sent for r in report.runs)
    arts = ""
    if report.artifacts_created or report.artifacts_present or report.artifact_conflicts:
        arts = (f"; artifact versions: {report.artifacts_created} new, {report.artifacts_present} already there"
                + (f", {len(report.artifact_conflicts)} conflicts" if report.artifact_conflicts else ""))
    other = "".join(f", {report.count(k)} {k}" for k in ("skipped", "conflict", "failed") if report.count(k))
    print(f"imported: {runs} runs ({report.count('copied')} new, {report.count('resumed')} completed, "
          f"{report.count('up to date')} already there{other}); sent {points} points, {files} files{arts}")


def run_dict(**fields: Any) -> dict[str, Any]:
    """A run in the shape GET /api/v1/runs/... answers, for a Source."""
    base: dict[str, Any] = {"name": "", "config": {}, "summary": {}, "tags": [], "group": "", "job_type": "",
                            "notes": "", "host": "", "state": "crashed", "exit_code": None, "error": "",
                            "finished_at": None, "history_keys": [], "media_keys": []}
    base.update(fields)
    return base


