"""How the time of one training step grows with the network: replay against numpy and torch.

One SGD step of six ReLU networks, replayed, against
numpy matrices with a hand-written backward and torch's batched float64 step, all on
one BLAS thread, engines interleaved in short rounds (lower quartile of the repeats). The one-time
recording of replay is timed apart: ``T(compile_step) + T(first step) - T(a step)``, for
``RECORDINGS`` fresh models of the row: the lowest (as the steps' lower quartile, since
the machine is shared) and the first one (cold: the code just ran other work).

Run alone: ``python demos/benchmark_scaling.py [--quick]``; ``make bench`` runs it as part
of the benchmark (table in ``benchmark.md``, figure ``benchmark_scaling.png``).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however run
from _common import make_parser, save_figure  # noqa: E402  (also puts the checkout on sys.path)

from micrograd_mlp import MLP, losses, optim# noqa: E402
from micrograd_mlp.core import tape_kernels  # noqa: E402
from micrograd_mlp.nets.compiled_step import compile_step, replayed_train_step# noqa: E402
from micrograd_mlp.core.blas_threads import single_threaded_blas

#: (nin, layer sizes, loss, batch): the six networks measured
ROWS = [
    (2, [16, 16, 1], "mse", 100),
    (64, [64, 64, 10], "ce", 256),
    (64, [256, 256, 10], "ce", 256),
    (64, [256, 256, 10], "ce", 2048),
    (784, [128, 128, 10], "ce", 256),
    (3072, [100, 10], "ce", 200),
]
LR = 0.01
#: recordings timed per row, each of a fresh model
RECORDINGS = 3


def row_name(nin, sizes, loss, _batch=None):
    return f"MLP({nin}, {sizes}), {'MSE' if loss == 'mse' else 'CE'}"


def n_params(nin, sizes):
    widths = [nin] + sizes
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def _data(nin, nout, loss, B, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(B, nin))
    y = rng.normal(size=B) if loss == "mse" else rng.integers(0, nout, size=B)
    return X, y


def _model(nin, sizes):
    return MLP(nin, sizes, activation=["relu"] * (len(sizes) - 1) + [None], seed=0)


def replay_engine(nin, sizes, loss, X, y):
    """``(step function, [recording seconds of each fresh model])``: fit()'s replayed
    step (parameters kept as a vector between steps)."""
    loss_fn = losses.mse if loss == "mse" else losses.softmax_cross_entropy
    recordings, step = [], None
    for _ in range(RECORDINGS):
        step = None     # the previous model is freed here, not inside the next timing
        model = _model(nin, sizes)
        opt = optim.SGD(model.parameters(), lr=LR)
        t0 = time.perf_counter()
        step = compile_step(model, loss_fn, X, y)
        replayed_train_step(step, X, y, opt, sync=False)
        first = time.perf_counter() - t0
        one = [_timed(lambda: replayed_train_step(step, X, y, opt, sync=False))
               for _ in range(5)]
        recordings.append(max(first - statistics.median(one), 0.0))
    return (lambda: replayed_train_step(step, X, y, opt, sync=False)), recordings


def numpy_engine(nin, sizes, loss, X, y):
    """Matrices with a hand-written backward: ReLU layers, a linear output, MSE or
    softmax cross-entropy (log-sum-exp), SGD."""
    rng = np.random.default_rng(0)
    widths = [nin] + sizes
    Ws = [rng.normal(scale=np.sqrt(2.0 / (a + b)), size=(b, a)) for a, b in zip(widths[:-1], widths[1:])]
    bs = [np.zeros(b) for b in sizes]
    B = X.shape[0]
    rows = np.arange(B)
    yc = y[:, None] if loss == "mse" else None

    def step():
        acts, pre = [X], []
        for W, b in zip(Ws[:-1], bs[:-1]):
            h = acts[-1] @ W.T + b
            pre.append(h)
            acts.append(np.maximum(h, 0.0))
        z = acts[-1] @ Ws[-1].T + bs[-1]
        if loss == "mse":
            g = (2.0 / z.size) * (z - yc)
        else:
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            g = e / s
            g[rows, y] -= 1.0
            g /= B
        for k in range(len(Ws) - 1, -1, -1):
            gW, gb = g.T @ acts[k], g.sum(axis=0)
            if k:
                g = (g @ Ws[k]) * (pre[k - 1] > 0)
            Ws[k] -= LR * gW
            bs[k] -= LR * gb

    return step


def torch_engine(nin, sizes, loss, X, y):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    widths = [nin] + sizes
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).double()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    tX = torch.tensor(X)
    ty = torch.tensor(y[:, None]) if loss == "mse" else torch.tensor(y)
    fn = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        fn(net(tX), ty).backward()
        opt.step()

    return step


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_row(row, rounds):
    nin, sizes, loss, B = row
    X, y = _data(nin, sizes[-1], loss, B)
    replay_step, recordings = replay_engine(nin, sizes, loss, X, y)
    engines = {"replay": replay_step, "numpy": numpy_engine(nin, sizes, loss, X, y)}
    t = torch_engine(nin, sizes, loss, X, y)
    if t is not None:
        engines["torch"] = t
    for fn in engines.values():
        fn()
    # short rounds (about 10 ms of each engine), many of them: a busy machine slows
    # every engine alike
    reps = {name: max(1, int(0.01 / max(_timed(fn), 1e-6))) for name, fn in engines.items()}
    times = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            for _ in range(reps[name]):
                times[name].append(_timed(fn))
    # the lower quartile: a time slice lost to another process (the machine is shared)
    # lengthens one repeat by ~10 ms; a quarter of the repeats free of that is enough
    result = {name: float(np.percentile(ts, 25)) for name, ts in times.items()}
    result["recording"] = min(recordings)
    result["first recording"] = recordings[0]
    return result


def bench_scaling(quick=False):
    """``[(row, {"replay", "numpy", "torch", "recording": seconds})]`` for every row."""
    rounds = 4 if quick else 30
    # the compiled tape's kernels (the loss part of a step runs on them) are loaded once
    # per process; that one-time cost is reported by the tape benchmark, not here
    tape_kernels.kernels()
    with single_threaded_blas():
        return [(row, bench_row(row, rounds)) for row in ROWS]


def _ms(s):
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.2f} s"


def scaling_table(results):
    lines = ["| network | batch | params | replay | numpy | torch | replay / numpy | "
             f"replay / torch | recording (best of {RECORDINGS}) | recording / step | "
             "first recording / step |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row, r in results:
        torch_t = r.get("torch")
        cells = [row_name(*row), str(row[3]), f"{n_params(row[0], row[1]):,}", _ms(r["replay"]),
                 _ms(r["numpy"]), _ms(torch_t) if torch_t else "-",
                 f"{r['replay'] / r['numpy']:.2f}",
                 f"{r['replay'] / torch_t:.2f}" if torch_t else "-",
                 _ms(r["recording"]), f"{r['recording'] / r['replay']:.1f}",
                 f"{r['first recording'] / r['replay']:.1f}" if "first recording" in r else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scaling_checks(results):
    """``[(what, value, target, met)]``: each ratio and the target docs/performance.md
    sets for it (the targets are for that page; the command prints ratios only)."""
    out = []
    big = sorted(results, key=lambda rr: -n_params(rr[0][0], rr[0][1]) * rr[0][3])[:4]
    for row, r in results:
        name = f"{row_name(*row)} B={row[3]}"
        ratio = r["replay"] / r["numpy"]
        limit = 1.2 if any(row is b[0] for b in big) else 1.5
        out.append((f"{name}: replay / numpy", f"{ratio:.2f}", f"<= {limit}", ratio <= limit))
        if "torch" in r:
            rt = r["replay"] / r["torch"]
            out.append((f"{name}: replay / torch", f"{rt:.2f}", "< 1", rt < 1))
        rs = r["recording"] / r["replay"]
        out.append((f"{name}: recording / step", f"{rs:.1f}", "<= 10", rs <= 10))
    return out


def ratio_lines(checks) -> str:
    """The ratios as a user reads them: what is compared and the number, nothing more
    (the targets are the developers', kept in docs/performance.md)."""
    lines = ["Ratios (each line says what is compared):"]
    lines += [f"  {what:55s} {value:>16s}" for what, value, _target, _ok in checks]
    return "\n".join(lines)


def scaling_figure(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    # lines join the rows of batches of 100-256; the batch of 2048 is drawn apart
    small = sorted((rr for rr in results if rr[0][3] <= 256), key=lambda rr: n_params(*rr[0][:2]))
    large = [rr for rr in results if rr[0][3] > 256]
    styles = (("replay", "o-", "C0"), ("numpy", "s--", "C1"), ("torch", "^:", "C2"))
    for engine, style, color in styles:
        pts = [(n_params(*row[:2]), r[engine] * 1e3) for row, r in small if engine in r]
        ax.plot([p for p, _ in pts], [t for _, t in pts], style, color=color,
                label=f"{engine} (batches of 100-256)")
        pts = [(n_params(*row[:2]), r[engine] * 1e3) for row, r in large if engine in r]
        if pts:
            ax.plot([p for p, _ in pts], [t for _, t in pts], style[0], color=color,
                    mfc="none", label=f"{engine} (batch of 2048)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters of the network (log scale)")
    ax.set_ylabel("milliseconds per SGD step (log scale)")
    ax.set_title("One training step vs network size: replay, numpy, torch (float64, 1 thread)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, Path(path).parent, Path(path).name)   # PNG and SVG, each whole or not at all


def main(argv=None):
    parser = make_parser("benchmark_scaling", "Replay vs numpy vs torch at six network sizes.")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = bench_scaling(args.quick)
    table = scaling_table(results)
    scaling_figure(results, out / "benchmark_scaling")
    if not args.quiet:
        print(table)
        print(ratio_lines(scaling_checks(results)))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
