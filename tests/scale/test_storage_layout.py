"""Storage for scale: the typed summary copy that the runs list sorts by (migration 0060), and history
hash-partitioned by run (migration 0062) with its existing rows copied and per-run reads pruned to one
partition. Real PostgreSQL (the session's server), real ingest and front door."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

import httpx

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_server.common.migrate import apply_migrations, load_migrations
from runyard_server.local import run_coro
from tests.support import db
from tests.support.stack import TestStack

from .support import finish_msg, open_msg, rows_msg, stream

PARTITIONED = 62  # the migration that partitions history


def summary_msg(seq: int, set_: dict[str, Any] | None = None, remove: list[str] | None = None) -> pb.ClientMessage:
    return pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(
        seq=seq, summary=pb.SummaryUpdate(set_json=json.dumps(set_ or {}), remove=remove or []))]))


def expected_order(runs: list[tuple[int, str, Any]], descending: bool) -> list[str]:
    """The runs list's documented order of a JSON key: numbers (numerically), then strings, then the rest,
    ties by row id in the direction of the sort (filterlang.compile_sort_key)."""
    nums = [(Decimal(str(v)), pk, rid) for pk, rid, v in runs if isinstance(v, (int, float)) and not isinstance(v, bool)]
    strs = [(v, pk, rid) for pk, rid, v in runs if isinstance(v, str)]
    rest = [(pk, rid) for pk, rid, v in runs if not isinstance(v, (int, float, str)) or isinstance(v, bool)]
    out = [rid for _, _, rid in sorted(nums, reverse=descending)]
    out += [rid for _, _, rid in sorted(strs, reverse=descending)]
    out += [rid for _, rid in sorted(rest, reverse=descending)]
    return out


def test_runs_sorted_by_a_summary_metric_use_the_typed_copy_and_keep_their_order(
    stack: TestStack, admin_key: str
) -> None:
    stack.start_ingest()
    project = f"sumsort-{uuid.uuid4().hex[:6]}"
    losses: list[Any] = [0.5, 2, 0.5, -1e-3, 12345678901234567890, 1e300, "abc", "NaN", None, 0.5, {"a": 1}, True,
                         7, "zzz", 3.25]
    ids = [f"r{i:02d}-{uuid.uuid4().hex[:4]}" for i in range(len(losses))]
    for rid, loss in zip(ids, losses):
        msgs = [open_msg(project, rid), rows_msg(1, range(2), ["loss"])]
        if loss is not None:
            msgs.append(summary_msg(3, {"loss": loss, "other": 1}))
        msgs.append(finish_msg(4 if loss is not None else 3))
        stream(stack.ingest_address, admin_key, msgs)
    pks = {r["run_id"]: r["id"] for r in stack.fetch(
        "SELECT r.run_id, r.id FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1", project)}
    runs = [(pks[rid], rid, loss) for rid, loss in zip(ids, losses)]

    # the typed copy holds exactly the numeric values (booleans, strings and objects are not numbers)
    rows = stack.fetch("SELECT s.run_id, s.value FROM run_summary_num s WHERE s.run_id = ANY($1::bigint[]) "
                       "AND s.key = 'loss'", list(pks.values()))
    want = {pks[rid]: Decimal(str(v)) for rid, v in zip(ids, losses)
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert {r["run_id"]: r["value"] for r in rows} == want

    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=30) as http:
        def listed(order: str, limit: int, offset: int = 0, **extra: str) -> list[str]:
            resp = http.get(f"/api/v1/projects/admin/{project}/runs",
                            params={"order": order, "limit": limit, "offset": offset, **extra})
            assert resp.status_code == 200, resp.text
            return [r["id"] for r in resp.json()["runs"]]

        for descending in (False, True):
            order = ("-" if descending else "") + "summary.loss"
            full = expected_order(runs, descending)
            assert listed(order, 100) == full
            # pages inside the numbers (the index answers) and pages reaching past them (the general sort)
            for limit, offset in ((3, 0), (4, 3), (5, 6), (3, 9), (2, 13)):
                assert listed(order, limit, offset) == full[offset:offset + limit], (order, limit, offset)
            # with a filter, from both paths
            seven = ids[losses.index(7)]
            flt = listed(order, 3, filter=f'state = finished and id != "{seven}"')
            assert flt == [r for r in full if r != seven][:3]

        # edits follow: a number becomes a string, a key goes away, a new number arrives
        changed, removed, fresh = ids[0], ids[1], ids[8]
        stream(stack.ingest_address, admin_key, [open_msg(project, changed, "must"), summary_msg(0, {"loss": "gone"})])
        stream(stack.ingest_address, admin_key, [open_msg(project, removed, "must"), summary_msg(0, remove=["loss"])])
        stream(stack.ingest_address, admin_key, [open_msg(project, fresh, "must"), summary_msg(0, {"loss": -5})])
        new_losses = list(losses)
        new_losses[0], new_losses[1], new_losses[8] = "gone", None, -5
        runs = [(pks[rid], rid, loss) for rid, loss in zip(ids, new_losses)]
        rows = stack.fetch("SELECT run_id, key, value FROM run_summary_num WHERE run_id = ANY($1::bigint[])",
                           [pks[changed], pks[removed], pks[fresh]])
        assert sorted((r["run_id"], r["key"], r["value"]) for r in rows) == sorted(
            [(pks[changed], "other", 1), (pks[removed], "other", 1), (pks[fresh], "loss", -5)])
        assert listed("summary.loss", 100) == expected_order(runs, False)
        assert listed("-summary.loss", 2) == expected_order(runs, True)[:2]


def test_history_is_hash_partitioned_and_per_run_reads_touch_one_partition(stack: TestStack) -> None:
    parts = stack.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'history_chunks'::regclass")
    assert len(parts) == 16
    plan = "\n".join(r["QUERY PLAN"] for r in stack.fetch(
        "EXPLAIN SELECT key_id, steps, vals FROM history_chunks WHERE run_id = 42 AND key_id = ANY('{1,2}'::int[])"))
    # one partition, whether scanned through its primary key index or as a bitmap heap scan of the table
    assert len(set(re.findall(r"history_chunks_p(\d\d)", plan))) == 1, plan
    plan = "\n".join(r["QUERY PLAN"] for r in stack.fetch(
        "EXPLAIN SELECT step, value FROM history_json WHERE run_id = 42 AND key_id = 1"))
    assert len(set(re.findall(r"history_json_p(\d\d)", plan))) == 1, plan


def test_partitioning_copies_existing_history(stack: TestStack) -> None:
    """A database at the migration before: its history rows come through 0062 unchanged, ids continue."""
    server = stack.database_url.rsplit("/", 1)[0] + "/postgres"
    name = f"ry_part_{uuid.uuid4().hex[:8]}"
    db.execute(server, f'CREATE DATABASE "{name}"')
    dsn = db.database_url(server, name)
    try:
        async def before() -> None:
            async with db.connect(dsn) as conn:
                await conn.execute("""CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                      checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())""")
                for m in load_migrations():
                    if m.version >= PARTITIONED:
                        break
                    await conn.execute(m.sql)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)", m.version, m.name,
                                       m.checksum)
                await conn.execute(
                    "INSERT INTO entities (name, kind) VALUES ('t', 'team');"
                    "INSERT INTO projects (entity_id, name) SELECT id, 'p' FROM entities;"
                    "INSERT INTO runs (project_id, run_id, name, run_number) "
                    "  SELECT p.id, 'run' || g, 'run' || g, g FROM projects p, generate_series(1, 40) g;"
                    "INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals) "
                    "  SELECT r.id, k, r.id, r.id + 9, 10, decode(md5(r.id::text || k), 'hex'), '\\x01'::bytea "
                    "    FROM runs r, generate_series(1, 3) k;"
                    "INSERT INTO history_json (run_id, key_id, step, value) "
                    "  SELECT r.id, 9, s, jsonb_build_object('s', s) FROM runs r, generate_series(0, 4) s;")

        run_coro(before())
        chunks = db.fetch(dsn, "SELECT * FROM history_chunks ORDER BY id")
        points = db.fetch(dsn, "SELECT * FROM history_json ORDER BY run_id, step")
        applied = run_coro(apply_migrations(dsn))
        assert PARTITIONED in applied
        assert [dict(r) for r in db.fetch(dsn, "SELECT * FROM history_chunks ORDER BY id")] == [dict(r) for r in chunks]
        assert [dict(r) for r in db.fetch(dsn, "SELECT * FROM history_json ORDER BY run_id, step")] == [
            dict(r) for r in points]
        assert db.fetchval(dsn, "SELECT count(*) FROM pg_partitioned_table WHERE partrelid IN "
                                "('history_chunks'::regclass, 'history_json'::regclass)") == 2
        # new chunks continue the id sequence (later arrivals must sort after earlier ones)
        new_id = db.fetchval(dsn, "INSERT INTO history_chunks (run_id, key_id, min_step, max_step, n, steps, vals) "
                                  "SELECT min(id), 1, 0, 0, 1, '\\x00', '\\x00' FROM runs RETURNING id")
        assert new_id > max(r["id"] for r in chunks)
        # deleting a run still removes its history (the foreign key came along)
        db.execute(dsn, "DELETE FROM runs WHERE run_id = 'run1'")
        assert db.fetchval(dsn, "SELECT count(*) FROM history_chunks c WHERE NOT EXISTS "
                                "(SELECT 1 FROM runs r WHERE r.id = c.run_id)") == 0
    finally:
        db.execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
