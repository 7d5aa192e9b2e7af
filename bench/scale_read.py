"""Read paths at the promised size, on a folder bench/seed_scale.py filled (10,000 runs, long runs).

Starts `runyard-server local` on --data-dir and measures through the real front door (HTTP, the UI's and
the SDK's requests), each case --reps times after a warm-up, printing p50/p95 against the targets of
issue 20:
  - runs table first page (50 runs, default fields) sorted by a summary metric, with and without a filter
  - listing 1,000 runs sorted by a summary metric
  - one run page with 50 charts of a 100,000-step run: 50 chart requests, 6 in flight (the browser's
    per-host limit), and the same 50 keys in one request
  - the public Api's scan_history of that run (every row, every key), once
  - workspace charts: one metric of 100 and 1,000 runs through the batched history endpoint (the UI's
    packed request and a plain JSON one), the SDK's per-run Api path for 100 runs, and its batched
    `Api().runs(...).histories()` for 100 and 1,000 runs
  - a 1,000,000-step run (--lod-project): overview chart and zooms of 1,000 to 400,000 steps
  - disk bytes per stored point (history_chunks with TOAST and indexes) and per run (runs table)
Usage: python bench/scale_read.py --data-dir /tmp/ry-scale [--reps 30] [--project scale] [--vacuum-full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import asyncpg
import httpx
from scale_stack import USERNAME, LocalServer


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def report(name: str, times: list[float], target: str = "") -> None:
    p50, p95, low = statistics.median(times) * 1000, pct(times, 0.95) * 1000, min(times) * 1000
    print(f"{name:<58} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  min {low:7.1f} ms  (n={len(times)})"
          f"{'  target ' + target if target else ''}", flush=True)


async def timed(reps: int, fn: Callable[[], Awaitable[object]]) -> list[float]:
    await fn()  # warm-up
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def measure(srv: LocalServer, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {srv.api_key}"}
    proj = f"/api/v1/projects/{USERNAME}/{args.project}"
    async with httpx.AsyncClient(base_url=srv.base_url, headers=headers, timeout=120) as http:
        first = await http.get(proj + "/runs", params={"limit": 1})
        first.raise_for_status()
        total = first.json()["total"]
        print(f"project {USERNAME}/{args.project}: {total:,} runs", flush=True)

        async def runs(params: dict[str, object], expect: int) -> None:
            resp = await http.get(proj + "/runs", params=params)
            resp.raise_for_status()
            got = len(resp.json()["runs"])
            if got != expect:
                raise SystemExit(f"runs list answered {got} runs, expected {expect} ({params})")

        page = {"limit": 50, "order": "-summary.accuracy"}
        report("runs table first page, sort -summary.accuracy",
               await timed(args.reps, lambda: runs(page, min(50, total))), "< 100 ms")
        flt = {**page, "filter": 'config.optimizer = "adam" and state = finished and summary.loss < 2'}
        n_flt = (await http.get(proj + "/runs", params={**flt, "limit": 1})).json()["total"]
        report(f"  ... with a filter ({n_flt:,} of {total:,} runs match)",
               await timed(args.reps, lambda: runs(flt, min(50, n_flt))), "< 100 ms")
        listing = {"limit": 1000, "order": "summary.loss"}
        report("listing 1,000 runs sorted by summary.loss",
               await timed(args.reps, lambda: runs(listing, min(1000, total))), "p95 < 50 ms")
        slim = {**listing, "fields": "name,state,summary"}
        report("  ... fields=name,state,summary",
               await timed(args.reps, lambda: runs(slim, min(1000, total))), "p95 < 50 ms")
        lean = {**listing, "fields": "name,state"}
        report("  ... fields=name,state (the sorted column comes with the page)",
               await timed(args.reps, lambda: runs(lean, min(1000, total))), "p95 < 50 ms")
        if total > 6000:
            deep = {**slim, "offset": 5000}
            report("  ... fields=name,state,summary, offset 5,000",
                   await timed(args.reps, lambda: runs(deep, min(1000, total - 5000))))

        await workspace_charts(http, proj, args, total)

        longs = (await http.get(proj + "/runs", params={"limit": 1, "filter": "config.long = true",
                                                          "fields": "history_keys"})).json()["runs"]
        if not longs:
            print("no long run in the project (seed with --long-runs): run-page and scan_history skipped")
        else:
            run_id = longs[0]["id"]
            keys = [k for k in longs[0]["history_keys"] if not k.startswith("_")][:50]
            hist = f"/api/v1/runs/{USERNAME}/{args.project}/{run_id}/history"
            sem = asyncio.Semaphore(6)

            async def chart(key: str) -> None:
                async with sem:
                    resp = await http.get(hist, params={"keys": key, "samples": 1500})
                    resp.raise_for_status()
                    if not resp.json()["series"][key]["step"]:
                        raise SystemExit(f"chart {key} came back empty")

            async def page_50() -> None:
                await asyncio.gather(*(chart(k) for k in keys))

            async def one_request() -> None:
                resp = await http.get(hist, params={"keys": ",".join(keys), "samples": 1500})
                resp.raise_for_status()

            reps = max(3, args.reps // 3)
            report(f"run page: {len(keys)} charts of a long run, 6 in flight",
                   await timed(reps, page_50))
            report(f"  ... the {len(keys)} keys in one history request", await timed(reps, one_request))
            report("  ... one chart alone (1 key, 1,500 buckets)", await timed(args.reps, lambda: chart(keys[0])))

            import runyard

            api = runyard.Api(base_url=srv.base_url, api_key=srv.api_key)
            t = time.perf_counter()
            rows = points = 0
            for row in api.run(f"{USERNAME}/{args.project}/{run_id}").scan_history():
                rows += 1
                points += len(row) - sum(1 for k in row if k.startswith("_"))
            el = time.perf_counter() - t
            print(f"{'Api().run().scan_history() of the long run':<58} {el:8.2f} s for {rows:,} rows, {points:,} "
                  f"points ({points / el:,.0f} points/s)", flush=True)

        await million_step_run(http, args)

    conn = await asyncpg.connect(srv.database_url)
    try:
        # After a bulk seed, compaction at each run's finish rewrote its chunks: the old ones are dead
        # space that plain VACUUM makes reusable but does not return; --vacuum-full measures live data.
        for table in ("history_chunks", "history_lod"):
            await conn.execute(f"VACUUM FULL ANALYZE {table}" if args.vacuum_full else f"VACUUM ANALYZE {table}")
        size = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree('history_chunks')")
        index = await conn.fetchval(
            "SELECT sum(pg_indexes_size(relid))::bigint FROM pg_partition_tree('history_chunks')")
        pts = await conn.fetchval(
            """SELECT coalesce(sum(c.n), 0) FROM history_chunks c JOIN history_keys k
                 ON k.run_id = c.run_id AND k.key_id = c.key_id WHERE k.key <> '_timestamp'""")
        all_pts = await conn.fetchval("SELECT coalesce(sum(n), 0) FROM history_chunks")
        lod_size = await conn.fetchval(
            "SELECT pg_total_relation_size('history_lod') + pg_total_relation_size('history_lod_state')")
        runs_size = await conn.fetchval("SELECT pg_total_relation_size('runs')")
        n_runs = await conn.fetchval("SELECT count(*) FROM runs")
        db_size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    print(f"disk{' (after VACUUM FULL)' if args.vacuum_full else ''}: history_chunks {size / 1e6:,.1f} MB ({index / 1e6:,.1f} MB indexes) for {pts:,} metric points "
          f"(+{all_pts - pts:,} _timestamp points) = {size / max(pts, 1):.2f} bytes/metric point, "
          f"{size / max(all_pts, 1):.2f} bytes/stored point", flush=True)
    print(f"disk: levels of detail {lod_size / 1e6:,.1f} MB = {lod_size / max(pts, 1):.2f} bytes/metric point",
          flush=True)
    print(f"disk: runs {runs_size / 1e6:,.1f} MB for {n_runs:,} runs = {runs_size / max(n_runs, 1):,.0f} bytes/run; "
          f"database {db_size / 1e9:,.2f} GB", flush=True)


async def post_lines(http: httpx.AsyncClient, url: str, body: dict[str, object], expect: int) -> int:
    """POST a batched history request, read the whole NDJSON stream; returns the bytes received."""
    size = 0
    lines = 0
    last = b""
    async with http.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = (last + chunk)[-200:]
    if b'"done":true' not in last or lines != expect + 1:
        raise SystemExit(f"batched history answered {lines} lines without done ({last[-120:]!r})")
    return size


async def workspace_charts(http: httpx.AsyncClient, proj: str, args: argparse.Namespace, total: int) -> None:
    """One metric of 100 and 1,000 runs through the batched endpoint: the UI's request (packed arrays,
    min/max bands) and the plain JSON one a script or the SDK sends; the SDK's per-run path, and its batched `histories()`."""
    listed = (await http.get(proj + "/runs", params={"limit": 1000, "order": "-created_at", "fields": "name",
                                                     "filter": "config.long = false"})).json()["runs"]
    ids = [r["id"] for r in listed]
    if len(ids) < 100:
        print("fewer than 100 short runs: workspace charts skipped")
        return
    key = "train/loss"  # every run has it (seed_scale names metric 0 so)
    url = proj + "/history"
    for n, target in ((100, "p95 < 100 ms"), (1000, "< 500 ms")):
        if len(ids) < n:
            continue
        ui = {"runs": ids[:n], "keys": [key], "samples": 1000, "bands": True, "pack": True}
        if n == 100:
            first = (await http.post(url, json={**ui, "runs": ids[:1], "pack": False})).text.splitlines()[0]
            if not json.loads(first)["series"][key]["step"]:
                raise SystemExit(f"{key} has no points in run {ids[0]}: the chart cases would time empty answers")
        size = await post_lines(http, url, ui, n)
        report(f"workspace chart: 1 metric x {n:,} runs, UI request ({size / 1e3:,.0f} kB)",
               await timed(args.reps, partial(post_lines, http, url, ui, n)), target)
        plain = {"runs": ids[:n], "keys": [key], "samples": 1000}
        size = await post_lines(http, url, plain, n)
        report(f"  ... plain JSON, no bands (script/SDK shape, {size / 1e3:,.0f} kB)",
               await timed(args.reps, partial(post_lines, http, url, plain, n)), target)
    import runyard

    api = runyard.Api(base_url=str(http.base_url), api_key=http.headers["Authorization"].split()[-1])
    path = proj.split("/projects/", 1)[1]

    def sdk_100() -> None:
        for rid in ids[:100]:
            api.run(f"{path}/{rid}").history(keys=[key], samples=1000)

    times = []
    for _ in range(max(3, args.reps // 10)):
        t = time.perf_counter()
        await asyncio.to_thread(sdk_100)
        times.append(time.perf_counter() - t)
    report("  ... SDK, one request per run: Api().run(r).history() for 100 runs", times)
    from runyard.api import ApiRuns

    entity, project = path.split("/", 1)
    full = (await http.get(proj + "/runs", params={"limit": 1000, "order": "-created_at",
                                                    "filter": "config.long = false"})).json()["runs"]
    for n, target in ((100, "p95 < 100 ms"), (1000, "< 500 ms")):
        if len(ids) < n:
            continue
        runs = ApiRuns(api, entity, project, [runyard.ApiRun(api, r) for r in full[:n]])
        times = []
        for _ in range(max(3, args.reps // 3)):
            t = time.perf_counter()
            rows = await asyncio.to_thread(runs.histories, keys=[key], samples=1000)
            times.append(time.perf_counter() - t)
        if not rows:
            raise SystemExit("histories() answered no rows")
        report(f"  ... SDK batched: Api().runs(...).histories() of {n:,} runs ({len(rows):,} rows)", times, target)


async def million_step_run(http: httpx.AsyncClient, args: argparse.Namespace) -> None:
    """Overview and zooms of the longest run of --lod-project (seed it with bench/seed_scale.py --project lod
    --runs 1 --long-runs 1 --steps 1000000 --metrics 2)."""
    proj = f"/api/v1/projects/{USERNAME}/{args.lod_project}"
    resp = await http.get(proj + "/runs", params={"limit": 1, "fields": "name,history_keys"})
    if resp.status_code != 200 or not resp.json()["runs"]:
        print(f"no run in {USERNAME}/{args.lod_project}: the 1,000,000-step case is skipped (see --help)")
        return
    run = resp.json()["runs"][0]
    key = next(k for k in run["history_keys"] if not k.startswith("_"))
    hist = f"/api/v1/runs/{USERNAME}/{args.lod_project}/{run['id']}/history"
    full = (await http.get(hist, params={"keys": key, "samples": 1})).json()["series"][key]["step"]
    last = full[-1] if full else 0
    print(f"long run {args.lod_project}/{run['id']}: {key}, steps 0..{last:,}", flush=True)

    async def chart(params: dict[str, int]) -> None:
        r = await http.get(hist, params={"keys": key, "samples": 1500, **params})
        r.raise_for_status()
        if not r.json()["series"][key]["step"]:
            raise SystemExit(f"chart {params} came back empty")

    report(f"overview chart of the {last + 1:,}-step run (1,500 buckets)", await timed(args.reps, lambda: chart({})),
           "< 150 ms")
    for span in (1_000, 10_000, 100_000, 400_000):
        window = {"min_step": last // 3, "max_step": last // 3 + span - 1}
        report(f"  ... zoom to {span:,} steps", await timed(args.reps, partial(chart, window)))
    body = {"runs": [run["id"]], "keys": [key], "samples": 1500, "bands": True, "pack": True}
    report("  ... overview through the batched endpoint (UI request)",
           await timed(args.reps, lambda: post_lines(http, proj + "/history", body, 1)), "< 150 ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True, help="a folder bench/seed_scale.py filled")
    ap.add_argument("--project", default="scale")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions per case (default 30)")
    ap.add_argument("--lod-project", default="lod",
                    help="project holding a 1,000,000-step run for the overview/zoom case (default lod)")
    ap.add_argument("--vacuum-full", action="store_true",
                    help="VACUUM FULL history_chunks before measuring disk (live data only; locks the table)")
    args = ap.parse_args()
    if not (args.data_dir / "bench-key.json").exists():
        ap.error(f"{args.data_dir} was not filled by bench/seed_scale.py (no bench-key.json)")
    with LocalServer(args.data_dir) as srv:
        asyncio.run(measure(srv, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
