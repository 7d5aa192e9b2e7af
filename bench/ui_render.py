"""Time until the web UI draws a big project: the runs table, the charts in view, and 300 / 1,000 runs charted.

Seeds (SQL, in the ingest's storage layout) a project of 2,000 runs x 20 metrics x 1,000 steps into a
throwaway embedded stack, starts the real front door serving services/web/dist, and opens the workspace
in headless Chromium (Debian's, through Playwright) at 1440x900. The UI marks what it has drawn:
`[data-testid=runs-table][data-ready]` once rows are on screen, `.chart-canvas[data-drawn][data-lines=N]`
once a uPlot chart has painted N lines. Times are measured in the browser from navigation start:

- the runs table and the charts in view with the default selection (the table's first 10 runs), cold
  (first load) and warm (reload);
- every chart in view drawn with all of the table's first 300 runs (`?top=300`) and first 1,000
  (`?top=1000`): targets 1.5 s and 3 s. The charts read through the batched history endpoint
  (`POST .../history`, NDJSON): the number of those requests and the bytes they carried are printed too;
- scrolling all rows, and sorting them in the browser.

Wall time depends on the machine's load (printed with each figure). Next to it, measures that depend far
less on it: the number of history requests and their bytes, the page's main-thread CPU time from Chromium's
own counters (script, all tasks), and the UI's `performance.measure` marks (`ry:*`: the history request,
decoding, shaping, drawing).

    python bench/ui_render.py [--runs 2000] [--metrics 20] [--steps 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import bench_stack  # noqa: E402

from tests.ui import harness  # noqa: E402

USER, PASSWORD, PROJECT = "bench", "bench-password", "render"

# Every line chart whose card is in the viewport shows `n` lines (n=0: any drawn chart counts).
IN_VIEW_DRAWN = """(() => {{
  const cards = [...document.querySelectorAll('[data-testid=chart-card][data-type=line]')].filter(c => {{
    const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  }});
  return cards.length > 0 && cards.every(c => {{
    const el = c.querySelector('.chart-canvas[data-drawn]');
    return el && ({n} === 0 || el.dataset.lines === '{n}');
  }}) ? cards.length : 0;
}})()"""


def wait_ms(page: Any, condition: str, timeout_ms: int = 120_000) -> float:
    """performance.now() when `condition` (a JS expression) first holds, polled every animation frame.

    One `page.evaluate` of an async function (DevTools evaluation), so it also works under the UI's
    Content-Security-Policy, which forbids the eval behind Playwright's `wait_for_function`."""
    return float(page.evaluate(f"""async () => {{
        const t0 = performance.now();
        while (!({condition})) {{
            if (performance.now() - t0 > {timeout_ms}) throw new Error('timed out waiting for ' + {json.dumps(condition)});
            await new Promise(r => requestAnimationFrame(r));
        }}
        return performance.now();
    }}"""))


def history_requests(page: Any) -> tuple[int, float]:
    """(number of batched history requests, MB they carried) since the page loaded."""
    entries = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/history'))"
        ".map(e => [e.transferSize, e.encodedBodySize])")
    return len(entries), sum(max(a, b) for a, b in entries) / 1e6


def cdp_metrics(cdp: Any) -> dict[str, float]:
    """Chromium's own counters (CDP `Performance.getMetrics`): seconds of main-thread work by kind since start."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def cpu_line(before: dict[str, float], after: dict[str, float]) -> tuple[float, float, str]:
    """(script ms, task ms, a printable line) of the main thread's work between two `cdp_metrics`: CPU time
    the page spent, which depends far less on the machine's load than wall time does."""
    d = {k: 1000 * (after.get(k, 0.0) - before.get(k, 0.0)) for k in ("ScriptDuration", "TaskDuration", "LayoutDuration", "RecalcStyleDuration")}
    return d["ScriptDuration"], d["TaskDuration"], (f"main thread: script {d['ScriptDuration']:.0f} ms, all tasks {d['TaskDuration']:.0f} ms "
                                                    f"(layout {d['LayoutDuration']:.0f}, style {d['RecalcStyleDuration']:.0f})")


# What the UI marks with performance.measure (data/seriesStore.ts, panels/LinePanel.tsx, components/LineChart.tsx).
MEASURES = {
    "ry:history-request": "history request (send to last line)",
    "ry:history-decode": "decode",
    "ry:chart-shape": "shape",
    "ry:chart-columns": "columns",
    "ry:chart-create": "chart setup",
    "ry:chart-draw-lines": "draw lines",
}


