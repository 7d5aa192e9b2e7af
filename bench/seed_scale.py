"""Fill a local stack to the size DESIGN.md promises, through the real ingest path (gRPC streams).

Starts `runyard-server local` on --data-dir (kept: bench/scale_read.py measures the same folder later),
signs up the user `bench` on a fresh folder, then streams into project --project:
  - --runs runs (default 10,000), each with a config (lr, batch size, optimizer, seed, ...), tags, a group,
    --short-steps steps x --short-metrics metrics of history and a summary (loss, accuracy, ...), finished;
  - --long-runs of them (default 10) instead log --steps steps x --metrics metrics (default 100,000 x 50).
--path bulk (default): the runs go through Ingest.Bulk with the SDK's BulkWriter (`runyard._bulk`), many
runs per stream, a short run in one message (open, records, summary, finish, close); --concurrency bulk
streams (default 1: the server already commits many runs together), each on a thread of its own.
--path streams: each run is one Ingest.Stream, as the SDK's live runs write it (OpenRun, batches of
--batch records, Finish); --concurrency streams (default 8) in flight at once. Prints progress, then
runs/s and points/s with the load average and the CPU per run of client, ingest and PostgreSQL, and
checks the stored counts exactly in PostgreSQL. Runs already stored (same run ids) are skipped, so a seed that was stopped
can be continued with the same arguments.

Usage: python bench/seed_scale.py --data-dir /tmp/ry-scale [--runs 10000] [--long-runs 10]
                                  [--steps 100000] [--metrics 50] [--path bulk|streams] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import random
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import grpc
import numpy as np
from scale_stack import LocalServer

from runyard._bulk import BulkWriter
from runyard._encode import numeric_history_record, values_prefix
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


def describe(i: int, args: argparse.Namespace, long_walks: Walks | None,
             ) -> tuple[random.Random, bool, int, int, pb.OpenRun, list[str], dict[str, object]]:
    """(rng, long, steps, metrics, OpenRun, keys, config) of run i; the same for both paths."""
    rnd = random.Random(i)
    long = long_walks is not None and is_long(i, args.runs, args.long_runs)
    steps, metrics = (args.steps, args.metrics) if long else (args.short_steps, args.short_metrics)
    lr = 10 ** rnd.uniform(-5, -1)
    config = {"lr": lr, "batch_size": rnd.choice([32, 64, 128, 256, 512]), "optimizer": rnd.choice(OPTIMIZERS),
              "model": rnd.choice(MODELS), "dataset": rnd.choice(DATASETS), "seed": i, "epochs": rnd.randint(1, 100),
              "dropout": round(rnd.uniform(0, 0.5), 3), "long": long}
    tags = sorted({rnd.choice(("baseline", "sweep", "ablation", "prod", "debug")), f"team-{i % 7}"})
    open_run = pb.OpenRun(
        project=args.project, run_id=run_id_of(i), name=f"{config['model']}-{i}", resume="allow",
        config_json=json.dumps(config), tags=tags, group=f"sweep-{i // 100}", job_type="train",
        host=f"node-{i % 32}", start_time=time.time() - (args.runs - i) * 60.0)
    keys = [f"train/metric_{k}" for k in range(metrics)]
    if metrics:
        keys[0] = "train/loss"
    return rnd, long, steps, metrics, open_run, keys, config


def closing(rnd: random.Random, config: dict[str, object], steps: int, seq: int) -> list[pb.Record]:
    loss = rnd.uniform(0.05, 3.0)
    summary = {"loss": loss, "accuracy": max(0.0, 1.0 - loss / 3.0 + rnd.uniform(-0.05, 0.05)),
               "val/loss": loss * rnd.uniform(1.0, 1.3), "epoch": config["epochs"], "best_step": steps - 1,
               "runtime": rnd.uniform(60, 36_000)}
    return [pb.Record(seq=seq + 1, summary=pb.SummaryUpdate(set_json=json.dumps(summary))),
            pb.Record(seq=seq + 2, finish=pb.Finish(exit_code=0 if rnd.random() > 0.1 else 1, time=time.time()))]


def run_records(i: int, args: argparse.Namespace, walks: Walks, long_walks: Walks | None,
                ) -> tuple[pb.OpenRun, int, Iterator[bytes]]:
    """Run i for the bulk path: (OpenRun, points, serialized Records), the history rows encoded as the SDK's
    streamer encodes them (runyard._encode)."""
    rnd, long, steps, metrics, open_run, keys, config = describe(i, args, long_walks)
    walk = long_walks if long else walks
    assert walk is not None
    offset = rnd.uniform(0, 1)

    def records() -> Iterator[bytes]:
        t0 = time.time()
        seq = 0
        if metrics:
            prefix = values_prefix(keys)
            pack = struct.Struct(f"<{metrics}d").pack
            for start in range(0, steps, args.batch):
                stop = min(steps, start + args.batch)
                for step, values in enumerate(walk.rows(start, stop, metrics, offset), start):
                    seq += 1
                    yield numeric_history_record(seq, step, t0 + step * 0.01, prefix, pack(*values))
        for rec in closing(rnd, config, steps, seq):
            yield rec.SerializeToString()

    return open_run, steps * metrics if metrics else 0, records()


async def messages(i: int, args: argparse.Namespace, walks: Walks, long_walks: Walks | None,
                   ) -> AsyncIterator[pb.ClientMessage]:
    rnd, long, steps, metrics, open_run, keys, config = describe(i, args, long_walks)
    yield pb.ClientMessage(open=open_run)
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
    yield pb.ClientMessage(batch=pb.RecordBatch(records=closing(rnd, config, steps, seq)))


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
          f"{args.steps:,} steps x {args.metrics} metrics; the others {args.short_steps} x {args.short_metrics}) "
          f"through {args.path} x {args.concurrency}", flush=True)
    walks = Walks(max(1, args.short_steps), max(1, args.short_metrics))
    long_walks = Walks(args.steps, args.metrics) if long_todo else None
    state = {"runs": 0, "points": 0, "long": 0}
    started = time.perf_counter()
    cpu0 = os.times()
    server0 = server_cpu(srv)

    async def progress() -> None:
        while True:
            await asyncio.sleep(args.progress_every)
            el = time.perf_counter() - started
            print(f"  {state['runs']:>7,}/{len(todo):,} runs ({state['long']} long) in {el:6.0f} s: "
                  f"{state['runs'] / el:6.1f} runs/s, {state['points'] / el:>10,.0f} points/s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)

    ticker = asyncio.create_task(progress())
    try:
        if args.path == "bulk":
            await asyncio.to_thread(seed_bulk, srv, args, todo, walks, long_walks, state)
        else:
            await seed_streams(srv, args, todo, walks, long_walks, state)
    finally:
        ticker.cancel()
    el = time.perf_counter() - started
    cpu = os.times()
    client_cpu = (cpu.user - cpu0.user) + (cpu.system - cpu0.system)
    server1 = server_cpu(srv)
    used = {k: server1.get(k, 0.0) - server0.get(k, 0.0) for k in server1}
    runs = max(1, state["runs"])
    print(f"seeded {state['runs']:,} runs, {state['points']:,} points in {el:.1f} s through {args.path}: "
          f"{state['runs'] / max(el, 1e-9):.1f} runs/s, {state['points'] / max(el, 1e-9):,.0f} points/s "
          f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})", flush=True)
    print("CPU per run (steadier than wall time on a shared machine): "
          f"client {1000 * client_cpu / runs:.2f} ms, "
          + ", ".join(f"{k} {1000 * v / runs:.2f} ms" for k, v in sorted(used.items()))
          + f"; all {1000 * (client_cpu + sum(used.values())) / runs:.2f} ms", flush=True)
    await verify(srv, args)


def seed_bulk(srv: LocalServer, args: argparse.Namespace, todo: list[int], walks: Walks, long_walks: Walks | None,
              state: dict[str, int]) -> None:
    """--concurrency Bulk streams on threads of their own, sharing one list of runs."""
    work: queue.Queue[int] = queue.Queue()
    for i in todo:
        work.put_nowait(i)
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        with BulkWriter(srv.base_url, srv.api_key, ingest_address=srv.ingest_address, window=64,
                        max_records=args.batch) as bulk:
            counted = 0
            while True:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    break
                open_run, _, records = run_records(i, args, walks, long_walks)
                bulk.write(open_run, records)
                # count what the server answered (runs written and closed), not what was handed over
                with lock:
                    for run in bulk.runs[counted:]:
                        if not run.done:
                            break
                        counted += 1
                        _count(run, args, state, failures)
            bulk.wait()
        with lock:
            for run in bulk.runs[counted:]:
                _count(run, args, state, failures)

    threads = [threading.Thread(target=worker, name=f"bulk-{n}") for n in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit("\n".join(failures[:10]))


def _count(run: object, args: argparse.Namespace, state: dict[str, int], failures: list[str]) -> None:
    from runyard._bulk import BulkRun

    assert isinstance(run, BulkRun)
    if run.refused or run.rejected:
        failures.append(f"run {run.run_id}: {run.refused or run.rejected[0][1]}")
        return
    i = int(run.run_id.rsplit("-", 1)[1])
    state["runs"] += 1
    if is_long(i, args.runs, args.long_runs):
        state["long"] += 1
        state["points"] += args.steps * args.metrics
    else:
        state["points"] += args.short_steps * args.short_metrics


async def seed_streams(srv: LocalServer, args: argparse.Namespace, todo: list[int], walks: Walks,
                       long_walks: Walks | None, state: dict[str, int]) -> None:
    """One Ingest.Stream per run, --concurrency in flight."""
    work: asyncio.Queue[int] = asyncio.Queue()
    for i in todo:
        work.put_nowait(i)
    long_points = args.steps * args.metrics
    short_points = args.short_steps * args.short_metrics

    async def worker(stub: pb_grpc.IngestStub) -> None:
        while not work.empty():
            i = work.get_nowait()
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

    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    channels = [grpc.aio.insecure_channel(srv.ingest_address, options=options) for _ in range(args.concurrency)]
    try:
        await asyncio.gather(*(worker(pb_grpc.IngestStub(ch)) for ch in channels))
    finally:
        for ch in channels:
            await ch.close()


def server_cpu(srv: LocalServer) -> dict[str, float]:
    """CPU seconds used so far by the local stack's processes, by kind (ingest, postgres, other): the
    PostgreSQL backends of the ingest pool live as long as the pool, so their time is counted."""
    import psutil

    assert srv.proc is not None
    out = {"ingest": 0.0, "postgres": 0.0, "other": 0.0}
    for p in [psutil.Process(srv.proc.pid), *psutil.Process(srv.proc.pid).children(recursive=True)]:
        try:
            t = p.cpu_times()
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        kind = "ingest" if "cli ingest" in cmd else "postgres" if "postgres" in cmd or "postgres" in p.name() else "other"
        out[kind] += t.user + t.system
    return out


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
    ap.add_argument("--path", choices=("bulk", "streams"), default="bulk",
                    help="bulk: Ingest.Bulk, many runs per stream (default); streams: one Ingest.Stream per run")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="streams in flight at once (default: 1 bulk stream, or 8 per-run streams)")
    ap.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines")
    args = ap.parse_args()
    if args.long_runs > args.runs:
        ap.error("--long-runs cannot exceed --runs")
    args.concurrency = args.concurrency or (1 if args.path == "bulk" else 8)
    with LocalServer(args.data_dir) as srv:
        print(f"local stack on {args.data_dir} up: {srv.base_url} (ingest {srv.ingest_address})", flush=True)
        asyncio.run(seed(srv, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
