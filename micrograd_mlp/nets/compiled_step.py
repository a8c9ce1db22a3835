"""A compiled training step: the loss of a model on a batch, and its gradient, by
replaying a recorded graph (:class:`~micrograd_mlp.core.recorder.Recorded`) instead of
building a new one for every batch."""
from __future__ import annotations

import operator
from typing import Callable, Dict, List, Tuple

import numpy as np

from ..core.engine import Value
from ..core.recorder import Recorded
from ..errors import GradientError, ShapeError
from .optim import Optimizer

ndarray = np.ndarray

__all__ = ["CompiledStep", "compile_step", "train_step"]


def _head_constants(root: Value, stop) -> List[Value]:
    """The constant leaves of the loss part of a graph: depth first from ``root`` in
    parent order, not entering the nodes whose id is in ``stop`` (the model's outputs).
    Two graphs of the same shape give their constants in the same order."""
    found, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in stop:
            continue
        if not node.parents:
            if not node.requires_grad:
                found.append(node)
            continue
        stack.extend(reversed(node.parents))
    return found


def _recipe(data, y):
    """How to get a loss constant from the targets ``y`` without building anything:
    ``("col", j)`` for column ``j`` of ``y`` (``y`` itself if 1-D), ``("onehot", i)`` for
    ``(y == i)`` of integer labels, ``("fixed", value)`` for a value that is the same for
    every batch of this size, or None (rebuild the loss part at each step)."""
    y = np.asarray(y)
    if data.__class__ is ndarray:
        cols = [y] if y.ndim == 1 else [y[:, j] for j in range(y.shape[1])]
        for j, col in enumerate(cols):
            if np.array_equal(data, col):
                return ("col", j)
        if y.ndim == 1 and y.dtype.kind in "iu":
            for i in np.unique(y):
                if np.array_equal(data, (y == i).astype(float)):
                    return ("onehot", int(i))
        return None
    return ("fixed", data)


class CompiledStep:
    """``step(X, y) -> (loss, grads)``: the loss ``loss_fn(model(X), y)`` and its
    gradient for every parameter (in the order of ``params``, default
    ``model.parameters()``), added into the parameters' ``.grad`` as ``backward()`` does,
    computed by replaying one recorded graph per batch size.

    The loss may turn ``y`` into constants of its own (a one-hot matrix for integer
    labels): the step finds them in the recorded graph and refreshes them for each new
    batch, from ``y`` directly where it can tell how (a column of ``y``, a one-hot
    column), else by building only the loss part again on stand-in predictions (a few
    nodes per output), checked against the recording when it is made."""

    def __init__(self, model, loss_fn: Callable, params=None):
        self.model = model
        self.loss_fn = loss_fn
        self.params = list(params) if params is not None else list(model.parameters())
        self.recordings: Dict[Tuple, Tuple] = {}
        # parameter and gradient vectors not yet written into the Values (train_step
        # with sync=False); sync() writes them
        self._pending = None

    def sync(self) -> None:
        """Write the parameter values and gradients that :func:`train_step` keeps as
        vectors (``sync=False``) into the parameter Values; nothing to do otherwise."""
        if self._pending is None:
            return
        theta, grads = self._pending
        self._pending = None
        for p, v, g in zip(self.params, theta.tolist(), grads.tolist()):
            p.data = v
            p.grad = g

    @staticmethod
    def _key(X, y):
        y = _as_array(y)
        return (np.shape(X)[0], y.shape[1:], y.dtype.kind)

    def _head(self, n_out, B, y):
        """The loss part alone on stand-in predictions (0.5: inside every loss's domain);
        returns its constants in traversal order."""
        stand_in = [Value(np.full(B, 0.5)) for _ in range(n_out)]
        preds = stand_in[0] if self._single else stand_in
        loss = self.loss_fn(preds, y)
        if loss.data.__class__ is ndarray:
            loss = loss.mean()
        return _head_constants(loss, {id(q) for q in stand_in})

    def record(self, X, y) -> Recorded:
        """Build the graph of one step on ``(X, y)`` and record it."""
        self.sync()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ShapeError(f"compile_step: X must be an (n, nin) array, got shape {X.shape}")
        xs = [Value(np.ascontiguousarray(X[:, j]), f"x0[{j}]", requires_grad=False)
              for j in range(X.shape[1])]
        pred = self.model(xs)
        self._single = isinstance(pred, Value)
        outs = [pred] if self._single else list(pred)
        loss = self.loss_fn(pred, y)
        if not isinstance(loss, Value):
            raise TypeError(f"compile_step: loss_fn must return a Value, got {type(loss).__name__}")
        if loss.data.__class__ is ndarray:  # per-sample losses: their mean
            loss = loss.mean()
        consts = _head_constants(loss, {id(o) for o in outs})
        recipes = [_recipe(c.data, _as_array(y)) for c in consts]
        rebuild = any(r is None for r in recipes)
        if rebuild:  # the loss part must have the same shape on stand-ins: check it
            again = self._head(len(outs), X.shape[0], y)
            same = len(again) == len(consts) and all(
                np.shape(a.data) == np.shape(c.data) and np.array_equal(a.data, c.data)
                for a, c in zip(again, consts))
            if not same:
                raise GradientError("compile_step: the loss builds a graph whose shape "
                                    "depends on the predictions; it cannot be replayed")
        if not rebuild:  # constants fixed for this batch size stay in the recording
            fed = [(c, r) for c, r in zip(consts, recipes) if r[0] != "fixed"]
            consts, recipes = [c for c, _ in fed], [r for _, r in fed]
        rec = Recorded(loss, self.params, xs + consts)
        rec.watch(outs)
        self.recordings[self._key(X, y)] = (rec, recipes, rebuild, len(outs))
        self.last = rec
        return rec

    def __call__(self, X, y, accumulate: bool = True, param_data=None):
        """Replay one step on the batch ``(X, y)``: ``(loss, grads)``, the grads also
        added into (``accumulate=False``: written to) the parameters' ``.grad``.
        ``param_data``: the parameter vector to use instead of the Values' ``data``."""
        self.sync()
        rec, feed = self._prepare(X, y)
        return rec.run(feed, accumulate=accumulate, param_data=param_data)

    def _prepare(self, X, y):
        """The recording for this batch shape (recorded now if new) and its input data."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ShapeError(f"compile_step: X must be an (n, nin) array, got shape {X.shape}")
        y = _as_array(y)
        key = (X.shape[0], y.shape[1:], y.dtype.kind)
        entry = self.recordings.get(key)
        if entry is None:
            self.record(X, y)
            entry = self.recordings[key]
        rec, recipes, rebuild, n_out = entry
        self.last = rec
        feed = list(X.T)   # the input columns (views; copied into the recording)
        if rebuild:
            feed += [c.data for c in self._head(n_out, X.shape[0], y)]
        else:
            for kind, arg in recipes:
                if kind == "col":
                    feed.append((y if y.ndim == 1 else y[:, arg]).astype(np.float64, copy=False))
                else:  # "onehot"
                    feed.append((y == arg).astype(np.float64))
        return rec, feed

    def predictions(self) -> np.ndarray:
        """The model's outputs ``(B, nout)`` of the last step (before its update)."""
        return self.last.watched()


