"""Training loop, prediction and evaluation helpers.

:func:`fit` trains a model by gradient descent on ``(X, y)``:

* ``batch_size=None``: full batch (one step per epoch); ``k``: mini-batches of ``k``
  samples (reshuffled every epoch when ``shuffle``); ``1``: one step per sample.
* Batches run in lockstep by default: each input column is one batched Value, so the
  whole batch is one graph. ``per_sample=True`` instead builds one graph per sample
  and accumulates the gradients before the step: the same update, more slowly (useful
  for teaching, and to check the batching).
* The batch loss is the mean over the batch of the per-sample loss
  ``loss(prediction, target)``; the epoch loss is the mean over the epoch's samples of
  the loss measured in the forward pass, before each step. Training stops after
  ``epochs`` epochs, or as soon as the epoch loss is below ``epsilon``.

One update is :func:`train_step` (build the graph, backward, step), kept separate so a
faster implementation can be swapped in.
"""
from __future__ import annotations

import math
import sys
import warnings
from typing import Callable, List, Optional, Sequence

import numpy as np

from ..core.engine import Value

from ..core.modes import is_anomaly_enabled, no_grad
from ..errors import ArgumentError, DataTypeError, GradientError, ShapeError
from ..core.validate import (
    check_callable, check_flag, check_int, check_iterable, check_real, check_seed,
)
from ..functions import targets as target_rules
from . import optim as _optim
from ..core.recorder import single_threaded_blas
from .callbacks import as_callback
from .compiled_step import compile_step, replayed_train_step
from .history import (
    History, class_accuracy, class_labels, classes_of, compute_metrics, epoch_line,
    score_threshold, select_metrics,
)
from .fit_inputs import MAX_EPOCHS, FitTargets, as_inputs, resolve_loss
from .layers import Module

__all__ = ["fit", "train_step", "History", "predict", "accuracy", "listing", "resolve_loss",
           "score_threshold"]

def _squeeze(out: List[Value]):
    return out[0] if len(out) == 1 else out


def _mean_loss(L) -> Value:
    if not isinstance(L, Value):
        raise DataTypeError(f"the loss must return a Value, got {type(L).__name__}")
    return L.mean() if L.is_batched else L


def _predictions(out: List[Value], n: int) -> np.ndarray:
    cols = [np.broadcast_to(o.data, (n,)) for o in out]
    return np.column_stack(cols)


# ---------------------------------------------------------------- one step


def train_step(model, Xb: np.ndarray, yb, loss: Callable, optimizer, per_sample: bool = False):
    """One update on the batch ``(Xb, yb)``: zero the grads, build the graph of the
    mean batch loss, ``backward()``, ``optimizer.step()``.

    ``yb`` is what :meth:`FitTargets.batch` returns. Lockstep (default): one graph for
    the batch. ``per_sample=True``: one graph per sample, each backward seeded with
    ``1 / batch size`` so the accumulated gradient is that of the mean. Returns
    ``(loss before the step, predictions (B, nout) before the step)``."""
    Xb = as_inputs(model, Xb)
    check_callable(loss, "train_step: loss")
    if not isinstance(optimizer, _optim.Optimizer):
        raise DataTypeError(f"train_step needs an optimiser (SGD, Adam ...), not "
                            f"{type(optimizer).__name__}")
    optimizer.zero_grad()
    B = Xb.shape[0]
    if not per_sample:
        out = model.forward(Xb)
        L = _mean_loss(loss(_squeeze(out), yb))
        L.backward()
        value = float(L.data)
        preds = _predictions(out, B)
    else:
        value = 0.0
        preds = np.empty((B, model.nout))
        seed = 1.0 / B
        columns = yb.ndim == 2
        for i in range(B):
            out = model.forward([float(v) for v in Xb[i]])
            if columns:
                target = [float(v) for v in yb[i]]
            elif yb.dtype.kind == "i":
                target = int(yb[i])
            else:
                target = float(yb[i])
            L = _mean_loss(loss(_squeeze(out), target))
            L.backward(seed)
            value += float(L.data)
            preds[i] = [o.data for o in out]
        value /= B
    optimizer.step()
    return value, preds


