"""How fast it runs next to micrograd, numpy and torch: every measurement in one run.

Rows:
1. one training step (forward, MSE, backward, SGD update) of MLP(2, [16, 16, 1]) with
   ReLU hidden units on 100 two-moons samples: micrograd 0.1.0, ours per sample (one
   scalar graph per sample), ours batched (one lockstep graph), ours replayed
   (:mod:`micrograd_mlp.core.recorder`), numpy matrices with a hand-written backward, torch
   batched (if installed). Engines are interleaved round by round; medians of repeats.
2. building and backward throughput (nodes per second) on a random graph of ~100k nodes;
3. a chain x <- x * c, 10^4, 10^5, 10^6 deep (micrograd recurses: RecursionError);
4. bytes per node (tracemalloc, a 200k-node chain);
5. the digits softmax demo: seconds per epoch of fit() (full batch and mini-batches,
   replayed and not), the one-time recording timed apart;
6. replay at every size: six networks from MLP(2, [16, 16, 1]) to seed 004's
   MLP(3072, [100, 10]), replay against numpy and torch (:mod:`benchmark_scaling`);
7. a scalar graph built by hand (softplus, sums, products, softmax; 10^3 to 10^5 ops):
   built, numpy replay, the compiled tape, PyTorch scalar autograd and a C tape
   (:mod:`benchmark_tape`).

Writes into ``--out`` only (default ``demos/out/``): ``benchmark.md``, a bar chart
``benchmark.png``/``.svg`` (log scale) and the log-log figures
``benchmark_scaling.png``/``.svg`` and ``benchmark_tape.png``/``.svg``; prints the
ratios. ``--gallery`` (what ``make bench`` passes) also copies ``benchmark.md`` and
the figures into ``demos/figures/``, the README's gallery, which a plain run never
touches.
"""
from __future__ import annotations

import gc
import shutil
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however run
from _common import make_parser  # noqa: E402  (also puts the checkout on sys.path)

from benchmark_report import bar_chart, ratios, report  # noqa: E402
from benchmark_scaling import bench_scaling, ratio_lines, scaling_figure  # noqa: E402
from benchmark_tape import bench_tape, tape_checks, tape_figure, tape_table  # noqa: E402
from micrograd_mlp import MLP, Value, losses, optim# noqa: E402
from micrograd_mlp.core import tape_kernels  # noqa: E402
from micrograd_mlp.core.blas_threads import single_threaded_blas  # noqa: E402
from micrograd_mlp.nets import compiled_step
from micrograd_mlp.nets.compiled_step import compile_step# noqa: E402

OUT_NAME = "benchmark"
FIG_DIR = Path(__file__).resolve().parent / "figures"


