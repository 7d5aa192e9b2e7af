"""Time until the web UI draws a big project: the runs table and the first 12 charts.

Seeds (SQL, in the ingest's storage layout) a project of 2,000 runs x 20 metrics x 1,000 steps into a
throwaway embedded stack, starts the real front door serving services/web/dist, and opens the
workspace in headless Chromium (Debian's, through Playwright). The UI marks what it has drawn:
`[data-testid=runs-table][data-ready]` once rows are on screen, `.chart-canvas[data-drawn]` once a
uPlot chart has painted. Prints cold (first load) and warm (reload, HTTP cache primed) timings,
measured in the browser from navigation start. Target: under 1.5 s.

    python bench/ui_render.py [--runs 2000] [--metrics 20] [--steps 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import bench_stack  # noqa: E402

from tests.ui import harness  # noqa: E402

USER, PASSWORD, PROJECT = "bench", "bench-password", "render"
CHARTS = 12


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeline", action="store_true", help="print each request's start and end")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    dist = harness.ensure_dist()
    metrics = [f"{['train', 'val'][i % 2]}/metric_{i:02d}" for i in range(args.metrics)]
    with bench_stack() as (stack, _key):
        t0 = time.perf_counter()
        harness.seed_project(stack.database_url, USER, PROJECT, n_runs=args.runs, metrics=metrics, n_steps=args.steps)
        points = args.runs * args.metrics * args.steps
        print(f"seeded {args.runs} runs x {args.metrics} metrics x {args.steps} steps "
              f"({points / 1e6:.0f}M points) in {time.perf_counter() - t0:.1f}s")
        with harness.frontdoor(stack.service_env(), stack.database_url, dist, stack.logs_dir) as base_url:
            with sync_playwright() as pw:
                browser = harness.launch_chromium(pw)
                ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
                page = ctx.new_page()
                resp = ctx.request.post(base_url + "/api/v1/auth/login", data={"username": USER, "password": PASSWORD})
                assert resp.ok, resp.text()
                url = f"{base_url}/{USER}/{PROJECT}"
                rows = []
                for i in range(args.repeat):
                    page.goto(url, wait_until="commit")
                    page.wait_for_function(
                        "document.querySelector('[data-testid=runs-table][data-ready]') !== null",
                        polling="raf", timeout=60_000,
                    )
                    table_ms = page.evaluate("performance.now()")
                    page.wait_for_function(
                        f"document.querySelectorAll('.chart-canvas[data-drawn]').length >= {CHARTS}",
                        polling="raf", timeout=60_000,
                    )
                    charts_ms = page.evaluate("performance.now()")
                    n_rows = page.eval_on_selector_all("[data-testid=runs-table] .rt-row", "r => r.length")
                    rows.append((table_ms, charts_ms))
                    if args.timeline:
                        for e in page.evaluate("performance.getEntriesByType('resource').map(e => [e.name.replace(location.origin, ''), e.startTime, e.responseEnd, e.transferSize])"):
                            print(f"      {e[1]:6.0f} -> {e[2]:6.0f} ms {e[3]:>9} B  {e[0][:110]}")
                    print(f"  load {i + 1} ({'cold' if i == 0 else 'warm'}): runs table {table_ms:7.0f} ms, "
                          f"first {CHARTS} charts {charts_ms:7.0f} ms  ({n_rows} rows in the DOM)")
                # Scrolling the table once every run is loaded: time per frame while rows are swapped.
                page.wait_for_function(
                    "!/loading/.test(document.querySelector('[data-testid=runs-count]').textContent)", timeout=120_000
                )
                frames = page.evaluate("""async () => {
                    const el = document.querySelector('[data-testid=runs-table]');
                    const t = [];
                    for (let i = 0; i < 80; i++) {
                        const a = performance.now();
                        el.scrollTop += 450;
                        await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
                        t.push(performance.now() - a);
                    }
                    t.sort((x, y) => x - y);
                    return [t[40], t[76], el.querySelectorAll('.rt-row').length];
                }""")
                print(f"  scrolling {args.runs} rows: median {frames[0]:.0f} ms/frame, p95 {frames[1]:.0f} ms "
                      f"({frames[2]} rows in the DOM)")
                # Sorting every loaded run in the browser: click a header, time until the new first row is painted.
                sort_cols = ["name", f"summary.{metrics[0]}"]
                page.goto(f"{url}?cols=summary.{metrics[0]}", wait_until="commit")
                page.wait_for_function(
                    "document.querySelector('[data-testid=runs-count]') && "
                    "!/loading/.test(document.querySelector('[data-testid=runs-count]').textContent) && "
                    "document.querySelector('[data-testid=runs-table][data-ready]') !== null", timeout=120_000
                )
                for col in sort_cols:
                    times = page.evaluate("""async (col) => {
                        const out = [];
                        for (let i = 0; i < 4; i++) {
                            const first = () => document.querySelector('[data-testid=runs-table] .rt-row')?.dataset.runId;
                            const before = first();
                            const a = performance.now();
                            document.querySelector(`.rt-th[data-col="${col}"]`).click();
                            while (first() === before && performance.now() - a < 5000)
                                await new Promise(r => requestAnimationFrame(r));
                            await new Promise(r => requestAnimationFrame(r));
                            out.push(performance.now() - a);
                        }
                        out.sort((x, y) => x - y);
                        return out;
                    }""", col)
                    print(f"  sorting {args.runs} rows by {col}: median {statistics.median(times):.0f} ms, "
                          f"max {max(times):.0f} ms (click to painted)")
                browser.close()
    med_t = statistics.median(r[0] for r in rows)
    med_c = statistics.median(r[1] for r in rows)
    print(f"ui_render: median runs table {med_t:.0f} ms, first {CHARTS} charts {med_c:.0f} ms (target < 1500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
