"""`runyard-server local` opens the UI in a desktop browser, and never on a headless machine or in CI."""

from __future__ import annotations

import webbrowser

import pytest

from runyard_server.local.launcher import open_browser


class _Recorder(webbrowser.BaseBrowser):
    def __init__(self) -> None:
        super().__init__("recorder")
        self.opened: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        return True


def test_opens_the_desktop_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: recorder)
    assert open_browser("http://localhost:8080") is True
    assert recorder.opened == ["http://localhost:8080"]


@pytest.mark.parametrize("env", [{"DISPLAY": "", "WAYLAND_DISPLAY": ""}, {"DISPLAY": ":0", "CI": "true"}])
def test_headless_or_ci_opens_nothing(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    recorder = _Recorder()
    monkeypatch.delenv("CI", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: recorder)
    assert open_browser("http://localhost:8080") is False
    assert recorder.opened == []


def test_never_a_console_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.GenericBrowser("lynx"))
    assert open_browser("http://localhost:8080") is False
