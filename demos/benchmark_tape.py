"""Any graph at compiled speed: a scalar graph built by hand, replayed by the compiled tape.

The workload of a public benchmark of scalar autodiff engines: 100 inputs, then ops
cycling through

1. softplus of the node 10 back,
2. the sum of 4 earlier nodes (``x[-30:-10:5]``),
3. the product of the nodes 20 and 10 back,
4. a softmax over the last 4 nodes (each of its 4 outputs is a node),

then forward and backward of the last node with respect to the inputs, repeated. At
10^3, 10^4 and 10^5 ops (the slow engines: the median of repeats; the compiled tape and
the C tape: interleaved rounds, the lower quartile):

* ours, built: the graph built again and ``backward()``, every time;
* ours, numpy replay: ``Recorded(root, engine="numpy")``, ``forward()`` + ``backward()``;
* ours, compiled replay: ``Recorded(root, engine="compiled")`` (numba), the same calls;
* PyTorch scalar autograd: 0-d float64 tensors, the graph built every time;
* micrograd 0.1.0: it has no ``exp`` or ``log`` (only +, *, ** and relu), so neither
  softplus nor softmax: not run, said in the table;
* a C tape: the compiled tape's own index arrays run by a C loop this script writes
  and compiles with the system's ``cc -O2`` (skipped, with a note, without a compiler).

Also: the recording (``Recorded(root)`` from a built graph) against one built forward +
backward, at each size, and the kernels' first compilation (in a fresh process with an
empty cache) apart from loading them from the disk cache.

Run alone: ``python demos/benchmark_tape.py [--quick]`` (figure
``demos/out/benchmark_tape.png``); ``make bench`` runs it as part of the benchmark
(table in ``benchmark.md``, figure ``benchmark_tape.png``, both copied to
``demos/figures/``).
"""
from __future__ import annotations

import ctypes
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common, however run
from _common import make_parser, save_figure  # noqa: E402  (also puts the checkout on sys.path)
from benchmark_scaling import ratio_lines  # noqa: E402

from micrograd_mlp import Value  # noqa: E402
from micrograd_mlp.core.engine import sum_values  # noqa: E402
from micrograd_mlp.core.recorder import Recorded  # noqa: E402
from micrograd_mlp.core import tape_kernels  # noqa: E402
from micrograd_mlp.functions.activations import softplus  # noqa: E402
from micrograd_mlp.functions.losses import softmax  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
N_INPUTS = 100
ENGINES = ("built", "numpy replay", "compiled replay", "PyTorch scalar", "micrograd 0.1.0",
           "C tape (cc -O2)")
MICROGRAD_NOTE = "not run: micrograd 0.1.0 has no exp or log (softplus, softmax)"


# ---------------------------------------------------------------- the workload


def workload(n_ops, inputs, softplus_fn, sum4, softmax4):
    """The list of nodes after ``n_ops`` ops (see the module docstring) from ``inputs``."""
    x = list(inputs)
    for k in range(n_ops):
        kind = k % 4
        if kind == 0:
            x.append(softplus_fn(x[-10]))
        elif kind == 1:
            x.append(sum4(x[-30:-10:5]))
        elif kind == 2:
            x.append(x[-20] * x[-10])
        else:
            x.extend(softmax4(x[-4:]))
    return x


def input_values(seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=N_INPUTS)


def ours_graph(n_ops, data):
    xs = [Value(float(v)) for v in data]
    return xs, workload(n_ops, xs, softplus, sum_values, softmax)[-1]


def built_step(n_ops, data):
    """Build the graph and backward: the inputs' gradients."""
    xs, root = ours_graph(n_ops, data)
    root.backward()
    return np.array([v.grad for v in xs])


def torch_step(n_ops, data):
    import torch
    xs = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in data]
    F = torch.nn.functional
    root = workload(n_ops, xs, F.softplus, lambda ts: ts[0] + ts[1] + ts[2] + ts[3],
                    lambda ts: torch.softmax(torch.stack(ts), 0).unbind())[-1]
    root.backward()
    return np.array([0.0 if v.grad is None else float(v.grad) for v in xs])


