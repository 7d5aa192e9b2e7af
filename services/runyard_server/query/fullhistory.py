"""One page of full-resolution history (`/history/full`), reading only the chunks the page needs.

Rows are the distinct steps >= start where any row key has a value. To avoid decoding a whole run
for every page, an upper step bound U is first estimated from chunk extents (no payload read): the
step by which one row key alone has `limit + 1` points. All chunks meeting [start, U] are then read
and the union of steps in [start, U] is exact; if it holds `limit` rows or fewer and data exists
beyond U, U is widened and the read repeated. JSON-valued points come from `history_json`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg
import numpy as np

from .downsample import align, rows_union, window
from .jsonresp import float_list
from .queries.history import chunk_extents, json_points, json_steps, numeric_series

TIMESTAMP = "_timestamp"
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))


def estimate_upper(extents: list[asyncpg.Record], row_ids: list[int], limit: int) -> int | None:
    """A step by which some row key has at least `limit + 1` points (by chunk sizes), or None."""
    by_key: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for e in extents:
        by_key[e["key_id"]].append(e)
    best: int | None = None
    for key_id in row_ids:
        count, reach = 0, None
        for e in by_key.get(key_id, []):  # ordered by min_step
            count += e["n"]
            reach = e["max_step"] if reach is None else max(reach, e["max_step"])
            if count > limit:
                best = reach if best is None else min(best, reach)
                break
    return best


async def full_page(
    conn: asyncpg.Connection, run_pk: int, ids: dict[str, int], names: list[str] | None, start: int, limit: int
) -> dict[str, Any]:
    """`{"steps", "columns", "next_step"}` for keys `names` (None: every key) from step `start`."""
    chosen = names if names is not None else sorted(ids)
    row_keys = [n for n in chosen if n in ids]
    columns = [TIMESTAMP] + [n for n in chosen if n != TIMESTAMP]
    needed = [ids[n] for n in dict.fromkeys([*row_keys, TIMESTAMP]) if n in ids]
    row_ids = [ids[n] for n in row_keys]

    jsteps = await json_steps(conn, run_pk, row_ids, start, limit + 1) if row_ids else _EMPTY[0]
    extents = await chunk_extents(conn, run_pk, needed, start) if needed else []
    last_numeric = max((int(e["max_step"]) for e in extents), default=None)
    upper = estimate_upper(extents, row_ids, limit)
    if jsteps.size > limit:
        upper = int(jsteps[-1]) if upper is None else min(upper, int(jsteps[-1]))
    while True:
        numeric = await numeric_series(conn, run_pk, needed, start, upper) if needed else {}
        numeric = {k: window(s, v, start, upper) for k, (s, v) in numeric.items()}
        candidates = [numeric[i][0] for i in row_ids]
        candidates.append(jsteps if upper is None else jsteps[jsteps <= upper])
        rows, next_step = rows_union(candidates, start, limit)
        covered = upper is None or (
            (last_numeric is None or upper >= last_numeric) and (jsteps.size <= limit or upper >= jsteps[-1])
        )
        if next_step is not None or covered:
            break
        assert upper is not None
        upper = start + 2 * (upper - start) + 1

    jrows = await json_points(conn, run_pk, needed, start, int(rows[-1])) if rows.size and needed else []
    out: dict[str, list[Any]] = {}
    for name in columns:
        steps, vals = numeric.get(ids[name], _EMPTY) if name in ids else _EMPTY
        present, aligned = align(rows, steps, vals)
        col = float_list(aligned)
        for i in np.flatnonzero(~present).tolist():
            col[i] = None
        out[name] = col
    if jrows:
        index = {s: i for i, s in enumerate(rows.tolist())}
        by_id = {v: k for k, v in ids.items()}
        for r in jrows:
            key = by_id.get(r["key_id"])
            row = index.get(r["step"])
            if key is not None and key in out and row is not None and out[key][row] is None:
                out[key][row] = r["value"]
    return {"steps": rows.tolist(), "columns": out, "next_step": next_step}
