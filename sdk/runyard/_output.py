"""Console capture: stdout and stderr teed to the run's `output.log` and streamed as OutputLines records.

`sys.stdout`/`sys.stderr` are wrapped (W&B's "wrap" mode): what Python code prints reaches the terminal
unchanged and, line by line, the run. Output written by C code or subprocesses straight to the file
descriptors is not captured. A carriage return inside a line (progress bars) keeps only the text after
the last one, as a terminal shows it. In IPython the wrapper is put back after each cell (the kernel and
the session history swap the streams per cell). In a forked child the tee stops copying.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from . import _console
from ._items import Outbox
from ._jsonify import clean_text

__all__ = ["ConsoleCapture"]

MAX_LINE = 16_384


class _Tee:
    def __init__(self, stream: TextIO, name: str, capture: ConsoleCapture) -> None:
        self._runyard_stream = stream
        self._runyard_name = name
        self._runyard_capture = capture

    def write(self, text: str) -> int:
        n = self._runyard_stream.write(text)
        cap = self._runyard_capture
        if cap.active and text:
            try:
                cap.add(self._runyard_name, text)
            except Exception:
                cap.active = False
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._runyard_stream, attr)


class ConsoleCapture:
    """Lines go to `log_path` and, as OutputLines, to the run's `outbox`. `install()` starts copying."""

    def __init__(self, outbox: Outbox, log_path: Path) -> None:
        self.outbox = outbox
        self.log_path = log_path
        self.active = True
        self._lock = threading.Lock()
        self._partial = {"stdout": "", "stderr": ""}
        self._fh = open(log_path, "a", encoding="utf-8", errors="replace")
        self._tees: dict[str, _Tee] = {}
        self._handlers: list[tuple[Any, Any]] = []  # (logging handler, its original stream)
        self._shell: Any = None
        self._cleaned_warned = False

    def install(self) -> ConsoleCapture:
        self._wrap()
        try:
            if "IPython" in sys.modules:
                from IPython import get_ipython

                shell = get_ipython()
                if shell is not None and hasattr(shell, "events"):
                    shell.events.register("post_run_cell", self._rewrap)
                    self._shell = shell
        except Exception:
            self._shell = None
        return self

    def _wrap(self) -> None:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if current is None or self._is_ours(current):
                continue
            tee = _Tee(current, name, self)
            self._tees[name] = tee
            setattr(sys, name, tee)
            self._wrap_logging(current, tee)

    def _wrap_logging(self, stream: Any, tee: _Tee) -> None:
        """Logging handlers made before init() (logging.basicConfig) hold the stream itself: point
        them at the tee too, so log lines are captured like prints."""
        import logging

        loggers = [logging.getLogger(), *[v for v in logging.Logger.manager.loggerDict.values()
                                          if isinstance(v, logging.Logger)]]
        for lg in loggers:
            for h in lg.handlers:
                if type(h) is logging.StreamHandler and getattr(h, "stream", None) is stream:
                    h.stream = tee
                    self._handlers.append((h, stream))

    def _is_ours(self, stream: Any) -> bool:
        seen = 0
        while stream is not None and seen < 8:  # our tee may sit below other wrappers (IPython's per cell)
            if isinstance(stream, _Tee) and stream._runyard_capture is self:
                return True
            stream = getattr(stream, "_runyard_stream", None) or getattr(stream, "_stream", None)
            seen += 1
        return False

    def _rewrap(self, *args: Any) -> None:
        if self.active:
            self._wrap()

    def add(self, name: str, text: str) -> None:
        with self._lock:
            buf = self._partial.get(name, "") + text
            if "\n" not in buf:
                self._partial[name] = buf[-MAX_LINE * 4:]
                return
            *lines, rest = buf.split("\n")
            self._partial[name] = rest
        self._emit(name, lines)

    def _emit(self, name: str, lines: list[str]) -> None:
        clean = []
        for line in lines:
            if "\r" in line:
                line = line.rstrip("\r").rsplit("\r", 1)[-1]
            if len(line) > MAX_LINE:
                line = line[:MAX_LINE] + " [line cut]"
            if "\x00" in line or not line.isascii():
                fixed = clean_text(line)  # PostgreSQL stores neither NUL nor lone surrogates
                if fixed is not line and not self._cleaned_warned:
                    self._cleaned_warned = True
                    _console.warn(f"printed output on {name} holds NUL characters or undecodable bytes; "
                                  "they are saved as U+FFFD")
                line = fixed
            clean.append(line)
        with self._lock:
            try:
                prefix = "" if name == "stdout" else "[stderr] "
                self._fh.write("".join(prefix + line + "\n" for line in clean))
            except (OSError, ValueError):
                pass
        self.outbox.output(name, time.time(), clean)

    def stop(self) -> None:
        """Flush partial lines, put the original streams back (or go passive if something wrapped ours)."""
        if not self.active:
            return
        with self._lock:
            partial = {k: v for k, v in self._partial.items() if v}
            self._partial = {"stdout": "", "stderr": ""}
        for name, text in partial.items():
            self._emit(name, [text])
        self.active = False
        for name, tee in self._tees.items():
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._runyard_stream)
        for handler, stream in self._handlers:
            if isinstance(getattr(handler, "stream", None), _Tee):
                handler.stream = stream
        self._handlers.clear()
        if self._shell is not None:
            try:
                self._shell.events.unregister("post_run_cell", self._rewrap)
            except Exception:
                pass
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                pass

    def forked(self) -> None:
        """In a forked child: stop copying (the parent's run owns the log and the queue)."""
        self.active = False