def measures(page: Any) -> str:
    """The UI's own marks, summed by kind: where the page's time went after the data was asked for."""
    entries = page.evaluate("performance.getEntriesByType('measure').filter(e => e.name.startsWith('ry:')).map(e => [e.name, e.duration])")
    total: dict[str, list[float]] = {}
    for name, ms in entries:
        t = total.setdefault(name, [0, 0.0])
        t[0] += 1
        t[1] += ms
    return ", ".join(f"{label} {total[k][1]:.0f} ms" + (f" ({int(total[k][0])}x)" if total[k][0] > 1 else "")
                     for k, label in MEASURES.items() if k in total)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


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
    results: dict[str, float] = {}
    with bench_stack() as (stack, _key):
        t0 = time.perf_counter()
        harness.seed_project(stack.database_url, USER, PROJECT, n_runs=args.runs, metrics=metrics, n_steps=args.steps)
        points = args.runs * args.metrics * args.steps
        print(f"seeded {args.runs} runs x {args.metrics} metrics x {args.steps} steps "
              f"({points / 1e6:.0f}M points) in {time.perf_counter() - t0:.1f}s")
        with harness.frontdoor(stack.service_env(), stack.database_url, dist, stack.logs_dir) as base_url:
            with sync_playwright() as pw:
                browser = harness.launch_chromium(pw)
                ctx = browser.new_context(viewport={"width": 1440, "height": 900})
                page = ctx.new_page()
                cdp = ctx.new_cdp_session(page)
                cdp.send("Performance.enable")
                resp = ctx.request.post(base_url + "/api/v1/auth/login", data={"username": USER, "password": PASSWORD})
                assert resp.ok, resp.text()
                url = f"{base_url}/{USER}/{PROJECT}"
                rows = []
                for i in range(args.repeat):
                    page.goto(url, wait_until="commit")
                    table_ms = wait_ms(page, "document.querySelector('[data-testid=runs-table][data-ready]') !== null")
                    charts_ms = wait_ms(page, IN_VIEW_DRAWN.format(n=10))
                    n_charts = page.evaluate(IN_VIEW_DRAWN.format(n=10))
                    n_rows = page.eval_on_selector_all("[data-testid=runs-table] .rt-row", "r => r.length")
                    rows.append((table_ms, charts_ms))
                    if args.timeline:
                        for e in page.evaluate("performance.getEntriesByType('resource').map(e => [e.name.replace(location.origin, ''), e.startTime, e.responseEnd, e.transferSize])"):
                            print(f"      {e[1]:6.0f} -> {e[2]:6.0f} ms {e[3]:>9} B  {e[0][:110]}")
                    print(f"  load {i + 1} ({'cold' if i == 0 else 'warm'}): runs table {table_ms:7.0f} ms, "
                          f"the {n_charts} charts in view (10 runs each) {charts_ms:7.0f} ms  ({n_rows} rows in the DOM)")
                results["table"] = statistics.median(r[0] for r in rows)
                results["charts10"] = statistics.median(r[1] for r in rows)

                # Many runs in the charts: the table's first N rows, one batched request for all of them.
                for n, target in ((300, 1500), (1000, 3000)):
                    if n > args.runs:
                        continue
                    times, scripts, tasks = [], [], []
                    for i in range(args.repeat):
                        page.goto("about:blank")
                        before = cdp_metrics(cdp)
                        page.goto(f"{url}?top={n}", wait_until="commit")
                        ms = wait_ms(page, IN_VIEW_DRAWN.format(n=n))
                        script_ms, task_ms, cpu = cpu_line(before, cdp_metrics(cdp))
                        count, mb = history_requests(page)
                        n_charts = page.evaluate(IN_VIEW_DRAWN.format(n=n))
                        times.append(ms)
                        scripts.append(script_ms)
                        tasks.append(task_ms)
                        print(f"  {n} runs charted, load {i + 1}: {n_charts} charts in view drawn with {n} lines each in "
                              f"{ms:6.0f} ms ({count} history request{'s' if count != 1 else ''}, {mb:.1f} MB; {load()})")
                        print(f"      {cpu}; {measures(page)}")
                    results[f"charts{n}"] = statistics.median(times)
                    results[f"script{n}"] = statistics.median(scripts)
                    results[f"task{n}"] = statistics.median(tasks)
                    print(f"  {n} runs: median {results[f'charts{n}']:.0f} ms (target < {target} ms); main thread "
                          f"median script {results[f'script{n}']:.0f} ms, all tasks {results[f'task{n}']:.0f} ms")

                # Scrolling the table once every run is loaded: time per frame while rows are swapped.
                page.goto(url, wait_until="commit")
                wait_ms(page, "document.querySelector('[data-testid=runs-total]') && "
                              "!/loading/.test(document.querySelector('[data-testid=runs-total]').textContent)")
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
                wait_ms(page, "document.querySelector('[data-testid=runs-total]') && "
                              "!/loading/.test(document.querySelector('[data-testid=runs-total]').textContent) && "
                              "document.querySelector('[data-testid=runs-table][data-ready]') !== null")
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
    summary = [f"runs table {results['table']:.0f} ms", f"charts in view (10 runs) {results['charts10']:.0f} ms"]
    for n in (300, 1000):
        if f"charts{n}" in results:
            summary.append(f"{n} runs charted {results[f'charts{n}']:.0f} ms (main thread: script {results[f'script{n}']:.0f} ms, "
                           f"tasks {results[f'task{n}']:.0f} ms)")
    print("ui_render: median " + ", ".join(summary) + f" (targets: 1500 ms; 300 runs 1500 ms; 1000 runs 3000 ms); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
