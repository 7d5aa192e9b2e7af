"""`runyard transfer` between two local instances: runs/s, points/s, bytes sent versus bytes stored.

Starts two throwaway `runyard-server local` instances (each its own PostgreSQL, Redis and bucket in a temp
folder), signs up an admin on each, logs `--runs` runs on A with the SDK (`--rows` history rows of `--keys`
keys each, console output, one file that is the same bytes in every run and one of its own), then times
`runyard transfer entity/project --from A --to B`, and a second transfer (which must send nothing).
Numbers, not assertions.

Usage: python bench/transfer_throughput.py [--runs 20] [--rows 2000] [--keys 10] [--file-kb 256]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(root: Path, name: str) -> tuple[str, str, subprocess.Popen[bytes]]:
    port, ingest = _free_port(), _free_port()
    log = open(root / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "runyard_server.cli", "local", "--data-dir", str(root / name),
                             "--port", str(port), "--ingest-port", str(ingest), "--no-browser"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"instance {name} exited; see {root / name}.log")
        try:
            if httpx.get(url + "/api/v1/server-info", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        raise SystemExit(f"instance {name} did not start in 180 s")
    resp = httpx.post(url + "/api/v1/auth/signup", json={"username": "bench", "password": "bench-password"},
                      timeout=30)
    resp.raise_for_status()
    return url, str(resp.json()["api_key"]), proc


def _make_runs(url: str, key: str, args: argparse.Namespace, work: Path) -> int:
    code = f"""
import os, runyard
shared = os.path.join({str(work)!r}, "shared.bin")
open(shared, "wb").write(os.urandom({args.file_kb} * 1024))
for n in range({args.runs}):
    run = runyard.init(project="bench-xfer", config={{"n": n}}, settings={{"system_metrics": False,
                       "capture_requirements": False, "save_code": False}})
    for i in range({args.rows}):
        run.log({{f"k{{j}}": i * 0.1 + j for j in range({args.keys})}})
    print(f"run {{n}} done", flush=True)
    run.save(shared, policy="now")
    own = os.path.join({str(work)!r}, f"own-{{n}}.bin")
    open(own, "wb").write(os.urandom({args.file_kb} * 1024))
    run.save(own, policy="now")
    run.finish()
"""
    env = {**os.environ, "RUNYARD_BASE_URL": url, "RUNYARD_API_KEY": key, "RUNYARD_DIR": str(work)}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=work, check=True, capture_output=True)
    return args.runs * args.rows * args.keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--file-kb", type=int, default=256)
    args = parser.parse_args()

    from runyard._move import Endpoint, summary_lines, transfer

    with tempfile.TemporaryDirectory(prefix="runyard-bench-xfer-") as tmp:
        root = Path(tmp)
        procs = []
        try:
            url_a, key_a, pa = _start(root, "a")
            procs.append(pa)
            url_b, key_b, pb_ = _start(root, "b")
            procs.append(pb_)
            work = root / "work"
            work.mkdir()
            t0 = time.monotonic()
            points = _make_runs(url_a, key_a, args, work)
            print(f"made {args.runs} runs on A ({points} points, 2 files of {args.file_kb} KiB each, one shared) "
                  f"in {time.monotonic() - t0:.1f} s")
            os.environ["RUNYARD_CONFIG_DIR"] = str(root / "config")
            quiet: list[str] = []
            t0 = time.monotonic()
            report = transfer("bench/bench-xfer", Endpoint(url_a, key_a), Endpoint(url_b, key_b), say=quiet.append)
            secs = time.monotonic() - t0
            sent_points = sum(r.points for r in report.runs)
            print(f"transfer: {secs:.2f} s, {len(report.runs) / secs:.2f} runs/s, {sent_points / secs:,.0f} points/s")
            for line in summary_lines(report):
                print("  " + line)
            storage = httpx.get(f"{url_b}/api/v1/artifacts/bench/bench-xfer/_storage",
                                headers={"Authorization": f"Bearer {key_b}"}, timeout=30).json()
            files = storage["run_files"]
            print(f"bytes sent to B's bucket: {report.stats.bytes_uploaded:,}; stored on B: {files['bytes']:,} "
                  f"({files['objects']} objects); run files' logical size: {files['logical_bytes']:,}; "
                  f"downloaded from A: {report.stats.bytes_downloaded:,}")
            t0 = time.monotonic()
            again = transfer("bench/bench-xfer", Endpoint(url_a, key_a), Endpoint(url_b, key_b), say=quiet.append)
            print(f"second transfer: {time.monotonic() - t0:.2f} s; "
                  f"moved anything: {again.moved_anything}; {summary_lines(again)[0]}")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
