"""Seed 002: regression of a noisy sinusoid with 0 to 100 hidden neurons.

Data: x uniform in [0, 10], y = sin(x) + N(0, 0.1^2); 40 training points
and 200 test points. Models: ``MLP(1, [h, 1])`` with tanh hidden units and a linear
output (h = 0 is a straight line), mean squared error, full-batch Adam.

Initialisation: each hidden unit tanh(w x + b) starts with a random slope
w ~ N(0, 4^2) and its centre -b/w at a random point of [0, 10] (so units start spread
over the data, as in a random-feature model); output weights are Xavier normal.
With many such units the network can bend through every noisy training point: the
training error keeps falling while the test error rises again (over-fitting).

Experiments (seed 002, section 2):
  a) train and test error for h = 0, 1, 2, 3, 10, 50, 100;
  b) 10 runs with 2 hidden neurons from different initial weights: different optima,
     each beside the no-hidden-unit baseline (training MSE near 0.5);
  c/d) every hidden neuron's output for h = 2, 3 and 10;
  e) a deeper network with hidden layers of 3, 5 and 4 units, ReLU against sigmoid.

    python demos/sinusoid.py [--epochs 2000] [--lr 0.01] [--activation tanh] [--quick]
"""
from __future__ import annotations

import sys

import numpy as np

try:
    from . import _common
except ImportError:
    import _common

from micrograd_mlp import MLP, data, no_grad
from micrograd_mlp.views.plots_training import plot_error_vs, plot_hidden_units, plot_regression_fits
from micrograd_mlp.nets.train import fit, predict

HIDDEN = (0, 1, 2, 3, 10, 50, 100)
LOW, HIGH = 0.0, 10.0


def make_net(sizes, activation: str, seed: int, slope: float = 4.0) -> MLP:
    """``MLP(1, sizes + [1])`` with a linear output. The first hidden layer's units
    get slopes ``w ~ N(0, slope^2)`` and centres ``-b/w ~ U(0, 10)``; later layers keep
    the library's initialisation (He normal for ReLU, Xavier normal otherwise)."""
    sizes = list(sizes)
    if not sizes:
        return MLP(1, [1], activation=None, seed=seed)
    init = "he_normal" if activation == "relu" else "xavier_normal"
    model = MLP(1, sizes + [1], activation=activation, out_activation=None, init=init, seed=seed)
    rng = np.random.default_rng([seed, 2])
    weights, biases = model.get_parameters()
    w = rng.normal(0.0, slope, size=sizes[0])
    centres = rng.uniform(LOW, HIGH, size=sizes[0])
    weights[0] = w.reshape(-1, 1)
    biases[0] = -w * centres
    model.set_parameters(weights, biases)
    return model


def train(model: MLP, X, y, epochs: int, lr: float):
    """Full-batch Adam on the mean squared error; returns the History."""
    return fit(model, X, y, loss="mse", optimizer="adam", lr=lr, epochs=epochs,
               metrics=(), progress=False)


def mse(model: MLP, X, y) -> float:
    """``1/n sum (y - model(x))^2``."""
    return float(np.mean((predict(model, X) - y) ** 2))


def hidden_outputs(model: MLP, grid) -> np.ndarray:
    """Each first-layer unit's output on ``grid``: shape ``(h, len(grid))``."""
    with no_grad():
        model.forward(np.asarray(grid).reshape(-1, 1))
    return np.array([np.broadcast_to(v.data, len(grid)) for v in model.intermediates["x1"]])


