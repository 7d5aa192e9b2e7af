"""Which API key `runyard transfer` uses for a host."""

from __future__ import annotations

from typing import Any

import pytest

from runyard._login import write_login_file
from runyard._move import TransferError, host_key, parse_source


def test_keys_come_from_the_option_then_the_login_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    write_login_file({"base_url": "http://b:8080", "api_key": "key-b",
                      "hosts": {"http://a:8080": "key-a", "http://b:8080": "key-b"}})
    assert host_key("http://a:8080/", None) == "key-a"
    assert host_key("http://b:8080", None) == "key-b"
    assert host_key("http://a:8080", "explicit") == "explicit"
    monkeypatch.setenv("RUNYARD_BASE_URL", "http://c:8080")
    monkeypatch.setenv("RUNYARD_API_KEY", "key-c")
    assert host_key("http://c:8080", None) == "key-c"
    with pytest.raises(TransferError, match=r"no API key for http://d:8080: run `runyard login --host http://d:8080"):
        host_key("http://d:8080", None)


def test_login_keeps_a_key_per_host(full_server: Any, admin_key: str) -> None:
    """Two names of the session server stand for two hosts: each login keeps its own key."""
    import httpx

    import runyard.cli as cli

    one = full_server.base_url
    other = one.replace("127.0.0.1", "localhost")
    assert one != other
    resp = httpx.post(f"{one}/api/v1/auth/keys", json={"name": "second"},
                      headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert resp.status_code == 201, resp.text
    second = resp.json()["api_key"]
    assert cli.main(["login", "--host", one, admin_key]) == 0
    assert cli.main(["login", "--host", other, second]) == 0
    assert host_key(one, None) == admin_key and host_key(other, None) == second


@pytest.mark.parametrize("src", ["only", "a/b/c/d", "a//c", ""])
def test_a_source_path_is_entity_project_or_a_run(src: str) -> None:
    with pytest.raises(TransferError, match="SRC must be entity/project or entity/project/run_id"):
        parse_source(src)
    assert parse_source("e/p") == ("e", "p", None) and parse_source("e/p/r") == ("e", "p", "r")
