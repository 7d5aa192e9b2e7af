"""Points per second from the real `wandb` client into Runyard, beside the same workload through the SDK.

Starts `runyard-server local` in a temp data dir, signs up an admin, then runs one process per client
(`wandb`, then `runyard`) that logs `--steps` rows of `--metrics` metrics and finishes. Each client is
timed from its first `log()` until `finish()` returns (for wandb: everything uploaded through the W&B
protocol and committed by ingest; for the SDK: every record acknowledged), and the stored points are
counted through the REST API, so a number is only printed for a complete run. System metrics, console
capture and code/git capture are off in both clients: the measure is history throughput.

Usage: python bench/wandb_client_ingest.py [--steps 20000] [--metrics 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import httpx

WANDB_CLIENT = """
import json, sys, time, wandb
steps, metrics = int(sys.argv[1]), int(sys.argv[2])
keys = [f"metric_{i}" for i in range(metrics)]
rows = [{k: step * 0.001 + i for i, k in enumerate(keys)} for step in range(steps)]
run = wandb.init(project="bench-wandb", name="wandb-client",
                 settings=wandb.Settings(x_disable_stats=True, console="off", save_code=False, disable_git=True))
started = time.perf_counter()
for row in rows:
    run.log(row)
logged = time.perf_counter()
run.finish()
print(json.dumps({"id": run.id, "entity": run.entity, "log_s": logged - started,
                  "total_s": time.perf_counter() - started}))
"""

RUNYARD_CLIENT = """
import json, sys, tempfile, time, runyard
steps, metrics = int(sys.argv[1]), int(sys.argv[2])
keys = [f"metric_{i}" for i in range(metrics)]
rows = [{k: step * 0.001 + i for i, k in enumerate(keys)} for step in range(steps)]
run = runyard.init(project="bench-runyard", name="runyard-sdk", dir=tempfile.mkdtemp(prefix="ry-bench-"),
                   settings={"system_metrics": False, "save_code": False, "capture_git": False,
                             "capture_requirements": False, "console": "off"})
started = time.perf_counter()
for step, row in enumerate(rows):
    run.log(row, step=step)
logged = time.perf_counter()
run.finish()
print(json.dumps({"id": run.id, "entity": run.entity, "log_s": logged - started,
                  "total_s": time.perf_counter() - started}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(code: str, env: dict[str, str], steps: int, metrics: int, cwd: str) -> dict[str, float | str]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(steps), str(metrics)], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"client failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _stored(base: str, key: str, entity: str, project: str, run_id: str, metric: str) -> int:
    count, start = 0, 0
    while start is not None:
        page = httpx.get(f"{base}/api/v1/runs/{entity}/{project}/{run_id}/history/full",
                         params={"keys": metric, "start_step": start, "limit": 100_000},
                         headers={"Authorization": f"Bearer {key}"}, timeout=120).json()
        count += sum(1 for v in page["columns"][metric] if v is not None)
        start = page["next_step"]
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--metrics", type=int, default=10)
    args = ap.parse_args()
    port, ingest_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as data, \
            tempfile.TemporaryDirectory(prefix="runyard-bench-clients-") as work:
        print(f"starting runyard-server local in {data} ...", flush=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "runyard_server.cli", "local", "--data-dir", data, "--port", str(port),
             "--ingest-port", str(ingest_port), "--no-browser"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(base + "/api/v1/server-info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("runyard-server local did not come up")
                time.sleep(0.5)
            key = httpx.post(base + "/api/v1/auth/signup",
                             json={"username": "bench", "password": "bench-password-1"}).json()["api_key"]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNYARD_"))}
            env.update({"WANDB_BASE_URL": base, "WANDB_API_KEY": key, "WANDB_DIR": work, "WANDB_SILENT": "true",
                        "WANDB_CONFIG_DIR": os.path.join(work, ".config"), "RUNYARD_BASE_URL": base,
                        "RUNYARD_API_KEY": key, "RUNYARD_CONFIG_DIR": os.path.join(work, ".ry"), "HOME": work})
            points = args.steps * args.metrics
            print(f"workload: {args.steps} steps x {args.metrics} metrics = {points} points per client", flush=True)
            results = {}
            for label, code, project in (("wandb client (W&B protocol)", WANDB_CLIENT, "bench-wandb"),
                                         ("runyard SDK (gRPC ingest)", RUNYARD_CLIENT, "bench-runyard")):
                print(f"  running {label} ...", flush=True)
                r = _client(code, env, args.steps, args.metrics, work)
                stored = _stored(base, key, str(r["entity"]), project, str(r["id"]), f"metric_{args.metrics - 1}")
                if stored != args.steps:
                    raise SystemExit(f"{label}: {stored} of {args.steps} rows stored")
                results[label] = r
            print()
            print(f"{'client':30} {'log() calls/s':>15} {'points/s to committed':>24} {'total s':>9}")
            for label, r in results.items():
                print(f"{label:30} {args.steps / float(r['log_s']):15,.0f} {points / float(r['total_s']):24,.0f} "
                      f"{float(r['total_s']):9.2f}")
            print("(every point verified stored through the REST API)")
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