# ---------------------------------------------------------------- the C tape


# per primitive: (forward, backward) C statements for one operation on one sample;
# a_j is the j-th input's row, o the output's, n_j its "needs a gradient" flag
C_OPS = {
    "add": ("V[o] = V[a0] + V[a1];", "if (n0) G[a0] += g; if (n1) G[a1] += g;"),
    "sub": ("V[o] = V[a0] - V[a1];", "if (n0) G[a0] += g; if (n1) G[a1] -= g;"),
    "mul": ("V[o] = V[a0] * V[a1];", "if (n0) G[a0] += g * V[a1]; if (n1) G[a1] += g * V[a0];"),
    "div": ("if (V[a1] == 0.0) return k; V[o] = V[a0] / V[a1];",
            "if (n0) G[a0] += g * (1.0 / V[a1]); if (n1) G[a1] += g * (-V[o] / V[a1]);"),
    "neg": ("V[o] = -V[a0];", "if (n0) G[a0] += g * -1.0;"),
    "exp": ("V[o] = exp(V[a0]);", "if (n0) G[a0] += g * V[o];"),
    "log": ("if (V[a0] <= 0.0) return k; V[o] = log(V[a0]);", "if (n0) G[a0] += g * (1.0 / V[a0]);"),
    "log1p": ("if (V[a0] <= -1.0) return k; V[o] = log1p(V[a0]);",
              "if (n0) G[a0] += g * (1.0 / (1.0 + V[a0]));"),
    "expm1": ("V[o] = expm1(V[a0]);", "if (n0) G[a0] += g * (V[o] + 1.0);"),
    "tanh": ("V[o] = tanh(V[a0]);", "if (n0) G[a0] += g * (1.0 - V[o] * V[o]);"),
    "relu": ("V[o] = V[a0] <= 0.0 ? 0.0 : V[a0];", "if (n0) G[a0] += g * (V[a0] <= 0.0 ? 0.0 : 1.0);"),
    "min0": ("V[o] = V[a0] > 0.0 ? 0.0 : V[a0];",
             "if (n0) G[a0] += g * (V[a0] <= 0.0 ? 1.0 : (V[a0] > 0.0 ? 0.0 : NAN));"),
    "abs": ("V[o] = fabs(V[a0]);",
            "if (n0) G[a0] += g * (V[a0] > 0.0 ? 1.0 : (V[a0] < 0.0 ? -1.0 : 0.0));"),
    "sum": ("{ double s = V[args[p]]; for (long j = p + 1; j < q; j++) s = s + V[args[j]]; V[o] = s; }",
            "for (long j = p; j < q; j++) if (needs[j]) G[args[j]] += g;"),
    "max": ("{ double m = V[args[p]]; for (long j = p; j < q; j++) { double x = V[args[j]];"
            " if (x != x) { m = x; break; } if (x > m) m = x; } V[o] = m; }",
            "{ double t = 0.0; for (long j = p; j < q; j++) { double x = V[args[j]];"
            " double h = ((x == V[o]) || (x != x) ? 1.0 : 0.0) * (1.0 - t); t += h;"
            " if (needs[j]) G[args[j]] += g * h; } }"),
}

