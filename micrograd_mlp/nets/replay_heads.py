"""The loss part of a replayed training step: from the predictions ``(B, nout)`` and the
batch's targets, the loss and ``G = d loss/d predictions``.

* :class:`BuiltHead` builds the loss as an ordinary graph on the predictions (one leaf
  per output) at every step and runs ``backward()``: the loss's own code, so all its
  checks, numbers and errors are the built graph's, whatever the loss computes.
* :class:`RecordedHead` replays a recording of the loss graph (the first batch's, or
  one made on stand-in targets) for the library losses whose only batch-dependent checks are their
  target rule (:data:`TARGET_RULE_ONLY`): that rule
  (:func:`~micrograd_mlp.functions.targets.check_targets`) runs on every batch, and the
  primitives' own checks run inside the replay. The targets' numbers reach the
  recording as columns of ``y`` or one-hot columns of integer labels.

:class:`LossHeads` picks the recorded head when it applies, else the built one.
"""
from __future__ import annotations

from typing import Callable, List

import numpy as np

from ..core.engine import Value
from ..core.graph_walk import leaves
from ..core.recorder import Recorded
from ..errors import DataTypeError
from ..functions import losses
from ..functions.targets import CLASSES, check_targets, target_rule_of

ndarray = np.ndarray

__all__ = ["BuiltHead", "RecordedHead", "LossHeads", "TARGET_RULE_ONLY"]

#: library losses whose batch-dependent checks are exactly their target rule
TARGET_RULE_ONLY = (losses.mse, losses.squared_error, losses.softmax_cross_entropy)


def build_loss(loss_fn: Callable, zs: List[Value], single: bool, y) -> Value:
    """``loss_fn(predictions, y)`` on the leaves ``zs``, reduced to its batch mean when
    the loss gives one number per sample."""
    loss = loss_fn(zs[0] if single else zs, y)
    if not isinstance(loss, Value):
        raise DataTypeError(f"compile_step: loss_fn must return a Value, got {type(loss).__name__}")
    if loss.data.__class__ is ndarray:
        loss = loss.mean()
    return loss


class BuiltHead:
    """The loss built on the predictions at every step (see the module docstring).

    Parameters the loss reads itself (an L2 term) get their values from ``theta`` and
    their gradients are returned apart, so the step adds them to the vector."""

    def __init__(self, loss_fn, params, single, labels):
        self.loss_fn, self.single, self.labels = loss_fn, single, labels
        self.params = params
        self.head_params = None
        self.graph = None    # (loss, leaves) of the last run(keep=True)

    def run(self, preds: np.ndarray, y, theta, keep: bool = False):
        """``(loss, G (B, nout), [(parameter index, gradient)])``; ``keep``: the graph
        stays in ``graph`` (the caller may record it)."""
        zs = [Value(c, label) for c, label in zip(np.ascontiguousarray(preds.T), self.labels)]
        head = self.head_params
        saved = [p.grad for _, p in head or ()]
        for i, p in head or ():    # the loss reads these: give it the current values
            p.data, p.grad = float(theta[i]), 0.0
        loss = build_loss(self.loss_fn, zs, self.single, y)
        if head is None:   # the first step: which parameters does the loss read itself?
            found = leaves(loss, {id(z) for z in zs})
            trainable = {id(v) for v in found if v.requires_grad}
            head = self.head_params = [(i, p) for i, p in enumerate(self.params)
                                       if id(p) in trainable] if trainable else []
            if head:       # built again on the parameter vector's values
                return self.run(preds, y, theta)
        loss.backward()
        self.graph = (loss, zs) if keep else None
        G = np.empty_like(preds)
        for j, z in enumerate(zs):
            G[:, j] = z.grad
        extra = [(i, p.grad) for i, p in self.head_params]
        for (_, p), g in zip(self.head_params, saved):
            p.grad = g
        return float(loss.data), G, extra


