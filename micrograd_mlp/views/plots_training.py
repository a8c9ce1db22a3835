"""matplotlib figures of training results: learning curves, decision regions, ground
truth beside prediction, regression fits, hidden-unit outputs, error against a
parameter, and first-layer weights as images.

Every function takes plain numpy arrays (or a callable that maps an ``(m, d)`` array
to ``m`` numbers), draws into ``ax`` when one is given (else a new figure), labels
its axes and returns the matplotlib ``Figure``. matplotlib is imported inside the
functions so that importing this module costs nothing.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

__all__ = [
    "plot_history", "save_figure", "plot_learning_curves", "plot_decision_region", "plot_truth_vs_prediction",
    "plot_regression_fits", "plot_hidden_units", "plot_error_vs", "plot_weight_images",
]


def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, figsize=(6, 4)):
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_learning_curves(curves: Mapping[str, Sequence[float]], ax=None, *,
                         title: str = "Learning curve", xlabel: str = "epoch",
                         ylabel: str = "loss", logy: bool = False,
                         x: Optional[Mapping[str, Sequence[float]]] = None):
    """One line per entry of ``curves`` (label -> values per epoch). ``x`` optionally
    gives each curve's own x values (e.g. the iterations where it was recorded). A
    training ``History`` in place of ``curves`` draws its train and validation loss
    (:func:`plot_history` adds the metrics)."""
    if not isinstance(curves, Mapping) and hasattr(curves, "loss"):
        history = curves
        curves = {"train loss": history.loss}
        if getattr(history, "val_loss", None):
            curves["validation loss"] = history.val_loss
    fig, ax = _axes(ax)
    for label, ys in curves.items():
        ys = np.asarray(ys, dtype=float)
        xs = np.asarray(x[label]) if x and label in x else np.arange(1, len(ys) + 1)
        ax.plot(xs, ys, label=label, lw=1.5)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def save_figure(fig, path, dpi: int = 120) -> None:
    """Write ``fig`` as ``<path>.png`` and ``<path>.svg`` (the suffix of ``path``, if
    any, is replaced)."""
    stem = os.path.splitext(os.fspath(path))[0]
    fig.savefig(stem + ".png", dpi=dpi)
    fig.savefig(stem + ".svg")


def plot_history(history, path=None, *, title: str = "Learning curve", log_loss: bool = True):
    """The curves of a training run (a :class:`~micrograd_mlp.train.History`, or any
    object with its ``loss``, ``val_loss``, ``metrics``, ``val_metrics`` lists): the
    train and validation loss per epoch (log scale when ``log_loss`` and every loss is
    > 0) and, when metrics were measured, a second panel with them. With ``path``, also
    written by :func:`save_figure`. Returns the figure."""
    loss = list(getattr(history, "loss", None) or [])
    if not loss:
        raise ValueError("nothing to plot: the history is empty")
    metrics = dict(getattr(history, "metrics", {}) or {})
    val_metrics = dict(getattr(history, "val_metrics", {}) or {})
    val_loss = list(getattr(history, "val_loss", []) or [])
    plt = _plt()
    n_panels = 2 if metrics else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4), squeeze=False)
    curves = {"train loss": loss}
    if val_loss:
        curves["validation loss"] = val_loss
    plot_learning_curves(curves, axes[0, 0], title=title,
                         logy=log_loss and min(loss + val_loss) > 0)
    if metrics:
        curves = {f"train {k}": v for k, v in metrics.items()}
        curves.update({f"validation {k}": v for k, v in val_metrics.items()})
        plot_learning_curves(curves, axes[0, 1], title="Metrics", ylabel="metric")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_decision_region(predict: Callable[[np.ndarray], np.ndarray], X, y, ax=None, *,
                         title: str = "Decision region", resolution: int = 120,
                         margin: float = 0.25, threshold: float = 0.5,
                         xlabel: str = "x[0]", ylabel: str = "x[1]"):
    """Shade the plane by ``predict`` (an ``(m, 2)`` array -> ``m`` scores in [0, 1],
    such as a sigmoid output), draw the ``threshold`` contour (the decision boundary)
    and the labelled points ``(X, y)`` on top."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    fig, ax = _axes(ax, figsize=(5.5, 4.5))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    z = np.asarray(predict(grid), dtype=float).reshape(g0.shape)
    cs = ax.contourf(g0, g1, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
    boundary = ax.contour(g0, g1, z, levels=[threshold], colors="k", linewidths=1.5)
    fig.colorbar(cs, ax=ax, label="predicted P(class 1)")
    for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=color, edgecolors="k",
                   s=40, label=f"class {label}", zorder=3)
    # a legend entry only for a boundary that is drawn: when every score of the view
    # lies on one side of the threshold, the contour is empty
    if any(len(seg) for segs in boundary.allsegs for seg in segs):
        ax.plot([], [], "k-", label=f"boundary (p = {threshold})")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return fig


