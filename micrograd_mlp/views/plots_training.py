"""matplotlib figures of training results: learning curves, decision regions, ground
truth beside prediction, regression fits, hidden-unit outputs, error against a
parameter, and first-layer weights as images.

Every function takes plain numpy arrays (or a callable that maps an ``(m, d)`` array
to ``m`` numbers), draws into ``ax`` when one is given (else a new figure), labels
its axes and returns the matplotlib ``Figure``. matplotlib is imported inside the
functions so that importing this module costs nothing.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..core import atomic_files
from ..core.validate import (
    check_array, check_callable, check_file_to_write, check_flag, check_int, check_iterable,
    check_mapping, check_real, check_text,
)
from ..errors import ArgumentError, DataTypeError, ShapeError
from .plots import save_figure

__all__ = [
    "plot_history", "plot_learning_curves", "plot_decision_region", "plot_truth_vs_prediction",
    "plot_regression_fits", "plot_hidden_units", "plot_error_vs", "plot_weight_images",
]


def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        fig, ax = _plt().subplots(figsize=figsize)
        return fig, ax
    if not (callable(getattr(ax, "plot", None)) and hasattr(ax, "figure")):
        raise DataTypeError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__} "
                            f"({ax!r:.40})")
    return ax.figure, ax


def _labels(**texts) -> None:
    """Check that each title or axis label is a string."""
    for what, text in texts.items():
        check_text(text, what)


def _curves(curves, what: str, flat: bool = False):
    """``{label: 1-D float array}`` of a mapping label -> values (``flat``: values of
    any shape, flattened)."""
    out = {}
    for label, ys in check_mapping(curves, what).items():
        ys = check_array(ys, f"{what}[{label!r}]", None if flat else 1, dtype=float)
        out[check_text(label, f"a label of {what}")] = ys.ravel()
    return out


def _points(X, y, what: str):
    """``X`` as an (n, 2) float array of finite points and ``y`` as n labels."""
    X = check_array(X, "X", 2, finite=True, dtype=float)
    if X.shape[1] != 2 or len(X) == 0:
        raise ShapeError(f"X must hold points of the plane, shape (n, 2) with n >= 1, got {X.shape}")
    y = check_array(y, what, dtype=float).ravel()
    if len(y) != len(X):
        raise ShapeError(f"{what} holds {len(y)} labels for {len(X)} points")
    return X, y


def _samples(X, y, x_what: str, y_what: str):
    """One-input samples: ``X`` and ``y`` as 1-D float arrays of the same length."""
    X = check_array(X, x_what, dtype=float).ravel()
    y = check_array(y, y_what, dtype=float).ravel()
    if len(X) != len(y):
        raise ShapeError(f"{x_what} holds {len(X)} values but {y_what} {len(y)}")
    return X, y


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
    curves = _curves(curves, "curves")
    xs_of = _curves(x, "x") if x is not None else {}
    for label, xs in xs_of.items():
        if label in curves and len(xs) != len(curves[label]):
            raise ShapeError(f"x[{label!r}] holds {len(xs)} values for a curve of {len(curves[label])}")
    logy = check_flag(logy, "logy")
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    fig, ax = _axes(ax)
    for label, ys in curves.items():
        xs = xs_of.get(label, np.arange(1, len(ys) + 1))
        ax.plot(xs, ys, label=label, lw=1.5)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_history(history, path=None, *, title: str = "Learning curve", log_loss: bool = True):
    """The curves of a training run (a :class:`~micrograd_mlp.nets.history.History`, or any
    object with its ``loss``, ``val_loss``, ``metrics``, ``val_metrics`` lists): the
    train and validation loss per epoch (log scale when ``log_loss`` and every loss is
    > 0) and, when metrics were measured, a second panel with them. With ``path``, also
    written by :func:`save_figure`. Returns the figure."""
    if not hasattr(history, "loss"):
        raise DataTypeError(f"history must be a History (or an object with a loss list), "
                            f"not {type(history).__name__} ({history!r:.40})")
    loss = list(check_array(history.loss, "history.loss", 1, dtype=float))
    if not loss:
        raise ArgumentError("nothing to plot: the history is empty")
    metrics = _curves(getattr(history, "metrics", None) or {}, "history.metrics")
    val_metrics = _curves(getattr(history, "val_metrics", None) or {}, "history.val_metrics")
    val_loss = list(check_array(getattr(history, "val_loss", None) or [], "history.val_loss",
                                1, dtype=float))
    if path is not None:
        check_file_to_write(path)
    log_loss = check_flag(log_loss, "log_loss")
    check_text(title, "title")
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
        save_figure(fig, path, dpi=120)
    return fig


def plot_decision_region(predict: Callable[[np.ndarray], np.ndarray], X, y, ax=None, *,
                         title: str = "Decision region", resolution: int = 120,
                         margin: float = 0.25, threshold: float = 0.5,
                         xlabel: str = "x[0]", ylabel: str = "x[1]"):
    """Shade the plane by ``predict`` (an ``(m, 2)`` array -> ``m`` scores in [0, 1],
    such as a sigmoid output), draw the ``threshold`` contour (the decision boundary)
    and the labelled points ``(X, y)`` on top. ``resolution``: grid points per side
    (2 to 2000)."""
    check_callable(predict, "predict")
    X, y = _points(X, y, "y")
    resolution = check_int(resolution, "resolution", minimum=2, maximum=2000)
    margin = check_real(margin, "margin", 0.0)
    threshold = check_real(threshold, "threshold")
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    fig, ax = _axes(ax, figsize=(5.5, 4.5))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    z = check_array(predict(grid), "predict(grid)", dtype=float)
    if z.size != g0.size:
        raise ShapeError(f"predict must map an (m, 2) array to m scores: got {z.size} numbers "
                         f"for m = {g0.size}")
    z = z.reshape(g0.shape)
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
    X, y_true = _points(X, y_true, "y_true")
    y_pred = _points(X, y_pred, "y_pred")[1]
    y_true, y_pred = y_true.astype(int), y_pred.astype(int)
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    plt = _plt()
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
    X_train, y_train = _samples(X_train, y_train, "X_train", "y_train")
    grid = check_array(grid, "grid", (1, 2), dtype=float).ravel()
    fits = _curves(fits, "fits", flat=True)
    for label, pred in fits.items():
        if len(pred) != len(grid):
            raise ShapeError(f"fits[{label!r}] holds {len(pred)} predictions for a grid of {len(grid)}")
    if X_test is not None:
        X_test, y_test = _samples(X_test, y_test, "X_test", "y_test")
    if truth is not None:
        check_callable(truth, "truth")
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    fig, ax = _axes(ax, figsize=(7, 4.2))
    if X_test is not None:
        ax.scatter(X_test, y_test, s=8, c="0.6", label="test data")
    if len(X_train):
        ax.scatter(X_train, y_train, s=22, c="k", label="training data", zorder=3)
    if truth is not None:
        ax.plot(grid, check_array(truth(grid), "truth(grid)", dtype=float) * np.ones_like(grid),
                "k--", lw=1, label="true function")
    for label, pred in fits.items():
        ax.plot(grid, pred, lw=1.6, label=label)
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
    grid = check_array(grid, "grid", (1, 2), dtype=float).ravel()
    hidden = np.atleast_2d(check_array(hidden, "hidden", (1, 2), dtype=float))
    if hidden.shape[1] != len(grid):
        raise ShapeError(f"hidden must have shape (n_hidden, {len(grid)}) for a grid of "
                         f"{len(grid)} points, got {hidden.shape}")
    if output is not None:
        output = check_array(output, "output", dtype=float).ravel()
        if len(output) != len(grid):
            raise ShapeError(f"output holds {len(output)} values for a grid of {len(grid)}")
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    fig, ax = _axes(ax)
    for k, h in enumerate(hidden):
        ax.plot(grid, h, lw=1.2, label=f"hidden unit {k}")
    if output is not None:
        ax.plot(grid, output, "k--", lw=2, label="network output")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2 if len(hidden) > 5 else 1)
    return fig


def plot_error_vs(xs, errors: Mapping[str, Sequence[float]], ax=None, *,
                  title: str = "Error", xlabel: str = "n", ylabel: str = "error",
                  logx: bool = False, logy: bool = False, categorical: bool = False):
    """Error (one line per entry of ``errors``) against a parameter ``xs``.
    With ``categorical`` the xs are drawn as evenly spaced labels."""
    categorical = check_flag(categorical, "categorical")
    logx, logy = check_flag(logx, "logx"), check_flag(logy, "logy")
    xs = list(check_iterable(xs, "xs"))
    pos = np.arange(len(xs)) if categorical else check_array(xs, "xs", 1, dtype=float)
    errors = _curves(errors, "errors")
    for label, e in errors.items():
        if len(e) != len(pos):
            raise ShapeError(f"errors[{label!r}] holds {len(e)} values for {len(pos)} xs")
    _labels(title=title, xlabel=xlabel, ylabel=ylabel)
    fig, ax = _axes(ax)
    for label, e in errors.items():
        ax.plot(pos, e, "o-", label=label)
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
    W = check_array(W, "W", (1, 2), dtype=float)
    W = np.atleast_2d(W)
    n = W.shape[0]
    shape = tuple(check_int(v, f"shape[{i}]", minimum=1) for i, v in enumerate(
        check_iterable(shape, "shape")))
    if n == 0 or int(np.prod(shape)) != W.shape[1]:
        raise ShapeError(f"each row of W (length {W.shape[1]}) must fill an image of shape {shape}")
    ncols = min(check_int(ncols, "ncols", minimum=1), n)
    check_text(title, "title")
    plt = _plt()
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
