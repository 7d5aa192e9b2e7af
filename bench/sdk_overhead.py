"""What `runyard.log()` costs a training loop.

    python bench/sdk_overhead.py [--steps 200000] [--mode offline|unreachable|online]

Prints the per-call cost of `run.log()` with 10 scalars and an explicit step (p50/p99/max in µs, timed
one call at a time with perf_counter_ns, so about 0.1 µs of that is the clock), and the slowdown of a tight
loop (pure-Python work calibrated to `--step-us`, 20 µs by default, per step) with vs. without a log() per
step. The loop runs in `--rounds` interleaved pairs (without, with log()), `--loop-steps` steps each, and
the median of the pairs' slowdowns is the figure: on a shared machine one pair can be off by 10% either
way. Each logging loop ends by waiting for the streamer thread to write what it logged, so all of its
work is charged; loops of about half a second keep that last catch-up (one wake-up's worth of rows)
from weighing more than it does in a training run. Timing starts once init()'s one-time capture
(code, requirements, git state) is done: that is init()'s cost, paid once, not log()'s.

`--packer python` measures the pure-Python packer that an SDK installed without a C compiler uses.

Modes (what runs behind log(); log() itself is the same code in every mode):
  offline      (default) RUNYARD_MODE=offline: the streamer thread builds records and writes the WAL,
               nothing is sent. The most repeatable number.
  unreachable  online mode with RUNYARD_BASE_URL pointing at a closed local port: WAL plus the
               background reconnect attempts (the "server away" case).
  online       a real server: set RUNYARD_BASE_URL and RUNYARD_API_KEY (e.g. from `runyard-server local`).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _work(n: int) -> float:
    acc = 0.0
    for i in range(n):
        acc += i * 0.5
    return acc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--loop-steps", type=int, default=25_000, help="steps of each loop of a pair")
    parser.add_argument("--step-us", type=float, default=20.0, help="µs of pure-Python work per loop step")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved pairs of the loop (median taken)")
    parser.add_argument("--mode", choices=["offline", "unreachable", "online"], default="offline")
    parser.add_argument("--packer", choices=["installed", "python"], default="installed",
                        help="python: log() packs rows with the Python twin of the C packer, as an SDK installed "
                             "without a C compiler (or from a py3-none-any wheel) does")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="runyard-bench-")
    os.environ["RUNYARD_DIR"] = tmp
    os.environ.setdefault("RUNYARD_FINISH_TIMEOUT", "5")
    if args.mode == "offline":
        os.environ["RUNYARD_MODE"] = "offline"
    elif args.mode == "unreachable":
        os.environ["RUNYARD_MODE"] = "online"
        os.environ["RUNYARD_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}"
        os.environ.setdefault("RUNYARD_API_KEY", "bench")
    import runyard
    from runyard import _items, _run

    if args.packer == "python":
        _run._PACK_ROW = _items.pack_row  # type: ignore[assignment]
    packer = "C (runyard._speedups)" if _run._PACK_ROW is not _items.pack_row else "Python (runyard._items.pack_row)"

    keys = [f"metric_{k}" for k in range(10)]
    run = runyard.init(project="bench", config={"mode": args.mode})
    files = run._files
    deadline = time.monotonic() + 30
    while files is not None and (files._tasks or not files._idle.is_set()) and time.monotonic() < deadline:
        time.sleep(0.05)  # init()'s capture thread at work: it would share the CPU with what is timed
    ns = time.perf_counter_ns
    samples = []
    streamer = run._streamer
    cpu_start = time.process_time()  # this process: log() and the streamer thread
    for step in range(args.steps):
        row = {k: step * 0.001 + j for j, k in enumerate(keys)}
        t0 = ns()
        run.log(row, step=step)
        samples.append(ns() - t0)
    t_drain = time.perf_counter()
    while streamer is not None and streamer.queue:
        time.sleep(0.01)
    drained = time.perf_counter() - t_drain
    if streamer is not None:
        streamer.flush(60.0)  # every row built and in the WAL (and, online, handed to the stream)
    burst_cpu = time.process_time() - cpu_start
    # the same loop without log(): what building the rows and the timing itself cost
    cpu_start = time.process_time()
    for step in range(args.steps):
        row = {k: step * 0.001 + j for j, k in enumerate(keys)}
        t0 = ns()
        samples.append(ns() - t0)
    del samples[args.steps:]
    bare_cpu = time.process_time() - cpu_start
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))] / 1000

    print(f"mode={args.mode} python={sys.version.split()[0]} steps={args.steps} packer={packer}")
    print(f"log() 10 scalars, explicit step: p50 {pct(0.50):.2f} µs  p90 {pct(0.90):.2f} µs  "
          f"p99 {pct(0.99):.2f} µs  max {samples[-1] / 1000:.0f} µs  mean {statistics.fmean(samples) / 1000:.2f} µs")
    print(f"log() total CPU per logged row: {(burst_cpu - bare_cpu) / args.steps * 1e6:.2f} µs (the call and the "
          f"background thread's share: records, WAL{', sending' if args.mode == 'online' else ''}) "
          f"next to the in-call p50 of {pct(0.50):.2f} µs; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"backlog after the burst drained in {drained:.2f} s "
          f"(log() waits for the disk writer only beyond {streamer.settings.queue_max if streamer else 0} queued rows)")

    # tight loop: the same work with and without logging; the streamer thread's share of the GIL shows here
    n = args.loop_steps
    next_step = [args.steps]
    work = [100]  # loop iterations per step, calibrated below to --step-us per step (the row included)

    def loop(log: bool, steps: int = n) -> tuple[float, float]:
        """(wall seconds, process CPU seconds: both threads) of the loop, the streamer's catch-up included."""
        c0, t0 = time.process_time(), time.perf_counter()
        first = next_step[0]
        for i in range(steps):
            v = _work(work[0])
            row = {k: v + j for j, k in enumerate(keys)}  # built in both variants: only log() differs
            if log:
                run.log(row, step=first + i)
        if log:
            next_step[0] += n
            if streamer is not None:
                streamer.flush(60.0)  # wakes the writer thread: its catch-up, not its sleep, is measured
        return time.perf_counter() - t0, time.process_time() - c0

    for _ in range(5):  # the quickest of a few short loops: a busy moment only ever makes a loop slower
        per_step = min(loop(False, 3000)[0] for _ in range(5)) / 3000
        work[0] = max(1, round(work[0] * args.step_us / (per_step * 1e6)))
    loop(False)  # warm up
    pairs = [(loop(False), loop(True)) for _ in range(args.rounds)]
    plain_wall = statistics.median(p[0][0] for p in pairs) / n
    slow = statistics.median(100 * (p[1][0] / p[0][0] - 1) for p in pairs)
    extra_cpu = statistics.median((p[1][1] - p[0][1]) / n for p in pairs)
    print(f"tight loop ({plain_wall * 1e6:.1f} µs of work per step, {args.rounds} x {n} steps with and without "
          "log(), interleaved; the streamer's catch-up included):")
    print(f"  wall: slowdown {slow:.1f}% (median of the pairs; each: "
          f"{' '.join(f'{100 * (p[1][0] / p[0][0] - 1):.0f}' for p in pairs)} %)")
    print(f"  CPU: {extra_cpu * 1e6:.2f} µs more per logged row (log() plus the streamer thread; steadier than wall "
          f"time on a busy machine); load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    run.finish()
    print(f"finish(): {time.perf_counter() - t0:.2f} s (run folder {run.folder})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
