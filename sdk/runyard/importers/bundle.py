"""Recreate the runs and artifacts of a bundle written by `runyard export` (docs/bundle.md) on an
instance, the way `runyard transfer` writes: idempotent (a second import sends nothing), resumable after
a kill, and a run id the target holds with different data is a conflict (reported, never merged).
Exits 0 when everything is on the target, 1 on conflicts or failed runs, 2 when it could not start.
`runyard import BUNDLE.tar` is short for `runyard import bundle BUNDLE.tar`."""

from __future__ import annotations

import argparse

NAME = "bundle"
HELP = "a bundle file written by `runyard export` (docs/bundle.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="a bundle file written by `runyard export`")
    parser.add_argument("--host", help="the target instance (default: RUNYARD_BASE_URL or the saved host)")
    parser.add_argument("--api-key", dest="api_key",
                        help="API key for it, with write access (default: the key saved for the host)")
    parser.add_argument("--entity", help="entity on the target (default: the bundle's)")
    parser.add_argument("--project", help="project on the target (default: the bundle's)")
    parser.add_argument("--workers", type=int, default=4, help="parallel uploads (default 4)")


def run(args: argparse.Namespace) -> int:
    import sys

    from .._move import Endpoint, TransferError, copy_into, summary_lines
    from .._sources import BundleSource
    from ..cli import host_and_key
    from ..errors import RunyardError

    def err(message: str) -> None:
        print(f"runyard: {message}", file=sys.stderr)

    try:
        url, key = host_and_key(args.host, args.api_key)
        bundle = BundleSource(args.bundle)
        try:
            m = bundle.manifest
            report = copy_into(bundle, m["entity"], m["project"], None, Endpoint(url, key), to_entity=args.entity,
                               to_project=args.project, workers=args.workers, verb="importing")
        finally:
            bundle.close()
    except TransferError as exc:
        err(exc.message)
        return 2
    except RunyardError as exc:
        err(f"{exc.message}; run the same command again to go on where it stopped")
        return 1
    for line in summary_lines(report):
        print(line)
    from ._common import print_counts

    print_counts(report)
    if not report.ok:
        err("some runs or artifact versions were not imported (named above); conflicts are never merged: delete "
            "or rename the run on the target, or import into another project with --project")
        return 1
    return 0
