"""Browser tests: Debian's Chromium through Playwright against the real front door serving the built UI.

`ui_server` runs `runyard-server frontdoor` on a fresh, migrated database of the session's embedded
PostgreSQL (so the first-run sign-up is real whatever other suites did), with RUNYARD_WEB_DIST set to
services/web/dist (built by npm when missing or stale).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import db

from . import harness

pytestmark = pytest.mark.ui


@dataclass
class UiServer:
    base_url: str
    dsn: str
    ingest_port: int
    service_env: dict[str, str]
    logs_dir: Any


@pytest.fixture(scope="session")
def web_dist() -> Any:
    return harness.ensure_dist()


@pytest.fixture(scope="module")
def ui_server(stack: Any, web_dist: Any) -> Iterator[UiServer]:
    ingest_port = harness.free_port()
    env = stack.service_env()
    with db.fresh_database(stack.database_url, prefix="ry_svc_") as dsn:
        with harness.frontdoor(env, dsn, web_dist, stack.logs_dir, f"127.0.0.1:{ingest_port}") as base_url:
            yield UiServer(base_url, dsn, ingest_port, env, stack.logs_dir)


@pytest.fixture(scope="module")
def browser(ui_server: UiServer) -> Iterator[Any]:
    # After ui_server: Playwright's sync API runs an event loop in this thread, so the fresh database
    # is made before it (the database helpers would cope, through run_coro, but in another thread).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = harness.launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # the UI runs under a strict Content-Security-Policy (docs/security.md): anything it refuses is a bug,
    # unless a test that feeds hostile content expects it (it empties `page.csp_violations` itself)
    csp: list[str] = []
    pg.csp_violations = csp
    pg.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not csp, f"Content-Security-Policy violations: {csp}"
