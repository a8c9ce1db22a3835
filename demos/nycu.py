"""Seed 003: a network with two hidden layers on generate_linear and generate_XOR_easy.

Network ``MLP(2, [8, 8, 1])``, sigmoid everywhere, mean squared error
``L = 1/n sum_i (yhat_i - y_i)^2``, full-batch gradient descent with learning rate
1.0, stopping when the epoch loss drops below epsilon = 0.005 or after 20000 epochs;
the loss is printed every 500 epochs. Then: the ground truth beside the prediction,
the learning curves, a summary of the per-sample listing (``--full`` prints every
sample), and sweeps of one setting at a time (learning rate, hidden units,
with/without activation, SGD vs Adam, sigmoid vs tanh hidden units). Every sweep
run follows the main run's stopping rule on both data sets, and the figure and the
table report, per configuration, the epochs it took to reach 0.005 (or "not
reached") and its final accuracy.

    python demos/nycu.py [--max-epochs 20000] [--full] [--quick]
"""
from __future__ import annotations

import sys

import numpy as np

try:
    from . import _common
except ImportError:
    import _common

from micrograd_mlp import MLP, data
from micrograd_mlp.views.plots_training import plot_learning_curves, plot_truth_vs_prediction
from micrograd_mlp.nets.train import accuracy, fit, listing, predict

EPSILON = 0.005
NOT_REACHED = "not reached"
BASE = {"lr": 1.0, "hidden": 8, "activation": "sigmoid", "optimizer": "sgd"}
# each sweep changes one setting of BASE; Adam's usual step is much smaller than SGD's
SWEEPS = {
    "learning rate": [{"lr": 0.1}, {"lr": 1.0}, {"lr": 10.0}],
    "hidden units": [{"hidden": 2}, {"hidden": 4}, {"hidden": 8}, {"hidden": 16}],
    # a linear network diverges at lr 1.0 (nothing bounds its outputs), so it gets 0.1
    "activation or none": [{"activation": "sigmoid"}, {"activation": None, "lr": 0.1}],
    "optimizer": [{"optimizer": "sgd"}, {"optimizer": "adam", "lr": 0.01}],
    "hidden activation": [{"activation": "sigmoid"}, {"activation": "tanh"}],
}


def describe(cfg) -> str:
    """A short label of a configuration."""
    act = cfg["activation"] or "no activation"
    return f"{cfg['optimizer']} lr {cfg['lr']:g}, {cfg['hidden']} units, {act}"


def setting_label(change) -> str:
    """The settings a sweep changes, e.g. ``"activation none, lr 0.1"``."""
    return ", ".join(f"{k} {v if v is not None else 'none'}" for k, v in change.items())


def build(cfg, seed: int) -> MLP:
    """``MLP(2, [h, h, 1])``: ``activation`` on the hidden layers (None = linear
    network), a sigmoid output, except that the network without activation is linear
    all through (seed 003's "without activation functions")."""
    act = cfg["activation"]
    out = "sigmoid" if act is not None else None
    return MLP(2, [cfg["hidden"], cfg["hidden"], 1], activation=act, out_activation=out,
               init="xavier_normal", seed=seed)


def run(cfg, X, y, epochs: int, seed: int, print_every=None, file=None):
    """Train one configuration until the epoch loss is below ``EPSILON`` or for
    ``epochs`` epochs; returns (model, history, accuracy)."""
    model = build(cfg, seed)
    hist = fit(model, X, y, loss="mse", optimizer=cfg["optimizer"], lr=cfg["lr"],
               epochs=epochs, epsilon=EPSILON, print_every=print_every, progress=False,
               file=file, metrics=())
    return model, hist, accuracy(model, X, y)


def epochs_to_epsilon(history):
    """The epoch whose loss first fell below ``EPSILON`` (training stops there), or
    None when the run ended without reaching it."""
    return history.epochs if history.loss and history.loss[-1] < EPSILON else None


