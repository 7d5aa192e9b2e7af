"""The SDK's one compiled part: runyard._speedups (log()'s hot path in C, sdk/runyard/_speedups.c).

It is optional: where no C compiler or no Python headers are found the build goes on without it, and the
SDK runs its pure-Python twin (runyard._items.pack_row), the same rows at about 0.4 µs more per log() call.
RUNYARD_SDK_PURE=1 leaves it out on purpose (a py3-none-any wheel, as the instance's /pypi/simple serves).
Everything else about the package is in pyproject.toml.
"""

import os

from setuptools import Extension, setup

pure = os.environ.get("RUNYARD_SDK_PURE", "").strip().lower() in ("1", "true", "yes")
setup(ext_modules=[] if pure else [Extension("runyard._speedups", ["runyard/_speedups.c"], optional=True)])
