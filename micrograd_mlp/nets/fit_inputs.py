"""What :func:`~micrograd_mlp.nets.train.fit` is given, checked: the loss by name, the
inputs ``X`` and the targets ``y`` (read by the one target rule of
:mod:`~micrograd_mlp.functions.targets`, for the whole data set before the first step,
then sliced per batch)."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..errors import DataTypeError, DomainError, ShapeError, UnknownLossError
from ..functions import losses
from ..functions import targets as target_rules
from .layers import Module

__all__ = ["resolve_loss", "as_inputs", "FitTargets", "check_model", "MAX_EPOCHS"]

MAX_EPOCHS = 10 ** 9  #: a larger count is a typo, not a plan (it would never end)


def check_model(model) -> None:
    """``model`` is a :class:`~micrograd_mlp.nets.layers.Module` (an MLP ...), else DataTypeError."""
    if not isinstance(model, Module):
        raise DataTypeError(f"expected a model (an MLP or another Module), not "
                            f"{type(model).__name__} ({model!r:.40})")


_LOSS_ALIASES = {"bce": "binary_cross_entropy", "cross_entropy": "softmax_cross_entropy",
                 "ce": "softmax_cross_entropy", "squared": "squared_error"}


def resolve_loss(loss) -> Callable:
    """A loss callable ``(prediction, target) -> Value``: ``loss`` itself when callable,
    else the loss of that name in :data:`micrograd_mlp.functions.losses.LOSSES` (``"mse"``,
    ``"squared_error"``, ``"binary_cross_entropy"``/``"bce"``,
    ``"softmax_cross_entropy"``/``"cross_entropy"``/``"ce"``, ...). Only losses are
    accepted by name (not ``"get"`` or ``"softmax"``): else :class:`UnknownLossError`."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise DataTypeError(f"loss must be a name or a callable (pred, target) -> Value, "
                            f"not {type(loss).__name__} ({loss!r:.40})")
    name = _LOSS_ALIASES.get(loss.lower(), loss.lower())
    if name not in losses.LOSSES:
        raise UnknownLossError(f"unknown loss {loss!r:.40}; known: "
                               f"{', '.join(sorted(set(losses.LOSSES) | set(_LOSS_ALIASES)))}")
    return losses.LOSSES[name]


# ---------------------------------------------------------------- inputs and targets


def as_inputs(model, X) -> np.ndarray:
    """``X`` as a float64 ``(n, nin)`` array, or a clear error."""
    check_model(model)
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataTypeError(f"inputs must be numbers of shape (n, {model.nin}): {e}") from e
    if X.ndim == 1 and model.nin == 1:
        X = X.reshape(-1, 1)
    elif X.ndim == 1 and X.size == model.nin:
        X = X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != model.nin:
        raise ShapeError(f"{model!r} expects inputs of shape (n, {model.nin}), got {X.shape}")
    if X.shape[0] == 0:
        raise ShapeError("no samples: X is empty")
    if not np.all(np.isfinite(X)):
        raise DomainError("inputs contain NaN or inf")
    return X


class FitTargets:
    """The targets ``y`` checked against a model's outputs, sliced per batch.

    ``kind`` is ``"values"`` (one output; ``y`` of shape (n,) or (n, 1)),
    ``"columns"`` (``y`` of shape (n, nout)) or ``"labels"`` (integer class labels of
    shape (n,) for a model with ``nout > 1`` outputs, e.g. softmax)."""

    def __init__(self, model, y, n: int):
        y = target_rules.numeric_array(y, "targets")
        nout = model.nout
        if y.ndim == 0 or y.shape[0] != n:
            raise ShapeError(f"{n} samples but targets of shape {y.shape}")
        if nout == 1:
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise ShapeError(f"a model with one output needs targets of shape ({n},) or "
                                 f"({n}, 1), got {y.shape}")
            self.kind = "values"
        elif y.ndim == 2:
            if y.shape[1] != nout:
                raise ShapeError(f"a model with {nout} outputs needs targets of shape "
                                 f"({n}, {nout}) or class labels of shape ({n},), got {y.shape}")
            self.kind = "columns"
        elif y.ndim == 1:
            if y.dtype.kind == "b":
                raise DataTypeError(f"boolean targets of shape ({n},) for a model with {nout} "
                                    f"outputs: pass integer class labels (y.astype(int)) or "
                                    f"rows of shape ({n}, {nout})")
            if not np.all(np.isfinite(y)) or not np.all(np.equal(np.mod(y, 1), 0)):
                raise ShapeError(f"targets of shape ({n},) for a model with {nout} outputs must "
                                 f"be integer class labels; give ({n}, {nout}) for real targets")
            if y.min() < 0 or y.max() >= nout:
                raise DomainError(f"class labels must lie in 0..{nout - 1}, got {y.min()}..{y.max()}")
            y = y.astype(np.int64)
            self.kind = "labels"
        else:
            raise ShapeError(f"targets of shape {y.shape} do not fit a model with {nout} outputs")
        if self.kind != "labels":
            y = y.astype(np.float64)
            if not np.all(np.isfinite(y)):
                raise DomainError("targets contain NaN or inf")
        self.y = y
        self.nout = nout

    def check_loss(self, loss_fn) -> None:
        """Check every target against ``loss_fn``'s target rule before training (see
        :mod:`~micrograd_mlp.functions.targets`), so a bad target fails at once."""
        rule = target_rules.target_rule_of(loss_fn)
        if self.kind == "labels" and rule == target_rules.PER_OUTPUT:
            name = getattr(loss_fn, "composite_name", "this loss")
            n = self.y.shape[0]
            raise ShapeError(f"{name} compares each of the {self.nout} outputs with its own "
                             f"target, but y holds class labels of shape ({n},): pass one-hot "
                             f"rows np.eye({self.nout})[y] of shape ({n}, {self.nout}), or use "
                             f"loss='softmax_cross_entropy'")
        target_rules.check_targets(loss_fn, self.y, self.nout, self.y.shape[0])

    def batch(self, idx):
        """Targets of the samples ``idx`` for a lockstep batch: an array, ``(B, nout)``
        for several outputs (rows are samples, as every loss reads them)."""
        return np.ascontiguousarray(self.y[idx])

    def sample(self, i):
        """Target of sample ``i`` alone (float, int or list of floats)."""
        y = self.y[i]
        if self.kind == "columns":
            return [float(v) for v in y]
        return int(y) if self.kind == "labels" else float(y)

    def classes(self) -> Optional[np.ndarray]:
        """True class per sample, or None when the targets are not class labels."""
        if not hasattr(self, "_classes"):
            self._classes = self._find_classes()
        return self._classes

    def _find_classes(self) -> Optional[np.ndarray]:
        y = self.y
        if self.kind == "labels":
            return y
        if self.kind == "values":
            if np.all((y == 0) | (y == 1)):
                return y.astype(np.int64)
            # hinge's -1/+1 labels: class 1 is +1
            return (y > 0).astype(np.int64) if np.all((y == -1) | (y == 1)) else None
        rows_onehot = np.all((y == 0) | (y == 1), axis=1) & (y.sum(axis=1) == 1)
        return y.argmax(axis=1) if np.all(rows_onehot) else None
