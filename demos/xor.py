"""Seed 000, exercise 2: an MLP with one hidden layer of n nodes learns XOR.

XOR is the classic problem a single perceptron cannot solve (the two classes are
not linearly separable). One hidden layer of n sigmoid units and one sigmoid output
are enough. Training: mean squared error ``L = 1/n_s sum_i (y_i - yhat_i)^2`` over the
four samples, plain (full-batch) gradient descent ``w <- w - lr dL/dw``.

    python demos/xor.py [--hidden 4] [--lr 2.0] [--epochs 3000] [--no-bias] [--quick]
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
from micrograd_mlp.nets.train import accuracy, fit, predict


def main(argv=None) -> dict:
    parser = _common.make_parser("xor", __doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=4, help="hidden nodes n (default 4)")
    parser.add_argument("--lr", type=float, default=2.0, help="learning rate (default 2.0)")
    parser.add_argument("--epochs", type=int, default=3000, help="gradient steps (default 3000)")
    parser.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    parser.add_argument("--no-bias", action="store_true",
                        help="weights only, as in the exercise's w1/w2 matrices")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    epochs = min(args.epochs, 2000) if args.quick else args.epochs

    X, y = data.xor()
    model = MLP(2, [args.hidden, 1], activation=args.activation, out_activation="sigmoid",
                init="xavier_normal", seed=args.seed, bias=not args.no_bias)
    say(f"XOR with {model!r}; MSE loss, plain gradient descent, lr {args.lr}, {epochs} epochs")
    history = fit(model, X, y, loss="mse", optimizer="sgd", lr=args.lr, epochs=epochs,
                  print_every=None if args.quiet else max(1, epochs // 6), progress=False)
    preds = predict(model, X)
    acc = accuracy(model, X, y)
    say("\nPredictions on the four points:")
    say(_common.table(["x0", "x1", "target", "prediction", "class"],
                      [(f"{a:g}", f"{b:g}", int(t), float(p), int(p > 0.5))
                       for (a, b), t, p in zip(X, y, preds)]))
    say(f"\nfinal loss {history.loss[-1]:.6f}, accuracy {100 * acc:.0f}%")

    plt = _common.use_agg()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    plot_learning_curves({"training MSE": history.loss}, ax=axes[0], logy=True,
                         title=f"XOR, {args.hidden} hidden nodes: loss",
                         xlabel="epoch (one full-batch step)", ylabel="MSE")
    plot_decision_region(lambda G: predict(model, G), X, y, ax=axes[1], margin=0.5,
                         title="XOR decision region (network output)")
    fig.tight_layout()
    files = _common.save_figure(fig, args.out, "xor")
    say(f"figures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"accuracy": acc, "loss": history.loss, "predictions": preds.tolist(),
            "files": files, "seconds": clock.elapsed}


if __name__ == "__main__":
    main(sys.argv[1:])
