"""Artifacts logged while the server is away (offline mode, or not reachable yet): kept in the run
folder and logged by `runyard sync`.

    <run folder>/artifacts/<NNN>-<name>/artifact.json   name, type, description, metadata, aliases, references
    <run folder>/artifacts/<NNN>-<name>/files/...       copies of the local files, by their path in the artifact

Logging the same manifest twice creates no new version (the artifact service compares digests), so a
repeated sync is harmless; `sync.json` also remembers which staged artifacts went to which server.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["log_staged", "stage_artifact"]


def stage_artifact(run_folder: Path, art: Any, aliases: Sequence[str] | None) -> Path:
    from .artifacts import _Local, _Ref

    root = run_folder / "artifacts"
    root.mkdir(exist_ok=True)
    n = len([p for p in root.iterdir() if p.is_dir()])
    where = root / f"{n:03d}-{art.name}"
    files_dir = where / "files"
    files_dir.mkdir(parents=True)
    refs = []
    for path, entry in sorted(art._entries.items()):
        if isinstance(entry, _Local):
            dest = files_dir / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(entry.path, dest)
        elif isinstance(entry, _Ref):
            refs.append({"path": path, "uri": entry.uri, "digest": entry.digest, "size": entry.size})
    info = {"name": art.name, "type": art.type, "description": art.description, "metadata": art.metadata,
            "aliases": list(aliases or []), "references": refs}
    tmp = where / "artifact.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
    os.replace(tmp, where / "artifact.json")
    return where


def log_staged(run_folder: Path, base_url: str, api_key: str | None, entity: str, project: str, run_id: str,
               done: list[str]) -> list[str]:
    """Log every staged artifact not in `done`; returns the folder names logged now."""
    from .artifacts import Artifact, log_artifact

    root = run_folder / "artifacts"
    logged = []
    for where in sorted(p for p in root.glob("*") if (p / "artifact.json").is_file()):
        if where.name in done:
            continue
        info = json.loads((where / "artifact.json").read_text())
        art = Artifact(info["name"], info["type"], description=info.get("description"),
                       metadata=info.get("metadata"))
        if (where / "files").is_dir():
            art.add_dir(where / "files")
        for ref in info.get("references") or []:
            art.add_reference(ref["uri"], ref["path"], digest=ref.get("digest"), size=ref.get("size"))
        log_artifact(base_url, api_key, entity, project, run_id, art, info.get("aliases") or [])
        logged.append(where.name)
    return logged