C_TEMPLATE = r"""
#include <math.h>
#include <string.h>
/* forward: returns -1, or the operation whose inputs are outside the domain */
static long forward(long n, const long *codes, const long *outs, const long *ptr,
                    const long *args, double *V) {
  for (long k = 0; k < n; k++) {
    long o = outs[k], p = ptr[k], q = ptr[k + 1];
    long a0 = args[p], a1 = q - p > 1 ? args[p + 1] : 0;
    (void)q; (void)a1;
    switch (codes[k]) {
%FORWARD%
      default: return -2 - k;
    }
  }
  return -1;
}
static void backward(long n, const long *codes, const long *outs, const long *ptr,
                     const long *args, const unsigned char *needs, const unsigned char *rg,
                     const double *V, double *G) {
  for (long k = n - 1; k >= 0; k--) {
    if (!rg[k]) continue;
    long o = outs[k], p = ptr[k], q = ptr[k + 1];
    long a0 = args[p], a1 = q - p > 1 ? args[p + 1] : 0;
    int n0 = needs[p], n1 = q - p > 1 ? needs[p + 1] : 0;
    double g = G[o];
    (void)q; (void)a1; (void)n0; (void)n1;
    switch (codes[k]) {
%BACKWARD%
      default: break;
    }
  }
}
/* reps times: forward, zero the gradients, seed the root, backward */
long run(long reps, long n, const long *codes, const long *outs, const long *ptr,
         const long *args, const unsigned char *needs, const unsigned char *rg,
         long n_rows, long root, double *V, double *G) {
  long err = -1;
  for (long r = 0; r < reps; r++) {
    err = forward(n, codes, outs, ptr, args, V);
    if (err != -1) return err;
    memset(G, 0, sizeof(double) * n_rows);
    G[root] = 1.0;
    backward(n, codes, outs, ptr, args, needs, rg, V, G);
  }
  return err;
}
"""


def c_source(codes):
    """The C tape for the op codes ``codes`` (name -> code) of the compiled kernels."""
    fwd, bwd = [], []
    for name, code in codes.items():
        if name in C_OPS:
            f, b = C_OPS[name]
            fwd.append(f"      case {code}: {f} break;")
            bwd.append(f"      case {code}: {b} break;")
    return C_TEMPLATE.replace("%FORWARD%", "\n".join(fwd)).replace("%BACKWARD%", "\n".join(bwd))


def build_c_tape(codes, workdir):
    """``(ctypes function run, None)`` or ``(None, why not)``."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None, "skipped: no C compiler (cc) on this machine"
    src = Path(workdir) / "tape.c"
    lib = Path(workdir) / "libtape.so"
    src.write_text(c_source(codes))
    done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"skipped: cc failed ({done.stderr.strip().splitlines()[0]})"
    run = ctypes.CDLL(str(lib)).run
    run.restype = ctypes.c_long
    return run, None


class CTape:
    """The compiled tape's index arrays, run by the C loop."""

    def __init__(self, run, rec):
        tape = rec.tape
        self.run_fn = run
        self.arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in
                       (tape.codes, tape.outs, tape.ptr, tape.args)]
        self.flags = [np.ascontiguousarray(a, dtype=np.uint8) for a in (tape.needs, tape.rg)]
        bound = rec.bind(1)
        self.V = np.ascontiguousarray(bound.values[:, 0]).copy()
        self.G = np.zeros_like(self.V)
        self.root = tape.output_rows[0]
        self.n = tape.n_ops
        self.param_rows, self.param_index = tape.param_rows, tape.param_index
        self.n_params = len(rec.params)

    def __call__(self, reps=1):
        ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
        err = self.run_fn(ctypes.c_long(reps), ctypes.c_long(self.n),
                          *[ptr(a) for a in self.arrays], *[ptr(a) for a in self.flags],
                          ctypes.c_long(self.V.size), ctypes.c_long(self.root),
                          ptr(self.V), ptr(self.G))
        if err != -1:
            raise RuntimeError(f"C tape: operation {err} failed")
        grads = np.zeros(self.n_params)
        grads[self.param_index] = self.G[self.param_rows]
        return grads


# ---------------------------------------------------------------- timing


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _best(fn, budget, at_most=200, at_least=1):
    """The median of repeats of ``fn`` filling about ``budget`` seconds."""
    first = _timed(fn)
    reps = max(at_least, min(at_most, int(budget / max(first, 1e-7))))
    return statistics.median([_timed(fn) for _ in range(reps)]) if reps > 1 else first


