"""Seed 004: a softmax classifier with L2 regularisation on the 8x8 digits or CIFAR-10.

One hidden layer, on the 8x8 handwritten digits or on CIFAR-10 read from local files.
Network ``x (pixels) -> h = f(W1 x + b1) -> z = W2 h + b2 (10 logits)``; loss the
softmax cross-entropy ``L = 1/n sum_i (ln sum_k e^(z_ik) - z_i,y_i)`` plus the L2 term
``lambda / (2 n) (||W1||^2 + ||W2||^2)`` (weights only, n = training samples; its
gradient is ``(lambda / n) W``). Training: stochastic gradient descent on random
mini-batches, one step per iteration; the loss, training accuracy and validation
accuracy are printed every 100 iterations. With small initial weights every logit is
near 0, so the first loss is close to ``ln 10 = 2.3026`` (checked).

``--data digits`` (default): the scikit-learn digits (1797 images of 64 pixels,
bundled, no download); 20% of them (stratified) are held out for validation.
``--data cifar10 --root DIR``: the seed's own data set, CIFAR-10 (32x32 colour images,
3072 inputs), read by :func:`micrograd_mlp.nets.data.load_cifar10` from the "CIFAR-10 binary
version" (``cifar-10-binary.tar.gz`` or its unpacked files) in DIR; nothing is
downloaded, and without the files the demo says where to get them. The first
``--n-train`` training images are used (centred by their per-pixel mean) and the first
``--n-test`` test images serve as the validation set.
Hidden activations compared: ReLU, Leaky ReLU, SWISH (x sigmoid(x)) and SELU.

    python demos/softmax_digits.py [--hidden 16] [--iterations 1000] [--quick]
    python demos/softmax_digits.py --data cifar10 --root ~/data [--n-train 5000]
"""
from __future__ import annotations

import math
import sys

import numpy as np

try:
    from . import _common
except ImportError:
    import _common

from micrograd_mlp import MLP, data, losses, optim

from micrograd_mlp.nets import compiled_step
from micrograd_mlp.errors import GradientError
from micrograd_mlp.errors import DataError
from micrograd_mlp.views.plots_training import plot_learning_curves, plot_weight_images
from micrograd_mlp.nets.train import predict, train_step

ACTIVATIONS = {"ReLU": "relu", "Leaky ReLU": "leaky_relu", "SWISH": "swish", "SELU": "selu"}


def small_normal(std: float):
    """An initialiser ``w ~ N(0, std^2)`` (biases are 0)."""
    def init(d_in, d_out, rng):
        return rng.normal(0.0, std, size=(d_out, d_in))
    init.__name__ = f"normal_{std:g}"
    return init


def full_loss(model: MLP, X, y, lam: float, n: int) -> float:
    """Cross-entropy over all of ``X`` plus the L2 term, from numpy predictions."""
    z = predict(model, X)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    ce = float(np.mean(lse - z[np.arange(len(y)), y]))
    W, _ = model.get_parameters()
    return ce + lam / (2 * n) * sum(float(np.sum(w ** 2)) for w in W)


