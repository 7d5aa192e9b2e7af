"""TensorBoard sync: event files written by the script become run data, and the files themselves run files.

    import runyard
    runyard.init(project="mnist", sync_tensorboard=True)      # or: runyard.tensorboard.patch() first
    writer = torch.utils.tensorboard.SummaryWriter()         # tensorboardX.SummaryWriter works too
    writer.add_scalar("loss", 0.3, global_step=100)          # -> history key "loss" at step 100

`patch(root_logdir=None, save=True)` hooks the event-file writers of the `tensorboard` package (what
`torch.utils.tensorboard` uses) and of `tensorboardX`: every writer created afterwards is watched by the
active run (or by the next run started, when none is active yet). Keys are `<folder>/<tag>` with the
writer's folder relative to `root_logdir` (default: the first writer's folder, or its parent when that is
called train/validation/val/eval/test, as Keras names them). With `root_logdir`, event files that appear
anywhere below it while the run is active are read too: that is how writers that cannot be hooked
(TensorFlow's own `tf.summary` writers, Keras' TensorBoard callback) are found. `save=False` keeps the
event files out of the run's files.

Reading event files needs the `tensorboard` (or `tensorboardX`) package: `pip install runyard[tensorboard]`.
docs/tensorboard.md has the details; `runyard import tensorboard LOGDIR` imports finished event-file trees.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
import weakref
from typing import Any

from ._watcher import Watcher, namespace_for

__all__ = ["Watcher", "attach", "namespace_for", "on_init", "patch", "patched", "unpatch"]

_lock = threading.RLock()
_root_logdir: str | None = None
_save = True
_patched: dict[tuple[str, str], tuple[Any, str, Any]] = {}  # (module, name) -> (object, attribute, original)
_pending: list[weakref.ref[Any]] = []  # writers created while no run was active
_pending_dirs: list[str] = []

# (module, class) of the event-file writers hooked by patch()
WRITERS = (
    ("tensorboard.summary.writer.event_file_writer", "EventFileWriter"),  # torch.utils.tensorboard
    ("tensorboardX.event_file_writer", "EventFileWriter"),
)


def patch(root_logdir: str | os.PathLike[str] | None = None, save: bool = True,
          tensorboard_x: bool | None = None, pytorch: bool | None = None) -> None:
    """Sync TensorBoard event files written from now on into the active run (or the next one started).

    `root_logdir`: the folder keys are named relative to (see the module docstring); `save`: upload the
    event files as run files under `tensorboard/`. `tensorboard_x=True` / `pytorch=True` make a missing
    tensorboardX / tensorboard package an error instead of being skipped."""
    global _root_logdir, _save
    hooked = 0
    with _lock:
        _root_logdir = os.path.abspath(os.fspath(root_logdir)) if root_logdir is not None else None
        _save = bool(save)
        for (module, cls), required in zip(WRITERS, (pytorch, tensorboard_x), strict=True):
            try:
                hooked += _hook(module, cls)
            except ImportError as exc:
                if required:
                    from ..errors import UsageError

                    raise UsageError(f"runyard.tensorboard.patch: {module} cannot be imported ({exc}); "
                                     "pip install 'runyard[tensorboard]'") from None
        hooked += _hook_tensorflow()
        if not hooked and _root_logdir is None:
            from ..errors import UsageError

            raise UsageError("runyard.tensorboard.patch: neither tensorboard nor tensorboardX is installed; "
                             "pip install 'runyard[tensorboard]'")
    from .. import _state

    run = _state.active()
    if run is not None and not run.finished:
        attach(run)


def patched() -> bool:
    return bool(_patched)


def unpatch() -> None:
    """Undo patch(): writers created afterwards are not watched (watchers already running go on)."""
    global _root_logdir
    with _lock:
        for obj, attr, original in _patched.values():
            setattr(obj, attr, original)
        _patched.clear()
        _pending.clear()
        _pending_dirs.clear()
        _root_logdir = None


def attach(run: Any, root_logdir: str | os.PathLike[str] | None = None) -> Watcher | None:
    """The run's watcher, started on first use; writers created before any run was active join it."""
    if run.disabled or run.folder is None:
        return None
    with _lock:
        watcher: Watcher | None = getattr(run, "_tensorboard", None)
        if watcher is None:
            root = os.fspath(root_logdir) if root_logdir is not None else _root_logdir
            watcher = Watcher(run, root, save=_save).start()
            run._tensorboard = watcher
        pending, _pending[:] = [w() for w in _pending], []
        dirs, _pending_dirs[:] = list(_pending_dirs), []
    for writer in pending:
        if writer is not None:
            watcher.add_writer(writer)
    for d in dirs:
        watcher.add_logdir(d)
    return watcher


def _active_watcher() -> Watcher | None:
    from .. import _state

    run = _state.active()
    if run is None or run.finished or getattr(run, "_child", False) or os.getpid() != run._pid:
        return None
    return attach(run)


def _writer_created(writer: Any) -> None:
    try:
        watcher = _active_watcher()
        if watcher is None:
            with _lock:
                _pending.append(weakref.ref(writer))
        else:
            watcher.add_writer(writer)
    except Exception:  # never break the user's writer
        import logging

        logging.getLogger("runyard").exception("tensorboard: watching a new writer failed")


def _logdir_created(logdir: str) -> None:
    watcher = _active_watcher()
    if watcher is None:
        with _lock:
            _pending_dirs.append(os.path.abspath(logdir))
    else:
        watcher.add_logdir(logdir)


def _hook(module: str, cls: str) -> int:
    """Wrap `cls.__init__` so each new writer is reported; 1 when hooked (now or before)."""
    if (module, cls) in _patched:
        return 1
    target = getattr(importlib.import_module(module), cls)
    original = target.__init__

    @functools.wraps(original)
    def init_and_watch(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _writer_created(self)

    target.__init__ = init_and_watch
    _patched[(module, cls)] = (target, "__init__", original)
    return 1


def _hook_tensorflow() -> int:
    """TensorFlow's writers are native code: `tf.summary.create_file_writer(logdir)` registers its folder,
    which is then scanned for event files. Only when TensorFlow is already imported (never imported here).
    Not exercised by the test suite (no TensorFlow wheel there)."""
    tf_summary: Any = sys.modules.get("tensorflow.summary") or getattr(sys.modules.get("tensorflow"), "summary", None)
    if tf_summary is None or ("tensorflow.summary", "create_file_writer") in _patched:
        return 1 if ("tensorflow.summary", "create_file_writer") in _patched else 0
    original = tf_summary.create_file_writer

    @functools.wraps(original)
    def create_file_writer(logdir: Any, *args: Any, **kwargs: Any) -> Any:
        writer = original(logdir, *args, **kwargs)
        try:
            _logdir_created(os.fspath(logdir))
        except Exception:
            pass
        return writer

    tf_summary.create_file_writer = create_file_writer
    _patched[("tensorflow.summary", "create_file_writer")] = (tf_summary, "create_file_writer", original)
    return 1


def on_init(run: Any, sync_tensorboard: bool) -> None:
    """Called by `runyard.init()`: `sync_tensorboard=True` patches (keeping a root_logdir given to an
    earlier patch()); after an earlier patch() the new run takes over the writers made before it."""
    if sync_tensorboard and not _patched:
        patch()  # attaches the run (already the active one)
    elif _patched:
        attach(run)