# ---------------------------------------------------------------- fit


def fit(model, X, y, loss="mse", optimizer=None, lr: Optional[float] = None,
        epochs: int = 100, batch_size: Optional[int] = None, epsilon: Optional[float] = None,
        validation=None, metrics: Optional[Sequence] = None, print_every: Optional[int] = None,
        progress: Optional[bool] = None, seed=None, shuffle: bool = True, per_sample: bool = False,
        file=None, replay: Optional[bool] = None, scheduler=None, callbacks=None) -> History:
    """Train ``model`` on inputs ``X`` (shape (n, nin)) and targets ``y``.

    * ``y``: shape (n,) or (n, 1) for one output, (n, nout) for several, or integer
      class labels of shape (n,) for a classifier with nout > 1 outputs.
    * ``loss``: a name from :mod:`micrograd_mlp.functions.losses` or a callable
      ``loss(prediction, target) -> Value`` (per sample or batched; batched results
      are averaged over the batch).
    * ``optimizer``: an :class:`~micrograd_mlp.nets.optim.Optimizer`, ``"sgd"`` / ``"adam"``,
      or None for plain SGD; ``lr`` (default 0.01) is used when the optimiser is made
      here, and must not be given with an optimiser object.
    * ``batch_size``: None = full batch, ``k`` = mini-batches, 1 = per sample;
      ``shuffle`` reorders mini-batches each epoch with ``np.random.default_rng(seed)``.
    * ``epsilon``: stop as soon as the epoch loss is below it.
    * ``validation``: ``(X_val, y_val)``, evaluated after every epoch.
    * ``metrics``: names (``"accuracy"``) or callables ``(predictions, y) -> float``.
      Default: accuracy when the targets are class labels (0/1 or -1/+1 for one output,
      scored at 0.5, or at 0 for -1/+1 labels and the hinge loss; integer labels or
      one-hot rows for several), none otherwise.
    * ``scheduler``: a learning-rate scheduler over this ``optimizer``
      (:mod:`micrograd_mlp.nets.lr_scheduler`) or a function ``optimizer -> scheduler``
      (needed when ``fit`` makes the optimiser); stepped once after every epoch.
    * ``callbacks``: objects with ``on_epoch_end(epoch, logs)`` or functions
      ``(epoch, logs)``; returning True stops training (see
      :mod:`micrograd_mlp.nets.callbacks`, e.g. ``EarlyStopping``).
    * ``print_every=k``: print epoch, loss and metrics every ``k`` epochs (to ``file``,
      default stdout). ``progress``: a tqdm bar; None (default) shows it on a terminal
      or in a Jupyter notebook.

    * ``replay``: run lockstep steps by replaying the model's recorded graph
      (:mod:`micrograd_mlp.core.recorder`; same numbers to ~1e-12, several times faster).
      Default: on, except in anomaly mode. The loss part is either replayed too (the
      library's ``mse``, ``squared_error`` and softmax cross-entropy, whose targets are
      checked on every batch) or built again on the replayed predictions at every
      step (every other loss, callables included), so every check of the loss runs on
      every batch. A scheduler changes only the learning rate: the recorded graph
      stays.

    Each epoch: the batches' steps, the metrics, the validation, the callbacks, then
    the scheduler's step. Returns a :class:`History`.
    """

    shuffle = check_flag(shuffle, "shuffle")
    progress = None if progress is None else check_flag(progress, "progress")
    run = _FitRun(model, X, y, loss, optimizer, lr, epochs, batch_size, epsilon, validation,
                  metrics, print_every, per_sample, replay, scheduler, callbacks)
    rng = np.random.default_rng(check_seed(seed))
    history = History()
    for cb in run.callbacks:
        if hasattr(cb, "set_model"):
            cb.set_model(model)
        if getattr(cb, "stop_training", False):
            cb.stop_training = False  # as Keras resets model.stop_training
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin({})
    out = file if file is not None else sys.stdout
    bar = _progress_bar(run.epochs, progress)
    blas = None
    if run.compiled is not None:  # replay's small matrix products: one BLAS thread is fastest
        blas = single_threaded_blas()
        blas.__enter__()
    try:
        for epoch in range(1, run.epochs + 1):
            n = run.X.shape[0]
            order = rng.permutation(n) if (shuffle and run.bs < n) else np.arange(n)
            history.lr.append(float(run.optimizer.lr))
            epoch_loss = run.train_epoch(order, history)
            stop = _stop_reason(epoch, epoch_loss, run.epsilon, run.callbacks, history.logs())
            if run.scheduler is not None:
                run.scheduler.step()
            if bar is not None:
                bar.update(1)
                if epoch % 10 == 0 or stop:
                    bar.set_postfix(loss=f"{epoch_loss:.4g}")
            if run.print_every and (epoch % run.print_every == 0 or stop or epoch == run.epochs):
                print(epoch_line(epoch, history), file=out)
            if stop:
                history.stopped_early = True
                history.stop_reason = stop
                break
        else:
            history.stop_reason = f"reached {run.epochs} epochs"
    finally:
        if run.compiled is not None:
            run.compiled.sync()
        if blas is not None:
            blas.__exit__(None, None, None)
        if bar is not None:
            bar.close()
    for cb in run.callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(history.logs() if history.loss else {})
    return history