def train_classifier(activation: str, Xtr, ytr, Xva, yva, *, hidden: int, iterations: int,
                     batch_size: int, lr: float, lam: float, init_std: float, seed: int,
                     every: int = 100, say=print, name: str = ""):
    """Train one network; returns a dict with the model and the curves recorded every
    ``every`` iterations (iteration, mini-batch loss, training and validation accuracy)."""
    n = len(ytr)
    model = MLP(Xtr.shape[1], [hidden, 10], activation=activation, out_activation=None,
                init=small_normal(init_std), seed=seed)

    def loss_fn(logits, target):
        return losses.softmax_cross_entropy(logits, target) + losses.l2(model, lam, n)

    opt = optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    step = None
    try:
        pass
        step = compiled_step.compile_step(model, loss_fn)
    except ImportError:  # pragma: no cover - replay is an optional speed-up
        pass
    curve = {"iteration": [], "loss": [], "train_acc": [], "val_acc": []}
    first = full_loss(model, Xtr, ytr, lam, n)
    for it in range(iterations + 1):
        if it % every == 0 or it == iterations:
            tr = float(np.mean(predict(model, Xtr).argmax(axis=1) == ytr))
            va = float(np.mean(predict(model, Xva).argmax(axis=1) == yva))
            loss = full_loss(model, Xtr, ytr, lam, n)
            for k, v in zip(curve, (it, loss, tr, va)):
                curve[k].append(v)
            say(f"  {name} iteration {it:5d} / {iterations}: loss {loss:.6f}  "
                f"train acc {tr:.3f}  val acc {va:.3f}")
        if it == iterations:
            break
        idx = rng.choice(n, size=batch_size, replace=False)
        if step is not None:
            try:
                compiled_step.replayed_train_step(step, Xtr[idx], ytr[idx], opt)
                continue
            except GradientError:  # the graph could not be replayed: build it each step
                step = None
        train_step(model, Xtr[idx], ytr[idx], loss_fn, opt)
    return {"model": model, "curve": curve, "first_loss": first,
            "val_acc": curve["val_acc"][-1], "train_acc": curve["train_acc"][-1],
            "loss": curve["loss"][-1]}


def load_data(args, say):
    """The training and validation sets of ``--data``, with a description and the
    shape that shows one row of ``X`` as an image."""
    if args.data == "digits":
        X, y = data.digits(seed=args.seed)
        Xtr, ytr, Xva, yva = data.train_val_split(X, y, val_fraction=0.2, seed=args.seed)
        return Xtr, ytr, Xva, yva, "8x8 digits", (8, 8)
    n_train = min(args.n_train, 500) if args.quick else args.n_train
    n_test = min(args.n_test, 200) if args.quick else args.n_test
    Xtr, ytr, Xva, yva = data.load_cifar10(args.root, n_train=n_train, n_test=n_test)
    # centring each pixel by its training mean, as usual for CIFAR-10, keeps the first
    # layer's inputs around 0 (all pixels in [0, 1] would push every unit one way)
    mean = Xtr.mean(axis=0)
    say(f"CIFAR-10 from {args.root}: the first {len(ytr)} training and {len(yva)} test images, "
        "pixels / 255 minus their per-pixel training mean")
    return Xtr - mean, ytr, Xva - mean, yva, "CIFAR-10", (3, 32, 32)


