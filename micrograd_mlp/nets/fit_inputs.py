"""What :func:`~micrograd_mlp.nets.train.fit` is given, checked: the loss by name, the
inputs ``X`` and the targets ``y`` (read by the one target rule of
:mod:`~micrograd_mlp.functions.targets`, for the whole data set before the first step,
then sliced per batch)."""
from __future__ import annotations

import math
import sys
from typing import Callable, Optional

import numpy as np

from ..core.modes import is_anomaly_enabled
from ..core.validate import check_flag, check_int, check_iterable, check_real, check_seed
from ..errors import ArgumentError, DataTypeError, DomainError, ShapeError, UnknownLossError
from ..functions import losses
from ..functions import targets as target_rules
from . import optim
from .callbacks import as_callback
from .layers import Module
from .metrics import score_threshold, select_metrics

__all__ = ["resolve_loss", "as_inputs", "FitTargets", "FitPlan", "check_model", "check_stream",
           "MAX_EPOCHS"]

MAX_EPOCHS = 10 ** 9  #: a larger count is a typo, not a plan (it would never end)


def check_model(model) -> None:
    """``model`` is a :class:`~micrograd_mlp.nets.layers.Module` (an MLP ...), else DataTypeError."""
    if not isinstance(model, Module):
        raise DataTypeError(f"expected a model (an MLP or another Module), not "
                            f"{type(model).__name__} ({model!r:.40})")


_LOSS_ALIASES = {"bce": "binary_cross_entropy", "cross_entropy": "softmax_cross_entropy",
                 "ce": "softmax_cross_entropy", "squared": "squared_error",
                 # Keras's names, where the loss is the same function
                 "binary_crossentropy": "binary_cross_entropy", "mean_squared_error": "mse"}

# Keras names that are not the same function here: Keras's categorical cross-entropies read
# probabilities (a softmax output layer), this library's reads the raw outputs
_NOT_THE_SAME = {
    name: (f"Keras's {name} reads probabilities from a softmax output layer; this library's "
           f"loss='softmax_cross_entropy' reads the raw outputs (Keras's from_logits=True) "
           f"and takes integer labels or one-hot rows: use it with a linear output layer "
           f"(out_activation=None)")
    for name in ("categorical_crossentropy", "sparse_categorical_crossentropy")}