class _FitRun:
    """One call of :func:`fit`: its arguments checked and turned into what the epochs
    use (inputs, targets, loss, batch size, optimiser, scheduler, callbacks, validation,
    metrics, the replayed step), and one epoch of training."""

    def __init__(self, model, X, y, loss, optimizer, lr, epochs, batch_size, epsilon,
                 validation, metrics, print_every, per_sample, replay, scheduler, callbacks):
        self.model = model
        self.X = X = as_inputs(model, X)
        n = X.shape[0]
        self.targets = targets = FitTargets(model, y, n)
        self.loss_fn = resolve_loss(loss)
        targets.check_loss(self.loss_fn)
        self.epochs = check_int(epochs, "epochs", minimum=0, maximum=MAX_EPOCHS)
        self.bs = n if batch_size is None else min(check_int(batch_size, "batch_size", minimum=1), n)
        self.epsilon = None if epsilon is None else check_real(epsilon, "epsilon", minimum=0.0,
                                                                finite=False)
        self.print_every = None if print_every is None else check_int(print_every, "print_every",
                                                                      minimum=1)
        if optimizer is None or isinstance(optimizer, str):
            optimizer = _optim.optimizer_named(optimizer or "sgd", model.parameters(),
                                   lr=0.01 if lr is None else lr)
        elif lr is not None:
            raise ArgumentError("lr was given together with an optimiser object; set the optimiser's lr")
        else:
            _check_optimizer_covers(model, optimizer)
        self.optimizer = optimizer
        self.scheduler = _make_scheduler(scheduler, optimizer)
        self.callbacks = [as_callback(cb) for cb in
                          (check_iterable(callbacks, "callbacks") if callbacks is not None else ())]
        self.val = None
        if validation is not None:
            try:
                Xv, yv = validation
            except (TypeError, ValueError):
                raise ArgumentError("validation must be a pair (X_val, y_val)") from None
            Xv = as_inputs(model, Xv)
            self.val = (Xv, FitTargets(model, yv, Xv.shape[0]))
        self.metrics = select_metrics(metrics, targets, None if self.val is None else self.val[1])
        self.threshold = score_threshold(targets.y, loss)
        self.per_sample = check_flag(per_sample, "per_sample") or self.bs == 1
        use_replay = True if replay is None else check_flag(replay, "replay")
        self.compiled = None
        if use_replay and not self.per_sample and not is_anomaly_enabled():
            self.compiled = compile_step(model, self.loss_fn)

    def train_epoch(self, order, history: History) -> float:
        """The steps of one epoch over the samples in ``order``, batch by batch, then its
        loss, metrics and validation appended to ``history``; returns the epoch loss."""
        model, X, targets, n = self.model, self.X, self.targets, self.X.shape[0]
        total = 0.0
        preds = np.empty((n, model.nout))
        for start in range(0, n, self.bs):
            idx = order[start:start + self.bs]
            if self.compiled is not None:
                try:  # parameters kept as a vector between steps: synced below
                    value, p = replayed_train_step(self.compiled, X[idx], targets.batch(idx),
                                                  self.optimizer, sync=False)
                except GradientError:  # this loss's graph depends on the data
                    self.compiled.sync()
                    self.compiled = None
            if self.compiled is None:
                value, p = train_step(model, X[idx], targets.batch(idx), self.loss_fn,
                                      self.optimizer, per_sample=self.per_sample)
            total += value * len(idx)
            preds[idx] = p
        epoch_loss = total / n
        history.loss.append(epoch_loss)
        for k, v in compute_metrics(self.metrics, preds, targets, self.threshold).items():
            history.metrics.setdefault(k, []).append(v)
        if self.compiled is not None and (self.val is not None or self.callbacks):
            self.compiled.sync()  # validation and callbacks read the parameter Values
        if self.val is not None:
            vl, vm = _evaluate(model, self.val[0], self.val[1], self.loss_fn, self.metrics,
                               self.threshold)
            history.val_loss.append(vl)
            for k, v in vm.items():
                history.val_metrics.setdefault(k, []).append(v)
        return epoch_loss


