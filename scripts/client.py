"""The web UI's API contract, generated: `make client` writes it, `make lint` checks it (`--check`).

1. Each HTTP service's OpenAPI document comes from its app factory (`create_app(settings).openapi()`,
   with placeholder-free dummy settings: no server starts, no database or bucket is reached) and is
   written to services/web/src/api/openapi/<service>.json, so a UI developer sees the contract.
2. openapi-typescript (pinned by services/web/package-lock.json, run from node_modules: nothing is
   downloaded) turns each into services/web/src/api/schema/<service>.ts, the types the UI's typed
   client (services/web/src/api/client.ts) is checked against by `tsc`.

With `--check` nothing is written: both steps run into a temporary folder and every committed file that
differs is named (exit 1). tests/test_client_fresh.py runs the same check.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "services/web"
API = WEB / "src/api"
TYPES_SCRIPT = WEB / "scripts/openapi-types.mjs"
SERVICES = ("query", "auth", "artifact", "transfers")

# Values only for building the apps; nothing connects to them.
_DUMMY = {
    "database_url": "postgresql://runyard@localhost:5432/runyard",
    "s3_endpoint": "http://localhost:9000",
    "s3_access_key": "openapi-document",
    "s3_secret_key": "openapi-document",
}
# `{name:path}` parameters hold several path segments; the UI's client encodes a parameter named `path`
# segment by segment and every other one whole, so no other name may be multi-segment.
_MULTI_SEGMENT = re.compile(r"\{(\w+):path\}")


def _factories() -> dict[str, Callable[[Any], FastAPI]]:
    from runyard_server.artifact.app import create_app as artifact_app
    from runyard_server.auth.app import create_app as auth_app
    from runyard_server.query.app import create_app as query_app
    from runyard_server.transfer_jobs import create_app as transfers_app

    return {"query": query_app, "auth": auth_app, "artifact": artifact_app, "transfers": transfers_app}


def _check_path_params(service: str, app: FastAPI) -> None:
    for route in app.routes:
        if isinstance(route, Route) and route.include_in_schema:
            for name in _MULTI_SEGMENT.findall(route.path):
                if name != "path":
                    raise SystemExit(f"{service}: {route.path}: a multi-segment parameter must be named `path` "
                                     "(services/web/src/api/client.ts encodes only that one segment by segment)")


def openapi_documents() -> dict[str, str]:
    """Each service's OpenAPI document as the JSON text committed under services/web/src/api/openapi."""
    from runyard_server.common.settings import load_settings

    settings = load_settings(**_DUMMY)
    out = {}
    for service, factory in _factories().items():
        app = factory(settings)
        _check_path_params(service, app)
        out[service] = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    return out


def generate(dest: Path) -> list[Path]:
    """Write the documents to dest/openapi and their TypeScript types to dest/schema; the files written."""
    node_modules = WEB / "node_modules/openapi-typescript"
    if not node_modules.is_dir():
        raise SystemExit(f"{node_modules} is missing: run `make web` (npm ci) first")
    (dest / "openapi").mkdir(parents=True, exist_ok=True)
    (dest / "schema").mkdir(parents=True, exist_ok=True)
    written = []
    for service, text in openapi_documents().items():
        path = dest / "openapi" / f"{service}.json"
        path.write_text(text)
        written.append(path)
    done = subprocess.run(["node", str(TYPES_SCRIPT), str(dest / "openapi"), str(dest / "schema"), *SERVICES],
                          cwd=WEB, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"openapi-typescript failed:\n{done.stdout}{done.stderr}")
    written += [dest / "schema" / f"{s}.ts" for s in SERVICES]
    return written


def differences(fresh_dir: Path, committed_dir: Path) -> list[Path]:
    """The files under committed_dir that differ from (or lack) their fresh copy under fresh_dir."""
    stale = []
    for fresh in sorted(p for p in fresh_dir.rglob("*") if p.is_file()):
        committed = committed_dir / fresh.relative_to(fresh_dir)
        if not committed.is_file() or committed.read_text() != fresh.read_text():
            stale.append(committed)
    return stale


def stale_files() -> list[Path]:
    """The committed contract files that a fresh generation would change (or create)."""
    with tempfile.TemporaryDirectory(prefix="runyard-client-") as tmp:
        generate(Path(tmp))
        return differences(Path(tmp), API)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming the committed files a regeneration would change")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("the UI's API contract is stale (run `make client` and commit):\n  "
                  + "\n  ".join(_shown(p) for p in stale))
            return 1
        print(f"the UI's API contract matches the services ({len(SERVICES)} OpenAPI documents)")
        return 0
    with tempfile.TemporaryDirectory(prefix="runyard-client-") as tmp:
        for fresh in generate(Path(tmp)):
            target = API / fresh.relative_to(tmp)
            changed = not target.is_file() or target.read_text() != fresh.read_text()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh, target)
            print(f"{'wrote    ' if changed else 'unchanged'} {_shown(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