def resolve_loss(loss) -> Callable:
    """A loss callable ``(prediction, target) -> Value``: ``loss`` itself when callable,
    else the loss of that name in :data:`micrograd_mlp.functions.losses.LOSSES` (``"mse"``,
    ``"squared_error"``, ``"binary_cross_entropy"``/``"bce"``,
    ``"softmax_cross_entropy"``/``"cross_entropy"``/``"ce"``, ...; Keras's
    ``"binary_crossentropy"`` and ``"mean_squared_error"``). Only losses are
    accepted by name (not ``"get"`` or ``"softmax"``): else :class:`UnknownLossError`."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise DataTypeError(f"loss must be a name or a callable (pred, target) -> Value, "
                            f"not {type(loss).__name__} ({loss!r:.40})")
    name = _LOSS_ALIASES.get(loss.lower(), loss.lower())
    if name in _NOT_THE_SAME:
        raise UnknownLossError(f"unknown loss {loss!r:.40}: {_NOT_THE_SAME[name]}")
    if name not in losses.LOSSES:
        raise UnknownLossError(f"unknown loss {loss!r:.40}; known: "
                               f"{', '.join(sorted(set(losses.LOSSES) | set(_LOSS_ALIASES)))}")
    return losses.LOSSES[name]


def check_stream(file, what: str):
    """``file`` when it is something to print to (an open text file, ``sys.stderr``,
    ``io.StringIO()``: it has a ``write`` method), else :class:`DataTypeError`."""
    if not callable(getattr(file, "write", None)):
        raise DataTypeError(f"{what} must be an open text file to print to (with a write "
                            f"method, e.g. sys.stdout), not {type(file).__name__} ({file!r:.40})")
    return file


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
        """Target of sample ``i`` alone (float, int or list of floats), as the studio
        shows it beside the selected example."""
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


# ---------------------------------------------------------------- one call of fit


class FitPlan:
    """The arguments of one :func:`~micrograd_mlp.nets.train.fit` call, each checked
    once, in the groups a PyTorch or Keras user knows:

    * **what to minimise** (Keras's ``compile``): ``loss_fn``, ``optimizer``,
      ``scheduler``;
    * **the data** (PyTorch's ``DataLoader``, Keras's ``validation_data`` /
      ``validation_split``): ``X``, ``targets``, ``val`` (``(X_val, targets)`` or None),
      ``batch_size``, ``shuffle``, ``rng``;
    * **when to stop**: ``epochs``, ``epsilon``, ``callbacks``;
    * **what to show**: ``metrics``, ``threshold`` (of the accuracy), ``print_every``,
      ``progress``, ``out``;
    * **how a step is computed**: ``step_kind``, one of ``"replayed"`` (the model's
      recorded graph replayed on arrays), ``"built"`` (one graph per batch) and
      ``"per_sample"`` (one graph per sample, gradients accumulated).

    ``hint`` is what a probability loss's "must lie in [0, 1]" error should add about
    this model (its output layer is not a sigmoid), else ``""``."""

    def __init__(self, model, X, y, loss="mse", optimizer=None, lr=None, epochs=100,
                 batch_size=None, epsilon=None, validation=None, metrics=None,
                 print_every=None, progress=None, seed=None, shuffle=True, per_sample=False,
                 file=None, replay=None, scheduler=None, callbacks=None,
                 validation_split=None, verbose=None):
        self.model = model
        self.loss_fn = resolve_loss(loss)
        self.hint = _probability_hint(model, self.loss_fn)
        # the data
        X = as_inputs(model, X)
        targets = FitTargets(model, y, X.shape[0])
        if validation is not None and validation_split is not None:
            raise ArgumentError("give validation=(X_val, y_val) or validation_split, not both")
        if validation_split is not None:
            validation, X, targets = _split_off(model, X, targets, validation_split)
        if validation is not None:
            try:
                Xv, yv = validation
            except (TypeError, ValueError):
                raise ArgumentError("validation must be a pair (X_val, y_val)") from None
            Xv = as_inputs(model, Xv)
            validation = (Xv, FitTargets(model, yv, Xv.shape[0]))
        self.X, self.targets, self.val = X, targets, validation
        n = X.shape[0]
        self.batch_size = n if batch_size is None else min(
            check_int(batch_size, "batch_size", minimum=1), n)
        self.shuffle = check_flag(shuffle, "shuffle") and self.batch_size < n
        self.rng = np.random.default_rng(check_seed(seed))
        # what to minimise
        targets.check_loss(self.loss_fn)
        if optimizer is None or isinstance(optimizer, str):
            optimizer = optim.optimizer_named(optimizer or "sgd", model.parameters(),
                                  lr=0.01 if lr is None else lr)
        elif lr is not None:
            raise ArgumentError("lr was given together with an optimiser object; set the "
                                "optimiser's lr")
        elif not isinstance(optimizer, optim.Optimizer):
            raise DataTypeError(f"optimizer must be an optimiser object (optim.SGD(...), "
                                f"optim.Adam(...)), a name ('sgd', 'adam') or None, "
                                f"not {type(optimizer).__name__}")
        else:
            _check_optimizer_covers(model, optimizer)
        self.optimizer = optimizer
        self.scheduler = _scheduler_over(scheduler, optimizer)
        # when to stop
        self.epochs = check_int(epochs, "epochs", minimum=0, maximum=MAX_EPOCHS)
        self.epsilon = None if epsilon is None else check_real(epsilon, "epsilon", minimum=0.0,
                                                                finite=False)
        self.callbacks = [as_callback(cb) for cb in
                          (check_iterable(callbacks, "callbacks") if callbacks is not None else ())]
        # what to show
        self.metrics = select_metrics(metrics, targets, None if validation is None else validation[1])
        self.threshold = score_threshold(targets.y, loss)
        if verbose is not None:
            verbose = check_int(verbose, "verbose", minimum=0, maximum=2)
            if progress is not None or print_every is not None:
                raise ArgumentError("give verbose (Keras's 0, 1 or 2) or progress / print_every, "
                                    "not both")
            progress, print_every = verbose == 1, (1 if verbose == 2 else None)
        self.print_every = None if print_every is None else check_int(print_every, "print_every",
                                                                      minimum=1)
        self.progress = None if progress is None else check_flag(progress, "progress")
        self.out = sys.stdout if file is None else check_stream(file, "file")
        # how a step is computed
        if check_flag(per_sample, "per_sample") or self.batch_size == 1:
            self.step_kind = "per_sample"
        elif (True if replay is None else check_flag(replay, "replay")) and not is_anomaly_enabled():
            self.step_kind = "replayed"
        else:
            self.step_kind = "built"


def _split_off(model, X, targets, fraction):
    """Keras's ``validation_split``: the last ``fraction`` of the samples (before any
    shuffling) held out as ``(X_val, y_val)``; returns it with the rest."""
    fraction = check_real(fraction, "validation_split", minimum=0.0, maximum=1.0)
    n = X.shape[0]
    keep = int(math.ceil(n * (1.0 - fraction)))  # as Keras: the training part rounds up
    if not 0 < fraction < 1 or keep >= n or keep == 0:
        raise ArgumentError(f"validation_split={fraction} leaves {n - keep} of {n} samples "
                            f"for validation and {keep} for training: both need one at least")
    y = targets.y
    return (X[keep:], y[keep:]), X[:keep], FitTargets(model, y[:keep], keep)


def _check_optimizer_covers(model, optimizer):
    """An optimiser given to ``fit`` must update ``model``: every trainable parameter
    of the model must be among the optimiser's ``params`` (an optimiser made over another
    model's parameters would step them and leave this model untrained, silently)."""
    held = {id(p) for p in optimizer.params}
    named = model.named_parameters()
    missing = [name for name, p in named if p.requires_grad and id(p) not in held]
    if missing:
        raise ArgumentError(
            f"the optimiser does not update {len(missing)} of this model's {len(named)} "
            f"parameters ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}): "
            f"was it made for another model? Build it over model.parameters()")


