"""The notebook file behind a kernel is found through a real Jupyter Server's sessions API (the path used
when JPY_SESSION_NAME is not set, e.g. older servers)."""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_server")
jupyter_client = pytest.importorskip("jupyter_client")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_kernel_info(kc: Any, timeout: float) -> None:
    """Ask until the kernel answers kernel_info. (`wait_for_ready()` judges a client it does not own by
    the heartbeat thread, which calls a kernel dead after one beat slower than a second: on a busy
    machine, a kernel that is still starting.)"""
    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        try:
            while True:
                reply = kc.get_shell_msg(timeout=2)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return
        except queue.Empty:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel did not answer kernel_info in {timeout} s") from None


def test_find_notebook_path_through_the_sessions_api(tmp_path: Path) -> None:
    root, runtime = tmp_path / "notebooks", tmp_path / "runtime"
    (root / "exp").mkdir(parents=True)
    nb = root / "exp" / "train.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(base + "/api/status", headers=headers), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        body = json.dumps({"path": "exp/train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}).encode()
        req = urllib.request.Request(base + "/api/sessions", data=body, headers=headers, method="POST")
        session = json.load(urllib.request.urlopen(req, timeout=60))
        kernel_id = session["kernel"]["id"]
        connection = runtime / f"kernel-{kernel_id}.json"
        deadline = time.monotonic() + 30
        while not connection.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        kc: Any = jupyter_client.BlockingKernelClient(connection_file=str(connection))
        kc.load_connection_file()
        kc.start_channels()
        try:
            _wait_for_kernel_info(kc, timeout=60)
            out: list[str] = []
            reply = kc.execute_interactive(
                "import os\nos.environ.pop('JPY_SESSION_NAME', None)\n"
                "from runyard.capture.notebook import find_notebook_path\nprint(find_notebook_path())",
                timeout=60,
                output_hook=lambda m: out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None,
            )
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
        assert Path("".join(out).strip()) == nb
    finally:
        server.terminate()
        server.wait(30)