def main(argv=None) -> dict:
    parser = _common.make_parser("sinusoid", __doc__.split("\n")[0])
    parser.set_defaults(seed=1)
    parser.add_argument("--epochs", type=int, default=2000, help="Adam steps per model (default 2000)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    parser.add_argument("--activation", default="tanh", choices=["tanh", "sigmoid"],
                        help="hidden activation of experiments a-d (default tanh)")
    parser.add_argument("--repeats", type=int, default=10, help="runs with 2 hidden neurons (default 10)")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    epochs = min(args.epochs, 1000) if args.quick else args.epochs
    repeats = min(args.repeats, 4) if args.quick else args.repeats

    Xtr, ytr, Xte, yte = data.sinusoid(n_train=40, n_test=200, sigma=0.1, seed=args.seed)
    grid = np.linspace(LOW, HIGH, 400)
    say(f"Noisy sinusoid: {len(ytr)} training and {len(yte)} test points, y = sin(x) + N(0, 0.1^2)")
    say(f"MLP(1, [h, 1]), {args.activation} hidden, linear output, MSE, full-batch Adam "
        f"lr {args.lr}, {epochs} epochs\n")

    # a) hidden-layer width
    models, train_err, test_err = {}, [], []
    for h in HIDDEN:
        model = make_net([h] if h else [], args.activation, seed=args.seed)
        train(model, Xtr, ytr, epochs, args.lr)
        models[h] = model
        train_err.append(mse(model, Xtr, ytr))
        test_err.append(mse(model, Xte, yte))
    A = np.hstack([Xtr, np.ones_like(Xtr)])
    line_mse = float(np.mean((A @ np.linalg.lstsq(A, ytr, rcond=None)[0] - ytr) ** 2))
    say("a) training and test error against the number of hidden neurons")
    say(_common.table(["hidden", "train MSE", "test MSE"],
                      [(h, a, b) for h, a, b in zip(HIDDEN, train_err, test_err)]))
    best = int(np.argmin(test_err))
    say(f"   least-squares line (closed form): train MSE {line_mse:.4f}; lowest test error at "
        f"h = {HIDDEN[best]}; h = 100 has the lowest training error and a test error "
        f"{test_err[-1] / test_err[best]:.1f}x the best: over-fitting.")

    # b) repeated runs with 2 hidden neurons
    baseline = train_err[0]
    repeat_models, repeat_err = [], []
    for r in range(repeats):
        model = make_net([2], args.activation, seed=100 + r)
        train(model, Xtr, ytr, epochs, args.lr)
        repeat_models.append(model)
        repeat_err.append(mse(model, Xtr, ytr))
    say(f"\nb) {repeats} runs with 2 hidden neurons (different initial weights)")
    say(_common.table(["run", "train MSE", "no-hidden baseline"],
                      [(r, e, baseline) for r, e in enumerate(repeat_err)]))
    say(f"   distinct optima: training MSE from {min(repeat_err):.4f} to {max(repeat_err):.4f}")

    # e) 3-5-4 network, ReLU against sigmoid
    deep = {}
    for act in ("relu", "sigmoid"):
        model = make_net([3, 5, 4], act, seed=args.seed)
        train(model, Xtr, ytr, epochs, args.lr)
        deep[act] = (model, mse(model, Xtr, ytr), mse(model, Xte, yte))
    say("\ne) hidden layers of 3, 5 and 4 units")
    say(_common.table(["activation", "train MSE", "test MSE"],
                      [(a, v[1], v[2]) for a, v in deep.items()]))

    plt = _common.use_agg()
    files = []
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.3))
    plot_regression_fits(Xtr, ytr, grid, {f"h = {h}": predict(models[h], grid) for h in HIDDEN},
                         ax=axes[0], X_test=Xte, y_test=yte, truth=np.sin,
                         title="a) fits with h hidden neurons", ylabel="y")
    axes[0].set_ylim(-2, 2)
    plot_error_vs(HIDDEN, {"train MSE": train_err, "test MSE": test_err}, ax=axes[1],
                  categorical=True, logy=True, title="a) error vs hidden neurons (over-fitting)",
                  xlabel="hidden neurons h", ylabel="mean squared error")
    fig.tight_layout()
    files += _common.save_figure(fig, args.out, "sinusoid_width")

    ncols = 5
    nrows = int(np.ceil(repeats / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False,
                             sharey=True)
    for r, ax in enumerate(axes.ravel()):
        if r >= repeats:
            ax.axis("off")
            continue
        ax.scatter(Xtr[:, 0], ytr, s=8, c="k", label="training data")
        ax.plot(grid, predict(repeat_models[r], grid), lw=1.6, label="2 hidden neurons")
        ax.plot(grid, predict(models[0], grid), "--", c="0.5", lw=1, label="no hidden unit")
        ax.set_title(f"run {r}: train MSE {repeat_err[r]:.3f}\n(baseline {baseline:.3f})", fontsize=8)
        ax.set_xlabel("x")
        ax.set_ylim(-1.6, 1.6)
        if r % ncols == 0:
            ax.set_ylabel("y")
        if r == 0:
            ax.legend(fontsize=6)
    fig.suptitle("b) repeated runs with 2 hidden neurons: different optima")
    fig.tight_layout()
    files += _common.save_figure(fig, args.out, "sinusoid_repeats")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, h in zip(axes, (2, 3, 10)):
        plot_hidden_units(grid, hidden_outputs(models[h], grid), predict(models[h], grid), ax=ax,
                          title=f"d) {h} hidden neurons: each unit's output",
                          ylabel=f"{args.activation}(w x + b), network output")
    fig.tight_layout()
    files += _common.save_figure(fig, args.out, "sinusoid_hidden_units")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    plot_regression_fits(Xtr, ytr, grid,
                         {f"3-5-4 {a} (train {v[1]:.3f}, test {v[2]:.3f})": predict(v[0], grid)
                          for a, v in deep.items()},
                         ax=ax, X_test=Xte, y_test=yte, truth=np.sin,
                         title="e) hidden layers 3-5-4: ReLU vs sigmoid", ylabel="y")
    files += _common.save_figure(fig, args.out, "sinusoid_354")
    say(f"\nfigures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"hidden": list(HIDDEN), "train_mse": train_err, "test_mse": test_err,
            "line_mse": line_mse, "repeat_train_mse": repeat_err, "baseline_train_mse": baseline,
            "deep": {a: {"train_mse": v[1], "test_mse": v[2]} for a, v in deep.items()},
            "files": files, "seconds": clock.elapsed}


if __name__ == "__main__":
    main(sys.argv[1:])