def _scheduler_over(scheduler, optimizer):
    """``fit``'s ``scheduler`` argument as a scheduler over ``optimizer`` (or None)."""
    if scheduler is None:
        return None
    if not hasattr(scheduler, "get_last_lr") and callable(scheduler):
        scheduler = scheduler(optimizer)  # a factory: optimizer -> scheduler
    if not (hasattr(scheduler, "step") and hasattr(scheduler, "optimizer")):
        raise DataTypeError(f"scheduler must be a learning-rate scheduler (e.g. optim."
                            f"lr_scheduler.StepLR) or a function optimizer -> scheduler, "
                            f"not {type(scheduler).__name__}")
    if scheduler.optimizer is not optimizer:
        raise ArgumentError("the scheduler drives another optimiser than the one fit uses; "
                            "pass fit the scheduler's optimiser, or a function making the "
                            "scheduler, e.g. scheduler=lambda opt: StepLR(opt, step_size=10)")
    return scheduler


def _probability_hint(model, loss_fn) -> str:
    """What to say when ``loss_fn`` reads probabilities and ``model``'s output layer is
    not a sigmoid (a ReLU's or a linear layer's outputs leave [0, 1])."""
    if loss_fn is not losses.binary_cross_entropy:
        return ""
    names = getattr(model, "activations", None)
    last = names[-1] if isinstance(names, list) and names else None
    if last is None or last == "sigmoid":
        return ""
    return (f"The model's output layer is {last or 'linear'}, whose outputs are not "
            f"probabilities: build it with out_activation='sigmoid', or train on its raw "
            f"outputs with loss='bce_with_logits'")
