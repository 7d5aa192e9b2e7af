"""Bytes on disk per history point (docs/storage.md), written through the real ingest service.

Streams random-walk metrics over gRPC into an in-process ingest server on an embedded PostgreSQL, then
prints the size of `history_chunks` (table + TOAST + index, after VACUUM FULL) per metric point.
Usage: python bench/history_storage.py [--steps 20000] [--metrics 50] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import grpc
import numpy as np
from _stack import bench_stack

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc
from runyard_server.common.settings import load_settings
from runyard_server.ingest.server import create_server


async def measure(dsn: str, key: str, steps: int, metrics: int, batch: int, run_id: str) -> None:
    srv = await create_server(load_settings(database_url=dsn, ingest_host="127.0.0.1"), port=0)
    rng = np.random.default_rng(0)
    data = np.cumsum(rng.normal(size=(steps, metrics)), axis=0) * 0.01 + rng.normal(size=(steps, metrics))
    keys = [f"train/metric_{i}" for i in range(metrics)]

    async def messages():  # type: ignore[no-untyped-def]
        yield pb.ClientMessage(open=pb.OpenRun(project="storage", run_id=run_id))
        seq, t0 = 0, time.time()
        for start in range(0, steps, batch):
            records = []
            for step in range(start, min(steps, start + batch)):
                seq += 1
                row = pb.HistoryRow(step=step, timestamp=t0 + step * 0.05, keys=keys, values=data[step].tolist())
                records.append(pb.Record(seq=seq, history=row))
            yield pb.ClientMessage(batch=pb.RecordBatch(records=records))
        yield pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(seq=seq + 1, finish=pb.Finish())]))

    started = time.perf_counter()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
        call = pb_grpc.IngestStub(channel).Stream(messages(), metadata=[("authorization", f"Bearer {key}")])
        async for _ in call:
            pass
    elapsed = time.perf_counter() - started
    await srv.stop(5)
    conn = await asyncpg.connect(dsn)
    try:
        pk = await conn.fetchval("SELECT id FROM runs WHERE run_id = $1", run_id)
        await conn.execute("VACUUM FULL history_chunks")
        total = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree('history_chunks')")
        index = await conn.fetchval(
            "SELECT sum(pg_indexes_size(relid))::bigint FROM pg_partition_tree('history_chunks')")
        chunks = await conn.fetchval("SELECT count(*) FROM history_chunks WHERE run_id = $1", pk)
        await conn.execute("DELETE FROM runs WHERE id = $1", pk)
    finally:
        await conn.close()
    points = steps * metrics
    print(
        f"{steps:>7,} steps x {metrics} metrics, batches of {batch:>5} rows: "
        f"{points / elapsed:>10,.0f} points/s ingest, {chunks:>5} chunks, "
        f"{total / 1e6:6.1f} MB total ({index / 1e3:.0f} kB index) = {total / points:.2f} bytes/point"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--metrics", type=int, default=50)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    with bench_stack() as (stack, key):
        asyncio.run(measure(stack.database_url, key, args.steps, args.metrics, args.batch, "bulk"))
        asyncio.run(measure(stack.database_url, key, max(1, args.steps // 4), args.metrics, 10, "live"))


if __name__ == "__main__":
    main()
