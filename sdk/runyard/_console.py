"""One-line messages for the person running the script (stderr), mirrored into the run's debug log.

`say` (progress) is left out when the run's settings are silent (`RUNYARD_SILENT`, `WANDB_SILENT`);
warnings and errors are always printed: they say where data is or that it is missing. `termlog`,
`termwarn` and `termerror` are the same for scripts (`runyard.termlog(...)`, as in wandb)."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure", "error", "say", "termerror", "termlog", "termwarn", "warn"]

log = logging.getLogger("runyard")
_silent = False
_said: set[str] = set()


def configure(*, silent: bool) -> None:
    global _silent
    _silent = silent


def _emit(prefix: str, message: str) -> None:
    try:
        print(f"runyard: {prefix}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed at interpreter exit
        pass


def say(message: str) -> None:
    log.info(message)
    if not _silent:
        _emit("", message)


def warn(message: str) -> None:
    log.warning(message)
    _emit("WARNING ", message)


def error(message: str) -> None:
    log.error(message)
    _emit("ERROR ", message)


def _term(prefix: str, string: str, newline: bool, repeat: bool, show_prefix: bool) -> None:
    if not repeat:
        if string in _said:
            return
        _said.add(string)
    try:
        text = (f"runyard: {prefix}" if show_prefix else "") + str(string)
        print(text, file=sys.stderr, end="\n" if newline else "", flush=True)
    except (OSError, ValueError):
        pass


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """A progress line on stderr, prefixed `runyard: ` (left out when silent); `repeat=False` prints a
    message only once per process."""
    log.info(string)
    if not _silent:
        _term("", string, newline, repeat, prefix)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    log.warning(string)
    _term("WARNING ", string, newline, repeat, prefix)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    log.error(string)
    _term("ERROR ", string, newline, repeat, prefix)
