"""The tables, the target ratios and the bar chart of ``make bench``
(:mod:`benchmark` measures, this module writes)."""
from __future__ import annotations

import os
import platform

import numpy as np

from benchmark_scaling import scaling_checks, scaling_table


# ---------------------------------------------------------------- report


def _fmt_time(s):
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} µs"


def report(steps, graph, chains, memory, digits, scaling=None):
    lines = [f"Measured in one run of `make bench` on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, "
             f"numpy {np.__version__}.", ""]
    lines += ["**1. One training step** of MLP(2, [16, 16, 1]) (ReLU), 100 two-moons samples, "
              "MSE, SGD (median of repeats, engines interleaved)", "",
              "| engine | time per step | vs micrograd | vs numpy |", "|---|---:|---:|---:|"]
    mg = steps.get("micrograd 0.1.0")
    npt = steps["numpy matrices, hand backward"]
    for name, t in steps.items():
        vs_mg = f"{mg / t:.1f}x faster" if mg and name != "micrograd 0.1.0" else "-"
        lines.append(f"| {name} | {_fmt_time(t)} | {vs_mg} | {t / npt:.1f}x the time |")
    lines += ["", "**2. Random graph** (+, *, relu of random earlier nodes)", "",
              "| engine | build (nodes/s) | backward (nodes/s) | nodes reached by backward |",
              "|---|---:|---:|---:|"]
    for name, (b, f, reached) in graph.items():
        back = "RecursionError" if reached == 0 else f"{f:,.0f}"
        lines.append(f"| {name} | {b:,.0f} | {back} | {reached:,} |")
    lines += ["", "**3. Chain** `x = x * 1.0000001`, n deep (GC on, as by default; the last "
              "column builds again with the cyclic GC paused)", "",
              "| depth | ours: build | ours: backward | backward / build | gradient exact | "
              "micrograd | build, GC paused |",
              "|---:|---:|---:|---:|:---:|---|---:|"]
    for n, tb, tf, ok, micro, tng in chains:
        lines.append(f"| {n:,} | {_fmt_time(tb)} | {_fmt_time(tf)} | {tf / tb:.2f} | "
                     f"{'yes' if ok else 'NO'} | {micro} | {_fmt_time(tng)} |")
    lines += ["", "**4. Memory** (tracemalloc, bytes per chain node incl. its constant)", "",
              "| engine | bytes per node |", "|---|---:|"]
    for name, b in memory.items():
        lines.append(f"| {name} | {b:.0f} |")
    lines += ["", "**5. Digits softmax** (1797 x 64, MLP(64, [32, 10]), SGD; per epoch = "
              "(T(1 + E epochs) - T(1 epoch)) / E, median of 3)", ""]
    if "skipped" in digits:
        lines.append(f"skipped: {digits['skipped']}")
    else:
        lines += ["| run | time per epoch (recording excluded) |", "|---|---:|"]
        for name, t in digits.items():
            lines.append(f"| {name} | {_fmt_time(t)}{' (once)' if 'recording' in name else ''} |")
    if scaling:
        lines += ["", "**6. Replay at every size**: one SGD step (ReLU hidden layers, linear "
                  "output, float64, one BLAS thread; lower quartile of repeats interleaved in "
                  "short rounds); recording = compile_step + first step - one step, the lowest of "
                  "3 fresh models of the row (the first of them also shown)", "",
                  scaling_table(scaling)]
    return "\n".join(lines) + "\n"


def ratios(steps, chains, memory, scaling=None):
    out = []
    mg = steps.get("micrograd 0.1.0")
    npt = steps["numpy matrices, hand backward"]
    if mg:
        r = mg / steps["ours, per-sample scalar"]
        out.append(("per-sample scalar vs micrograd", f"{r:.1f}x faster", "target >= 3x", r >= 3))
        r = mg / steps["ours, batched"]
        out.append(("batched vs micrograd", f"{r:.0f}x faster", "target >= 200x", r >= 200))
    r = steps["ours, replayed"] / npt
    out.append(("replayed vs numpy (row 1)", f"{r:.1f}x the time", "target <= 5x", r <= 5))
    deep = [c for c in chains if c[0] == 1_000_000]
    if deep:
        r = deep[0][2] / deep[0][1]
        out.append(("chain 10^6 backward / build", f"{r:.2f}", "target <= 3", r <= 3))
    if "micrograd 0.1.0" in memory:
        r = memory["ours"] / memory["micrograd 0.1.0"]
        out.append(("bytes per node vs micrograd", f"{r:.2f}", "target <= 0.3", r <= 0.3))
    if scaling:
        out += [(what, value, f"target {target}", ok)
                for what, value, target, ok in scaling_checks(scaling)]
    return out


def bar_chart(steps, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(steps)
    ms = [steps[n] * 1e3 for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(names, ms, color=["#c44" if "micrograd" in n else "#48c" if "ours" in n
                                     else "#888" for n in names], label="time per step")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per training step (log scale)")
    ax.set_title("One SGD step of MLP(2, [16, 16, 1]) on 100 samples")
    for bar, v in zip(bars, ms):
        ax.text(v, bar.get_y() + bar.get_height() / 2, f" {v:.3g} ms", va="center", fontsize=8)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
