"""Seed 001, Task 6: a 2-h-1 network with sigmoid units classifies toy 2-D data.

The network: ``s1 = W1 x0 + b1``, ``x1 = sigma(s1)`` (h hidden units),
``s2 = W2 x1 + b2``, ``x2 = sigma(s2)`` (one sigmoid output = P(class 1)); weights
``w ~ N(0, 2 / (d_in + d_out))`` (Xavier normal), biases 0. ``model.train(X, y, eta,
iterations)`` runs batch gradient descent on the squared loss
``E = 1/2 (x2 - y)^2`` averaged over the samples.

Two runs: the exercise's defaults (eta = 0.01, 100 iterations), which barely move
the weights (the mean gradient is small: a step changes the loss by about
eta * |grad|^2), and a run with a larger step and more iterations, which learns the
curved boundary between the two moons.

    python demos/binary_classification.py [--hidden 8] [--eta 5] [--iterations 2000] [--quick]
"""
from __future__ import annotations

import sys

import numpy as np

try:
    from . import _common
except ImportError:
    import _common

from micrograd_mlp import MLP, data
from micrograd_mlp.views.plots_training import plot_decision_region, plot_learning_curves
from micrograd_mlp.nets.train import accuracy, predict


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def intermediates(model: MLP, x) -> dict:
    """``s1, x1, s2, x2`` of one sample ``x`` as numpy vectors (from the forward pass's
    recorded nodes)."""
    model(list(map(float, x)))
    cache = model.intermediates
    return {k: np.array([v.data for v in cache[k]]) for k in ("s1", "x1", "s2", "x2")}


def main(argv=None) -> dict:
    """Run the demo with command-line ``argv``; returns both runs' losses and
    accuracies, sample 0's intermediates (and numpy's), the legends and the files."""
    parser = _common.make_parser("binary_classification", __doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=8, help="hidden units h (default 8)")
    parser.add_argument("--eta", type=float, default=5.0, help="step of the longer run (default 5)")
    parser.add_argument("--iterations", type=int, default=2000,
                        help="iterations of the longer run (default 2000)")
    parser.add_argument("--n", type=int, default=200, help="number of points (default 200)")
    parser.add_argument("--noise", type=float, default=0.15, help="moons noise (default 0.15)")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    iterations = min(args.iterations, 1000) if args.quick else args.iterations
    eta = max(args.eta, 8.0) if args.quick else args.eta

    X, y = data.moons(n=args.n, noise=args.noise, seed=args.seed)
    runs = {}
    for name, (e, it) in {"seed defaults": (0.01, 100), "longer run": (eta, iterations)}.items():
        model = MLP(2, [args.hidden, 1], activation="sigmoid", init="xavier_normal", seed=args.seed)
        hist = model.train(X, y, eta=e, iterations=it)
        acc = accuracy(model, X, y)
        runs[name] = {"model": model, "eta": e, "iterations": it, "history": hist, "accuracy": acc}

    say(f"Two moons, {args.n} points; network 2-{args.hidden}-1, sigmoid everywhere, "
        "xavier_normal, squared loss, batch gradient descent\n")
    say(_common.table(["run", "eta", "iterations", "first loss", "last loss", "accuracy"],
                      [(k, r["eta"], r["iterations"], r["history"].loss[0], r["history"].loss[-1],
                        f"{100 * r['accuracy']:.1f}%") for k, r in runs.items()]))
    slow = runs["seed defaults"]
    say(f"\nWith eta = 0.01 and 100 iterations the loss moves by only "
        f"{slow['history'].loss[0] - slow['history'].loss[-1]:.2e}: the exercise's settings are a "
        "smoke test, not enough to learn this boundary.")

    model = runs["longer run"]["model"]
    x0 = X[0]
    inter = intermediates(model, x0)
    W, b = model.get_parameters()
    s1 = W[0] @ x0 + b[0]
    x1 = _sigmoid(s1)
    s2 = W[1] @ x1 + b[1]
    x2 = _sigmoid(s2)
    say(f"\nIntermediate values of the trained network for sample 0: x0 = {np.round(x0, 4)}, "
        f"label {y[0]}")
    for k, ref in zip(("s1", "x1", "s2", "x2"), (s1, x1, s2, x2)):
        say(f"  {k} = {np.array2string(inter[k], precision=5, suppress_small=True)}"
            f"   (numpy check: max diff {np.max(np.abs(inter[k] - ref)):.1e})")

    plt = _common.use_agg()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    plot_learning_curves({f"{k} (eta {r['eta']:g})": r["history"].loss for k, r in runs.items()},
                         ax=axes[0], logy=True, title="Squared loss during training",
                         xlabel="iteration (one full-batch step)", ylabel="E = mean 1/2 (x2 - y)^2")
    legends = {}
    for ax, (k, r) in zip(axes[1:], runs.items()):
        plot_decision_region(lambda G, m=r["model"]: predict(m, G), X, y, ax=ax,
                             title=f"{k}: eta {r['eta']:g}, {r['iterations']} it., "
                                   f"acc {100 * r['accuracy']:.0f}%")
        legends[k] = ax.get_legend_handles_labels()[1]
        if not any(label.startswith("boundary") for label in legends[k]):
            # the legend has no boundary entry: say why the panel shows none
            ax.set_title(ax.get_title() + "\nno p = 0.5 boundary in view: one class everywhere",
                         fontsize=10)
    fig.tight_layout()
    files = _common.save_figure(fig, args.out, "binary_classification")
    say(f"\nfigures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"accuracy_defaults": slow["accuracy"], "accuracy": runs["longer run"]["accuracy"],
            "loss_defaults": slow["history"].loss, "loss": runs["longer run"]["history"].loss,
            "intermediates": {k: v.tolist() for k, v in inter.items()},
            "numpy_intermediates": {"s1": s1.tolist(), "x1": x1.tolist(), "s2": s2.tolist(),
                                    "x2": x2.tolist()},
            "legends": legends, "models": {k: r["model"] for k, r in runs.items()},
            "files": files, "seconds": clock.elapsed}


if __name__ == "__main__":
    main(sys.argv[1:])