def _recipes(consts, y, indices: bool):
    """How to get each loss constant from the targets ``y``: ``("col", j)`` for column
    ``j`` of ``y`` (``y`` itself if 1-D), or, when ``y`` holds class ``indices``,
    ``("onehot", i)`` for ``(y == i)``; ``("fixed", value)`` for a number; None for a
    constant that no recipe, or more than one, fits."""
    arrays = [c.data for c in consts if c.data.__class__ is ndarray]
    if indices:
        classes = np.unique(y)
        D = np.array(arrays) if arrays else np.zeros((0, y.shape[0]))
        # a 0/1 column equal to (y == class) for exactly one class
        zero_one = (D == (D != 0)).all(axis=1)
        match = ((D != 0)[:, None, :] == (y[None, :] == classes[:, None])[None]).all(axis=2)
        found = [("onehot", classes[hits[0]].item()) if ok and hits.size == 1 else None
                 for ok, hits in zip(zero_one, (np.flatnonzero(m) for m in match))]
    else:
        cols = [y] if y.ndim == 1 else [y[:, j] for j in range(y.shape[1])]
        found = []
        for data in arrays:
            fits = [("col", j) for j, col in enumerate(cols) if np.array_equal(data, col)]
            found.append(fits[0] if len(fits) == 1 else None)
    it = iter(found)
    return [next(it) if c.data.__class__ is ndarray else ("fixed", c.data) for c in consts]


def _stand_in_targets(y: np.ndarray, nout: int, indices: bool) -> np.ndarray:
    """Targets of ``y``'s kind (shape, dtype) whose columns, one-hot columns and numbers
    differ as far as the batch size allows, to trace every loss constant to a recipe."""
    B = y.shape[0]
    i = np.arange(B)
    if y.ndim == 2:
        out = np.eye(y.shape[1])[i % y.shape[1]]
    elif indices:
        out = i % nout
    elif y.dtype.kind == "f":
        out = 0.125 * i + 0.0625
    else:
        out = i % 2
    return out.astype(y.dtype)


class RecordedHead:
    """The loss graph of one batch size (the first batch's built loss, or one built on
    stand-in predictions and targets when a constant could be read from two target
    columns) replayed on each batch of that size (its constants, such as the ``1/B`` of
    a mean, belong to the size; see the module docstring); raises LookupError when the
    loss does not qualify."""

    def __init__(self, loss_fn, single, labels, nout, y, graph=None):
        if not any(loss_fn is f for f in TARGET_RULE_ONLY):
            raise LookupError("not a loss whose checks are its target rule")
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.dtype.kind not in "biuf":
            raise LookupError("targets that do not name their batch")
        self.loss_fn, self.nout = loss_fn, nout
        indices = target_rule_of(loss_fn) == CLASSES and y.ndim == 1
        # the loss built on this batch (``graph``: (loss, leaves)) when each of its
        # constants is one target column (or one class's one-hot column) and no other;
        # else built again on stand-in targets whose columns all differ
        found = self._constants(*graph, y, indices) if graph is not None else None
        if found is None:
            ys = _stand_in_targets(y, nout, indices)
            zs = [Value(np.full(ys.shape[0], 0.5), label) for label in labels]
            found = self._constants(build_loss(loss_fn, zs, single, ys), zs, ys, indices)
            if found is None:
                raise LookupError("a loss constant that is not read from the targets")
        loss, self.zs, consts, self.recipes = found
        self.consts = consts
        self.rec = Recorded(loss, params=[], inputs=self.zs + consts)
        self.classes = (np.array([arg for _, arg in self.recipes])
                        if consts and all(k == "onehot" for k, _ in self.recipes) else None)
        self._refs = {}

    @staticmethod
    def _constants(loss, zs, ys, indices):
        """``(loss, zs, constants, their recipes)``, or None when a constant has no
        single recipe; LookupError when the loss reads a parameter."""
        found = leaves(loss, {id(z) for z in zs})
        if any(v.requires_grad for v in found):
            raise LookupError("the loss reads a parameter")
        consts = [v for v in found if v.data.__class__ is ndarray]
        recipes = _recipes(consts, ys, indices)
        return None if any(r is None for r in recipes) else (loss, zs, consts, recipes)

    def run(self, preds: np.ndarray, y, theta=None):
        """``(loss, G (B, nout), ())`` after the loss's target rule accepted ``y``."""
        y = np.asarray(y)
        B = preds.shape[0]
        check_targets(self.loss_fn, y, self.nout, B)
        bound = self.rec.bind(B)
        refs = self._refs.get(B)
        if refs is None or refs[0] is not bound:
            refs = self._refs[B] = (bound, bound.rows(self.zs), bound.rows(self.zs, grads=True),
                                    bound.rows(self.consts) if self.consts else None)
        _, z_rows, z_grads, const_rows = refs
        z_rows.set(preds.T)
        self._feed_targets(bound, y, const_rows)
        bound.forward()
        bound.backward()
        # G: a view of the recording's gradients, valid until the next run (the step
        # copies it into the model's buffers at once)
        return bound.root_value(), z_grads.get().T, ()

    def _feed_targets(self, bound, y, const_rows):
        if self.classes is not None:
            # every constant a one-hot column: one comparison into the block (or, when
            # the constants' rows are not evenly spaced, one comparison then one write)
            if const_rows.view is not None:
                np.equal(y[None, :], self.classes[:, None], out=const_rows.view, casting="unsafe")
            else:
                const_rows.set(np.equal(y[None, :], self.classes[:, None]))
            return
        for c, (kind, arg) in zip(self.consts, self.recipes):
            if kind == "col":
                bound.row(c)[...] = y if y.ndim == 1 else y[:, arg]
            else:
                np.equal(y, arg, out=bound.row(c), casting="unsafe")


