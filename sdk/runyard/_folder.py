"""The state files of a run folder, written atomically and read forgivingly.

    run.json    what OpenRun carries (for `runyard sync`), what the server answered, where the process stopped
    sync.json   per server (base URL): what that server acknowledged of this folder - written by the run
                itself and by `runyard sync`; `runyard status` reads only this (acknowledged facts)

sync.json, one entry per base URL:

    entity, project, run_id   where the run lives on that server
    seq_offset                the server's sequence number of the folder's record 0 (`server = wal + offset`);
                              fixed before the first record is sent there
    acked_seq                 the highest WAL record that server settled (stored or refused)
    last_seq                  the same in the server's numbering (older SDKs wrote only this, offset 0)
    files_pending             run files not uploaded there
    refused                   records that server refused, with the reason
    synced_at                 unix time of the last update
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["RUN_FILE", "SYNC_FILE", "host_state", "read_json", "update_host", "write_json"]

RUN_FILE = "run.json"
SYNC_FILE = "sync.json"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; {} when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> bool:
    """Replace `path` atomically; False when the disk refused (full, read-only): the caller goes on."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False


def host_state(run_dir: Path, base_url: str) -> dict[str, Any]:
    """What `base_url` acknowledged of this folder (see the module docstring); {} when nothing."""
    entry = read_json(run_dir / SYNC_FILE).get(base_url.rstrip("/"))
    if not isinstance(entry, dict):
        return {}
    entry = dict(entry)
    offset = entry.get("seq_offset")
    if "acked_seq" not in entry and "last_seq" in entry:  # written by an SDK before offsets existed
        entry["acked_seq"] = int(entry["last_seq"] or 0) - int(offset or 0)
    return entry


def update_host(run_dir: Path, base_url: str, **fields: Any) -> bool:
    """Merge `fields` into this folder's entry for `base_url` in sync.json."""
    path = run_dir / SYNC_FILE
    state = read_json(path)
    key = base_url.rstrip("/")
    entry = state.get(key) if isinstance(state.get(key), dict) else {}
    assert isinstance(entry, dict)
    entry.update(fields)
    entry["synced_at"] = time.time()
    state[key] = entry
    return write_json(path, state)
