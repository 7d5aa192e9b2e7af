"""Copy the browser tests' screenshots (tests/ui/screenshots/, written by `pytest tests/ui`) that docs/ui.md
shows into docs/img/ui/, reduced to 256 colours (a quarter of the bytes; UI screenshots lose nothing a
reader sees). Run after the UI tests:  .venv/bin/python scripts/ui_doc_screenshots.py"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "tests" / "ui" / "screenshots"
DST = ROOT / "docs" / "img" / "ui"

# docs name <- test screenshot name
PAGES = {
    "login": "04-login", "projects": "05-projects", "empty-install": "58-empty-sdk-install",
    "workspace": "40-workspace", "workspace-top-n": "41-workspace-top-n", "workspace-grouped": "42-workspace-grouped",
    "workspace-system": "43-workspace-system", "panel-images": "44-panel-images", "panel-table": "45-panel-table",
    "panel-histogram": "46-panel-histogram", "panels-arranged": "47-panels-arranged", "shared-view": "48-shared-view",
    "columns-popup": "49-columns-popup", "user-menu": "50-user-menu",
    "run-overview": "29-run-overview-code", "run-edit": "55-run-edit", "run-delete": "56-run-delete",
    "run-alerts": "57-run-alerts", "run-logs": "28-console-log", "run-files": "25-file-viewer-code",
    "run-notebook": "27-notebook", "run-media": "32-media", "run-artifacts": "68-run-artifacts",
    "compare": "30-compare-code", "artifacts": "66-artifacts", "artifact-version": "67-artifact-version",
    "settings-keys": "60-settings-keys", "settings-password": "61-settings-password", "settings-team": "63-team",
    "admin-users": "62-admin-users", "admin-invites": "64-admin-invites", "admin-audit": "65-admin-audit",
}


def main() -> int:
    missing = [f"{src}.png" for src in PAGES.values() if not (SRC / f"{src}.png").exists()]
    if missing:
        print(f"missing screenshots (run `pytest tests/ui` first): {', '.join(missing)}", file=sys.stderr)
        return 1
    DST.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, src in PAGES.items():
        with Image.open(SRC / f"{src}.png") as im:
            im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(DST / f"{name}.png", optimize=True)
        total += (DST / f"{name}.png").stat().st_size
    print(f"wrote {len(PAGES)} screenshots to {DST.relative_to(ROOT)} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
