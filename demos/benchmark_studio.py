"""Benchmark of the live training studio: how often the page can redraw while the
network trains, how long a typed weight takes to show, and what watching costs.

Three numbers for MLP(2, [16, 16, 1]) on 200 two-moons points (targets in brackets):

1. updates per second while training, through the JSON API (a client polling
   ``GET /api/state?since=``) and in headless Chromium (the page's own redraws)
   [at least 20 per second];
2. time from a typed weight to the redrawn numbers: ``POST /api/weight`` then
   ``GET /api/state`` through the API, and in the page from the Enter key to the graph
   showing the new numbers [under 100 ms];
3. training while watched against ``fit`` alone: CPU seconds per step of the studio
   with a client polling it (training, states, server and client together), and wall
   seconds per step while Chromium shows the page, over those of
   :func:`~micrograd_mlp.nets.train.fit` on the same data [at most 2x].

Writes ``demos/out/benchmark_studio.md`` and prints it. Needs the studio extra
(starlette, uvicorn; playwright and /usr/bin/chromium for the page's numbers).
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however run
from _common import make_parser  # noqa: E402  (also puts the checkout on sys.path)

from micrograd_mlp.nets.mlp import MLP  # noqa: E402
from micrograd_mlp.nets.train import fit  # noqa: E402
from micrograd_mlp.studio import datasets  # noqa: E402
from micrograd_mlp.studio.serve import ServerThread  # noqa: E402
from micrograd_mlp.studio.session import Session  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SETTINGS = dict(data="moons", net="2-16-16-1", activation="relu", optimizer="sgd", lr=0.05)


def _get(url):
    with urllib.request.urlopen(url) as r:
        return json.loads(r.read())


def _post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def api_updates(url, session, seconds):
    """``(distinct states a polling client receives per second while training, CPU
    seconds of this process per training step)``: the CPU time counts the training,
    the states prepared, the server and the client, whatever else runs on the machine."""
    _post(url + "api/play", {})
    seen, version, t0, c0, n0 = 0, -1, time.perf_counter(), time.process_time(), session.step_count
    while time.perf_counter() - t0 < seconds:
        s = _get(f"{url}api/state?since={version}")
        if not s.get("unchanged"):
            seen += 1
            version = s["version"]
    cpu, steps = time.process_time() - c0, session.step_count - n0
    _post(url + "api/pause", {})
    return seen / (time.perf_counter() - t0), cpu / max(1, steps)


def api_edit_latency(url, repeats):
    """Milliseconds from ``POST /api/weight`` to the state holding its numbers."""
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        _post(url + "api/weight", {"name": "W1", "index": [0, 1], "value": 0.1 + 0.01 * k})
        s = _get(url + "api/state")
        assert s["parameters"]["W1"][0][1] == 0.1 + 0.01 * k
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def fit_seconds_per_step(steps):
    """``(seconds, CPU seconds)`` per step of ``fit`` alone (full batch: one step per
    epoch)."""
    ds = datasets.make("moons", 0)
    model = MLP(2, [16, 16, 1], activation="relu", out_activation="sigmoid", seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    fit(model, ds.X, ds.y, loss="mse", optimizer="sgd", lr=0.05, epochs=steps, progress=False)
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def page_numbers(server, seconds):
    """(redraws per second while training in each one-second window, median ms from
    Enter to redrawn numbers, studio seconds per step while the page watches); None
    when playwright or Chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(CHROMIUM):
        return None
    session = server.session
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url)
        page.wait_for_function("window.studio && window.studio.stats.renders > 0")
        steps0, t0 = session.step_count, time.perf_counter()
        page.click("button:text-is('▶ Play')")
        rates = []   # redraws per second in one-second windows: the median is the rate
        for _ in range(max(1, round(seconds))):   # other work of the machine does not pick
            r0, w0 = page.evaluate("window.studio.stats.renders"), time.perf_counter()
            page.wait_for_timeout(1000)
            rates.append((page.evaluate("window.studio.stats.renders") - r0) / (time.perf_counter() - w0))
        page.click("button:text-is('❚❚ Pause')")
        elapsed = time.perf_counter() - t0
        per_step = elapsed / max(1, session.step_count - steps0)
        page.wait_for_function("!window.studio.state.settings.running")
        edits = []
        for k in range(7):
            page.click("#studio-root svg polygon.cell[data-key='W2[3,4]']")
            page.fill("input.editor", f"{0.2 + 0.01 * k:.2f}")
            page.press("input.editor", "Enter")
            page.wait_for_function("window.studio.stats.lastEdit.ms !== null")
            edits.append(page.evaluate("window.studio.stats.lastEdit.ms"))
        browser.close()
    return rates, statistics.median(edits), per_step


def main(argv=None):
    parser = make_parser("benchmark_studio", __doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    seconds = 2.0 if args.quick else 5.0
    fit_step, fit_cpu = fit_seconds_per_step(100 if args.quick else 400)
    server = ServerThread(Session(**SETTINGS)).start()
    try:
        api_rate, api_cpu = api_updates(server.url, server.session, seconds)
        api_ms = api_edit_latency(server.url, 10)
        page = page_numbers(server, seconds)
    finally:
        server.stop()
    rows = [("updates per second while training, API polling", f"{api_rate:.1f}", ">= 20"),
            ("typed weight to new numbers, API (ms)", f"{api_ms:.1f}", "< 100"),
            ("CPU per step: studio with a polling client / fit alone",
             f"{api_cpu / fit_cpu:.2f}x ({1e3 * api_cpu:.2f} ms / {1e3 * fit_cpu:.2f} ms)", "<= 2x")]
    if page is not None:
        rates, edit_ms, studio_step = page
        rows += [("updates per second while training, page redraws (median of "
                  f"{len(rates)} one-second windows; range)",
                  f"{statistics.median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f})", ">= 20"),
                 ("typed weight to redrawn numbers, page (ms)", f"{edit_ms:.1f}", "< 100"),
                 ("wall time per step: studio while the page watches / fit",
                  f"{studio_step / fit_step:.2f}x ({1e3 * studio_step:.2f} ms / {1e3 * fit_step:.2f} ms)",
                  "<= 2x")]
    else:
        rows.append(("page numbers", "skipped: needs playwright and /usr/bin/chromium", ""))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["# Studio benchmark: MLP(2, [16, 16, 1]), 200 two-moons points, full batch, SGD", "",
             f"Machine: {os.cpu_count()} cores, load average {load:.1f} when it ended "
             "(the page's numbers share the cores with Chromium).", "",
             "| measure | value | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark_studio.md").write_text(text, encoding="utf-8")
    if not args.quiet:
        print(text)
    return rows


if __name__ == "__main__":
    main()
