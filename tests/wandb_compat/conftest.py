"""The real `wandb` client (pinned in requirements-dev.txt) against the session stack.

Each scenario runs as its own Python process (`WandbWorld.script`), like a user's training script: the
wandb package starts its `wandb-core` service, talks to the front door at `WANDB_BASE_URL` with a Runyard
key, and exits. Scripts write what they logged to `out.json`; tests compare that, point for point, with
what Runyard's own REST API answers (`WandbWorld.rest`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SCRIPT_TIMEOUT_S = 240
# The interpreter that runs the client scripts: this one (the wandb pinned in requirements-dev.txt), or
# another environment's to check an older client (docs/wandb-compat.md, "Client versions").
CLIENT_PYTHON = os.environ.get("RUNYARD_WANDB_TEST_PYTHON") or sys.executable


@dataclass
class Result:
    returncode: int
    output: str
    out: dict[str, Any]
    folder: Path


class WandbWorld:
    def __init__(self, stack: Any, admin_key: str, root: Path) -> None:
        self.stack = stack
        self.base_url = stack.base_url
        self.key = admin_key
        self.root = root
        self.entity = "admin"

    # ---- Runyard's own API -----------------------------------------------------------------------
    def rest(self, method: str, path: str, *, key: str | None = None, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base_url + path, headers={"Authorization": f"Bearer {key or self.key}"},
                             timeout=60, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        resp = self.rest("GET", path, **kw)
        assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def history(self, project: str, run_id: str, keys: list[str]) -> dict[str, dict[int, Any]]:
        """key -> {step: value} at full resolution (every page)."""
        out: dict[str, dict[int, Any]] = {k: {} for k in keys}
        start: int | None = 0
        while start is not None:
            page = self.get(f"/api/v1/runs/{self.entity}/{project}/{run_id}/history/full",
                            params={"keys": ",".join(keys), "start_step": start, "limit": 10_000})
            for i, step in enumerate(page["steps"]):
                for k in keys:
                    value = page["columns"][k][i]
                    if value is not None:
                        out[k][step] = value
            start = page["next_step"]
        return out

    def download(self, url: str) -> bytes:
        resp = httpx.get(url, timeout=60, follow_redirects=True)
        assert resp.status_code == 200, resp.text
        return resp.content

    def new_user(self, name: str) -> str:
        resp = self.rest("POST", "/api/v1/admin/users", json={"username": name})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["api_key"])

    # ---- the wandb client ------------------------------------------------------------------------
    def env(self, folder: Path, key: str | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNYARD_"))}
        env.update({
            "WANDB_BASE_URL": self.base_url,
            "WANDB_API_KEY": self.key if key is None else key,
            "WANDB_DIR": str(folder),
            "WANDB_CONFIG_DIR": str(folder / ".config"),
            "WANDB_CACHE_DIR": str(self.root / "cache"),
            "WANDB_DATA_DIR": str(folder / ".data"),
            "WANDB_ARTIFACT_DIR": str(folder / "artifacts"),
            "WANDB_DISABLE_GIT": "true",
            "WANDB__STATS_SAMPLING_INTERVAL": "1",
            "HOME": str(folder),
            "NO_PROXY": "*",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra)
        if not env["WANDB_API_KEY"]:
            del env["WANDB_API_KEY"]  # key="": the client's own login (netrc) decides
        return env

    def folder(self, name: str) -> Path:
        path = self.root / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path

    def script(self, name: str, code: str, *, key: str | None = None, expect_rc: int | None = 0,
               env: dict[str, str] | None = None, folder: Path | None = None) -> Result:
        """Run `code` as a script in a fresh folder; `out` is what it wrote with `save_out(...)`."""
        folder = folder or self.folder(name)
        prelude = textwrap.dedent("""
            import json as _json
            def save_out(**values):
                with open("out.json", "w") as _f:
                    _json.dump(values, _f)
        """)
        script = f"wb_{name.replace('-', '_')}.py"  # never the name of a module it imports (keras.py...)
        (folder / script).write_text(prelude + textwrap.dedent(code))
        proc = subprocess.run([CLIENT_PYTHON, script], cwd=folder, env=self.env(folder, key, **(env or {})),
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
        output = proc.stdout + proc.stderr
        if expect_rc is not None:
            assert proc.returncode == expect_rc, f"{name} exited {proc.returncode}:\n{output[-6000:]}"
        out_path = folder / "out.json"
        out = json.loads(out_path.read_text()) if out_path.exists() else {}
        return Result(proc.returncode, output, out, folder)

    def cli(self, folder: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        """The `wandb` command line (`python -m wandb ...`)."""
        return subprocess.run([CLIENT_PYTHON, "-m", "wandb", *args], cwd=folder, env=self.env(folder, key),
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)


@pytest.fixture(scope="session")
def wandb_world(stack: Any, admin_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WandbWorld]:
    stack.start_ingest()
    stack.start_http()
    yield WandbWorld(stack, admin_key, tmp_path_factory.mktemp("wandb"))
