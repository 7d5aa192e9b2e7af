"""What TensorBoard sync costs, and how fast its reader is.

    python bench/tensorboard_sync.py [--events 100000]

1. reader: tailing and converting a finished event file of N scalars (`EventFileTail` + `Converter`),
   events per second (what the watcher thread and `runyard import tensorboard` do per record);
2. add_scalar: torch's `SummaryWriter.add_scalar` per call (p50, µs) without and with an offline
   `sync_tensorboard=True` run watching the writer (the watcher works in its own thread);
3. catch-up: after the last add_scalar, how long `run.finish()` takes to flush the writer, read what is
   left and queue the rows (offline run: no server).
Numbers, no assertions (docs/tensorboard.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))


def _write(logdir: str, n: int) -> float:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(logdir)
    times = []
    for s in range(n):
        t0 = time.perf_counter_ns()
        w.add_scalar("loss", 1.0 / (s + 1), s)
        times.append(time.perf_counter_ns() - t0)
    w.close()
    return statistics.median(times) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    n = args.events
    import torch.utils.tensorboard  # noqa: F401  (imported before timing: it takes seconds)

    with tempfile.TemporaryDirectory() as tmp:
        plain = _write(os.path.join(tmp, "plain"), n)
        from runyard.tensorboard._convert import Converter
        from runyard.tensorboard._reader import EventFileTail

        path = next(Path(tmp, "plain").glob("*tfevents*"))
        t0 = time.perf_counter()
        tail, conv, count = EventFileTail(path), Converter(), 0
        while batch := tail.read():
            for payload in batch:
                count += len(conv.points(payload))
        dt = time.perf_counter() - t0
        print(f"reader: {count} scalars from {path.stat().st_size / 1e6:.1f} MB in {dt:.2f} s "
              f"= {count / dt:,.0f} events/s")

        os.environ.update(RUNYARD_MODE="offline", RUNYARD_DIR=tmp, RUNYARD_SYSTEM_METRICS="false",
                          RUNYARD_CAPTURE_REQUIREMENTS="false", RUNYARD_CONSOLE="off")
        import runyard

        run = runyard.init(project="bench-tb", sync_tensorboard=True)
        synced = _write(os.path.join(tmp, "synced"), n)
        t0 = time.perf_counter()
        run.finish(quiet=True)
        catch_up = time.perf_counter() - t0
        print(f"add_scalar p50: {plain:.1f} µs without sync, {synced:.1f} µs with sync_tensorboard")
        print(f"finish() after {n} scalars: {catch_up:.2f} s (flush, read the rest, queue rows, build records)")


if __name__ == "__main__":
    main()