def _check_optimizer_covers(model, optimizer):
    """An optimiser given to ``fit`` must update ``model``: every trainable parameter
    of the model must be among the optimiser's ``params`` (an optimiser made over another
    model's parameters would step them and leave this model untrained, silently)."""
    if not isinstance(optimizer, _optim.Optimizer):
        raise DataTypeError(f"optimizer must be an optimiser object (optim.SGD(...), "
                            f"optim.Adam(...)), a name ('sgd', 'adam') or None, "
                            f"not {type(optimizer).__name__}")
    held = {id(p) for p in optimizer.params}
    named = model.named_parameters()
    missing = [name for name, p in named if p.requires_grad and id(p) not in held]
    if missing:
        raise ArgumentError(
            f"the optimiser does not update {len(missing)} of this model's {len(named)} "
            f"parameters ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}): "
            f"was it made for another model? Build it over model.parameters()")


def _make_scheduler(scheduler, optimizer):
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


def _stop_reason(epoch, epoch_loss, epsilon, callbacks, logs) -> str:
    """Why training stops after this epoch ("" to go on): a non-finite loss, the loss
    below ``epsilon``, or a callback asking (True returned, or ``stop_training`` set).
    Every callback runs, even after one asked to stop."""
    stop = ""
    if not math.isfinite(epoch_loss):
        stop = f"the loss became {epoch_loss} at epoch {epoch} (diverged; try a smaller lr)"
        warnings.warn(stop, RuntimeWarning, stacklevel=3)
    elif epsilon is not None and epoch_loss < epsilon:
        stop = f"loss {epoch_loss:.6g} < epsilon {epsilon} at epoch {epoch}"
    for cb in callbacks:
        asked = cb.on_epoch_end(epoch, dict(logs)) is True or getattr(cb, "stop_training", False)
        if asked and not stop:
            name = getattr(cb, "name", "") or type(cb).__name__
            stop = (getattr(cb, "stop_reason", "") or
                    f"callback {name} stopped training at epoch {epoch}")
    return stop


def _progress_bar(total, progress):
    if progress is None:  # a terminal or a notebook shows it; a log file does not
        progress = sys.stderr.isatty() or _in_notebook()
    if not progress:
        return None
    with warnings.catch_warnings():  # tqdm warns once when a notebook lacks ipywidgets
        warnings.simplefilter("ignore")
        try:
            from tqdm.auto import tqdm
        except ImportError:  # the bar is a convenience only
            return None
    return tqdm(total=total, unit="epoch", leave=_in_notebook())


def _in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (the test tqdm itself uses); importing
    ipykernel alone does not count."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _evaluate(model, X, targets, loss_fn, metrics, threshold=0.5):
    with no_grad():
        out = model.forward(X)
        L = _mean_loss(loss_fn(_squeeze(out), targets.batch(np.arange(X.shape[0]))))
    preds = _predictions(out, X.shape[0])
    return float(L.data), compute_metrics(metrics, preds, targets, threshold)


