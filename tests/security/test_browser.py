"""In Debian's Chromium: the API docs pages load nothing from outside (they work in a private network) and
break no CSP rule; the UI's policy is enforced (an injected inline script does not run) and nobody may
frame the UI (clickjacking)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from runyard_server.local.frontdoor import create_app as create_frontdoor
from tests.services.harness import serve
from tests.ui import harness as ui

from .conftest import PASSWORD, Population

pytestmark = [pytest.mark.local, pytest.mark.ui]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = ui.launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def ui_url(population: Population) -> Iterator[str]:
    """A front door (auth, artifact, query) serving the built UI, on the population's database."""
    settings = population.world.settings.model_copy(update={"web_dist": str(ui.ensure_dist())})
    with serve(create_frontdoor(settings)) as url:
        yield url.replace("127.0.0.1", "localhost")  # the UI's name; the bucket is on 127.0.0.1


def watch(page: Any) -> tuple[list[str], list[str]]:
    """(CSP violations, requests that left this machine) of a page."""
    csp: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)

    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return csp, outside


@pytest.mark.parametrize(("service", "docs", "title"), [
    ("query", "/api/v1/docs", "Runyard query"), ("auth", "/api/v1/auth/docs", "Runyard auth"),
    ("artifact", "/api/v1/artifacts/_docs", "Runyard artifacts")])
def test_api_docs_work_offline_under_the_csp(population: Population, browser: Any, service: str, docs: str,
                                            title: str) -> None:
    base = {"query": population.world.query_url, "auth": population.world.auth_url,
            "artifact": population.world.artifact_url}[service]
    page = browser.new_context().new_page()
    csp, outside = watch(page)
    page.goto(base + docs)
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert title in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=30_000)  # the operations rendered from the spec
    assert page.locator(".opblock").count() >= 5
    page.context.close()
    assert not outside, outside
    assert not csp, csp


def test_the_ui_policy_is_enforced_and_framing_is_refused(population: Population, browser: Any, ui_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    csp, outside = watch(page)
    r = page.context.request.post(ui_url + "/api/v1/auth/login", data={"username": "tmember", "password": PASSWORD})
    assert r.ok, r.text()
    resp = page.goto(ui_url + "/vision/priv")
    policy = resp.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    page.wait_for_selector("[data-testid=runs-table]", timeout=30_000)
    assert not csp, csp  # the real UI needs nothing the policy refuses
    # an attacker's inline script (as a stored-XSS payload would add it) does not run
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__pwned = 1'; document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__pwned") is None
    assert any("inline" in m for m in csp), csp
    # another site framing the UI (clickjacking) gets nothing
    csp.clear()
    page.set_content(f'<iframe id="f" src="{ui_url}/vision/priv" width="600" height="400"></iframe>')
    page.wait_for_timeout(1500)
    frame = next((f for f in page.frames if f.url.startswith(ui_url)), None)
    if frame is not None:  # the frame exists, but the browser refused to show the page in it
        assert frame.evaluate("() => document.getElementById('root')") is None  # an error page, not the UI
    assert any("frame-ancestors" in m for m in csp), csp
    context.close()
    assert not outside, outside


def test_pages_never_share_the_buckets_host(population: Population, ui_url: str) -> None:
    """Local mode: the embedded bucket listens on 127.0.0.1; a page asked for there moves to localhost, so a
    file served by the bucket can never read the UI's cookies (cookies ignore ports)."""
    import httpx

    bucket_host = urlsplit(population.world.settings.s3_endpoint).hostname
    assert bucket_host == "127.0.0.1"
    on_bucket_host = ui_url.replace("localhost", "127.0.0.1")
    r = httpx.get(on_bucket_host + "/vision/priv?tab=files")
    assert r.status_code == 307 and r.headers["location"] == ui_url + "/vision/priv?tab=files"
    assert httpx.get(ui_url + "/vision/priv").status_code == 200
    assert httpx.get(on_bucket_host + "/api/v1/server-info").status_code == 200  # the API answers on both