class LossHeads:
    """The loss part for every batch size: a :class:`RecordedHead` per size when the
    loss qualifies and, on the first batch of that size, gives the built loss's numbers
    (to 1e-12); else the :class:`BuiltHead`."""

    def __init__(self, loss_fn, params, single, labels):
        self.built = BuiltHead(loss_fn, params, single, labels)
        self.loss_fn, self.single, self.labels = loss_fn, single, labels
        self.recorded = {}
        self.replayable = any(loss_fn is f for f in TARGET_RULE_ONLY)

    def run(self, preds: np.ndarray, y, theta):
        """``(loss, G (B, nout), [(parameter index, gradient)])``."""
        if not self.replayable:
            return self.built.run(preds, y, theta)
        B = preds.shape[0]
        head = self.recorded.get(B)
        if head is None:
            result = self.built.run(preds, y, theta, keep=True)
            graph, self.built.graph = self.built.graph, None
            if len(self.recorded) >= 4:   # bounded: forget the oldest size
                self.recorded.pop(next(iter(self.recorded)))
            self.recorded[B], result = self._recorded_or_built(preds, y, result, graph)
            return result
        return head.run(preds, y, theta)

    def head_of(self, batch_size: int):
        """The head that runs batches of ``batch_size`` (after the first of them)."""
        return self.recorded.get(batch_size, self.built) if self.replayable else self.built

    def _recorded_or_built(self, preds, y, expected, graph=None):
        """``(head, result)``: the recorded head and its own result when it gives the
        built loss's numbers ``expected`` (to 1e-12), else the built head and
        ``expected``. The first batch of a size then has the numbers of every later
        one (the two differ in the last bits), whoever ran a batch of that size first."""
        try:
            head = RecordedHead(self.loss_fn, self.single, self.labels, len(self.labels), y,
                                graph)
        except LookupError:
            return self.built, expected
        value, G, extra = head.run(preds, y)
        if expected[2] or not _close(value, expected[0]) or not _close(G, expected[1]):
            return self.built, expected
        return head, (value, G, list(extra))


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.all(np.abs(a - b) <= tol * (1.0 + np.abs(b))))
