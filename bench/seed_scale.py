"""Fill a local stack to the size DESIGN.md promises, through the real ingest path (gRPC streams).

Starts `runyard-server local` on --data-dir (kept: bench/scale_read.py measures the same folder later),
signs up the user `bench` on a fresh folder, then streams into project --project:
  - --runs runs (default 10,000), each with a config (lr, batch size, optimizer, seed, ...), tags, a group,
    --short-steps steps x --short-metrics metrics of history and a summary (loss, accuracy, ...), finished;
  - --long-runs of them (default 10) instead log --steps steps x --metrics metrics (default 100,000 x 50).
Each run is one Ingest.Stream, exactly as the SDK writes it (OpenRun, batches of --batch records, Finish);
--concurrency streams are in flight at once. Prints progress, then runs/s and points/s, and checks the
stored counts exactly in PostgreSQL. Runs already stored (same run ids) are skipped, so a seed that was
stopped can be continued with the same arguments.

Usage: python bench/seed_scale.py --data-dir /tmp/ry-scale [--runs 10000] [--long-runs 10]
                                  [--steps 100000] [--metrics 50] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import numpy as np
from scale_stack import LocalServer

from runyard_proto.v1 import ingest_pb2 as pb
from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

OPTIMIZERS = ("adam", "adamw", "sgd", "lion")
MODELS = ("resnet18", "resnet50", "vit-s", "vit-b", "gpt-mini")
DATASETS = ("cifar10", "imagenet", "c4")


def run_id_of(i: int) -> str:
    return f"scale-{i:06d}"


def is_long(i: int, runs: int, long_runs: int) -> bool:
    """The long runs are spread evenly over the project (every runs/long_runs-th run)."""
    return long_runs > 0 and i % max(1, runs // long_runs) == 0 and i // max(1, runs // long_runs) < long_runs


class Walks:
    """Random-walk metric values, made once and sliced per run (the generator must not be the bottleneck)."""

    def __init__(self, steps: int, metrics: int) -> None:
        rng = np.random.default_rng(0)
        self.data = (np.cumsum(rng.normal(size=(steps, metrics)), axis=0) * 0.01
                     + rng.normal(size=(steps, metrics)) * 0.1)

    def rows(self, start: int, stop: int, metrics: int, offset: float) -> list[list[float]]:
        return (self.data[start:stop, :metrics] + offset).tolist()  # type: ignore[no-any-return]


async def messages(i: int, args: argparse.Namespace, walks: Walks, long_walks: Walks | None,
                   ) -> AsyncIterator[pb.ClientMessage]:
    rnd = random.Random(i)
    long = long_walks is not None and is_long(i, args.runs, args.long_runs)
    steps, metrics = (args.steps, args.metrics) if long else (args.short_steps, args.short_metrics)
    lr = 10 ** rnd.uniform(-5, -1)
    config = {"lr": lr, "batch_size": rnd.choice([32, 64, 128, 256, 512]), "optimizer": rnd.choice(OPTIMIZERS),
              "model": rnd.choice(MODELS), "dataset": rnd.choice(DATASETS), "seed": i, "epochs": rnd.randint(1, 100),
              "dropout": round(rnd.uniform(0, 0.5), 3), "long": long}
    tags = sorted({rnd.choice(("baseline", "sweep", "ablation", "prod", "debug")), f"team-{i % 7}"})
    yield pb.ClientMessage(open=pb.OpenRun(
        project=args.project, run_id=run_id_of(i), name=f"{config['model']}-{i}", resume="allow",
        config_json=json.dumps(config), tags=tags, group=f"sweep-{i // 100}", job_type="train",
        host=f"node-{i % 32}", start_time=time.time() - (args.runs - i) * 60.0))
    keys = [f"train/metric_{k}" for k in range(metrics)]
    if metrics:
        keys[0] = "train/loss"
    seq = 0
    t0 = time.time()
    walk = long_walks if long else walks
    assert walk is not None
    offset = rnd.uniform(0, 1)
    for start in range(0, steps if metrics else 0, args.batch):
        stop = min(steps, start + args.batch)
        values = walk.rows(start, stop, metrics, offset)
        records = []
        for step in range(start, stop):
            seq += 1
            records.append(pb.Record(seq=seq, history=pb.HistoryRow(
                step=step, timestamp=t0 + step * 0.01, keys=keys, values=values[step - start])))
        yield pb.ClientMessage(batch=pb.RecordBatch(records=records))
    loss = rnd.uniform(0.05, 3.0)
    summary = {"loss": loss, "accuracy": max(0.0, 1.0 - loss / 3.0 + rnd.uniform(-0.05, 0.05)),
               "val/loss": loss * rnd.uniform(1.0, 1.3), "epoch": config["epochs"], "best_step": steps - 1,
               "runtime": rnd.uniform(60, 36_000)}
    yield pb.ClientMessage(batch=pb.RecordBatch(records=[
        pb.Record(seq=seq + 1, summary=pb.SummaryUpdate(set_json=json.dumps(summary))),
        pb.Record(seq=seq + 2, finish=pb.Finish(exit_code=0 if rnd.random() > 0.1 else 1, time=time.time())),
    ]))


async def stream_run(stub: pb_grpc.IngestStub, key: str, i: int, args: argparse.Namespace, walks: Walks,
                     long_walks: Walks | None) -> None:
    call = stub.Stream(messages(i, args, walks, long_walks), metadata=[("authorization", f"Bearer {key}")])
    async for msg in call:
        if msg.WhichOneof("msg") == "ack" and msg.ack.rejected:
            raise SystemExit(f"run {run_id_of(i)}: the server refused a record: {msg.ack.rejected[0].reason}")


async def seed(srv: LocalServer, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(srv.database_url)
    try:
        done = {r["run_id"] for r in await conn.fetch(
            """SELECT r.run_id FROM runs r JOIN projects p ON p.id = r.project_id
                WHERE p.name = $1 AND r.state IN ('finished', 'failed')""", args.project)}
    finally:
        await conn.close()
    todo = [i for i in range(args.runs) if run_id_of(i) not in done]
    long_todo = [i for i in todo if is_long(i, args.runs, args.long_runs)]
    # long runs first: they are the slow part, and the progress then shows the short-run rate alone
    todo = long_todo + [i for i in todo if i not in set(long_todo)]
    print(f"{len(done):,} runs already stored; seeding {len(todo):,} ({len(long_todo)} long: "
          f"{args.steps:,} steps x {args.metrics} metrics; the others {args.short_steps} x {args.short_metrics})",
          flush=True)
    walks = Walks(max(1, args.short_steps), max(1, args.short_metrics))
    long_walks = Walks(args.steps, args.metrics) if long_todo else None
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in todo:
        queue.put_nowait(i)
    started = time.perf_counter()
    state = {"runs": 0, "points": 0, "long": 0}
    long_points = args.steps * args.metrics
    short_points = args.short_steps * args.short_metrics

    async def worker(stub: pb_grpc.IngestStub) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t = time.perf_counter()
            await stream_run(stub, srv.api_key, i, args, walks, long_walks)
            state["runs"] += 1
            if is_long(i, args.runs, args.long_runs):
                state["long"] += 1
                state["points"] += long_points
                el = time.perf_counter() - t
                print(f"  long run {run_id_of(i)}: {long_points:,} points in {el:.1f} s "
                      f"({long_points / el:,.0f} points/s)", flush=True)
            else:
                state["points"] += short_points

    async def progress() -> None:
        while True:
            await asyncio.sleep(args.progress_every)
            el = time.perf_counter() - started
            print(f"  {state['runs']:>7,}/{len(todo):,} runs ({state['long']} long) in {el:6.0f} s: "
                  f"{state['runs'] / el:6.1f} runs/s, {state['points'] / el:>10,.0f} points/s", flush=True)

    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    channels = [grpc.aio.insecure_channel(srv.ingest_address, options=options) for _ in range(args.concurrency)]
    ticker = asyncio.create_task(progress())
    try:
        await asyncio.gather(*(worker(pb_grpc.IngestStub(ch)) for ch in channels))
    finally:
        ticker.cancel()
        for ch in channels:
            await ch.close()
    el = time.perf_counter() - started
    print(f"seeded {state['runs']:,} runs, {state['points']:,} points in {el:.1f} s: "
          f"{state['runs'] / max(el, 1e-9):.1f} runs/s, {state['points'] / max(el, 1e-9):,.0f} points/s", flush=True)
    await verify(srv, args)


async def verify(srv: LocalServer, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(srv.database_url)
    try:
        row = await conn.fetchrow(
            """SELECT count(*) AS runs, count(*) FILTER (WHERE r.summary ? 'loss') AS with_summary,
                      coalesce(sum(r.next_step), 0) AS steps
                 FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1""", args.project)
        points = await conn.fetchval(
            """SELECT coalesce(sum(c.n), 0) FROM history_chunks c JOIN runs r ON r.id = c.run_id
                 JOIN projects p ON p.id = r.project_id JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
                WHERE p.name = $1 AND k.key <> '_timestamp'""", args.project)
    finally:
        await conn.close()
    n_long = sum(1 for i in range(args.runs) if is_long(i, args.runs, args.long_runs))
    want_points = n_long * args.steps * args.metrics + (args.runs - n_long) * args.short_steps * args.short_metrics
    ok = row["runs"] == args.runs and row["with_summary"] == args.runs and points == want_points
    print(f"stored: {row['runs']:,} runs ({row['with_summary']:,} with a summary), {points:,} metric points "
          f"(expected {args.runs:,} runs, {want_points:,} points): {'exact' if ok else 'MISMATCH'}", flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True, help="data folder of the local stack (kept)")
    ap.add_argument("--project", default="scale")
    ap.add_argument("--runs", type=int, default=10_000, help="runs in the project (default 10,000)")
    ap.add_argument("--long-runs", type=int, default=10, help="how many of them are long (default 10)")
    ap.add_argument("--steps", type=int, default=100_000, help="steps of a long run (default 100,000)")
    ap.add_argument("--metrics", type=int, default=50, help="metrics of a long run (default 50)")
    ap.add_argument("--short-steps", type=int, default=100, help="steps of every other run (default 100)")
    ap.add_argument("--short-metrics", type=int, default=5, help="metrics of every other run (default 5)")
    ap.add_argument("--batch", type=int, default=1000, help="records per batch (default 1,000)")
    ap.add_argument("--concurrency", type=int, default=8, help="streams in flight at once (default 8)")
    ap.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines")
    args = ap.parse_args()
    if args.long_runs > args.runs:
        ap.error("--long-runs cannot exceed --runs")
    with LocalServer(args.data_dir) as srv:
        print(f"local stack on {args.data_dir} up: {srv.base_url} (ingest {srv.ingest_address})", flush=True)
        asyncio.run(seed(srv, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
