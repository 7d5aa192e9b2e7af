"""Git state of the code a run comes from: commit, remote, branch and the uncommitted diff."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

MAX_DIFF_BYTES = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class GitInfo:
    root: str
    commit: str
    branch: str | None
    remote: str | None
    diff: str            # `git diff HEAD` (staged and unstaged changes of tracked files), may be empty
    dirty: bool

    def as_metadata(self) -> dict[str, object]:
        return {"root": self.root, "commit": self.commit, "branch": self.branch, "remote": self.remote,
                "dirty": self.dirty}


def _git(cwd: str, *args: str, timeout: float = 10.0) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=timeout,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return res.stdout.decode("utf-8", errors="replace")


def _strip_credentials(url: str) -> str:
    """`https://user:token@host/x.git` -> `https://host/x.git`: a token must never reach the server."""
    return re.sub(r"^(\w+://)[^/@]+@", r"\1", url.strip())


def git_info(path: str | os.PathLike[str] | None = None) -> GitInfo | None:
    """The repository around `path` (default: the current folder), or None outside one / without git."""
    cwd = os.fspath(path or os.getcwd())
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if not root:
        return None
    root = root.strip()
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    if branch == "HEAD":
        branch = None  # detached
    remote = _git(root, "config", "--get", "remote.origin.url")
    diff = _git(root, "diff", "HEAD", "--no-color", "--no-ext-diff") if commit else None
    if diff is None:
        diff = _git(root, "diff", "--no-color", "--no-ext-diff") or ""
    if len(diff.encode()) > MAX_DIFF_BYTES:
        diff = diff.encode()[:MAX_DIFF_BYTES].decode(errors="ignore") + "\n# diff cut at 10 MB\n"
    return GitInfo(
        root=str(Path(root)), commit=commit, branch=branch,
        remote=_strip_credentials(remote) if remote else None, diff=diff, dirty=bool(diff.strip()),
    )
