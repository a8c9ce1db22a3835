"""Check a numpy backward pass: three typical mistakes, each planted and diagnosed.

A two-layer classifier written in numpy in the style of seed 004 (weights ``(in, out)``,
``y1 = x @ W1 + b1``, a leaky ReLU, ``y2 = h1 @ W2 + b2``, softmax cross-entropy averaged
over the batch) with its backward pass written by hand. :func:`micrograd_mlp.grading.numpy_backward.gradients`
compares its gradients with autodiff on the same weights, first for the correct code,
then with one mistake planted at a time:

* ``no_mean``    -- ``dW2`` not divided by the batch size N;
* ``relu_slope`` -- the leaky ReLU's derivative written as ReLU's (0 instead of c for
  negative inputs);
* ``transposed`` -- ``dW1`` computed as ``dY1^T x`` (hidden x input) instead of
  ``x^T dY1``.

Prints the report of each run and writes them all to ``--out``/check_numpy_backward.txt.

Usage: python demos/check_numpy_backward.py [--quick] [--quiet] [--out DIR] [--seed S]
"""
import sys

import numpy as np
from _common import Printer, make_parser, out_dir

pass
from micrograd_mlp.nets.mlp import MLP
from micrograd_mlp.grading.numpy_backward import gradients as grade_gradients

LEAKY_SLOPE = 0.01  # the slope of the library's leaky_relu for negative inputs
MISTAKES = {
    "no_mean": ("W2", "factor"),
    "relu_slope": ("W1", "activation"),
    "transposed": ("W1", "transposed"),
}


def blobs(n: int, seed: int):
    """``n`` points in 4-D around three centres, and their class (0, 1 or 2)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[2.0, 0.0, 0.0, 1.0], [-1.0, 2.0, 0.0, -1.0], [0.0, -2.0, 1.5, 0.0]])
    y = rng.integers(0, 3, size=n)
    return centres[y] + rng.normal(scale=0.8, size=(n, 4)), y


def numpy_backward(params, x, y, mistake=None):
    """Forward and hand-written backward of the numpy network; returns the gradients
    ``{"W1", "b1", "W2", "b2"}`` with ``mistake`` (a key of :data:`MISTAKES`) planted."""
    w1, b1, w2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = x.shape[0]
    y1 = x @ w1 + b1                                       # (n, hidden)
    h1 = np.where(y1 <= 0, LEAKY_SLOPE * y1, y1)
    y2 = h1 @ w2 + b2                                      # (n, classes)
    shifted = np.exp(y2 - y2.max(axis=1, keepdims=True))   # softmax, overflow-safe
    p = shifted / shifted.sum(axis=1, keepdims=True)

    dy2 = p.copy()                                         # dL/dy2 = (p - onehot) / n
    dy2[np.arange(n), y] -= 1.0
    dy2 /= n
    grads = {"W2": h1.T @ dy2, "b2": dy2.sum(axis=0)}
    if mistake == "no_mean":
        grads["W2"] = grads["W2"] * n
    dh1 = dy2 @ w2.T
    slope = 0.0 if mistake == "relu_slope" else LEAKY_SLOPE
    dy1 = dh1 * np.where(y1 <= 0, slope, 1.0)
    grads["W1"] = dy1.T @ x if mistake == "transposed" else x.T @ dy1
    grads["b1"] = dy1.sum(axis=0)
    return grads


def main(argv=None):
    parser = make_parser("check_numpy_backward", __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    say = Printer(args.quiet)
    x, y = blobs(12 if args.quick else 64, args.seed)
    model = MLP(4, [5, 3], activation="leaky_relu", out_activation=None, seed=args.seed)

    texts, slips, reports = [], {}, {}
    for mistake in (None,) + tuple(MISTAKES):
        report = grade_gradients(lambda params, X, Y: numpy_backward(params, X, Y, mistake),
                                 model, x, y, loss="cross_entropy", layout="in_out")
        name = mistake or "correct"
        reports[name] = report
        slips[name] = {k: v.slip for k, v in report.verdicts.items() if v.status != "right"}
        title = "The correct backward" if mistake is None else f"Planted mistake: {mistake}"
        texts.append(f"{title}\n{report}")
        say(texts[-1])
    path = out_dir(args.out) / "check_numpy_backward.txt"
    path.write_text("\n".join(texts), encoding="utf-8")
    say(f"wrote {path}")
    return {"slips": slips, "reports": reports, "files": [str(path)], "n": len(x)}


if __name__ == "__main__":
    main(sys.argv[1:])
