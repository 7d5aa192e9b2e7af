"""Artifact upload/download throughput against the embedded S3 (rclone serve s3), beside plain boto3.

Starts a throwaway embedded stack (bench/_stack.py), the artifact service under uvicorn on a real socket,
writes one random file of `--size-mb`, then measures:
  - ceiling:  boto3 `upload_file` / `download_file` of the same file straight to the bucket
              (multipart with the same part size and concurrency, no hashing, no service);
  - runyard:  `upload_run_files` (hash, begin, presigned multipart PUTs with Content-MD5, complete)
              and `download_run_file` (presigned ranged GETs, sha256 check), cold (nothing stored);
  - dedup:    the same upload again (hash + one begin call: the bytes are already stored).
Prints MB/s (MB = 10^6 bytes) for each. Numbers, not assertions.

Usage: python bench/artifact_throughput.py [--size-mb 512] [--part-mb 16] [--workers 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
from _stack import bench_stack

from runyard import _transfer
from runyard import artifacts as ra

MiB = 1024 * 1024


def _serve(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    """The artifact service in its own process, configured by RUNYARD_* variables as in production."""
    port = _free_port()
    code = ("import uvicorn; from runyard_server.artifact import create_app; "
            "from runyard_server.common.settings import load_settings; "
            f"uvicorn.run(create_app(load_settings()), host='127.0.0.1', port={port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the artifact service did not start")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _make_run(dsn: str, run_id: str, number: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        eid = await conn.fetchval("SELECT id FROM entities WHERE name = 'bench'")
        pid = await conn.fetchval(
            """INSERT INTO projects (entity_id, name) VALUES ($1, 'bench')
               ON CONFLICT (entity_id, name) DO UPDATE SET updated_at = now() RETURNING id""", eid)
        await conn.execute("INSERT INTO runs (project_id, run_id, name, run_number) VALUES ($1, $2, $2, $3)",
                           pid, run_id, number)
    finally:
        await conn.close()


async def _forget(dsn: str) -> list[str]:
    """Drop every run file and stored object (rows), returning the bucket keys to delete."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM run_files")
        return [r["key"] for r in await conn.fetch("DELETE FROM storage_objects RETURNING key")]
    finally:
        await conn.close()


def _mbps(nbytes: int, seconds: float) -> str:
    return f"{nbytes / seconds / 1e6:8.1f} MB/s  ({seconds:6.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=512, help="file size in MiB (default 512)")
    ap.add_argument("--part-mb", type=int, default=16, help="multipart part size in MiB (default 16)")
    ap.add_argument("--workers", type=int, default=4, help="parallel parts / ranges (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is printed (default 3)")
    args = ap.parse_args()
    size = args.size_mb * MiB

    with bench_stack() as (stack, key), tempfile.TemporaryDirectory(prefix="runyard-bench-art-") as tmp:
        s3 = stack.s3
        env = {k: v for k, v in stack.service_env().items() if k.startswith(("RUNYARD_DATABASE", "RUNYARD_S3"))}
        env.update(RUNYARD_S3_PART_SIZE=str(args.part_mb * MiB),
                   RUNYARD_S3_MULTIPART_THRESHOLD=str(max(args.part_mb, 16) * MiB),
                   RUNYARD_MAX_FILE_SIZE=str(max(size + 1, 50 * 1024**3)))
        base_url, server = _serve(env)
        src = Path(tmp) / "payload.bin"
        with open(src, "wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(MiB))
        print(f"file: {args.size_mb} MiB, part {args.part_mb} MiB, {args.workers} workers, "
              f"S3 = rclone serve s3 at {s3.endpoint}; {os.cpu_count()} CPUs")

        from boto3.s3.transfer import TransferConfig

        client = s3.client()
        cfg = TransferConfig(multipart_threshold=args.part_mb * MiB, multipart_chunksize=args.part_mb * MiB,
                             max_concurrency=args.workers, use_threads=True)
        best: dict[str, float] = {}

        def timed(name: str, fn: Callable[[], object]) -> None:
            t0 = time.perf_counter()
            fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)

        out = Path(tmp) / "out.bin"
        parts = 0
        for i in range(args.repeat):
            timed("up_ceiling", lambda: client.upload_file(str(src), s3.bucket, "bench/ceiling.bin", Config=cfg))
            timed("down_ceiling", lambda: client.download_file(s3.bucket, "bench/ceiling.bin", str(out), Config=cfg))
            out.unlink()
            client.delete_object(Bucket=s3.bucket, Key="bench/ceiling.bin")

            run_id = f"r{i}"
            asyncio.run(_make_run(stack.database_url, run_id, i + 1))
            stats = ra.TransferStats()
            timed("up", lambda: ra.upload_run_files(base_url, key, "bench", "bench", run_id, {"payload.bin": src},  # noqa: B023
                                                    workers=args.workers, stats=stats))  # noqa: B023
            parts = stats.parts_uploaded
            timed("down", lambda: ra.download_run_file(base_url, key, "bench", "bench", run_id, "payload.bin", out,  # noqa: B023
                                                       workers=args.workers))
            out.unlink()
            _transfer._hash_cache.clear()  # the dedup path with hashing, like a fresh process
            timed("dedup", lambda: ra.upload_run_files(base_url, key, "bench", "bench", run_id, {"again.bin": src},  # noqa: B023
                                                       workers=args.workers))
            _transfer._hash_cache.clear()
            # forget the object so that the next round uploads cold again
            for k in asyncio.run(_forget(stack.database_url)):
                client.delete_object(Bucket=s3.bucket, Key=k)

        print(f"best of {args.repeat}:")
        print(f"upload   boto3 ceiling      {_mbps(size, best['up_ceiling'])}")
        print(f"upload   runyard            {_mbps(size, best['up'])}  = {best['up_ceiling'] / best['up']:5.0%} of ceiling "
              f"({parts} parts, sha256+MD5 hashed)")
        print(f"download boto3 ceiling      {_mbps(size, best['down_ceiling'])}")
        print(f"download runyard            {_mbps(size, best['down'])}  = {best['down_ceiling'] / best['down']:5.0%} "
              "of ceiling (ranged GETs + sha256 check)")
        print(f"upload   again (dedup)      {_mbps(size, best['dedup'])}  (hash + one begin call; no bytes sent)")
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
