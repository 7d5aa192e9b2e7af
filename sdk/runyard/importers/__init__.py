"""`runyard import SOURCE ...`: bring runs in from elsewhere (one sub-command per source).

A source is a module with `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> exit code`; add it to
`SOURCES` (module path, imported only when the command runs or its help is shown). Every importer prints
progress while it works, a count at the end, and is idempotent: importing the same thing twice adds nothing.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["SOURCES", "add_parser", "run"]

SOURCES: dict[str, str] = {
    "bundle": "runyard.importers.bundle",  # docs/bundle.md
    "mlflow": "runyard.importers.mlflow",  # docs/importers.md
    "wandb": "runyard.importers.wandb",  # docs/importers.md
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add `import` and its sources to the `runyard` command's sub-parsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "import", help="import runs from another tool (" + ", ".join(SOURCES) + ")",
        description="Import runs from another tool into a project. Importing the same data again adds nothing.")
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, module_path in SOURCES.items():
        module = importlib.import_module(module_path)
        p = sources.add_parser(name, help=module.HELP, description=(module.__doc__ or "").strip())
        p.formatter_class = argparse.RawDescriptionHelpFormatter
        module.add_arguments(p)
        p.set_defaults(import_run=module.run)
    return parser


def run(args: argparse.Namespace) -> int:
    return int(args.import_run(args))