def curves_figure(plt, runs):
    """Training loss (left) and training/validation accuracy (right) of every run."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    xs = {k: r["curve"]["iteration"] for k, r in runs.items()}
    plot_learning_curves({k: r["curve"]["loss"] for k, r in runs.items()}, ax=axes[0], x=xs,
                         title="Training loss (cross-entropy + L2)", xlabel="iteration",
                         ylabel="loss")
    axes[0].axhline(math.log(10), color="k", ls=":", lw=1, label="ln 10")
    axes[0].legend()
    curves, cx = {}, {}
    for k, r in runs.items():
        curves[f"{k} train"] = r["curve"]["train_acc"]
        curves[f"{k} validation"] = r["curve"]["val_acc"]
        cx[f"{k} train"] = cx[f"{k} validation"] = r["curve"]["iteration"]
    plot_learning_curves(curves, ax=axes[1], x=cx, title="Accuracy", xlabel="iteration",
                         ylabel="accuracy")
    for line in axes[1].get_lines():
        if line.get_label().endswith("train"):
            line.set_linestyle("--")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def rgb_weight_images(plt, W, title: str, ncols: int = 8):
    """Each hidden unit's 3072 incoming weights as a 32x32 colour image (channels R, G,
    B), each stretched to [0, 1] on its own: ``(w - min) / (max - min)``."""
    n = W.shape[0]
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.4 * nrows + 0.6), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            img = W[k].reshape(3, 32, 32).transpose(1, 2, 0)
            span = float(img.max() - img.min()) or 1.0
            ax.imshow((img - img.min()) / span)
            ax.set_title(f"unit {k}", fontsize=7)
    fig.suptitle(title)
    return fig


def main(argv=None) -> dict:
    """Run the demo with command-line ``argv``; returns its numbers (first loss, final
    losses and accuracies per activation, the files written)."""
    parser = _common.make_parser("softmax_digits", __doc__.split("\n")[0])
    parser.add_argument("--data", choices=["digits", "cifar10"], default="digits",
                        help="8x8 digits (bundled, default) or CIFAR-10 from --root")
    parser.add_argument("--root", default=str(_common.REPO_DIR / "data"),
                        help="folder holding cifar-10-binary.tar.gz or its unpacked files "
                             "(default: data/ in the repository)")
    parser.add_argument("--n-train", type=int, default=5000,
                        help="CIFAR-10 training images used (default 5000)")
    parser.add_argument("--n-test", type=int, default=1000,
                        help="CIFAR-10 test images used for validation (default 1000)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    parser.add_argument("--iterations", type=int, default=1000, help="SGD steps (default 1000)")
    parser.add_argument("--batch-size", type=int, default=200, help="mini-batch size (default 200)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--reg", type=float, default=1e-3, help="L2 strength lambda (default 1e-3)")
    parser.add_argument("--init-std", type=float, default=0.05,
                        help="std of the initial weights (default 0.05)")
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS),
                        choices=list(ACTIVATIONS), help="hidden activations to compare")
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    clock = _common.Stopwatch()
    iterations = min(args.iterations, 300) if args.quick else args.iterations
    try:
        Xtr, ytr, Xva, yva, name, image_shape = load_data(args, say)
    except DataError as err:
        parser.exit(2, f"{parser.prog}: {err}\n")
    say(f"{name}: {len(ytr)} training, {len(yva)} validation images; "
        f"MLP({Xtr.shape[1]}, [{args.hidden}, 10]), softmax cross-entropy + L2 (lambda "
        f"{args.reg:g}); SGD lr {args.lr}, batches of {args.batch_size}, {iterations} iterations")
    runs = {}
    for label in args.activations:
        say(f"\n{label}:")
        runs[label] = train_classifier(
            ACTIVATIONS[label], Xtr, ytr, Xva, yva, hidden=args.hidden, iterations=iterations,
            batch_size=min(args.batch_size, len(ytr)), lr=args.lr, lam=args.reg,
            init_std=args.init_std, seed=args.seed, say=say, name=label)
    first = runs[args.activations[0]]["first_loss"]
    say(f"\nfirst loss ({args.activations[0]}, initial weights N(0, {args.init_std:g}^2)): "
        f"{first:.4f}; ln 10 = {math.log(10):.4f}; difference {abs(first - math.log(10)):.4f}")
    say("\nAfter training:")
    say(_common.table(["activation", "first loss", "final loss", "train acc", "val acc"],
                      [(k, r["first_loss"], r["loss"], f"{r['train_acc']:.3f}", f"{r['val_acc']:.3f}")
                       for k, r in runs.items()]))

    plt = _common.use_agg()
    stem = "softmax_digits" if args.data == "digits" else "softmax_cifar10"
    files = _common.save_figure(curves_figure(plt, runs), args.out, f"{stem}_curves")
    main_label = args.activations[0]
    W, _ = runs[main_label]["model"].get_parameters()
    title = f"First-layer weights of the {main_label} network (one image per hidden unit)"
    if len(image_shape) == 3:
        fig = rgb_weight_images(plt, W[0], title + "\ncolours stretched to each unit's own "
                                                   "weight range")
    else:
        fig = plot_weight_images(W[0], shape=image_shape, ncols=8, title=title)
    files += _common.save_figure(fig, args.out, f"{stem}_weights")
    say(f"\nfigures: {', '.join(files)}   ({clock.elapsed:.1f} s)")
    return {"data": args.data, "n_train": len(ytr), "n_val": len(yva),
            "first_loss": first, "ln10": math.log(10),
            "val_acc": {k: r["val_acc"] for k, r in runs.items()},
            "train_acc": {k: r["train_acc"] for k, r in runs.items()},
            "final_loss": {k: r["loss"] for k, r in runs.items()},
            "files": files, "seconds": clock.elapsed}


if __name__ == "__main__":
    main(sys.argv[1:])
