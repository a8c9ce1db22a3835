"""What :func:`~micrograd_mlp.nets.train.fit` measures: the :class:`History` of a run and
the metrics (accuracy of class labels, with the score threshold of 0/1 and of -1/+1
labels)."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from ..core.validate import check_array, check_int, check_iterable, check_real
from ..errors import ArgumentError, DataTypeError, ShapeError
from ..functions import losses
from ..functions.targets import numeric_array

__all__ = ["History", "METRICS", "classes_of", "class_accuracy", "class_labels",
           "score_threshold", "select_metrics", "compute_metrics", "epoch_line"]


class History:
    """What :func:`fit` measured, one entry per epoch: ``loss`` and ``val_loss``
    (lists of floats), ``metrics`` and ``val_metrics`` (name -> list), ``lr`` (the
    learning rate each epoch used). ``epochs`` is the number of epochs run,
    ``stopped_early`` tells whether ``epsilon``, a non-finite loss or a callback ended
    training, ``stop_reason`` says why it ended. Draw it with
    :func:`micrograd_mlp.views.plots_training.plot_history`."""

    def __init__(self):
        self.loss: List[float] = []
        self.val_loss: List[float] = []
        self.metrics: Dict[str, List[float]] = {}
        self.val_metrics: Dict[str, List[float]] = {}
        self.lr: List[float] = []
        self.stopped_early = False
        self.stop_reason = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    def as_dict(self) -> Dict:
        """All curves as a plain dict (JSON-ready)."""
        return {"loss": self.loss, "val_loss": self.val_loss, "metrics": self.metrics,
                "val_metrics": self.val_metrics, "lr": self.lr,
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason}

    def logs(self) -> Dict[str, float]:
        """The last epoch's numbers as callbacks receive them: ``loss``, each metric,
        ``val_loss`` and ``val_<metric>`` (with validation data), ``lr``; empty before
        the first epoch."""
        if not self.loss:
            return {}
        out = {"loss": self.loss[-1]}
        out.update({k: v[-1] for k, v in self.metrics.items()})
        if self.val_loss:
            out["val_loss"] = self.val_loss[-1]
        out.update({f"val_{k}": v[-1] for k, v in self.val_metrics.items()})
        out["lr"] = self.lr[-1]
        return out

    def __repr__(self):
        if not self.loss:
            return "History(empty)"
        extra = "".join(f", {k}={v[-1]:.4g}" for k, v in self.metrics.items())
        return f"History({self.epochs} epochs, loss={self.loss[-1]:.6g}{extra})"


def epoch_line(epoch, h: History) -> str:
    """The printout of one epoch: loss, metrics and their validation twins."""
    epoch = check_int(epoch, "epoch", minimum=0)
    if not isinstance(h, History):
        raise DataTypeError(f"h must be a History, not {type(h).__name__} ({h!r:.40})")
    if not h.loss:
        raise ArgumentError("epoch_line: the history holds no epoch yet")
    parts = [f"epoch {epoch:6d}", f"loss {h.loss[-1]:.6f}"]
    for k, v in h.metrics.items():
        parts.append(f"{k} {100 * v[-1]:.2f}%" if k == "accuracy" else f"{k} {v[-1]:.6g}")
    if h.val_loss:
        parts.append(f"val_loss {h.val_loss[-1]:.6f}")
    for k, v in h.val_metrics.items():
        parts.append(f"val_{k} {100 * v[-1]:.2f}%" if k == "accuracy" else f"val_{k} {v[-1]:.6g}")
    return "  ".join(parts)


# ---------------------------------------------------------------- metrics


def classes_of(preds: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The class of each prediction: ``p > threshold`` for one output, else ``argmax``."""
    preds = check_array(preds, "predictions", (1, 2), dtype=np.float64)
    threshold = check_real(threshold, "threshold")
    if preds.ndim == 2 and preds.shape[1] == 0:
        raise ShapeError(f"predictions of shape {preds.shape} have no output")
    if preds.ndim == 2 and preds.shape[1] == 1:
        preds = preds[:, 0]
    if preds.ndim == 1:
        return (preds > threshold).astype(np.int64)
    return preds.argmax(axis=1)


def class_accuracy(preds, classes, threshold=0.5) -> float:
    """The fraction of predictions whose class (:func:`classes_of`) is ``classes``."""
    predicted = classes_of(preds, threshold)
    classes = check_array(classes, "classes", 1)
    if len(classes) != len(predicted) or not len(classes):
        raise ShapeError(f"{len(predicted)} predictions but {len(classes)} classes")
    return float(np.mean(predicted == classes))


METRICS = {"accuracy": class_accuracy}


