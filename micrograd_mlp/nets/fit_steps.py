"""The three ways :func:`~micrograd_mlp.nets.train.fit` computes one update, behind one
interface, so that ``fit`` runs one loop whatever the way:

* :class:`BuiltStep`: the batch as one graph (each input column one batched Value),
  ``backward()``, ``optimizer.step()``: the engine itself, as a student reads it;
* :class:`PerSampleStep`: one graph per sample, each backward seeded with
  ``1 / batch size``, so the accumulated gradient is that of the batch mean: the same
  update, more slowly (for teaching, and to check the batching);
* :class:`ReplayedStep`: the model's graph recorded once and replayed on arrays
  (:mod:`micrograd_mlp.nets.compiled_step`): the same numbers to ~1e-12, several times
  faster. A loss whose graph depends on the data falls back to :class:`BuiltStep`.

Each is a context manager (``with step:`` around the epochs) with ``run(Xb, yb) ->
(loss before the step, predictions (B, nout) before the step)`` and ``sync()`` (the
parameter Values hold the current numbers afterwards). The mean batch loss is the mean
over the batch of ``loss(prediction, target)``.
"""
from __future__ import annotations

from typing import Callable, List

import numpy as np

from ..core.blas_threads import single_threaded_blas
from ..core.engine import Value
from ..core.modes import no_grad
from ..errors import ArgumentError, DataTypeError, GradientError
from .compiled_step import compile_step, replayed_train_step

__all__ = ["BuiltStep", "PerSampleStep", "ReplayedStep", "make_step", "evaluate_model"]


def _squeeze(out: List[Value]):
    return out[0] if len(out) == 1 else out


def _mean_loss(L) -> Value:
    if not isinstance(L, Value):
        raise DataTypeError(f"the loss must return a Value, got {type(L).__name__}")
    return L.mean() if L.is_batched else L


def _predictions(out: List[Value], n: int) -> np.ndarray:
    return np.column_stack([np.broadcast_to(o.data, (n,)) for o in out])


class BuiltStep:
    """One update on a batch built as one graph: zero the grads, the mean batch loss
    ``L = 1/B sum_i loss(model(x_i), y_i)`` built on batched Values, ``L.backward()``,
    ``optimizer.step()``."""

    def __init__(self, model, loss_fn: Callable, optimizer):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sync()
        return False

    def sync(self) -> None:
        """Nothing to do: a built step updates the parameter Values themselves."""

    def run(self, Xb: np.ndarray, yb: np.ndarray):
        """``(loss, predictions)`` before the update of the batch ``(Xb, yb)``."""
        self.optimizer.zero_grad()
        out = self.model.forward(Xb)
        L = _mean_loss(self.loss_fn(_squeeze(out), yb))
        L.backward()
        value = float(L.data)
        self.optimizer.step()
        return value, _predictions(out, Xb.shape[0])


class PerSampleStep(BuiltStep):
    """One update on a batch of ``B`` samples built one graph per sample: each sample's
    loss ``L_i`` backward with seed ``1 / B``, so that the gradients add up to those of
    the mean ``1/B sum_i L_i``; then ``optimizer.step()``."""

    def run(self, Xb: np.ndarray, yb: np.ndarray):
        """``(loss, predictions)`` before the update of the batch ``(Xb, yb)``."""
        self.optimizer.zero_grad()
        B = Xb.shape[0]
        value, preds, seed = 0.0, np.empty((B, self.model.nout)), 1.0 / B
        for i in range(B):
            out = self.model.forward(Xb[i].tolist())
            target = yb[i].tolist()  # a float, an int label, or a row of floats
            L = _mean_loss(self.loss_fn(_squeeze(out), target))
            L.backward(seed)
            value += float(L.data)
            preds[i] = [o.data for o in out]
        self.optimizer.step()
        return value / B, preds


class ReplayedStep(BuiltStep):
    """One update replayed on arrays (:func:`~micrograd_mlp.nets.compiled_step.
    replayed_train_step`): the parameters stay a vector between steps until
    :meth:`sync`. Inside ``with``, numpy's BLAS runs on one thread (replay's matrix
    products are small; waking threads costs more than they save)."""

    def __init__(self, model, loss_fn: Callable, optimizer):
        super().__init__(model, loss_fn, optimizer)
        self._blas = None
        self.compiled = compile_step(model, loss_fn)

    def __enter__(self):
        self._blas = single_threaded_blas()
        self._blas.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.sync()
        finally:
            self._blas.__exit__(*exc)
        return False

    def sync(self) -> None:
        """Write the parameter vector kept between steps into the parameter Values."""
        if self.compiled is not None:
            self.compiled.sync()

    def run(self, Xb: np.ndarray, yb: np.ndarray):
        """``(loss, predictions)`` before the update of the batch ``(Xb, yb)``."""
        if self.compiled is not None:
            try:
                return replayed_train_step(self.compiled, Xb, yb, self.optimizer, sync=False)
            except GradientError:  # this loss's graph depends on the data: build it
                self.compiled.sync()
                self.compiled = None
        return BuiltStep.run(self, Xb, yb)


def make_step(kind: str, model, loss_fn: Callable, optimizer) -> BuiltStep:
    """The step of ``kind`` (``"replayed"``, ``"built"`` or ``"per_sample"``, as
    :class:`~micrograd_mlp.nets.fit_inputs.FitPlan` chose it) for this model, loss and
    optimiser."""
    if kind == "replayed":
        return ReplayedStep(model, loss_fn, optimizer)
    if kind == "per_sample":
        return PerSampleStep(model, loss_fn, optimizer)
    if kind == "built":
        return BuiltStep(model, loss_fn, optimizer)
    raise ArgumentError(f"unknown kind of step {kind!r:.40}: 'replayed', 'built' or 'per_sample'")


def evaluate_model(model, X: np.ndarray, y: np.ndarray, loss_fn: Callable):
    """``(mean loss, predictions (n, nout))`` of ``model`` on ``(X, y)``, no graph kept."""
    with no_grad():
        out = model.forward(X)
        L = _mean_loss(loss_fn(_squeeze(out), y))
    return float(L.data), _predictions(out, X.shape[0])
