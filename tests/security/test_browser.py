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


def test_active_content_from_the_bucket_never_runs(population: Population, browser: Any) -> None:
    """An XSL stylesheet, HTML and SVG committed as run files: opening their links downloads them."""
    import hashlib

    import httpx

    p = population
    run = p.runs["vision/pub"]
    evil = {"evil.xsl": ("text/xsl", b'<?xml version="1.0"?><xsl:stylesheet version="1.0" '
                         b'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/"><html><body>'
                         b'<script>window.__pwned=1</script></body></html></xsl:template></xsl:stylesheet>'),
            "evil.html": ("text/html", b"<html><body><script>window.__pwned=1</script></body></html>"),
            "evil.svg": ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__pwned=1</script>'
                         b'</svg>')}
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    for name, (ctype, data) in evil.items():
        digest = hashlib.sha256(data).hexdigest()
        r = p.call("tmember", "POST", f"/api/v1/runs/vision/pub/{run}/files/uploads", service="artifact",
                   json={"files": [{"path": name, "sha256": digest, "size": len(data),
                                    "md5": hashlib.md5(data).hexdigest(), "content_type": ctype}]})
        item = r.json()["files"][0]
        if item["state"] == "pending":
            assert httpx.put(item["url"], content=data, headers=item["headers"]).status_code == 200
            assert p.call("tmember", "POST", f"/api/v1/artifacts/_uploads/{item['upload_id']}/complete",
                          service="artifact", json={}).status_code == 200
        r = p.call("tmember", "POST", f"/api/v1/runs/vision/pub/{run}/files", service="artifact",
                   json={"files": [{"path": name, "sha256": digest, "content_type": ctype}]})
        assert r.status_code == 200, r.text
        url = p.call("outsider", "GET", f"/api/v1/runs/vision/pub/{run}/files/{name}", service="artifact").json()["url"]
        page.goto("about:blank")
        with page.expect_download() as download:
            try:
                page.goto(url)
            except Exception as exc:  # Chromium reports the navigation as turned into a download
                assert "Download is starting" in str(exc), exc
        assert download.value.suggested_filename == name
        assert page.evaluate("() => window.__pwned") is None
    context.close()
