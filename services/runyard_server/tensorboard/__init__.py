"""The TensorBoard component: the real TensorBoard over runs' event files, behind Runyard's access checks.

`create_app(settings)` (the app, `app.py`), `is_tensorboard_path(path)` (for the front door), `PREFIX`.
Event files come from the bucket into a bounded on-disk cache (`cache.py`); one TensorBoard WSGI app
serves every view (`backend.py`); `routes.py` checks access on every request. docs/tensorboard.md.
"""

from .app import PREFIX, create_app, is_tensorboard_path

__all__ = ["PREFIX", "create_app", "is_tensorboard_path"]
