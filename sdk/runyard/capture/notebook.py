"""Jupyter, IPython and Colab: the session history of executed cells, and the notebook file.

`SessionHistory.install()` hooks IPython's `pre_run_cell`/`post_run_cell` events the moment the SDK is
imported in a kernel, and records every executed cell in execution order: source, execution count,
start and end time, text and image outputs (stdout/stderr, `display()`, the cell's result) and errors.
`to_notebook()` returns a valid nbformat-4 notebook of that history (`code/_session_history.ipynb`), so a
cell that was run twice with a changed value appears twice, in the order it ran.

`find_notebook_path()` finds the notebook file behind the kernel, when there is one: the
`JPY_SESSION_NAME` variable that Jupyter Server sets for its kernels, VS Code's `__vsc_ipynb_file__`,
or the sessions API of each running Jupyter server, matched by the kernel id from the connection file.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_OUTPUT_CHARS = 100_000       # per stream output of one cell
MAX_IMAGE_BYTES = 2 * 1024 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")
_IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")


def get_ipython_shell() -> Any | None:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class _Tee:
    """Forwards writes to the real stream and copies them into the current cell."""

    def __init__(self, stream: Any, name: str, sink: Callable[[str, str], None]) -> None:
        self._stream = stream
        self._name = name
        self._sink = sink

    def write(self, text: str) -> int:
        try:
            self._sink(self._name, text)
        except Exception:
            pass
        return self._stream.write(text)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


class SessionHistory:
    """Every cell executed in this kernel since install(), in order."""

    _installed: SessionHistory | None = None

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.cells: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._saved_streams: tuple[Any, Any] | None = None
        self._orig_publish: Any = None
        self._count_offset = 1  # learnt from the first finished cell
        self.listeners: list[Callable[[], None]] = []  # called after each cell (e.g. a live run saves it)

    # -- installing --------------------------------------------------------------------------------------
    @classmethod
    def install(cls) -> SessionHistory | None:
        """Start recording in the running IPython shell (idempotent); None outside IPython."""
        if cls._installed is not None:
            return cls._installed
        shell = get_ipython_shell()
        if shell is None or not hasattr(shell, "events"):
            return None
        hist = cls(shell)
        shell.events.register("pre_run_cell", hist._pre_run_cell)
        shell.events.register("post_run_cell", hist._post_run_cell)
        pub = getattr(shell, "display_pub", None)
        if pub is not None and hasattr(pub, "publish"):
            hist._orig_publish = pub.publish

            def publish(data: dict[str, Any], metadata: dict[str, Any] | None = None, *a: Any, **kw: Any) -> Any:
                hist._display(data, metadata)
                return hist._orig_publish(data, metadata, *a, **kw)

            pub.publish = publish
        cls._installed = hist
        return hist

    # -- recording ---------------------------------------------------------------------------------------
    def _pre_run_cell(self, info: Any) -> None:
        import sys

        source = getattr(info, "raw_cell", "") or ""
        with self._lock:
            self._current = {"source": source, "start": time.time(), "outputs": [],
                             "pre_count": getattr(self.shell, "execution_count", None)}
        self._saved_streams = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, "stdout", self._stream)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, "stderr", self._stream)  # type: ignore[assignment]

    def _post_run_cell(self, result: Any) -> None:
        import sys

        if self._saved_streams is not None:
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None
        with self._lock:
            cell = self._current or {"source": getattr(result.info, "raw_cell", ""), "start": time.time(), "outputs": []}
            self._current = None
            cell["end"] = time.time()
            cell["execution_count"] = result.execution_count
            pre = cell.pop("pre_count", None)
            if isinstance(pre, int) and isinstance(result.execution_count, int):
                # the shell's counter during a cell is ahead of the cell's own number (by 1 in ipykernel)
                self._count_offset = pre - result.execution_count
            value = getattr(result, "result", None)
            if value is not None:
                try:
                    data, _ = self.shell.display_formatter.format(value)
                except Exception:
                    data = {"text/plain": repr(value)}
                cell["outputs"].append({
                    "output_type": "execute_result", "execution_count": result.execution_count,
                    "data": _keep_mimes(data), "metadata": {},
                })
            err = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            if err is not None:
                cell["outputs"].append({
                    "output_type": "error", "ename": type(err).__name__, "evalue": str(err),
                    "traceback": [_ANSI.sub("", line) for line in traceback.format_exception(err)],
                })
                cell["error"] = True
            self.cells.append(cell)
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                pass

    def _stream(self, name: str, text: str) -> None:
        with self._lock:
            cur = self._current
            if cur is None or not text:
                return
            outs = cur["outputs"]
            if outs and outs[-1].get("output_type") == "stream" and outs[-1]["name"] == name:
                if len(outs[-1]["text"]) < MAX_OUTPUT_CHARS:
                    outs[-1]["text"] += text
            else:
                outs.append({"output_type": "stream", "name": name, "text": text})

    def _display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        with self._lock:
            if self._current is not None:
                self._current["outputs"].append(
                    {"output_type": "display_data", "data": _keep_mimes(data), "metadata": metadata or {}}
                )

    # -- output ------------------------------------------------------------------------------------------
    def code_cells(self) -> list[str]:
        with self._lock:
            return [c["source"] for c in self.cells]

    def to_notebook(self) -> dict[str, Any]:
        """An nbformat-4.5 notebook of the history (one code cell per execution, in order).

        The cell executing right now (the one calling `init()` or `finish()`, say) is included too, with
        its outputs so far and `metadata.runyard.running` set: it is part of the code behind the run."""
        with self._lock:
            executed = list(self.cells)
            if self._current is not None:
                pre = self._current.get("pre_count")
                count = pre - self._count_offset if isinstance(pre, int) else None
                running = {k: v for k, v in self._current.items() if k != "pre_count"}
                executed.append({**running, "execution_count": count, "running": True,
                                 "outputs": list(self._current["outputs"])})
            cells = [
                {
                    "cell_type": "code",
                    "id": f"cell-{i}",
                    "execution_count": c.get("execution_count"),
                    "metadata": {
                        "runyard": {"start": c["start"], "end": c.get("end"), "error": bool(c.get("error")),
                                    **({"running": True} if c.get("running") else {})}
                    },
                    "source": c["source"],
                    "outputs": [_clip(o) for o in c["outputs"]],
                }
                for i, c in enumerate(executed)
            ]
        import sys

        return {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python", "version": sys.version.split()[0]},
                "runyard": {"kind": "session_history"},
            },
            "cells": cells,
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_notebook(), indent=1, ensure_ascii=False))
        os.replace(tmp, out)
        return out


def _keep_mimes(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mime, value in data.items():
        if mime in _TEXT_MIMES:
            out[mime] = value if isinstance(value, (str, dict, list)) else str(value)
        elif mime in _IMAGE_MIMES:
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode() if mime != "image/svg+xml" else value.decode()
            if isinstance(value, str) and len(value) <= MAX_IMAGE_BYTES * 4 // 3:
                out[mime] = value
    if not out and "text/plain" in data:
        out["text/plain"] = str(data["text/plain"])
    return out


def _clip(output: dict[str, Any]) -> dict[str, Any]:
    if output.get("output_type") == "stream" and len(output["text"]) > MAX_OUTPUT_CHARS:
        return {**output, "text": output["text"][:MAX_OUTPUT_CHARS] + "\n[output cut]\n"}
    return output


# -- the notebook file -------------------------------------------------------------------------------------
def _kernel_id() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:
        return None
    m = re.match(r"kernel-(.+)\.json$", name)
    return m.group(1) if m else None


def _running_servers() -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    for mod in ("jupyter_server.serverapp", "notebook.notebookapp"):
        try:
            module = __import__(mod, fromlist=["list_running_servers"])
            servers.extend(module.list_running_servers())
        except Exception:
            continue
    return servers


def find_notebook_path(timeout: float = 2.0) -> Path | None:
    """The .ipynb file of the running kernel, when it can be found; None otherwise (never raises)."""
    try:
        shell = get_ipython_shell()
        if shell is None:
            return None
        vsc = shell.user_ns.get("__vsc_ipynb_file__") if hasattr(shell, "user_ns") else None
        if vsc and Path(vsc).is_file():
            return Path(vsc)
        session_name = os.environ.get("JPY_SESSION_NAME")
        if session_name and session_name.endswith(".ipynb") and Path(session_name).is_file():
            return Path(session_name).resolve()
        kernel = _kernel_id()
        if not kernel:
            return None
        for server in _running_servers():
            url = server.get("url", "").rstrip("/") + "/api/sessions"
            token = server.get("token", "")
            req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    sessions = json.load(resp)
            except Exception:
                continue
            for s in sessions:
                if s.get("kernel", {}).get("id") == kernel:
                    rel = s.get("notebook", {}).get("path") or s.get("path")
                    root = server.get("root_dir") or server.get("notebook_dir") or ""
                    candidate = Path(root) / rel if rel else None
                    if candidate is not None and candidate.is_file():
                        return candidate
    except Exception:
        return None
    return None
