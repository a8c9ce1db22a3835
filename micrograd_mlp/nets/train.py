"""Training: :func:`fit`, one update :func:`train_step`, :func:`predict`,
:func:`accuracy` and :func:`listing`.

:func:`fit` is one loop. Its arguments are checked once, at the start
(:class:`~micrograd_mlp.nets.fit_inputs.FitPlan`); each epoch then runs one step per
batch, through a step object that computes the update in one of three ways (the
replayed graph, one graph per batch, one graph per sample:
:mod:`micrograd_mlp.nets.fit_steps`); then the epoch's loss and metrics, the
validation, the callbacks and the scheduler.

* ``batch_size=None``: full batch (one step per epoch); ``k``: mini-batches of ``k``
  samples (reshuffled every epoch when ``shuffle``); ``1``: one step per sample.
* The batch loss is the mean over the batch of the per-sample loss
  ``loss(prediction, target)``; the epoch loss is the mean over the epoch's samples of
  the loss measured in the forward pass, before each step. Training stops after
  ``epochs`` epochs, or as soon as the epoch loss is below ``epsilon``.
"""
from __future__ import annotations

import math
import sys
import warnings
from typing import Callable, List, Optional

import numpy as np

from ..core.modes import no_grad
from ..errors import ArgumentError, DataTypeError, DomainError, ShapeError
from ..core.validate import check_callable, check_flag, check_int, check_real
from ..functions import targets as target_rules
from . import optim as _optim
from .fit_inputs import FitPlan, FitTargets, as_inputs, check_stream
from .fit_steps import BuiltStep, PerSampleStep, evaluate_model, make_step
from .history import History, epoch_line
from .layers import Module
from .metrics import class_accuracy, class_labels, classes_of, compute_metrics, score_threshold

__all__ = ["fit", "train_step", "predict", "accuracy", "listing"]


# ---------------------------------------------------------------- one step


def train_step(model, Xb: np.ndarray, yb, loss: Callable, optimizer, per_sample: bool = False):
    """One update on the batch ``(Xb, yb)``: zero the grads, build the graph of the
    mean batch loss, ``backward()``, ``optimizer.step()``.

    ``yb`` is what :meth:`FitTargets.batch` returns. Lockstep (default): one graph for
    the batch (:class:`~micrograd_mlp.nets.fit_steps.BuiltStep`). ``per_sample=True``:
    one graph per sample, each backward seeded with ``1 / batch size`` so the
    accumulated gradient is that of the mean
    (:class:`~micrograd_mlp.nets.fit_steps.PerSampleStep`). Returns ``(loss before the
    step, predictions (B, nout) before the step)``."""
    Xb = as_inputs(model, Xb)
    check_callable(loss, "train_step: loss")
    if not isinstance(optimizer, _optim.Optimizer):
        raise DataTypeError(f"train_step needs an optimiser (SGD, Adam ...), not "
                            f"{type(optimizer).__name__}")
    if check_flag(per_sample, "per_sample"):  # reads one target per sample: an array
        return PerSampleStep(model, loss, optimizer).run(Xb, np.asarray(yb))
    return BuiltStep(model, loss, optimizer).run(Xb, yb)


# ---------------------------------------------------------------- fit


