"""The process-wide active run, the module attributes that mirror it (`runyard.run`, `.config`,
`.summary`), and the exit hooks that finish it: an uncaught exception -> exit code 1 with the traceback
(`sys.excepthook`); at exit (`atexit`) -> the code given to `sys.exit()` (wrapped, as wandb does), else 0."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import UsageError

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["PreInit", "active", "require", "run_finished", "set_active"]

_lock = threading.Lock()
_active: Run | None = None
_live: list[Run] = []  # every unfinished run of this process (reinit="create_new" allows several)
_hooks_installed = False
_prev_excepthook: Any = None
_original_exit = sys.exit
_exit_code = 0


class PreInit:
    """Stands in for `runyard.config` / `runyard.summary` before init(): any use says what to do."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"runyard.{self._name} was used before runyard.init(); call runyard.init() first")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        self._fail()

    __setattr__ = __getitem__ = __setitem__ = __delitem__ = __iter__ = __len__ = _fail  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<runyard.{self._name} before runyard.init()>"


def _module() -> Any:
    return sys.modules[__package__ or "runyard"]


def active() -> Run | None:
    return _active


def require(what: str) -> Run:
    run = _active
    if run is None:
        raise UsageError(f"runyard.{what}() needs an active run; call runyard.init() first")
    return run


def set_active(run: Run) -> None:
    global _active
    with _lock:
        _active = run
        if run not in _live:
            _live.append(run)
        mod = _module()
        mod.run, mod.config, mod.summary = run, run.config, run.summary
    _install_hooks()


def run_finished(run: Run) -> None:
    global _active
    with _lock:
        if run in _live:
            _live.remove(run)
        if _active is run:
            _active = _live[-1] if _live else None
            mod = _module()
            if _active is None:
                mod.run, mod.config, mod.summary = None, PreInit("config"), PreInit("summary")
            else:
                mod.run, mod.config, mod.summary = _active, _active.config, _active.summary


def _install_hooks() -> None:
    global _hooks_installed, _prev_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    _prev_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    sys.exit = _exit  # like wandb: remember the code of sys.exit(n) for the atexit finish
    atexit.register(_at_exit)


def _ours(run: Run | None) -> bool:
    """An unfinished run started by this process (a forked child inherits the parent's, not its thread)."""
    return run is not None and not run.finished and run._pid == os.getpid()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    prev = _prev_excepthook or sys.__excepthook__
    try:
        prev(exc_type, exc, tb)
    finally:
        run = _active
        if run is not None and _ours(run):
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            run.finish(1, error=text)


def _exit(code: Any = None) -> NoReturn:
    global _exit_code
    if code is None:
        _exit_code = 0
    elif isinstance(code, int):
        _exit_code = code
    else:
        _exit_code = 1  # sys.exit("message") prints it and exits with 1
    _original_exit(code)


def _at_exit() -> None:
    for run in list(reversed(_live)):
        if _ours(run):
            run.finish(_exit_code)


def _after_fork_in_child() -> None:
    """A forked child (e.g. a DataLoader worker) must not write into the parent's run: its threads are
    not here, and its queue, WAL and stream belong to the parent."""
    global _lock
    _lock = threading.Lock()
    for run in list(_live):
        try:
            run._in_forked_child()
        except Exception:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