def _as_array(y):
    """Targets as one array: a list of per-output columns becomes ``(B, k)``."""
    if isinstance(y, (list, tuple)):
        return np.column_stack([np.asarray(c) for c in y])
    return np.asarray(y)


def train_step(step: CompiledStep, Xb, yb, optimizer, sync: bool = True):
    """The replayed twin of :func:`micrograd_mlp.train.train_step`: zero the grads, loss
    and gradients of the mean batch loss by replay, ``optimizer.step()``. Returns
    ``(loss before the step, predictions (B, nout) before the step)``.

    When the optimiser is a library one (its ``step`` is :meth:`Optimizer.step`) over
    the step's parameters in the same order (as in :func:`~micrograd_mlp.train.fit`),
    the gradient and parameter vectors go to ``optimizer.update`` directly, giving the
    numbers of ``optimizer.step()`` without reading 2 x P Values back. Then:

    * ``sync=True``: one loop writes each parameter's new ``data`` and its ``grad`` (as
      ``zero_grad()`` + ``backward()`` leave it);
    * ``sync=False``: the parameters stay a vector inside ``step`` until
      ``step.sync()`` (or the next plain ``step(X, y)`` / recording) writes them, so a
      training loop touches no parameter Value between steps. Until then the Values
      hold the old numbers: do not read or change them, nor call ``optimizer.step()``.
      :func:`~micrograd_mlp.train.fit` syncs before every validation and at the end.
    """

    params = optimizer.params
    if (type(optimizer).step is Optimizer.step and len(params) == len(step.params)
            and all(map(operator.is_, params, step.params))):
        rec, feed = step._prepare(Xb, yb)
        if rec._params_first:
            pending = step._pending
            value = rec.forward(feed, None if pending is None else pending[0])
            grads = rec.backward()
            preds = rec.watched()
            theta = optimizer.update(rec.param_data(), grads)
            if sync:
                step._pending = None
                new = theta.tolist()
                for p, v, g in zip(params, new, grads.tolist()):
                    p.data = v
                    p.grad = g
                rec._known = (new, theta)
            else:
                step._pending = (theta, grads)
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
    targets as the loss accepts them, e.g. an array). With ``X, y`` given it records at
    once; otherwise at the first call.

    The loss's constants that come from ``y`` are refreshed for each batch when they are
    a column of ``y`` or a one-hot column of integer labels; any other constant that is
    a single number is recorded once per batch size and reused, so a loss must not
    compute a scalar from the batch's targets (class weights from label frequencies,
    say): build such a loss without replay."""
    step = CompiledStep(model, loss_fn, params)
    if X is not None:
        step.record(X, y)
    return step
