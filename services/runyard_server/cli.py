"""`runyard-server`: migrate, run one service, or the whole local stack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from . import __version__


def _cmd_migrate(args: argparse.Namespace) -> int:
    from .common.migrate import apply_migrations
    from .common.settings import load_settings

    settings = load_settings()
    applied = asyncio.run(apply_migrations(settings.database_url, statement_cache_size=settings.db_statement_cache_size))
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ", schema up to date"))
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .common.settings import load_settings
    from .ingest.server import serve

    asyncio.run(serve(load_settings()))
    return 0


def _cmd_http(args: argparse.Namespace) -> int:
    import uvicorn

    from .common import logs
    from .common.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    app: Any
    if args.command == "query":
        from .query.app import create_app as create_query

        app = create_query(settings)
    elif args.command == "auth":
        from .auth.app import create_app as create_auth

        app = create_auth(settings)
    elif args.command == "artifact":
        from .artifact.app import create_app as create_artifact

        app = create_artifact(settings)
    elif args.command == "tensorboard":
        from .tensorboard import create_app as create_tensorboard

        app = create_tensorboard(settings)
    elif args.command == "transfers":
        from .transfer_jobs import create_app as create_transfers

        app = create_transfers(settings, run_worker=True)
    elif args.command == "wandb":
        from .wandb_compat import create_app as create_wandb
        from .wandb_compat import load_wandb_settings

        app = create_wandb(settings, load_wandb_settings())
    else:
        from .local.frontdoor import create_app as create_frontdoor

        app = create_frontdoor(settings)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port,
        log_level=settings.log_level.lower(), access_log=False, log_config=None,
        # forwarded headers are believed only from RUNYARD_TRUSTED_PROXIES, by the services themselves
        # (http/hardening.py); uvicorn's own handling would trust any client on loopback
        proxy_headers=False, server_header=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)) if settings.shutdown_grace_s else None,
    )
    return 0


def _cmd_transfer_worker(args: argparse.Namespace) -> int:
    from .common import logs
    from .common.settings import load_settings
    from .transfer_jobs import load_transfer_settings
    from .transfer_jobs.worker import run_worker

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    return run_worker(settings, load_transfer_settings())


def _cmd_admin(args: argparse.Namespace) -> int:
    from .auth.admin_cli import run
    from .common.settings import load_settings

    return run(load_settings(), args)


def _cmd_gc(args: argparse.Namespace) -> int:
    from .artifact.gc import command

    return int(command(args) or 0)


def _cmd_build_sdk_wheels(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .query.sdk_wheels import WheelIndex, build_sdk_wheels, download_dependencies

    built = build_sdk_wheels(args.out, Path(args.source).resolve() if args.source else None, force=True)
    for path in built:
        print(f"built {path}")
    if args.with_deps:
        print("downloading the dependency wheels (pip download)...", flush=True)
        download_dependencies(args.out, ["--index-url", args.index_url] if args.index_url else None)
    missing = WheelIndex(args.out).missing("runyard")
    print("the folder installs the SDK alone" if not missing else
          f"dependencies not in the folder (pip needs another index for them): {', '.join(missing)}")
    return 0


def _cmd_local(args: argparse.Namespace) -> int:
    from .local.launcher import run_local

    return run_local(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="runyard-server",
        description="Runyard services. Settings come from RUNYARD_* environment variables "
        "(RUNYARD_DATABASE_URL, RUNYARD_REDIS_URL, ...); see docs/configuration.md.",
    )
    p.add_argument("--version", action="version", version=f"runyard-server {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply missing database migrations (idempotent)").set_defaults(fn=_cmd_migrate)
    sub.add_parser("ingest", help="run the gRPC ingest service").set_defaults(fn=_cmd_ingest)
    sub.add_parser("query", help="run the query service (REST + UI)").set_defaults(fn=_cmd_http)
    sub.add_parser("auth", help="run the auth service (REST)").set_defaults(fn=_cmd_http)
    sub.add_parser("artifact", help="run the artifact service (REST, presigned URLs)").set_defaults(fn=_cmd_http)
    sub.add_parser(
        "tensorboard", help="run the TensorBoard component (TensorBoard over runs' event files, under /tensorboard)"
    ).set_defaults(fn=_cmd_http)
    sub.add_parser(
        "wandb", help="run the W&B client protocol (/graphql, file stream) on its own",
        description="Answer the real `wandb` client (GraphQL at /graphql and the file stream) by calling ingest "
        "(RUNYARD_WANDB_INGEST_ADDRESS) and the auth, query and artifact REST paths (RUNYARD_WANDB_API_URL); "
        "see docs/wandb-compat.md. The front door (and `runyard-server local`) already includes it.",
    ).set_defaults(fn=_cmd_http)
    sub.add_parser(
        "transfers", help="run the copy-job component: its routes (remote instances, \"Copy to instance...\") and "
        "the worker that runs the copies",
        description="Answer /api/v1/admin/remotes and /api/v1/transfers (docs/transfer.md, \"Copy from the UI\") "
        "and run the copy-job worker in the same process (what the Helm chart's `transfers` component runs). The "
        "front door already answers the routes; `runyard-server local` runs the worker as `transfer-worker`.",
    ).set_defaults(fn=_cmd_http)
    sub.add_parser(
        "transfer-worker", help="run the copy jobs started with \"Copy to instance...\" (spawns `runyard transfer`)",
        description="Claim queued copy jobs from the database and run each with the SDK's `runyard transfer "
        "--progress json`, at most RUNYARD_TRANSFER_CONCURRENCY (default 2) at once; progress goes into the "
        "database. Needs RUNYARD_SECRET_KEY (or RUNYARD_SECRET_KEY_FILE) and RUNYARD_TRANSFER_SOURCE_URL "
        "(docs/transfer.md).",
    ).set_defaults(fn=_cmd_transfer_worker)
    sub.add_parser(
        "frontdoor", help="run query, auth, artifact, TensorBoard and the W&B protocol behind one HTTP port (local mode)"
    ).set_defaults(fn=_cmd_http)
    gc = sub.add_parser(
        "gc", help="delete stored objects nothing refers to any more (after a grace period)",
        description="Delete bucket objects that no run file or artifact version refers to, once they have "
        "been unreferenced for --grace seconds; abort abandoned multipart uploads. Safe while uploads happen.",
    )
    gc.add_argument("--grace", type=float, default=86400, metavar="SECONDS",
                    help="how long an object must be unreferenced before it is deleted (default 86400)")
    gc.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    gc.add_argument("--sweep-bucket", action="store_true",
                    help="also list the bucket and delete keys the database does not know (slow on big buckets)")
    gc.set_defaults(fn=_cmd_gc)
    wheels = sub.add_parser(
        "build-sdk-wheels", help="build the runyard SDK wheels the query service serves at /pypi/simple/",
        description="Build the runyard and runyard-proto wheels from this source checkout into --out (set "
        "RUNYARD_SDK_WHEELS_DIR to it): runyard as a py3-none-any wheel and, where a C compiler is found, also "
        "as a wheel for this interpreter and platform with the C packer (pip prefers it where it fits). --with-deps also downloads the dependency wheels for CPython "
        "3.10-3.13 on Linux, macOS and Windows, so the index alone installs the SDK (needs a package index).",
    )
    wheels.add_argument("--out", required=True, help="folder for the wheels")
    wheels.add_argument("--source", default=None,
                        help="the source checkout holding sdk/ and proto/ (default: the one next to this package)")
    wheels.add_argument("--with-deps", action="store_true", help="also download the dependency wheels")
    wheels.add_argument("--index-url", default=None, help="package index for --with-deps (default: pip's own)")
    wheels.set_defaults(fn=_cmd_build_sdk_wheels)
    from .auth.admin_cli import add_parser as add_admin_parser

    add_admin_parser(sub)
    sub.choices["admin"].set_defaults(fn=_cmd_admin)
    local = sub.add_parser(
        "local",
        help="start the whole stack on this machine (embedded PostgreSQL, Redis, S3)",
        description="Start embedded PostgreSQL, Redis and S3, apply migrations, and run every service "
        "from one data folder. The UI and REST API answer on --port, gRPC ingest on --ingest-port.",
    )
    local.add_argument("--data-dir", default=None, help="data folder (default: ~/.runyard/local)")
    local.add_argument("--port", type=int, default=8080, help="HTTP front door port (default 8080)")
    local.add_argument("--ingest-port", type=int, default=8081, help="gRPC ingest port (default 8081)")
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    local.add_argument("--no-browser", action="store_true",
                       help="do not open the UI in the desktop's browser once everything runs")
    local.add_argument("--max-restarts", type=int, default=5, metavar="N",
                       help="restart a service that dies at most N times within 60 s, then stop everything "
                       "(default 5; 0: stop at the first death)")
    local.set_defaults(fn=_cmd_local)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # settings errors and the like: one clear message, no traceback
        from .common.settings import SettingsError

        if isinstance(exc, SettingsError):
            print(f"runyard-server: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