def fit(model, X, y, loss="mse", optimizer=None, lr: Optional[float] = None,
        epochs: int = 100, batch_size: Optional[int] = None, epsilon: Optional[float] = None,
        validation=None, metrics=None, print_every: Optional[int] = None,
        progress: Optional[bool] = None, seed=None, shuffle: bool = True, per_sample: bool = False,
        file=None, replay: Optional[bool] = None, scheduler=None, callbacks=None,
        validation_split: Optional[float] = None, verbose: Optional[int] = None) -> History:
    """Train ``model`` on inputs ``X`` (shape (n, nin)) and targets ``y``; returns a
    :class:`~micrograd_mlp.nets.history.History`.

    ``y``: shape (n,) or (n, 1) for one output, (n, nout) for several, or integer class
    labels of shape (n,) for a classifier with nout > 1 outputs.

    **What to minimise** (Keras's ``compile``, PyTorch's loss and optimiser):

    * ``loss``: a name from :mod:`micrograd_mlp.functions.losses` (also Keras's
      ``"binary_crossentropy"`` and ``"mean_squared_error"``) or a callable
      ``loss(prediction, target) -> Value`` (per sample or batched; batched results
      are averaged over the batch).
    * ``optimizer``: an :class:`~micrograd_mlp.nets.optim.Optimizer`, ``"sgd"`` /
      ``"adam"``, or None for plain SGD; ``lr`` (default 0.01) is used when the
      optimiser is made here, and must not be given with an optimiser object.
    * ``scheduler``: a learning-rate scheduler over this ``optimizer``
      (:mod:`micrograd_mlp.nets.lr_scheduler`) or a function ``optimizer -> scheduler``
      (needed when ``fit`` makes the optimiser); stepped once after every epoch.

    **The data** (PyTorch's ``DataLoader``, Keras's validation):

    * ``batch_size``: None = full batch, ``k`` = mini-batches, 1 = per sample;
      ``shuffle`` reorders mini-batches each epoch with ``np.random.default_rng(seed)``.
    * ``validation``: ``(X_val, y_val)``, evaluated after every epoch (Keras's
      ``validation_data``); or ``validation_split=f``: the last fraction ``f`` of the
      samples (before shuffling) held out for it, as Keras does.

    **When to stop**:

    * ``epochs``; ``epsilon``: stop as soon as the epoch loss is below it.
    * ``callbacks``: objects with ``on_epoch_end(epoch, logs)`` or functions
      ``(epoch, logs)``; returning True stops training (see
      :mod:`micrograd_mlp.nets.callbacks`, e.g. ``EarlyStopping``).

    **What to show**:

    * ``metrics``: names (``"accuracy"``) or callables ``(predictions, y) -> float``.
      Default: accuracy when the targets are class labels (0/1 or -1/+1 for one output,
      scored at 0.5, or at 0 for -1/+1 labels and the hinge loss; integer labels or
      one-hot rows for several), none otherwise.
    * ``print_every=k``: print epoch, loss and metrics every ``k`` epochs (to ``file``,
      default stdout). ``progress``: a tqdm bar; None (default) shows it on a terminal
      or in a Jupyter notebook. Or Keras's ``verbose``: 0 silent, 1 the bar, 2 one line
      per epoch.

    **How a step is computed** (the same numbers every way):

    * ``replay`` (default: on, except in anomaly mode): replay the model's recorded
      graph on arrays (:mod:`micrograd_mlp.core.recorder`; same numbers to ~1e-12,
      several times faster). The loss part is either replayed too (the library's
      ``mse``, ``squared_error`` and softmax cross-entropy, whose targets are checked on
      every batch) or built again on the replayed predictions at every step (every
      other loss, callables included), so every check of the loss runs on every batch.
    * ``replay=False``: the batch as one graph of batched Values (lockstep).
    * ``per_sample=True`` (or ``batch_size=1``): one graph per sample, the gradients
      accumulated before the step: the same update, more slowly (for teaching, and to
      check the batching).

    Each epoch: the batches' steps, the metrics, the validation, the callbacks, then
    the scheduler's step.
    """
    plan = FitPlan(model, X, y, loss, optimizer, lr, epochs, batch_size, epsilon, validation,
                   metrics, print_every, progress, seed, shuffle, per_sample, file, replay,
                   scheduler, callbacks, validation_split, verbose)
    history = History()
    for cb in plan.callbacks:
        if hasattr(cb, "set_model"):
            cb.set_model(model)
        if getattr(cb, "stop_training", False):
            cb.stop_training = False  # as Keras resets model.stop_training
        if hasattr(cb, "on_train_begin"):
            cb.on_train_begin({})
    bar = _progress_bar(plan.epochs, plan.progress)
    n = plan.X.shape[0]
    step = make_step(plan.step_kind, model, plan.loss_fn, plan.optimizer)
    try:
        with step:
            for epoch in range(1, plan.epochs + 1):
                history.lr.append(float(plan.optimizer.lr))
                preds, total = np.empty((n, model.nout)), 0.0
                order = plan.rng.permutation(n) if plan.shuffle else np.arange(n)
                for start in range(0, n, plan.batch_size):
                    idx = order[start:start + plan.batch_size]
                    value, preds[idx] = step.run(plan.X[idx], plan.targets.batch(idx))
                    total += value * len(idx)
                history.loss.append(total / n)
                for k, v in compute_metrics(plan.metrics, preds, plan.targets,
                                            plan.threshold).items():
                    history.metrics.setdefault(k, []).append(v)
                if plan.val is not None or plan.callbacks:
                    step.sync()  # validation and callbacks read the parameter Values
                if plan.val is not None:
                    Xv, tv = plan.val
                    vl, vpreds = evaluate_model(model, Xv, tv.batch(np.arange(Xv.shape[0])),
                                          plan.loss_fn)
                    history.val_loss.append(vl)
                    for k, v in compute_metrics(plan.metrics, vpreds, tv, plan.threshold).items():
                        history.val_metrics.setdefault(k, []).append(v)
                stop = _stop_reason(epoch, history.loss[-1], plan.epsilon, plan.callbacks,
                                    history.logs())
                if plan.scheduler is not None:
                    plan.scheduler.step()
                if bar is not None:
                    bar.update(1)
                    if epoch % 10 == 0 or stop:
                        bar.set_postfix(loss=f"{history.loss[-1]:.4g}")
                if plan.print_every and (epoch % plan.print_every == 0 or stop
                                         or epoch == plan.epochs):
                    print(epoch_line(epoch, history), file=plan.out)
                if stop:
                    history.stopped_early = True
                    history.stop_reason = stop
                    break
            else:
                history.stop_reason = f"reached {plan.epochs} epochs"
    except DomainError as e:  # say what about this model made the loss's input wrong
        if plan.hint and "must lie in [0, 1]" in str(e):
            raise DomainError(f"{e}. {plan.hint}") from e
        raise
    finally:
        if bar is not None:
            bar.close()
    for cb in plan.callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(history.logs() if history.loss else {})
    return history


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


# ---------------------------------------------------------------- evaluation


def predict(model, X) -> np.ndarray:
    """The model's outputs for inputs ``X`` (shape (n, nin); a 1-D array is n samples
    for a one-input model, else one sample of nin numbers) as numpy: shape (n,) for one output, (n, nout) otherwise. No graph is
    kept (runs under :func:`~micrograd_mlp.core.modes.no_grad`)."""
    X = as_inputs(model, X)
    with no_grad():
        out = model.forward(X)
    preds = np.column_stack([np.broadcast_to(o.data, (X.shape[0],)) for o in out])
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
    out = sys.stdout if file is None else check_stream(file, "file")
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
        print("\n".join(lines), file=out)
    return lines