def cold_compilation_seconds():
    """The kernels' first compilation, in a fresh process with an empty cache folder
    (the cache the library uses is left alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import time; t = time.perf_counter(); "
                "from micrograd_mlp.core import tape_kernels as k; s = k.kernels(); s.single(); "
                "print(s.seconds + s.single_seconds, s.from_cache or s.single_from_cache)")
        env = dict(os.environ, MICROGRAD_MLP_CACHE=tmp,
                   PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env)
        if done.returncode != 0:
            return None
        seconds, cached = done.stdout.split()
        return float(seconds) if cached == "False" else None


def bench_size(n_ops, run_c, budget, torch_ok):
    data = input_values()
    result = {"ops": n_ops}
    gc.collect()
    # built: build + backward each time
    expected = built_step(n_ops, data)
    result["built"] = _best(lambda: built_step(n_ops, data), budget, at_most=20)
    xs, root = ours_graph(n_ops, data)
    result["nodes"] = _count(root)
    # recording, against one built forward + backward (the built time above)
    recs = {}
    for engine in ("numpy", "compiled"):
        times = []
        for _ in range(1 if (engine == "numpy" and n_ops >= 100_000) else 3):
            recs[engine] = None
            gc.collect()
            t0 = time.perf_counter()
            recs[engine] = Recorded(root, params=xs, engine=engine)
            times.append(time.perf_counter() - t0)
        result[f"recording {engine}"] = min(times)
    replays = {}
    for engine, name in (("numpy", "numpy replay"), ("compiled", "compiled replay")):
        rec = recs[engine]

        def replay(rec=rec):
            rec.forward()
            return rec.backward()

        result[f"{name} error"] = _rel_error(replay(), expected)
        replays[name] = replay
    result["numpy replay"] = _best(replays["numpy replay"], budget, at_most=20)
    if torch_ok:
        result["torch error"] = _rel_error(torch_step(n_ops, data), expected)
        result["PyTorch scalar"] = _best(lambda: torch_step(n_ops, data), budget, at_most=5)
    fast = {"compiled replay": replays["compiled replay"]}
    if run_c is not None:
        c = CTape(run_c, recs["compiled"])
        result["C error"] = _rel_error(c(), recs["compiled"].backward())
        fast["C tape (cc -O2)"] = lambda: c(1)
    result.update(_interleaved(fast, budget))
    return result


def _interleaved(fns, budget, rounds=15):
    """Per-call seconds of the fast engines (the compiled tape, the C tape), timed in
    interleaved rounds of about ``budget / rounds`` seconds each, the lower quartile of
    the rounds: a time slice lost to another process (the machine is shared) lengthens a
    round whatever the engine, so both are measured in the same conditions."""
    reps = {name: max(1, int(budget / rounds / len(fns) / max(_timed(fn), 1e-7)))
            for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            samples[name].append((time.perf_counter() - t) / reps[name])
    return {name: float(np.percentile(ts, 25)) for name, ts in samples.items()}


def _count(root):
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v.parents)
    return len(seen)


def _rel_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / (1e-300 + np.maximum(np.abs(b), 1.0))))


def bench_tape(quick=False):
    """``{"sizes": [per-size results], "compile": seconds or None, "load": seconds,
    "c_note": str or None}``."""
    if not tape_kernels.available():
        return {"skipped": "numba is not installed (the `compiled` extra)"}
    ks = tape_kernels.kernels()
    ks.single()     # the kernels for one sample, which this graph runs on
    out = {"load": ks.seconds + ks.single_seconds,
           "load from cache": ks.from_cache and ks.single_from_cache,
           "compile": None if quick else cold_compilation_seconds()}
    try:
        import torch  # noqa: F401
        torch.set_num_threads(1)
        torch_ok = True
    except ImportError:
        torch_ok = False
    with tempfile.TemporaryDirectory() as tmp:
        run_c, note = build_c_tape(ks.codes, tmp)
        out["c_note"] = note
        sizes = (1_000, 10_000) if quick else SIZES
        out["sizes"] = [bench_size(n, run_c, 0.3 if quick else 2.0, torch_ok) for n in sizes]
    return out


# ---------------------------------------------------------------- report


def _t(s):
    if s is None:
        return "-"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def tape_table(res):
    if "skipped" in res:
        return f"skipped: {res['skipped']}"
    sizes = res["sizes"]
    head = "| engine | " + " | ".join(f"{r['ops']:,} ops ({r['nodes']:,} nodes)" for r in sizes)
    lines = [head + " | vs C tape at the largest |", "|---|" + "---:|" * (len(sizes) + 1)]
    c_big = sizes[-1].get("C tape (cc -O2)")
    for name in ENGINES:
        if name == "micrograd 0.1.0":
            lines.append(f"| {name} | " + " | ".join("-" for _ in sizes) + f" | {MICROGRAD_NOTE} |")
            continue
        if name == "C tape (cc -O2)" and res.get("c_note"):
            lines.append(f"| {name} | " + " | ".join("-" for _ in sizes) + f" | {res['c_note']} |")
            continue
        if not any(name in r for r in sizes):
            lines.append(f"| {name} | " + " | ".join("-" for _ in sizes) + " | not installed |")
            continue
        cells = [_t(r.get(name)) for r in sizes]
        vs = f"{sizes[-1][name] / c_big:,.1f}x" if c_big and name in sizes[-1] else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {vs} |")
    lines.append("| recording, compiled (from the built graph) | " +
                 " | ".join(_t(r["recording compiled"]) for r in sizes) + " | - |")
    lines.append("| recording, numpy | " +
                 " | ".join(_t(r["recording numpy"]) for r in sizes) + " | - |")
    lines.append("| recording compiled / one built forward+backward | " +
                 " | ".join(f"{r['recording compiled'] / r['built']:.2f}" for r in sizes) + " | - |")
    lines.append("| compiled / C tape | " + " | ".join(
        f"{r['compiled replay'] / r['C tape (cc -O2)']:.2f}" if "C tape (cc -O2)" in r else "-"
        for r in sizes) + " | - |")
    lines.append("| largest gradient difference: compiled vs built, vs C | " + " | ".join(
        f"{r['compiled replay error']:.1e}, {r.get('C error', float('nan')):.1e}" for r in sizes)
        + " | - |")
    comp = res.get("compile")
    lines += ["", f"Kernels: loaded in {_t(res['load'])} "
              f"({'from the disk cache' if res['load from cache'] else 'compiled in this run'}); "
              f"first compilation in a fresh process with an empty cache: "
              f"{_t(comp) if comp else 'not measured'}."]
    return "\n".join(lines)


def tape_checks(res):
    """``[(what, value, target, met)]``."""
    if "skipped" in res:
        return []
    out = []
    for r in res["sizes"]:
        name = f"tape {r['ops']:,} ops"
        if r["ops"] >= 10_000 and "C tape (cc -O2)" in r:
            ratio = r["compiled replay"] / r["C tape (cc -O2)"]
            out.append((f"{name}: compiled / C tape", f"{ratio:.2f}", "target <= 3", ratio <= 3))
            err = r["C error"]
            out.append((f"{name}: compiled vs C, gradients", f"{err:.1e}", "target <= 1e-10",
                        err <= 1e-10))
        ratio = r["recording compiled"] / r["built"]
        out.append((f"{name}: recording / built fwd+bwd", f"{ratio:.2f}", "target <= 2",
                    ratio <= 2))
    return out


def tape_figure(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = res["sizes"]
    styles = {"built": "o-", "numpy replay": "s-", "compiled replay": "D-",
              "PyTorch scalar": "^--", "C tape (cc -O2)": "v:"}
    for name, style in styles.items():
        pts = [(r["ops"], r[name]) for r in sizes if name in r]
        if pts:
            ax.plot([p for p, _ in pts], [t * 1e3 for _, t in pts], style, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operations in the graph (log scale)")
    ax.set_ylabel("milliseconds per forward + backward (log scale)")
    ax.set_title("A scalar graph (softplus, sums, products, softmax): forward + backward")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, Path(path).parent, Path(path).name)   # PNG and SVG, each whole or not at all


def main(argv=None):
    parser = make_parser("benchmark_tape", "A scalar graph: built, replayed, compiled, torch, C.")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = bench_tape(args.quick)
    table = tape_table(res)
    if "skipped" not in res:
        tape_figure(res, out / "benchmark_tape")   # demos/out only: make bench copies its own
    if not args.quiet:
        print(table)
        print(ratio_lines(tape_checks(res)))
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