def _median_time(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ---------------------------------------------------------------- row 1: one step


def _moons(n=100, seed=0):
    try:
        from micrograd_mlp import data
        X, y = data.moons(n, seed=seed)
    except Exception:  # data.py missing: the same shape of problem
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(float)
    return np.asarray(X, dtype=float), np.asarray(y, dtype=float) * 2.0 - 1.0


def step_engines(X, y, lr=0.01):
    """name -> a function doing one training step (each with its own model)."""
    engines = {}
    engines.update(_micrograd_engine(X, y, lr))
    engines.update(_our_engines(X, y, lr))
    engines.update(_peer_engines(X, y, lr))
    return engines


def _micrograd_engine(X, y, lr):
    engines = {}
    try:
        from micrograd.nn import MLP as MicroMLP

        mm = MicroMLP(2, [16, 16, 1])
        rows = [list(map(float, r)) for r in X]
        targets = list(map(float, y))

        def micrograd_step():
            scores = list(map(mm, rows))
            loss = sum((s - t) ** 2 for s, t in zip(scores, targets)) * (1.0 / len(rows))
            mm.zero_grad()
            loss.backward()
            for p in mm.parameters():
                p.data -= lr * p.grad

        engines["micrograd 0.1.0"] = micrograd_step
    except ImportError:
        pass
    return engines


def _our_engines(X, y, lr):
    engines = {}
    acts = ["relu", "relu", None]

    def sgd(params):
        for p in params:
            p.data = p.data - lr * p.grad

    m1 = MLP(2, [16, 16, 1], activation=acts, init="uniform", seed=0)
    p1 = m1.parameters()

    def per_sample_step():
        m1.zero_grad()
        n = len(X)
        for i in range(n):
            out = m1([float(X[i, 0]), float(X[i, 1])])
            ((out - float(y[i])) ** 2).backward(1.0 / n)
        sgd(p1)

    engines["ours, per-sample scalar"] = per_sample_step

    m2 = MLP(2, [16, 16, 1], activation=acts, init="uniform", seed=0)
    p2 = m2.parameters()

    def batched_step():
        m2.zero_grad()
        losses.mse(m2(X), y).backward()
        sgd(p2)

    engines["ours, batched"] = batched_step

    m3 = MLP(2, [16, 16, 1], activation=acts, init="uniform", seed=0)
    step = compile_step(m3, losses.mse, X, y)
    opt3 = optim.SGD(m3.parameters(), lr=lr)

    def replayed_step():  # as fit() runs it: parameters a vector until step.sync()
        compiled_step.replayed_train_step(step, X, y, opt3, sync=False)

    engines["ours, replayed"] = replayed_step

    m4 = MLP(2, [16, 16, 1], activation=acts, init="uniform", seed=0)
    step4 = compile_step(m4, losses.mse, X, y)
    opt4 = optim.SGD(m4.parameters(), lr=lr)

    def replayed_synced_step():  # and the 337 parameter Values written at every step
        compiled_step.replayed_train_step(step4, X, y, opt4, sync=True)

    engines["ours, replayed, Values synced each step"] = replayed_synced_step
    return engines


def _peer_engines(X, y, lr):
    engines = {}
    sizes = [2, 16, 16, 1]

    rng = np.random.default_rng(0)
    W = [rng.uniform(-1, 1, size=(o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(o) for o in sizes[1:]]
    yc = y[:, None]

    def numpy_step():
        h1 = X @ W[0].T + b[0]
        a1 = np.maximum(h1, 0.0)
        h2 = a1 @ W[1].T + b[1]
        a2 = np.maximum(h2, 0.0)
        out = a2 @ W[2].T + b[2]
        g = (2.0 / len(X)) * (out - yc)
        gW2, gb2 = g.T @ a2, g.sum(0)
        g = (g @ W[2]) * (h2 > 0)
        gW1, gb1 = g.T @ a1, g.sum(0)
        g = (g @ W[1]) * (h1 > 0)
        gW0, gb0 = g.T @ X, g.sum(0)
        for Wk, bk, gw, gb in zip(W, b, (gW0, gW1, gW2), (gb0, gb1, gb2)):
            Wk -= lr * gw
            bk -= lr * gb

    engines["numpy matrices, hand backward"] = numpy_step

    try:
        import torch

        torch.set_num_threads(1)
        net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                                  torch.nn.ReLU(), torch.nn.Linear(16, 1)).double()
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        tX, ty = torch.tensor(X), torch.tensor(yc)

        def torch_step():
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(tX), ty).backward()
            opt.step()

        engines["torch batched"] = torch_step
    except ImportError:
        pass
    return engines


def bench_steps(quick):
    X, y = _moons(100)
    engines = step_engines(X, y)
    # repeats per round: slow engines once, fast ones many times (interleaved rounds)
    per_round = {name: 1 for name in engines}
    for name in ("ours, batched",):
        per_round[name] = 5
    for name in ("ours, replayed", "ours, replayed, Values synced each step",
                 "numpy matrices, hand backward", "torch batched"):
        per_round[name] = 30
    rounds = 2 if quick else 5
    if quick:
        engines.pop("micrograd 0.1.0", None)
    times = {name: [] for name in engines}
    for fn in engines.values():
        fn()  # warm-up: records the replay, loads torch kernels
    for _ in range(rounds):
        for name, fn in engines.items():
            for _ in range(per_round[name]):
                times[name].append(_median_time(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


# ---------------------------------------------------------------- row 2: random graph


def random_graph(V, n, seed=0):
    """``n`` nodes, each ``+``, ``*`` or ``relu`` of earlier nodes (one chosen uniformly,
    one among the 64 latest), then the sum of the 64 latest: the root. The depth stays
    in the hundreds, so micrograd's recursion copes."""
    rng = np.random.default_rng(seed)
    nodes = [V(float(x)) for x in rng.uniform(-1, 1, size=64)]
    ops = rng.integers(0, 3, size=n).tolist()
    far = rng.random(size=n).tolist()
    near = rng.integers(1, 65, size=n).tolist()
    for k in range(n):
        m = len(nodes)
        a, b = nodes[int(far[k] * m)], nodes[m - near[k]]
        op = ops[k]
        nodes.append(a + b if op == 0 else (a * b if op == 1 else b.relu()))
    root = nodes[-64]
    for v in nodes[-63:]:
        root = root + v
    return root


def _reachable(root):
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(getattr(v, "parents", None) or getattr(v, "_prev", ()))
    return len(seen)


def bench_random_graph(quick):
    n = 20_000 if quick else 100_000
    engines = {"ours": Value}
    try:
        from micrograd.engine import Value as MV
        engines["micrograd 0.1.0"] = MV
    except ImportError:
        pass
    result = {}
    for name, V in engines.items():
        gc.collect()
        t0 = time.perf_counter()
        root = random_graph(V, n)
        t1 = time.perf_counter()
        try:
            root.backward()
            t2 = time.perf_counter()
            reached = _reachable(root)
            result[name] = (n / (t1 - t0), reached / (t2 - t1), reached)
        except RecursionError:
            result[name] = (n / (t1 - t0), float("nan"), 0)
        del root
    return result


# ---------------------------------------------------------------- row 3: chains


def chain(V, n):
    x0 = V(1.0)
    x = x0
    for _ in range(n):
        x = x * 1.0000001
    return x0, x


def bench_chains(quick):
    depths = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    rows = []
    for n in depths:
        gc.collect()  # no garbage of earlier rows left for the collector to scan here
        t0 = time.perf_counter()
        x0, x = chain(Value, n)
        t1 = time.perf_counter()
        x.backward()
        t2 = time.perf_counter()
        build = t1 - t0
        ok = abs(x0.grad - 1.0000001 ** n) < 1e-9 * 1.0000001 ** n
        del x0, x
        gc.collect()
        micro = "not run"
        if n == 10_000:
            try:
                from micrograd.engine import Value as MV
                _, mx = chain(MV, n)
                try:
                    mx.backward()
                    micro = "ok"
                except RecursionError:
                    micro = "RecursionError"
                del mx
                gc.collect()
            except ImportError:
                micro = "not installed"
        # the same build with CPython's cyclic collector paused (restored after): our
        # nodes form no reference cycles, so all it does during a build is scan them
        was = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            keep = chain(Value, n)
            t_nogc = time.perf_counter() - t0
            del keep
        finally:
            if was:
                gc.enable()
        gc.collect()
        rows.append((n, build, t2 - t1, ok, micro, t_nogc))
    return rows


# ---------------------------------------------------------------- row 4: memory


def bytes_per_node(V, n):
    gc.collect()
    tracemalloc.start()
    keep = chain(V, n)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keep
    gc.collect()
    return size / n


def bench_memory(quick):
    n = 50_000 if quick else 200_000
    result = {"ours": bytes_per_node(Value, n)}
    try:
        from micrograd.engine import Value as MV
        result["micrograd 0.1.0"] = bytes_per_node(MV, n)
    except ImportError:
        pass
    return result


# ---------------------------------------------------------------- row 5: digits


def _fit_seconds(X, y, epochs, **kwargs):
    from micrograd_mlp.nets.train import fit

    model = MLP(64, [32, 10], activation=["relu", None], seed=0)
    t0 = time.perf_counter()
    fit(model, X, y, loss="softmax_cross_entropy", lr=0.1, epochs=epochs, progress=False,
        metrics=(), **kwargs)
    return time.perf_counter() - t0


def bench_digits(quick):
    """Seconds per epoch of fit() on the digits, excluding one-time costs (replay's
    recording): ``(T(1 + E epochs) - T(1 epoch)) / E``, median of repeats, for full
    batch and mini-batches of 64; the recording alone is timed apart."""
    try:
        from micrograd_mlp import data
        X, y = data.digits()
    except Exception as err:  # data missing, or no scikit-learn
        return {"skipped": str(err)}
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if quick:
        X, y = X[:300], y[:300]
    result = {}
    runs = [("full batch", None, "replayed", True, 40), ("full batch", None, "batched graph", False, 4),
            ("batches of 64", 64, "replayed", True, 10), ("batches of 64", 64, "batched graph", False, 1)]
    for shape, bs, label, rep, extra in runs:
        if quick:
            extra = max(1, extra // 4)
        per_epoch = []
        for _ in range(1 if quick else 3):
            one = _fit_seconds(X, y, 1, replay=rep, batch_size=bs, seed=0)
            more = _fit_seconds(X, y, 1 + extra, replay=rep, batch_size=bs, seed=0)
            per_epoch.append(max(more - one, 0.0) / extra)
        result[f"fit(), {shape}, {label}"] = statistics.median(per_epoch)
    model = MLP(64, [32, 10], activation=["relu", None], seed=0)
    rec = []
    for _ in range(3):
        t0 = time.perf_counter()
        compile_step(model, losses.softmax_cross_entropy, X, y)
        rec.append(time.perf_counter() - t0)
    result["compile_step: recording the model part (once, for every batch size)"] = statistics.median(rec)
    return result


def main(argv=None):
    parser = make_parser(OUT_NAME, "Benchmark against micrograd, numpy and torch.")
    parser.add_argument("--gallery", action="store_true",
                        help=f"also copy the table and the scaling figure into {FIG_DIR} "
                             f"(the README's gallery; make bench does)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else print
    # the compiled tape's kernels, loaded (or compiled) once per process before any
    # timing: the tape benchmark reports that time on its own line
    tape_kernels.kernels()
    say("1/7 training step ...")
    with single_threaded_blas():  # numpy's and ours alike (torch: 1 thread too)
        steps = bench_steps(args.quick)
    say("2/7 random graph ...")
    graph = bench_random_graph(args.quick)
    say("3/7 chains ...")
    chains = bench_chains(args.quick)
    say("4/7 memory ...")
    memory = bench_memory(args.quick)
    say("5/7 digits ...")
    digits = bench_digits(args.quick)
    say("6/7 replay at every size ...")
    scaling = bench_scaling(args.quick)
    say("7/7 a scalar graph: the compiled tape ...")
    tape = bench_tape(args.quick)
    table = report(steps, graph, chains, memory, digits, scaling)
    table += ("\n**7. A scalar graph built by hand**: 100 inputs, then ops cycling through "
              "softplus of the node 10 back, the sum of 4 earlier nodes, the product of the "
              "nodes 20 and 10 back, a softmax over the last 4 nodes; forward + backward of "
              "the last node (median of repeats; built and PyTorch build the graph each "
              "time; recording = `Recorded(root)` from the built graph)\n\n"
              + tape_table(tape) + "\n")
    (out / f"{OUT_NAME}.md").write_text(table)
    bar_chart(steps, out / OUT_NAME)
    scaling_figure(scaling, out / f"{OUT_NAME}_scaling")
    copies = [f"{OUT_NAME}.md", f"{OUT_NAME}_scaling.png", f"{OUT_NAME}_scaling.svg"]
    if "skipped" not in tape:
        tape_figure(tape, out / f"{OUT_NAME}_tape")
        copies += [f"{OUT_NAME}_tape.png", f"{OUT_NAME}_tape.svg"]
    if args.gallery:
        FIG_DIR.mkdir(exist_ok=True)
        for name in copies:
            shutil.copy(out / name, FIG_DIR / name)
    checks = ratios(steps, chains, memory, scaling) + tape_checks(tape)
    say(table)
    say(ratio_lines(checks))
    return {"steps": steps, "graph": graph, "chains": chains, "memory": memory,
            "digits": digits, "scaling": scaling, "tape": tape, "ratios": checks}


if __name__ == "__main__":
    main(sys.argv[1:])
