"""Seed 001, Task 7: approximate f on [a, b] by a sum of shifted ReLUs.

    NN(x) = sum_{i=1..n} lambda_i ReLU(x - b_i)

Grid: x_i = a + (i - 1) h, i = 1..n, h = (b - a) / (n - 1), and knots
b_i = a + (i - 2) h (so b_1 = a - h, b_2 = a, ..., b_n = b - h). Then
x_i - b_j = (i - j + 1) h, and asking NN(x_i) = f(x_i) for every i gives the
lower-triangular system

    h T lambda = f,   T[i, j] = i - j + 1 for j <= i, else 0.

On [a, b] the result is the piecewise-linear interpolant of f through the x_i, so
the max error shrinks like h^2 max|f''| / 8.

The network is a real ``MLP(1, [n, 1], activation="relu", out_activation=None)`` of
this library whose weights are set by hand: hidden weights 1, hidden biases -b_i,
output weights lambda_i, output bias 0. It is evaluated on a dense grid in one
lockstep batch.

    python demos/relu_approximation.py [--function sin] [--a 0] [--b 6.283] [--quick]
"""
from __future__ import annotations

import math
import sys

import numpy as np

try:
    from . import _common  # imported as demos.relu_approximation
except ImportError:
    import _common  # run as a script

from micrograd_mlp import MLP, no_grad
from micrograd_mlp.views.plots_training import plot_error_vs, plot_regression_fits

FUNCTIONS = {
    "sin": (np.sin, "sin(x)", (0.0, 2 * math.pi)),
    "cos": (np.cos, "cos(x)", (0.0, 2 * math.pi)),
    "exp": (np.exp, "exp(x)", (-1.0, 1.0)),
    "square": (np.square, "x^2", (-1.0, 1.0)),
    "runge": (lambda x: 1.0 / (1.0 + 25.0 * x ** 2), "1 / (1 + 25 x^2)", (-1.0, 1.0)),
}
NS = (4, 8, 16, 32, 64)


def knots_and_lambdas(f, a: float, b: float, n: int):
    """Grid ``x`` (n points from a to b), knots ``b_i = a + (i - 2) h`` and the
    weights ``lambda`` solving ``h T lambda = f(x)`` with ``T[i, j] = i - j + 1``
    on and below the diagonal. Returns ``(x, knots, lam, h)``."""
    if n < 2:
        raise ValueError(f"need n >= 2 grid points, got {n}")
    if not a < b:
        raise ValueError(f"need a < b, got a={a}, b={b}")
    h = (b - a) / (n - 1)
    i = np.arange(1, n + 1)
    x = a + (i - 1) * h
    knots = a + (i - 2) * h
    diff = i[:, None] - i[None, :] + 1
    T = np.where(diff >= 1, diff, 0).astype(float)
    lam = np.linalg.solve(h * T, f(x))
    return x, knots, lam, h


def relu_network(knots, lam) -> MLP:
    """``MLP(1, [n, 1])`` with ReLU hidden units and a linear output computing
    ``sum_i lam_i ReLU(x - knots_i)``."""
    n = len(knots)
    model = MLP(1, [n, 1], activation="relu", out_activation=None)
    model.set_parameters(
        weights=[np.ones((n, 1)), np.asarray(lam, dtype=float).reshape(1, n)],
        biases=[-np.asarray(knots, dtype=float), np.zeros(1)])
    return model


def evaluate(model: MLP, grid) -> np.ndarray:
    """The network's output on every point of ``grid`` (one batched forward pass)."""
    with no_grad():
        out = model(np.asarray(grid, dtype=float).reshape(-1, 1))
    return np.asarray(out.data, dtype=float)


def main(argv=None) -> dict:
    parser = _common.make_parser("relu_approximation", __doc__.split("\n")[0])
    parser.add_argument("--function", choices=sorted(FUNCTIONS), default="sin")
    parser.add_argument("--a", type=float, default=None, help="left end (default per function)")
    parser.add_argument("--b", type=float, default=None, help="right end (default per function)")
    parser.add_argument("--ns", type=int, nargs="+", default=list(NS),
                        help="numbers of hidden ReLUs (default 4 8 16 32 64)")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    f, fname, (a0, b0) = FUNCTIONS[args.function]
    a = a0 if args.a is None else args.a
    b = b0 if args.b is None else args.b
    grid = np.linspace(a, b, 1001 if args.quick else 4001)
    exact = f(grid)

    say(f"ReLU approximation of f(x) = {fname} on [{a:.4g}, {b:.4g}] (seed 001, Task 7)")
    say("NN(x) = sum_i lambda_i ReLU(x - b_i), h T lambda = f, built as MLP(1, [n, 1])\n")
    rows, errors, fits = [], [], {}
    for n in args.ns:
        x, knots, lam, h = knots_and_lambdas(f, a, b, n)
        model = relu_network(knots, lam)
        approx = evaluate(model, grid)
        err = float(np.max(np.abs(approx - exact)))
        errors.append(err)
        rows.append((n, h, err, float(np.max(np.abs(lam)))))
        fits[f"n = {n}"] = approx
    say(_common.table(["n", "h", "max |NN - f|", "max |lambda|"], rows, ".3e"))
    ratios = [errors[k] / errors[k + 1] for k in range(len(errors) - 1)]
    say("\nerror ratio when n doubles: " + ", ".join(f"{r:.2f}" for r in ratios)
        + "  (about 4 = O(h^2) for a smooth f)")

    plt = _common.use_agg()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    plot_regression_fits([], [], grid, fits, ax=axes[0], truth=f,
                         title=f"ReLU networks approximating {fname}",
                         xlabel="x", ylabel="f(x), NN(x)")
    plot_error_vs(args.ns, {"max |NN(x) - f(x)| on [a, b]": errors}, ax=axes[1],
                  logx=True, logy=True, title="Max error vs number of hidden ReLUs",
                  xlabel="n (hidden ReLU units)", ylabel="max abs error")
    fig.tight_layout()
    files = _common.save_figure(fig, args.out, "relu_approximation")
    say(f"\nfigures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"ns": list(args.ns), "max_errors": errors, "files": files,
            "function": args.function, "a": a, "b": b, "seconds": clock.elapsed}


if __name__ == "__main__":
    main(sys.argv[1:])
