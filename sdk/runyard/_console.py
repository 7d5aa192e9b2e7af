"""One-line messages for the person running the script (stderr), mirrored into the run's debug log."""

from __future__ import annotations

import logging
import sys

__all__ = ["error", "say", "warn"]

log = logging.getLogger("runyard")


def _emit(prefix: str, message: str) -> None:
    try:
        print(f"runyard: {prefix}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed at interpreter exit
        pass


def say(message: str) -> None:
    log.info(message)
    _emit("", message)


def warn(message: str) -> None:
    log.warning(message)
    _emit("WARNING ", message)


def error(message: str) -> None:
    log.error(message)
    _emit("ERROR ", message)
