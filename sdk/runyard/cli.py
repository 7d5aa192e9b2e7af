"""The `runyard` command. `sync` and `login` arrive with their own issue; this is the entry point."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runyard", description="Runyard command line")
    sub = parser.add_subparsers(dest="command")
    sync = sub.add_parser("sync", help="upload a run folder (written offline or not confirmed in time)")
    sync.add_argument("run_dir")
    sub.add_parser("version", help="print the SDK version")
    args = parser.parse_args(argv)
    if args.command == "version":
        from . import __version__

        print(__version__)
        return 0
    if args.command == "sync":
        print("runyard sync is not available in this version yet; the run folder keeps every record "
              f"in {args.run_dir}/wal until it is", file=sys.stderr)
        return 2
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
