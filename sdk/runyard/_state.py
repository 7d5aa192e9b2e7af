"""The process-wide active run, the module attributes that mirror it (`runyard.run`, `.config`,
`.summary`), and the exit hooks that finish it.

How a run ends without `finish()`:
- an uncaught exception: `sys.excepthook` finishes it with exit code 1 and the traceback;
- the end of the script (also `sys.exit(n)`, which is wrapped as wandb does, and a notebook kernel shutting
  down): the interpreter's exit path. The hook is registered with `threading._register_atexit`, which runs
  before the interpreter joins threads and shuts down thread pools, so the drain (history, media, files)
  still has working threads and executors - a plain `atexit` hook runs after that, where uploads fail with
  "cannot schedule new futures after interpreter shutdown" (and Python 3.12 refuses new threads). Other
  non-daemon threads of the script are waited for first (bounded), as the interpreter would; `atexit` stays
  registered as a fallback;
- SIGTERM (when nothing else handles it): exit code 143, through the same exit path; a SIGTERM that arrives
  while a run is finishing waits until it has finished.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
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
_exit_error: str | None = None
_finishing = 0  # runs finishing right now (a SIGTERM then waits)
_sigterm_pending = False
_exiting = False  # the interpreter's exit path (or the excepthook) is finishing runs


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
    sys.exit = _exit  # like wandb: remember the code of sys.exit(n) for the exit-time finish
    # Imported now so that its own threading-atexit hook (which stops thread pools) is registered before
    # ours: those hooks run in reverse order, so ours runs while pools still take work.
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(_at_thread_exit)
        except RuntimeError:  # init() called while the interpreter is already shutting down
            pass
    atexit.register(_at_exit)
    _install_sigterm()


def _install_sigterm() -> None:
    """SIGTERM ends the script through the normal exit path (so the run is drained), unless the script
    or a framework handles SIGTERM itself."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    global _exit_code, _exit_error, _sigterm_pending
    _exit_code, _exit_error = 128 + signum, "terminated by SIGTERM"
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    except (ValueError, OSError):
        pass
    if _finishing or _exiting:
        _sigterm_pending = not _exiting  # raised once the run in progress has finished (see finishing())
        return
    raise SystemExit(_exit_code)


def finishing(started: bool) -> None:
    """Run.finish() brackets its work with this: a SIGTERM in between waits for it."""
    global _finishing, _sigterm_pending
    _finishing += 1 if started else -1
    if (not started and not _finishing and _sigterm_pending and not _exiting
            and threading.current_thread() is threading.main_thread()):
        _sigterm_pending = False
        raise SystemExit(_exit_code)


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
            global _exiting
            _exiting = True
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


def _at_thread_exit() -> None:
    """The interpreter is about to join threads: wait for the script's own non-daemon threads (they may
    still log), then finish every run of this process while thread pools still work."""
    global _exiting
    if not any(_ours(run) for run in _live):
        return
    _exiting = True
    try:
        from concurrent.futures.thread import _threads_queues  # pool workers end only after this hook

        pool_workers = set(_threads_queues)
    except ImportError:
        pool_workers = set()
    deadline = time.monotonic() + max((run._finish_timeout for run in _live), default=60.0)
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is me or t.daemon or t in pool_workers or not t.is_alive():
            continue
        t.join(max(0.0, deadline - time.monotonic()))
    _at_exit()


def _at_exit() -> None:
    global _exiting
    _exiting = True
    for run in list(reversed(_live)):
        if _ours(run):
            run.finish(_exit_code, error=_exit_error)


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
