"""Soak test: N concurrent runs log for M minutes while faults are injected on a schedule.

Starts a private stack in a temp folder (embedded PostgreSQL, Redis and S3, the ingest service and the
front door as real processes), then `--runs` client processes that each log `--rate` rows per second of
`--metrics` metrics through the SDK for `--minutes`, timing every `log()` call, and `finish()`. While they
log, the faults named by `--faults` are injected one after another, every `--fault-every` seconds:

    ingest-kill     SIGKILL the ingest service, start it again on the same port
    front-kill      SIGKILL the front door (REST, UI), start it again
    pg-pause        SIGSTOP PostgreSQL for --fault-length seconds, then SIGCONT
    pg-restart      stop PostgreSQL (fast shutdown), start it again
    redis-kill      SIGKILL Redis, start it again after --fault-length seconds
    redis-pause     SIGSTOP Redis for --fault-length seconds (a hung Redis)
    s3-kill         SIGKILL the bucket, start it again after --fault-length seconds

A prober calls `GET /api/v1/viewer` with an API key every 0.5 s. At the end it prints, per run and in
total: points logged vs stored, duplicates (points stored twice) and lost points; the p50/p99/max latency
of `log()`; the REST latency and status codes in each fault window (a 500 is a bug; 503 is an honest
"try again"); and the resident memory of ingest, the front door and PostgreSQL over time.
Exit status 1 when any point was lost or doubled, or a request answered 500.

Usage: python bench/soak.py [--runs 4] [--minutes 1] [--rate 200] [--metrics 10]
                            [--faults all|ingest-kill,pg-pause,...] [--fault-every S] [--fault-length 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import bench_stack

FAULTS = ("ingest-kill", "pg-pause", "redis-pause", "pg-restart", "redis-kill", "s3-kill", "front-kill")
NO_CAPTURE = {"system_metrics": False, "save_code": False, "capture_git": False,
              "capture_requirements": False, "console": "off", "finish_timeout": 300.0}


# ---- the clients ---------------------------------------------------------------------------------------
def _client(base_url: str, key: str, index: int, seconds: float, rate: float, metrics: int, out: Any) -> None:
    os.environ["RUNYARD_BASE_URL"] = base_url
    os.environ["RUNYARD_API_KEY"] = key
    import runyard

    run = runyard.init(project="soak", name=f"soak-{index}", dir=tempfile.mkdtemp(prefix="ry-soak-"),
                       settings=NO_CAPTURE)
    keys = [f"m{i}" for i in range(metrics)]
    lat: list[float] = []
    step = 0
    start = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        due = int((now - start) * rate)
        while step < due:
            row = {k: step * 0.001 + i for i, k in enumerate(keys)}
            t0 = time.perf_counter()
            run.log(row, step=step)
            lat.append(time.perf_counter() - t0)
            step += 1
        time.sleep(0.005)
    t0 = time.perf_counter()
    run.finish()
    out.put({"index": index, "run_id": run.id, "steps": step, "metrics": metrics, "lat": lat,
             "finish_s": time.perf_counter() - t0})


# ---- the server side -------------------------------------------------------------------------------------
class Services:
    """The ingest service and the front door of the private stack, as restartable processes."""

    def __init__(self, stack: Any, root: Path) -> None:
        from runyard_server.local.launcher import service_env
        from runyard_server.local.processes import free_port

        self.stack = stack
        self.root = root
        self.port, self.ingest_port = free_port(), free_port()
        self.env = service_env(stack, host="127.0.0.1", port=self.port, ingest_port=self.ingest_port)
        self.env.update({"RUNYARD_HEARTBEAT_TIMEOUT_S": "60", "RUNYARD_WEB_DIST": "",
                         "RUNYARD_PUBLIC_INGEST_ADDRESS": f"127.0.0.1:{self.ingest_port}"})
        self.children: dict[str, Any] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> None:
        from runyard_server.local.processes import spawn, wait_until

        command = {"ingest": "ingest", "front": "frontdoor"}[name]
        child = spawn(name, [sys.executable, "-m", "runyard_server.cli", command], self.root / f"{name}.log",
                      env=self.env)
        self.children[name] = child
        if name == "ingest":
            wait_until(child, lambda: _tcp(self.ingest_port), timeout=60, what="ingest", interval=0.1)
        else:
            wait_until(child, lambda: httpx.get(self.base_url + "/api/v1/server-info", timeout=2).status_code == 200,
                       timeout=60, what="front door", interval=0.1)

    def kill(self, name: str) -> None:
        self.children[name].stop(10, kill=True)

    def stop(self) -> None:
        for child in self.children.values():
            child.stop(10)


def _tcp(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _storage_pid(stack: Any, name: str) -> int:
    return int(stack.pids()[name])


def inject(fault: str, stack: Any, services: Services, length: float) -> None:
    """One fault, undone before it returns."""
    def paused(name: str) -> None:
        pid = _storage_pid(stack, name)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(length)
        finally:
            os.kill(pid, signal.SIGCONT)

    def killed(name: str, grace_kill: bool = True) -> None:
        stack.children[name].stop(15, kill=grace_kill)
        try:
            time.sleep(length)
        finally:
            stack.start_part(name)  # the embedded stack starts it again, on the same port

    actions: dict[str, Callable[[], None]] = {
        "ingest-kill": lambda: (services.kill("ingest"), services.start("ingest")),  # type: ignore[func-returns-value]
        "front-kill": lambda: (services.kill("front"), services.start("front")),  # type: ignore[func-returns-value]
        "pg-pause": lambda: paused("postgres"),
        "pg-restart": lambda: killed("postgres", grace_kill=False),
        "redis-kill": lambda: killed("redis"),
        "redis-pause": lambda: paused("redis"),
        "s3-kill": lambda: killed("s3"),
    }
    actions[fault]()


def rss_mb(pid: int, with_children: bool = False) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        if with_children:
            total += sum(c.memory_info().rss for c in proc.children(recursive=True))
        return total / 2**20
    except psutil.Error:
        return float("nan")


async def _stored(dsn: str, run_ids: list[str]) -> dict[str, tuple[int, int]]:
    """run id -> (points stored, distinct (key, step) points)."""
    import asyncpg

    from runyard_server.common import history_codec

    conn = await asyncpg.connect(dsn)
    try:
        out: dict[str, tuple[int, int]] = {}
        for rid in run_ids:
            rows = await conn.fetch(
                """SELECT c.key_id, c.steps, c.vals, c.n FROM history_chunks c JOIN runs r ON r.id = c.run_id
                    JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
                   WHERE r.run_id = $1 AND k.key <> '_timestamp' ORDER BY c.id""", rid)
            by_key: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
            total = 0
            for r in rows:
                by_key[r["key_id"]].append((r["steps"], r["vals"]))
                total += r["n"]
            distinct = sum(int(history_codec.merge(chunks)[0].size) for chunks in by_key.values())
            out[rid] = (total, distinct)
        return out
    finally:
        await conn.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=4, help="concurrent runs (client processes), default 4")
    ap.add_argument("--minutes", type=float, default=1.0, help="how long the runs log, default 1")
    ap.add_argument("--rate", type=float, default=200.0, help="rows per second per run, default 200")
    ap.add_argument("--metrics", type=int, default=10, help="metrics per row, default 10")
    ap.add_argument("--faults", default="all", help=f"comma-separated, from {', '.join(FAULTS)}; 'all' or 'none'")
    ap.add_argument("--fault-every", type=float, default=0.0,
                    help="seconds between faults (default: spread every fault once over the run)")
    ap.add_argument("--fault-length", type=float, default=5.0, help="seconds a pause or an outage lasts, default 5")
    args = ap.parse_args()
    faults = list(FAULTS) if args.faults == "all" else [] if args.faults == "none" else args.faults.split(",")
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        ap.error(f"unknown faults {unknown}; choose from {', '.join(FAULTS)}")
    seconds = args.minutes * 60
    every = args.fault_every or seconds / (len(faults) + 1)

    with tempfile.TemporaryDirectory(prefix="runyard-soak-") as tmp, bench_stack() as (stack, key):
        services = Services(stack, Path(tmp))
        try:
            services.start("ingest")
            services.start("front")
            print(f"stack up: {services.base_url}, ingest 127.0.0.1:{services.ingest_port}; "
                  f"{args.runs} runs x {args.rate:.0f} rows/s x {args.metrics} metrics for {seconds:.0f} s; "
                  f"faults every {every:.0f} s: {', '.join(faults) or 'none'}", flush=True)
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            procs = [ctx.Process(target=_client, args=(services.base_url, key, i, seconds, args.rate, args.metrics, out))
                     for i in range(args.runs)]
            t_start = time.monotonic()
            for p in procs:
                p.start()

            # REST prober and memory sampler
            probes: list[tuple[float, float, int]] = []
            memory: list[tuple[float, float, float, float]] = []
            done = threading.Event()

            def probe() -> None:
                with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
                    while not done.is_set():
                        t0 = time.monotonic()
                        try:
                            status = client.get(services.base_url + "/api/v1/viewer").status_code
                        except httpx.HTTPError:
                            status = 0  # no answer at all (the front door is down)
                        probes.append((t0 - t_start, time.monotonic() - t0, status))
                        done.wait(0.5)

            def sample() -> None:
                while not done.is_set():
                    now = time.monotonic() - t_start
                    ingest = services.children["ingest"].pid
                    front = services.children["front"].pid
                    pg = stack.pids().get("postgres")
                    memory.append((now, rss_mb(ingest), rss_mb(front), rss_mb(pg, True) if pg else float("nan")))
                    done.wait(5.0)

            helpers = [threading.Thread(target=probe, daemon=True), threading.Thread(target=sample, daemon=True)]
            for h in helpers:
                h.start()

            windows: list[tuple[str, float, float]] = []
            next_fault, i = every, 0
            while i < len(faults) and time.monotonic() - t_start < seconds:
                wait = next_fault - (time.monotonic() - t_start)
                if wait > 0:
                    time.sleep(min(wait, 0.5))
                    continue
                fault = faults[i]
                began = time.monotonic() - t_start
                print(f"  t={began:5.0f} s  injecting {fault}", flush=True)
                inject(fault, stack, services, args.fault_length)
                windows.append((fault, began, time.monotonic() - t_start + 2.0))
                i += 1
                next_fault += every
            results = [out.get(timeout=seconds + 900) for _ in procs]
            for p in procs:
                p.join(60)
            done.set()
            for h in helpers:
                h.join(10)
            wall = time.monotonic() - t_start
            stored = asyncio.run(_stored(stack.database_url, [r["run_id"] for r in results]))
        finally:
            services.stop()

    # ---- report ---------------------------------------------------------------------------------------
    print(f"\nfinished after {wall:.0f} s")
    print(f"{'run':>6} {'logged':>10} {'stored':>10} {'lost':>6} {'doubled':>8} {'log() p50':>10} {'p99':>9} "
          f"{'max':>9} {'finish()':>9}")
    total_logged = total_distinct = total_stored = 0
    all_lat: list[float] = []
    for r in sorted(results, key=lambda r: r["index"]):
        logged = r["steps"] * r["metrics"]
        points, distinct = stored[r["run_id"]]
        total_logged += logged
        total_distinct += distinct
        total_stored += points
        all_lat += r["lat"]
        print(f"{r['index']:>6} {logged:>10,} {distinct:>10,} {logged - distinct:>6,} {points - distinct:>8,} "
              f"{_pct(r['lat'], 0.5) * 1e6:>8.1f}µs {_pct(r['lat'], 0.99) * 1e6:>7.1f}µs "
              f"{max(r['lat'], default=0) * 1e3:>7.1f}ms {r['finish_s']:>8.1f}s")
    lost, doubled = total_logged - total_distinct, total_stored - total_distinct
    print(f"{'total':>6} {total_logged:>10,} {total_distinct:>10,} {lost:>6,} {doubled:>8,} "
          f"{_pct(all_lat, 0.5) * 1e6:>8.1f}µs {_pct(all_lat, 0.99) * 1e6:>7.1f}µs "
          f"{max(all_lat, default=0) * 1e3:>7.1f}ms")

    print("\nREST GET /api/v1/viewer (API key) by window:")
    spans = [("before faults", 0.0, windows[0][1] if windows else wall), *windows]
    errors_500 = 0
    for name, a, b in spans:
        inside = [(lat, st) for t, lat, st in probes if a <= t < b]
        if not inside:
            continue
        codes: dict[int, int] = defaultdict(int)
        for _, st in inside:
            codes[st] += 1
        errors_500 += codes.get(500, 0)
        lats = [lat for lat, st in inside if st == 200]
        p50 = f"{statistics.median(lats) * 1e3:.1f}" if lats else "-"
        p99 = f"{_pct(lats, 0.99) * 1e3:.1f}" if lats else "-"
        shown = ", ".join(f"{c if c else 'no answer'}: {n}" for c, n in sorted(codes.items()))
        print(f"  {name:<14} {len(inside):>4} requests  p50 {p50} ms  p99 {p99} ms  ({shown})")

    print("\nresident memory (MB):   t      ingest  front door  postgres (all)")
    for t, ing, front, pg in memory:
        print(f"                      {t:5.0f} s  {ing:8.1f}  {front:10.1f}  {pg:8.1f}")
    ok = lost == 0 and doubled == 0 and errors_500 == 0
    print("\nverdict:", "exact (nothing lost, nothing doubled, no 500)" if ok else
          f"FAILED: {lost} lost, {doubled} doubled, {errors_500} answers 500")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