# ---------------------------------------------------------------- evaluation


def predict(model, X) -> np.ndarray:
    """The model's outputs for inputs ``X`` (shape (n, nin); a 1-D array is n samples
    for a one-input model, else one sample of nin numbers) as numpy: shape (n,) for one output, (n, nout) otherwise. No graph is
    kept (runs under :func:`~micrograd_mlp.core.modes.no_grad`)."""
    X = as_inputs(model, X)
    with no_grad():
        out = model.forward(X)
    preds = _predictions(out, X.shape[0])
    return preds[:, 0] if model.nout == 1 else preds


def accuracy(model_or_preds, X_or_y, y=None, threshold: Optional[float] = None) -> float:
    """Fraction of samples classified correctly, in [0, 1].

    ``accuracy(model, X, y)`` or ``accuracy(predictions, y)``. One output: class
    ``prediction > threshold`` against 0/1 targets, or against -1/+1 targets (hinge's
    labels, class ``+1``); ``threshold`` defaults to 0.5 for 0/1 targets (a
    probability) and 0 for -1/+1 targets (a raw score). Several outputs: ``argmax``
    against integer labels or one-hot rows."""

    if isinstance(model_or_preds, Module):
        if y is None:
            raise ArgumentError("accuracy(model, X, y): the targets y are missing")
        preds = predict(model_or_preds, X_or_y)
    else:
        if y is not None:
            raise ArgumentError("accuracy(predictions, y) takes two arrays; pass a model to give X")
        preds, y = model_or_preds, X_or_y
    preds = target_rules.numeric_array(preds, "accuracy: predictions").astype(np.float64)
    if preds.ndim == 1:
        preds = preds.reshape(-1, 1)
    if preds.ndim != 2:
        raise ShapeError(f"accuracy: predictions must have shape (n,) or (n, k), got {preds.shape}")
    classes = class_labels(y, preds.shape)
    threshold = score_threshold(y) if threshold is None else check_real(threshold, "threshold")
    return class_accuracy(preds, classes, threshold)


def listing(model, X, y, show: bool = False, file=None, threshold: Optional[float] = None,
            digits: int = 5) -> List[str]:
    """The per-sample comparison of ground truth and prediction (seed 003), one line
    per sample, plus a final accuracy line for classification targets (``threshold``
    as in :func:`accuracy`). Printed to
    ``file`` (default stdout) when ``show``; always returned as a list of strings."""
    X = as_inputs(model, X)
    preds = predict(model, X)
    preds2 = preds.reshape(X.shape[0], -1)
    targets = FitTargets(model, y, X.shape[0])
    classes = targets.classes()
    show = check_flag(show, "show")
    digits = check_int(digits, "digits", 0, 17)
    if threshold is None:
        threshold = score_threshold(targets.y)
    else:
        threshold = check_real(threshold, "threshold")
    lines = []
    width = len(str(X.shape[0] - 1))
    for i in range(X.shape[0]):
        xs = ", ".join(f"{v:.3g}" for v in X[i])
        truth = targets.y[i]
        if targets.kind == "columns":
            truth_s = "[" + ", ".join(f"{v:.3g}" for v in truth) + "]"
        else:
            truth_s = f"{truth:.6g}" if targets.kind == "values" else str(int(truth))
        if model.nout == 1:
            pred_s = f"{preds2[i, 0]:.{digits}f}"
        else:
            pred_s = "[" + ", ".join(f"{v:.{digits}f}" for v in preds2[i]) + "]"
        line = f"sample {i:>{width}}  input ({xs})  ground truth {truth_s}  prediction {pred_s}"
        if classes is not None:
            c = int(classes_of(preds2[i:i + 1], threshold)[0])
            line += f"  -> class {c}  {'correct' if c == classes[i] else 'WRONG'}"
        lines.append(line)
    if classes is not None:
        acc = class_accuracy(preds2, classes, threshold)
        lines.append(f"accuracy {100 * acc:.2f}% ({int(round(acc * len(classes)))}/{len(classes)})")
    if show:
        print("\n".join(lines), file=file if file is not None else sys.stdout)
    return lines
