"""A compiled training step: the loss of a model on a batch and its gradient, with the
model part replayed as arrays (:mod:`micrograd_mlp.nets.replay_programs`) instead of a
graph built for every batch.

A step has two parts:

* the **model**: predictions ``(B, nout)`` from the batch and the parameter vector,
  replayed (recorded once, for every batch size);
* the **loss**: on the predictions and the batch's targets
  (:mod:`micrograd_mlp.nets.replay_heads`): replayed from a recording per batch size
  for the losses whose only batch checks are their target rule (run on every batch),
  else built as an ordinary graph on the predictions at every step (the loss's own
  code, so every check and number is the built graph's).

The gradient of the predictions then flows back through the replayed model.
"""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from ..core.value_data import data_of, data_vector
from ..errors import DataTypeError, ShapeError
from .optim import Optimizer
from .replay_heads import LossHeads
from .replay_programs import program_for

ndarray = np.ndarray

__all__ = ["CompiledStep", "compile_step", "replayed_train_step"]


class CompiledStep:
    """``step(X, y) -> (loss, grads)``: the loss ``loss_fn(model(X), y)`` (its mean
    over the batch when the loss gives one number per sample) and its gradient for every
    parameter (in the order of ``params``, default ``model.parameters()``), added into
    the parameters' ``.grad`` as ``backward()`` does.

    The parameters may be kept as a vector between steps (:func:`replayed_train_step`
    with ``sync=False``); :meth:`sync` writes them into the Values."""

    def __init__(self, model, loss_fn: Callable, params=None):
        self.model = model
        self.loss_fn = loss_fn
        self.params = list(params) if params is not None else None   # None: the model's
        self.program = None
        self.unsynced = None           # (theta, grads) not yet written into the Values
        self._written = None           # (floats, array) last written into the Values
        self.head = None               # the loss part (replay_heads), made at the first step
        self._preds = None
        self._vector_optimizer = None  # (optimiser, its parameter list) known to match
        self._grad_buffers = None      # the two gradient vectors run(reuse=True) takes turns on
        self._theta_buffers = None     # the two parameter vectors replayed steps write in turn

    # ------------------------------------------------------------ parameters

    def sync(self) -> None:
        """Write the parameter values and gradients that :func:`replayed_train_step`
        keeps as vectors (``sync=False``) into the parameter Values."""
        if self.unsynced is None:
            return
        theta, grads = self.unsynced
        self.unsynced = None
        self.write(theta, grads)

    def write(self, theta: np.ndarray, grads: np.ndarray) -> None:
        """Set every parameter's ``data`` and ``grad`` from the vectors."""
        new = theta.tolist()
        for p, v, g in zip(self.params, new, grads.tolist()):
            p.data = v
            p.grad = g
        self._written = (new, theta)

    def theta(self) -> np.ndarray:
        """The current parameter vector (unsynced vector, else the Values' data)."""
        if self.unsynced is not None:
            return self.unsynced[0]
        written = self._written
        if written is not None and all(map(operator.is_, data_of(self.params), written[0])):
            return written[1]   # the very numbers written last: no conversion
        return data_vector(self.params)

    # ------------------------------------------------------------ the step

    def record(self, X, y=None):
        """Record the model part (done by the first step when not called); ``X``: a
        batch (of any size) of inputs, ``y`` is not needed."""
        X = self._inputs(X)
        self.program, self.params = program_for(self.model, self.params, X)
        return self.program

    def prepare(self, X) -> np.ndarray:
        """``X`` checked (see :meth:`record`), recording the model part if not yet done."""
        X = self._inputs(X)
        if self.program is None:
            self.program, self.params = program_for(self.model, self.params, X)
        return X

    def _inputs(self, X) -> np.ndarray:
        """``X`` as a C-ordered float64 ``(B, nin)`` array, refused as the model's
        forward refuses it."""
        if not isinstance(X, ndarray):
            X = np.asarray(X)
        if X.ndim != 2:
            raise ShapeError(f"compile_step: X must be an (n, nin) array, got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise DataTypeError(f"compile_step: input array of dtype {X.dtype} is not numeric")
        if X.shape[0] == 0:
            raise ShapeError(f"compile_step: an empty batch (shape {X.shape})")
        nin = getattr(self.model, "nin", None) if self.program is None else self.program.nin
        if nin is not None and X.shape[1] != nin:
            raise ShapeError(f"{self.model!r} expects {nin} input columns, got an array of "
                             f"shape {X.shape}")
        return np.ascontiguousarray(X, dtype=np.float64)

    def run(self, X, y, theta: np.ndarray, reuse: bool = False):
        """``(loss, grads, predictions)`` for the batch ``(X, y)`` at parameters
        ``theta``; touches no parameter Value except those the loss itself reads.
        ``reuse=True``: the gradient vector is one of two kept buffers, overwritten two
        steps later (a fresh vector of a large model costs more than computing it)."""
        X = self.prepare(X)
        preds = self.program.forward(X, theta, keep=reuse)
        if self.head is None:
            self.head = LossHeads(self.loss_fn, self.params, self.program.single,
                                  self.program.output_labels)
        loss, G, head_grads = self.head.run(preds, y, theta)
        out = None
        if reuse:
            if self._grad_buffers is None or self._grad_buffers[0].size != len(self.params):
                self._grad_buffers = [np.empty(len(self.params)) for _ in range(2)]
            out = self._grad_buffers.pop(0)
            self._grad_buffers.append(out)
        grads = self.program.backward(G, out)
        for i, g in head_grads:
            grads[i] += g
        self._preds = preds
        return loss, grads, preds

    def spare_theta(self, theta: np.ndarray) -> np.ndarray:
        """One of two kept parameter vectors, not ``theta``: where a replayed step writes
        the updated parameters (``optimizer.update(..., out=)``), so that the layers'
        views of it are made once."""
        bufs = self._theta_buffers
        if bufs is None or bufs[0].size != len(self.params):
            bufs = self._theta_buffers = [np.empty(len(self.params)) for _ in range(2)]
        return bufs[1] if bufs[0] is theta else bufs[0]

    def __call__(self, X, y, accumulate: bool = True, param_data=None):
        """Replay one step on the batch ``(X, y)``: ``(loss, grads)``, the grads also
        added into (``accumulate=False``: written to) the parameters' ``.grad``.
        ``param_data``: the parameter vector to use instead of the Values' ``data``."""
        self.sync()
        X = self.prepare(X)
        theta = self.theta() if param_data is None else self._vector(param_data)
        loss, grads, _ = self.run(X, y, theta)
        for p, g in zip(self.params, grads.tolist()):
            p.grad = (0.0 if p.grad is None else p.grad) + g if accumulate else g  # None: no grad yet
        return loss, grads

    def _vector(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (len(self.params),):
            raise ShapeError(f"compile_step: param_data must have shape "
                             f"({len(self.params)},), got {theta.shape}")
        return theta

    def takes_vectors(self, optimizer) -> bool:
        """True when ``optimizer`` is a library one (its ``step`` is
        :meth:`Optimizer.step`) over exactly this step's parameters in their order (the
        answer is kept per optimiser and parameter list)."""
        params = optimizer.params
        key = (id(optimizer), id(params), len(params))
        if self._vector_optimizer != key:
            if not (type(optimizer).step is Optimizer.step and len(params) == len(self.params)
                    and all(map(operator.is_, params, self.params))):
                return False
            self._vector_optimizer = key
        return True

    def predictions(self) -> np.ndarray:
        """The model's outputs ``(B, nout)`` of the last step (before its update)."""
        return self._preds.copy()


def replayed_train_step(step: CompiledStep, Xb, yb, optimizer, sync: bool = True):
    """The replayed twin of :func:`micrograd_mlp.nets.train.train_step`: zero the grads,
    loss and gradients of the mean batch loss by replay, ``optimizer.step()``. Returns
    ``(loss before the step, predictions (B, nout) before the step)``.

    When the optimiser is a library one (its ``step`` is :meth:`Optimizer.step`) over
    the step's parameters in the same order (as in :func:`~micrograd_mlp.nets.train.fit`),
    the vectors go to ``optimizer.update`` directly (the numbers of
    ``optimizer.step()``; the library's rules write into one of two parameter vectors
    the step keeps, so a vector from ``step.theta()`` is overwritten two steps later).
    Then ``sync=True`` writes each parameter's new ``data`` and its ``grad`` (as ``zero_grad()`` + ``backward()`` leave it); ``sync=False`` keeps
    them as vectors inside ``step`` until ``step.sync()`` (or the next plain
    ``step(X, y)``): until then the Values hold the old numbers, so do not read or
    change them, nor call ``optimizer.step()``. The gradient vector given to
    ``optimizer.update`` is reused two steps later: an optimiser must not keep it (the
    library's keep copies or new arrays)."""
    Xb = step.prepare(Xb)
    if step.takes_vectors(optimizer):
        theta = step.theta()
        value, grads, preds = step.run(Xb, yb, theta, reuse=True)
        preds = preds.copy()
        if getattr(type(optimizer).update, "takes_out", False):
            new = optimizer.update(theta, grads, out=step.spare_theta(theta))
        else:
            new = optimizer.update(theta, grads)
        if sync:
            step.unsynced = None
            step.write(new, grads)
        else:
            step.unsynced = (new, grads)
        return value, preds
    step.sync()
    optimizer.zero_grad()
    value, _ = step(Xb, yb)
    preds = step.predictions()
    optimizer.step()
    return value, preds


def compile_step(model, loss_fn: Callable, X=None, y=None, params=None) -> CompiledStep:
    """A replayed training step for ``model`` and ``loss_fn(prediction, y)``
    (``prediction`` as ``model`` returns it for a batch: one Value or a list; ``y`` the
    targets as the loss accepts them). With ``X`` given the model part is recorded at
    once (from any batch: the recording serves every batch size); otherwise at the first
    call. The loss is built on the predictions at every step, so it may compute anything
    from the targets."""
    step = CompiledStep(model, loss_fn, params)
    if X is not None:
        step.record(X, y)
    return step