def plot_truth_vs_prediction(X, y_true, y_pred, *, title: str = "",
                             xlabel: str = "x[0]", ylabel: str = "x[1]"):
    """Two panels side by side: the points coloured by their true class, and by the
    predicted class (seed 003's comparison figure). Misclassified points are ringed."""
    plt = _plt()
    X = np.asarray(X, dtype=float)
    y_true = np.asarray(y_true).ravel().astype(int)
    y_pred = np.asarray(y_pred).ravel().astype(int)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
    for ax, labels, name in ((axes[0], y_true, "Ground truth"), (axes[1], y_pred, "Prediction")):
        for label, color in ((0, "tab:blue"), (1, "tab:red")):
            pts = X[labels == label]
            ax.scatter(pts[:, 0], pts[:, 1], c=color, edgecolors="k", s=35, label=f"class {label}")
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    wrong = X[y_true != y_pred]
    if len(wrong):
        axes[1].scatter(wrong[:, 0], wrong[:, 1], facecolors="none", edgecolors="gold",
                        s=140, linewidths=2, label="misclassified")
    axes[0].set_ylabel(ylabel)
    axes[1].legend(fontsize=8)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_regression_fits(X_train, y_train, grid, fits: Mapping[str, np.ndarray], ax=None, *,
                         X_test=None, y_test=None, truth: Optional[Callable] = None,
                         title: str = "Fits", xlabel: str = "x", ylabel: str = "y"):
    """Training points, optional test points and true function, and one line per
    entry of ``fits`` (label -> predictions on ``grid``)."""
    fig, ax = _axes(ax, figsize=(7, 4.2))
    grid = np.asarray(grid, dtype=float).ravel()
    if X_test is not None:
        ax.scatter(np.ravel(X_test), y_test, s=8, c="0.6", label="test data")
    if len(np.ravel(X_train)):
        ax.scatter(np.ravel(X_train), y_train, s=22, c="k", label="training data", zorder=3)
    if truth is not None:
        ax.plot(grid, truth(grid), "k--", lw=1, label="true function")
    for label, pred in fits.items():
        ax.plot(grid, np.asarray(pred).ravel(), lw=1.6, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_hidden_units(grid, hidden: np.ndarray, output=None, ax=None, *,
                      title: str = "Hidden units", xlabel: str = "x",
                      ylabel: str = "activation"):
    """Each hidden neuron's output over ``grid`` (``hidden`` has shape
    ``(n_hidden, len(grid))``), with the network's output dashed if given."""
    fig, ax = _axes(ax)
    grid = np.asarray(grid, dtype=float).ravel()
    for k, h in enumerate(np.atleast_2d(hidden)):
        ax.plot(grid, h, lw=1.2, label=f"hidden unit {k}")
    if output is not None:
        ax.plot(grid, np.asarray(output).ravel(), "k--", lw=2, label="network output")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2 if len(np.atleast_2d(hidden)) > 5 else 1)
    return fig


def plot_error_vs(xs, errors: Mapping[str, Sequence[float]], ax=None, *,
                  title: str = "Error", xlabel: str = "n", ylabel: str = "error",
                  logx: bool = False, logy: bool = False, categorical: bool = False):
    """Error (one line per entry of ``errors``) against a parameter ``xs``.
    With ``categorical`` the xs are drawn as evenly spaced labels."""
    fig, ax = _axes(ax)
    pos = np.arange(len(xs)) if categorical else np.asarray(xs, dtype=float)
    for label, e in errors.items():
        ax.plot(pos, np.asarray(e, dtype=float), "o-", label=label)
    if categorical:
        ax.set_xticks(pos)
        ax.set_xticklabels([str(x) for x in xs])
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_weight_images(W, *, shape=(8, 8), ncols: int = 8, title: str = "First-layer weights"):
    """Each row of ``W`` (one hidden neuron's incoming weights) drawn as an image of
    ``shape``, on a symmetric colour scale (red positive, blue negative)."""
    plt = _plt()
    W = np.atleast_2d(np.asarray(W, dtype=float))
    n = W.shape[0]
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols + 1, 1.3 * nrows + 0.6),
                             squeeze=False)
    vmax = float(np.abs(W).max()) or 1.0
    im = None
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            im = ax.imshow(W[k].reshape(shape), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"unit {k}", fontsize=7)
        else:
            ax.axis("off")
    fig.suptitle(title)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return fig
