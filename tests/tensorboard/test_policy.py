"""The Content-Security-Policy of TensorBoard's pages (routes.page_policy): TensorBoard's own policy is
replaced by a tighter one that keeps only its script hashes, and who may frame it follows the UI's setting."""

from __future__ import annotations

from typing import Any

import pytest

from runyard_server.tensorboard.routes import frame_ancestors, page_policy

# what TensorBoard 2.x writes for a plugin's entry page (backend/http_util.py)
TENSORBOARD_POLICY = ("default-src 'self';font-src 'self' data:;frame-src 'self' https://ui.perfetto.dev;"
                      "img-src 'self' data: blob:;object-src 'none';style-src 'self' https://www.gstatic.com data: "
                      "'unsafe-inline';connect-src 'self';script-src 'self' 'unsafe-eval' "
                      "'sha256-abcDEF012+/=' https://evil.example")


def _directives(policy: str) -> dict[str, str]:
    return {d.strip().partition(" ")[0]: d.strip().partition(" ")[2] for d in policy.split(";") if d.strip()}


def test_tensorboards_policy_is_replaced_keeping_only_its_script_hashes() -> None:
    policy = _directives(page_policy("'self'", TENSORBOARD_POLICY))
    assert policy["script-src"] == "'self' 'sha256-abcDEF012+/='"
    assert "https://" not in ";".join(policy.values())  # no CDN style host, no profiler frame host
    assert policy["object-src"] == "'none'" and policy["form-action"] == "'none'"
    assert policy["frame-ancestors"] == "'self'" and policy["base-uri"] == "'self'"
    assert _directives(page_policy("'self'"))["script-src"] == "'self'"


def test_who_may_frame_tensorboard_follows_who_may_frame_the_ui() -> None:
    assert frame_ancestors("'none'") == "'self'"
    assert frame_ancestors("'self' https://wiki.example.com") == "'self' https://wiki.example.com"
    assert frame_ancestors("https://wiki.example.com") == "'self' https://wiki.example.com"


def test_switched_off_the_front_door_sends_tensorboard_paths_to_the_query_service(tb_server: Any,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """RUNYARD_TENSORBOARD_ENABLED=false (the chart's tensorboard.enabled=false with the front door): no
    TensorBoard app, so /tensorboard/... is the query service's 404."""
    from runyard_server.common.settings import load_settings
    from runyard_server.local.frontdoor import create_app

    for name, value in tb_server.service_env().items():
        monkeypatch.setenv(name, value)
    on = create_app(load_settings())
    assert on.tensorboard is not None and on.route("/tensorboard/runs/a/b/c/") is on.tensorboard
    off = create_app(load_settings(tensorboard_enabled=False))
    assert off.tensorboard is None and off.route("/tensorboard/runs/a/b/c/") is off.query