def score_threshold(y, loss=None) -> float:
    """Where a one-output classifier's score splits the classes: 0 for -1/+1 labels
    (a raw score, as hinge trains it: class ``+1`` when ``score > 0``) or for the hinge
    loss, else 0.5 (a probability, class 1 when ``p > 0.5``)."""
    if loss is losses.hinge or (isinstance(loss, str) and loss.lower() == "hinge"):
        return 0.0
    y = numeric_array(y, "targets")
    return 0.0 if y.dtype.kind in "if" and np.any(y == -1) else 0.5


def select_metrics(metrics, targets, val) -> tuple:
    """The metrics ``fit`` computes. None: accuracy when the targets are class labels,
    else none; an accuracy asked for explicitly on other targets is refused."""
    _check_targets(targets, "targets")
    if val is not None:
        _check_targets(val, "val")
    if metrics is None:
        return ("accuracy",) if targets.classes() is not None else ()
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    metrics = tuple(check_iterable(metrics, "metrics"))
    for m in metrics:
        if callable(m):
            continue
        if not isinstance(m, str):
            raise DataTypeError(f"a metric is a name or a callable (predictions, y) -> float, "
                                f"not {type(m).__name__}")
        if m not in METRICS:
            raise ArgumentError(f"unknown metric {m!r}; known: {', '.join(METRICS)} or a "
                                f"callable (predictions, y) -> float")
        for which, t in (("", targets), ("validation ", val)):
            if t is not None and t.classes() is None:
                raise ArgumentError(
                    f"metric {m!r} needs class labels, but the {which}targets are not: give "
                    f"0/1 or -1/+1 labels for one output, integer labels or one-hot rows "
                    f"for several, or pass metrics=() (or a callable) for real targets")
    return metrics


def compute_metrics(names, preds, targets, threshold: float = 0.5) -> Dict[str, float]:
    """``{name: value}`` of the metrics ``names`` (from :func:`select_metrics`) for the
    epoch's predictions against ``targets`` (fit's checked targets)."""
    out = {}
    _check_targets(targets, "targets")
    for m in check_iterable(names, "names"):
        if callable(m):
            out[getattr(m, "__name__", "metric")] = float(m(preds, targets.y))
        else:  # "accuracy": _metric_names checked that the targets are class labels
            out["accuracy"] = class_accuracy(preds, targets.classes(), threshold)
    return out


def _check_targets(targets, what: str) -> None:
    """``targets`` when it is fit's checked targets (with ``y`` and ``classes()``)."""
    if not (hasattr(targets, "y") and callable(getattr(targets, "classes", None))):
        raise DataTypeError(f"{what} must be the targets fit checked (with .y and .classes()), "
                            f"not {type(targets).__name__}")


def class_labels(y, shape) -> np.ndarray:
    """``y`` as one class per sample for predictions of ``shape`` (n, k): 0/1 or -1/+1
    labels (-1 is class 0) for one output, integer labels or one-hot rows for several;
    anything else is refused."""
    shape = tuple(check_iterable(shape, "shape"))
    if len(shape) != 2:
        raise ShapeError(f"shape must be the (n, k) of the predictions, got {shape!r:.40}")
    n, k = (check_int(v, f"shape[{i}]", minimum=0) for i, v in enumerate(shape))
    y = numeric_array(y, "targets")
    if y.ndim == 0:
        raise ShapeError(f"{n} predictions but a single target {y!r}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape[0] != n:
        raise ShapeError(f"{n} predictions but targets of shape {y.shape}")
    if y.ndim == 2:
        if y.shape[1] != k:
            raise ShapeError(f"targets of shape {y.shape} for predictions of shape {shape}")
        if not np.all(((y == 0) | (y == 1)).all(axis=1) & (y.sum(axis=1) == 1)):
            raise ArgumentError("2-D targets must be one-hot rows to measure accuracy")
        return y.argmax(axis=1)
    if y.ndim != 1:
        raise ShapeError(f"targets of shape {y.shape} are not class labels")
    if not np.all(np.equal(np.mod(y, 1), 0)):
        raise ArgumentError("accuracy needs class labels (0/1 or -1/+1, or integers for several "
                         "outputs), got non-integer targets")
    if k == 1:
        if np.all((y == -1) | (y == 1)):
            return (y > 0).astype(np.int64)
        if not np.all((y == 0) | (y == 1)):
            raise ArgumentError("a one-output classifier needs 0/1 or -1/+1 targets")
    elif y.size and (y.min() < 0 or y.max() >= k):
        raise ArgumentError(f"class labels for {k} outputs must lie in 0..{k - 1}, "
                            f"got {y.min():g}..{y.max():g}")
    return y.astype(np.int64)
