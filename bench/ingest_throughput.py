"""End-to-end ingest throughput: N client processes log into `runyard-server local`.

Starts the real local stack (embedded PostgreSQL/Redis/S3, ingest, front door) in a temp data dir,
signs up an admin, then starts `--clients` processes that each `init()` a run and log `--steps` steps x
`--metrics` metrics through the SDK, then `finish()` (which returns once the server acknowledged every
record as committed). Prints points per second from the moment all clients start logging until the
last `finish()` returns, and verifies the stored count exactly through the REST API. CPU per point is
reported for both sides: the client processes (log() and the SDK's background thread together, from the
first log() to the acknowledged finish()) and the server (the ingest process, and PostgreSQL's processes
apart), over the same span; with the load average, since the machine may be shared.

Usage: python bench/ingest_throughput.py [--clients 4] [--steps 50000] [--metrics 10]
(the defaults are issue #20's W2: 4 clients x 50,000 steps x 10 metrics)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What is measured is ingest: the per-run capture (system metrics, code, git, requirements, console) is
# off unless --with-capture, since its fixed cost per run (file uploads at finish) is not throughput.
NO_CAPTURE = {"system_metrics": False, "save_code": False, "capture_git": False,
              "capture_requirements": False, "console": "off"}


def _client(base_url: str, key: str, index: int, steps: int, metrics: int, capture: bool,
            ready: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ["RUNYARD_BASE_URL"] = base_url
    os.environ["RUNYARD_API_KEY"] = key
    import runyard

    run = runyard.init(project="throughput", name=f"client-{index}", dir=tempfile.mkdtemp(prefix="ry-bench-"),
                       settings=None if capture else NO_CAPTURE)
    keys = [f"metric_{i}" for i in range(metrics)]
    rows = [{k: step * 0.001 + i for i, k in enumerate(keys)} for step in range(steps)]
    ready.wait()
    cpu0 = time.process_time()  # this process: log() and the streamer thread
    started = time.perf_counter()
    for step, row in enumerate(rows):
        run.log(row, step=step)
    logged = time.perf_counter()
    run.finish()
    out.put((run.entity, run.id, started, logged, time.perf_counter(), time.process_time() - cpu0))


def _server_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the local stack's processes: the ingest service, PostgreSQL, the rest."""
    import psutil

    out = {"ingest": 0.0, "postgres": 0.0, "other": 0.0}
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cmd = " ".join(p.cmdline())
            name = p.name()
        except psutil.Error:
            continue
        kind = "ingest" if "cli ingest" in cmd else "postgres" if "postgres" in name or "postgres" in cmd else "other"
        out[kind] += t.user + t.system
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--with-capture", action="store_true",
                    help="keep the SDK's default capture (system metrics, code, git, requirements, console)")
    args = ap.parse_args()

    port, ingest_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as data:
        server = subprocess.Popen(
            [sys.executable, "-m", "runyard_server.cli", "local", "--data-dir", data,
             "--port", str(port), "--ingest-port", str(ingest_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(base + "/api/v1/server-info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print("runyard-server local did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            key = httpx.post(base + "/api/v1/auth/signup", json={"username": "bench", "password": "bench-password"}).json()["api_key"]

            ctx = mp.get_context("spawn")
            ready, out = ctx.Barrier(args.clients + 1), ctx.Queue()
            procs = [
                ctx.Process(target=_client, args=(base, key, i, args.steps, args.metrics, args.with_capture, ready, out))
                for i in range(args.clients)
            ]
            for p in procs:
                p.start()
            ready.wait(timeout=300)  # every client has its run open; the server's CPU counts from here
            server_before = _server_cpu(server.pid)
            results = [out.get(timeout=600) for _ in procs]
            server_after = _server_cpu(server.pid)
            for p in procs:
                p.join()
            start = min(r[2] for r in results)
            end = max(r[4] for r in results)
            points = args.clients * args.steps * args.metrics
            print(f"{args.clients} clients x {args.steps:,} steps x {args.metrics} metrics = {points:,} points")
            print(f"log() loops took {max(r[3] - r[2] for r in results):.3f} s (slowest client)")
            print(f"end to end (first log() to last acknowledged finish()): {end - start:.3f} s "
                  f"= {points / (end - start):,.0f} points/s (load average "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
            client_cpu = sum(r[5] for r in results)
            used = {k: server_after[k] - server_before[k] for k in server_after}
            print(f"CPU per point: client {1e9 * client_cpu / points:.0f} ns (log() and the background thread), "
                  f"server: ingest {1e9 * used['ingest'] / points:.0f} ns, PostgreSQL {1e9 * used['postgres'] / points:.0f} ns, "
                  f"other {1e9 * used['other'] / points:.0f} ns; all "
                  f"{1e9 * (client_cpu + sum(used.values())) / points:.0f} ns")

            import runyard

            api = runyard.Api(base_url=base, api_key=key)
            stored = 0
            for entity, run_id, *_ in results:
                for row in api.run(f"{entity}/throughput/{run_id}").scan_history():
                    stored += sum(1 for k in row if not k.startswith("_"))
            verdict = "exact" if stored == points else "MISMATCH"
            print(f"stored points read back: {stored:,} ({verdict})")
            return 0 if stored == points else 1
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)


if __name__ == "__main__":
    sys.exit(main())