def reached_text(epochs) -> str:
    """``"1490"`` or ``"not reached"``."""
    return NOT_REACHED if epochs is None else str(epochs)


def running_mean_log(values, window: int) -> np.ndarray:
    """A smoothed loss curve: ``exp`` of the running mean of ``log(loss)`` over a
    centred window of ``window`` values, rounded up to an even count so that a loss
    flipping between two values every other epoch averages out; the ends are padded
    with the first and last value so the result has the input's length."""
    v = np.asarray(values, dtype=float)
    width = max(2, window + window % 2)
    if v.size <= 2:
        return v.copy()
    logs = np.pad(np.log(v), (width // 2, width // 2 - 1), mode="edge")
    return np.exp(np.lib.stride_tricks.sliding_window_view(logs, width).mean(axis=1))


def log_bins(n: int, bins: int = 400) -> np.ndarray:
    """Start indices of about ``bins`` runs of epochs, evenly spaced on a log axis
    (every epoch at first, longer runs later), always starting at 0 and ending with
    the last epoch: a curve of ``n`` points drawn through them looks the same on a log
    axis at a fraction of the points."""
    if n <= bins:
        return np.arange(n)
    starts = np.unique(np.geomspace(1, n, bins).astype(int) - 1)
    return np.unique(np.append(starts, n - 1))


def oscillates(values) -> bool:
    """True when the curve goes up on more than 5% of its steps by more than 1%
    (relative): a running mean then shows the trend better than the raw curve."""
    v = np.asarray(values, dtype=float)
    if v.size < 20 or np.any(v <= 0) or not np.all(np.isfinite(v)):
        return False
    return float(np.mean(np.diff(np.log(v)) > 0.01)) > 0.05


def listing_summary(model, X, y, show_wrong: int = 5):
    """A few lines instead of one per sample: correct count, the wrongly classified
    samples (at most ``show_wrong``) and the least confident sample."""
    lines = listing(model, X, y)
    samples, footer = lines[:-1], lines[-1]
    wrong = [s for s in samples if s.endswith("WRONG")]
    p = np.asarray(predict(model, X), dtype=float).reshape(len(y))
    closest = int(np.argmin(np.abs(p - 0.5)))
    out = [footer + (f"; wrongly classified: {len(wrong)}" if wrong else "; no sample wrong")]
    out += ["  " + s for s in wrong[:show_wrong]]
    if len(wrong) > show_wrong:
        out.append(f"  ... and {len(wrong) - show_wrong} more (--full lists every sample)")
    out.append(f"least confident: {samples[closest]}")
    return out


def sweep_runs(sets, budget: int, seed: int, cache: dict):
    """Run every configuration of every sweep on every data set (each one once:
    configurations shared by several sweeps are reused through ``cache``); returns
    ``{sweep: [row, ...]}`` with one dict per (data set, setting)."""
    table = {}
    for sweep, changes in SWEEPS.items():
        rows = []
        for name, (X, y) in sets.items():
            for change in changes:
                cfg = {**BASE, **change}
                key = (name, budget, tuple(sorted((k, str(v)) for k, v in cfg.items())))
                if key not in cache:
                    cache[key] = run(cfg, X, y, budget, seed)
                model, hist, acc = cache[key]
                rows.append({"data": name, "setting": setting_label(change), "config": describe(cfg),
                             "epochs_to_epsilon": epochs_to_epsilon(hist), "epochs": hist.epochs,
                             "final_loss": hist.loss[-1], "accuracy": acc, "loss": hist.loss,
                             "predictions": predict(model, X).reshape(len(y)).tolist()})
        table[sweep] = rows
    return table


def sweep_table(rows, names) -> str:
    """One line per setting, the data sets side by side: epochs to 0.005 (or "not
    reached"), final loss and accuracy."""
    headers = ["setting"]
    for name in names:
        headers += [f"{name}: epochs to {EPSILON}", "final loss", "accuracy"]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    lines = []
    for setting in settings:
        line = [setting]
        for name in names:
            r = next(r for r in rows if r["setting"] == setting and r["data"] == name)
            line += [reached_text(r["epochs_to_epsilon"]), r["final_loss"],
                     f"{100 * r['accuracy']:.1f}%"]
        lines.append(line)
    return _common.table(headers, lines)


def draw_sweep_panel(ax, rows, title: str, budget: int):
    """Loss curves of one sweep on one data set (log-log axes). Where a loss
    oscillates, its running mean of log(loss) is drawn over a faint band spanning the
    raw values; the legend gives each setting's epochs to 0.005 (or "not reached") and
    final accuracy. Returns the legend labels."""
    labels = []
    for i, r in enumerate(rows):
        color = f"C{i}"
        loss = np.asarray(r["loss"], dtype=float)
        ep = np.arange(1, loss.size + 1)
        reached = r["epochs_to_epsilon"]
        label = (f"{r['setting']}: {reached} epochs" if reached is not None
                 else f"{r['setting']}: {NOT_REACHED}") + f", acc {100 * r['accuracy']:.0f}%"
        starts = log_bins(loss.size)
        if oscillates(loss):
            # the raw curve as its band: the lowest and highest loss of each bin
            ax.fill_between(ep[starts], np.minimum.reduceat(loss, starts),
                            np.maximum.reduceat(loss, starts), color=color, alpha=0.25, lw=0)
            smooth = running_mean_log(loss, max(4, loss.size // 40))
            ax.plot(ep[starts], smooth[starts], color=color, lw=1.8, label=label + " (smoothed)")
            labels.append(label + " (smoothed)")
        else:
            ax.plot(ep[starts], loss[starts], color=color, lw=1.8, label=label)
            labels.append(label)
        ax.plot(ep[-1], loss[-1], marker="o" if reached is not None else "x", color=color,
                ms=6, ls="none")
    ax.axhline(EPSILON, color="k", ls=":", lw=1, label=f"epsilon {EPSILON}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1, budget * 1.3)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("epoch (log scale)")
    ax.set_ylabel("MSE loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8.5, loc="lower left")
    return labels


def sweep_figure(plt, table, names, budget: int):
    """One row per sweep, one column per data set; returns (figure, legend labels)."""
    fig, axes = plt.subplots(len(table), len(names), figsize=(6.2 * len(names), 3.3 * len(table)),
                             squeeze=False)
    legends = {}
    for row, (sweep, rows) in enumerate(table.items()):
        for col, name in enumerate(names):
            mine = [r for r in rows if r["data"] == name]
            legends[(sweep, name)] = draw_sweep_panel(axes[row, col], mine,
                                                      f"{sweep}, generate_{name}", budget)
    fig.suptitle(f"Sweeps, one setting at a time (base: SGD lr 1, 8+8 sigmoid units): "
                 f"stop at loss < {EPSILON} or {budget} epochs\n"
                 "o = reached 0.005, x = not reached; where a loss oscillates, its running "
                 "(geometric) mean is drawn over the faint band of its raw values", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.975))
    return fig, legends


def main_runs(sets, args, max_epochs, say, cache):
    """The base configuration on each data set with the loss printed every 500 epochs;
    returns ``{name: {"model", "history", "accuracy"}}`` and fills ``cache``."""
    results = {}
    for name, (X, y) in sets.items():
        say(f"=== generate_{name}: {len(y)} samples; MLP(2, [8, 8, 1]) sigmoid, MSE, full batch, "
            f"lr 1.0, epsilon {EPSILON}, at most {max_epochs} epochs")
        model, hist, acc = run(BASE, X, y, max_epochs, args.seed,
                               print_every=None if args.quiet else 500)
        cache[(name, max_epochs, tuple(sorted((k, str(v)) for k, v in BASE.items())))] = (
            model, hist, acc)
        lines = listing(model, X, y) if args.full else listing_summary(model, X, y)
        say("\n".join(lines))
        say(f"{hist.stop_reason}; final loss {hist.loss[-1]:.5f}, accuracy {100 * acc:.2f}%\n")
        results[name] = {"model": model, "history": hist, "accuracy": acc}
    return results


def main(argv=None) -> dict:
    """Run the demo with command-line ``argv``; returns its numbers (main runs, every
    sweep row with its epochs to 0.005 or None, the legends, the files written)."""
    parser = _common.make_parser("nycu", __doc__.split("\n")[0])
    parser.add_argument("--max-epochs", type=int, default=20000,
                        help="epoch limit of every run (default 20000; seed 003 used 100000)")
    parser.add_argument("--sweep-epochs", type=int, default=None,
                        help="epoch limit of each sweep run (default: --max-epochs)")
    parser.add_argument("--full", action="store_true",
                        help="print every sample's prediction (default: a summary)")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    max_epochs = min(args.max_epochs, 5000) if args.quick else args.max_epochs
    budget = args.sweep_epochs or max_epochs
    budget = min(budget, 1000) if args.quick else budget
    sets = {"linear": data.generate_linear(100, seed=args.seed), "XOR_easy": data.generate_XOR_easy()}
    names = list(sets)
    plt = _common.use_agg()
    files, cache = [], {}

    results = main_runs(sets, args, max_epochs, say, cache)
    for name, (X, y) in sets.items():
        r = results[name]
        fig = plot_truth_vs_prediction(X, y, (predict(r["model"], X) > 0.5).astype(int),
                                       title=f"generate_{name}: ground truth vs prediction "
                                             f"(accuracy {100 * r['accuracy']:.1f}%)")
        files += _common.save_figure(fig, args.out, f"nycu_{name}_prediction")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    plot_learning_curves({f"generate_{k}": r["history"].loss for k, r in results.items()}, ax=ax,
                         logy=True, title="Learning curves (full batch, lr 1.0)",
                         ylabel="MSE loss")
    ax.axhline(EPSILON, color="k", ls=":", lw=1, label=f"epsilon = {EPSILON}")
    ax.legend()
    files += _common.save_figure(fig, args.out, "nycu_learning_curves")

    say(f"=== sweeps (every run: stop at loss < {EPSILON} or after {budget} epochs)")
    table = sweep_runs(sets, budget, args.seed, cache)
    for sweep, rows in table.items():
        say(f"\n-- {sweep}")
        say(sweep_table(rows, names))
    say(plateau_note(results["XOR_easy"]["history"], table))
    fig, legends = sweep_figure(plt, table, names, budget)
    files += _common.save_figure(fig, args.out, "nycu_sweeps")
    say(f"\nfigures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"accuracy": {k: r["accuracy"] for k, r in results.items()},
            "final_loss": {k: r["history"].loss[-1] for k, r in results.items()},
            "epochs": {k: r["history"].epochs for k, r in results.items()},
            "sweep_epochs": budget, "sweeps": table, "legends": legends,
            "files": files, "seconds": clock.elapsed}


def plateau_note(xor_history, table) -> str:
    """Where the base run on XOR_easy left the 0.25 plateau (every output near 0.5),
    and which settings never reached 0.005 there."""
    loss = xor_history.loss
    left = next((i + 1 for i, v in enumerate(loss) if v < 0.2), None)
    stuck = sorted({r["setting"] for rows in table.values() for r in rows
                    if r["data"] == "XOR_easy" and r["epochs_to_epsilon"] is None})
    where = f"left it at epoch {left}" if left else "never left it"
    return (f"\nNote: on XOR_easy, SGD at lr 1.0 with sigmoid units sits on a plateau (loss near "
            f"0.25: every output near 0.5) before it learns; the base run {where}. "
            f"Settings that did not reach {EPSILON} on XOR_easy: "
            f"{'; '.join(stuck) if stuck else 'none'}.")


if __name__ == "__main__":
    main(sys.argv[1:])
