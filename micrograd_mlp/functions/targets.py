"""How a loss reads its targets: one rule, used by every loss and by ``fit``.

Predictions have a layout: ``k`` outputs (``k`` Values, one per output or class), each
either one number (a single sample) or a batch of ``B`` numbers. As in PyTorch, rows
are samples and columns are outputs, so the predictions look like an array of shape
``(k,)`` for one sample and ``(B, k)`` for a batch. A target is read from its **shape
relative to that layout, never from a coincidence of sizes**, and a Python list means
exactly what ``np.asarray`` of it means.

Per-output targets (``mse``, ``squared_error``, the binary cross-entropies, ``hinge``;
``torch.nn.MSELoss`` takes a target of the input's shape):

* one output: a number (the same target for every sample), or ``(B,)`` / ``(B, 1)``
  for a batch;
* ``k > 1`` outputs: ``(k,)`` for one sample, ``(B, k)`` for a batch (a ``(1, k)`` row
  is one sample). A 1-D target on a batch of ``k > 1`` outputs is refused: it could be
  class labels or one row, so say which (``np.eye(k)[labels]`` for one-hot rows);
* a list holding Values gives one item per output (each a number, an array or a Value);
* booleans count as 0 and 1.

Class targets (``softmax_cross_entropy``; ``torch.nn.CrossEntropyLoss``): the logits
are ``(k,)`` for one sample or ``(B, k)`` for a batch, and the target is

* **class indices** when it has one dimension fewer than the logits: an int for one
  sample, a ``(B,)`` array of ints for a batch. Floats holding whole numbers are
  accepted as indices; booleans are not (is ``True`` class 1 or a one-hot entry?).
  One int on a batch is that class for every sample;
* **class probabilities** (one-hot rows) when it has as many dimensions as the
  logits: ``(k,)`` for one sample, ``(B, k)`` for a batch, each row in [0, 1] summing
  to 1 (ints and booleans are fine here).

So with a batch of 3 and 3 classes ``[0, 1, 0]`` is three labels, ``[[1, 0, 0], [0, 1,
0], [1, 0, 0]]`` three one-hot rows, list or array alike. A shape that fits neither
reading raises :class:`~micrograd_mlp.errors.ShapeError` saying what to pass.
"""
from __future__ import annotations

from typing import List, Optional, Union

import numpy as np

from ..core.engine import Value
from ..core.validate import check_array
from ..errors import DataTypeError, DomainError, ShapeError

__all__ = ["PER_OUTPUT", "CLASSES", "numeric_array", "per_output_targets", "class_targets",
           "target_rule_of", "check_targets"]

PER_OUTPUT = "per_output"   #: targets compared output by output (mse, bce, hinge ...)
CLASSES = "classes"         #: class indices or class probabilities (softmax cross-entropy)

Item = Union[float, np.ndarray, Value]


def numeric_array(target, what: str) -> np.ndarray:
    """``np.asarray(target)``, checked to hold numbers (bool, int or float dtype);
    anything else (strings, None, ragged lists, integers beyond the float range) is a
    :class:`DataTypeError` or :class:`DomainError` (see :func:`~..core.validate.check_array`)."""
    return check_array(target, f"{what}: targets")


def _has_values(target) -> bool:
    return isinstance(target, (list, tuple)) and any(isinstance(t, Value) for t in target)


def _item(x, what) -> Item:
    """One output's target inside a list holding Values: a Value, a number or a 1-D array."""
    if isinstance(x, Value):
        return x
    arr = numeric_array(x, what).astype(np.float64)
    if arr.ndim == 0:
        return float(arr)
    if arr.ndim == 1:
        return arr
    raise ShapeError(f"{what}: one output's target must be a number or a 1-D batch, "
                     f"got shape {arr.shape}")


def per_output_targets(target, k: int, batch: Optional[int], what: str) -> List[Item]:
    """The ``k`` per-output targets (a float, a ``(B,)`` array or a Value each) read from
    ``target`` by the rule of the module docstring; ``batch`` is the predictions' batch
    size (None for one sample)."""
    if isinstance(target, Value):
        items = [target]
    elif _has_values(target):
        items = [_item(t, what) for t in target]
    else:
        arr = numeric_array(target, what).astype(np.float64)
        items = _per_output_items(arr, k, batch, what)
    if len(items) != k:
        raise ShapeError(f"{what}: {k} prediction(s) but {len(items)} target(s); "
                         "give one target per output")
    return items


def _per_output_items(arr: np.ndarray, k: int, batch, what) -> List[Item]:
    if arr.ndim == 0:
        return [float(arr)]
    if arr.ndim == 1:
        if k == 1:  # one output: a 1-D target is one number per sample
            return [float(arr[0])] if arr.size == 1 and batch is None else [arr]
        if batch is None:
            return [float(t) for t in arr]
        raise ShapeError(
            f"{what}: a 1-D target of {arr.size} numbers for {k} outputs on a batch of "
            f"{batch} is ambiguous; pass a ({batch}, {k}) array, one row per sample (for "
            f"class labels use softmax_cross_entropy, or one-hot rows np.eye({k})[labels])")
    if arr.ndim == 2:
        if arr.shape[1] != k:
            raise ShapeError(f"{what}: a 2-D target must have shape (samples, {k}) for {k} "
                             f"output(s), one row per sample; got {arr.shape}"
                             f"{_transposed_hint(arr, k, batch)}")
        if batch is not None and arr.shape[0] != batch:
            raise ShapeError(f"{what}: {arr.shape[0]} target rows for a batch of {batch}")
        if batch is None and arr.shape[0] == 1:
            return [float(t) for t in arr[0]]
        return [np.ascontiguousarray(arr[:, j]) for j in range(k)]
    raise ShapeError(f"{what}: targets must be 0-, 1- or 2-D; got shape {arr.shape}")


def class_targets(label, k: int, batch: Optional[int], what: str) -> Union[int, List[Item]]:
    """Class targets for ``k`` logits with batch size ``batch`` (None for one sample),
    by the rule of the module docstring: an ``int`` class index for one sample, or ``k``
    per-class target probabilities (floats for one sample, ``(B,)`` columns for a batch)."""
    if isinstance(label, Value) or _has_values(label):
        raise DataTypeError(f"{what}: class targets are data (ints, or one-hot rows as "
                            "numbers/arrays), not Values")
    arr = numeric_array(label, what)
    logits_ndim = 1 if batch is None else 2
    if arr.ndim == logits_ndim - 1 or (arr.ndim == 0 and batch is not None):
        indices = _class_indices(arr, k, what)
        if batch is None:
            return int(indices)
        if indices.ndim == 0:  # one class for every sample of the batch
            indices = np.full(batch, int(indices))
        if indices.size != batch:
            raise ShapeError(f"{what}: {indices.size} labels for a batch of {batch}")
        return [(indices == i).astype(np.float64) for i in range(k)]
    if arr.ndim == logits_ndim:
        return _class_probabilities(arr.astype(np.float64), k, batch, what)
    layout = (f"an int (class index) or {k} class probabilities" if batch is None else
              f"{batch} class indices (shape ({batch},)) or one-hot rows (shape ({batch}, {k}))")
    extra = (" (a batch of labels needs batched logits: Values holding arrays)"
             if batch is None and arr.ndim == 1 else "")
    raise ShapeError(f"{what}: a target of shape {arr.shape} does not fit {k} logits"
                     f"{'' if batch is None else f' on a batch of {batch}'}; pass {layout}{extra}")


def _class_indices(arr: np.ndarray, k: int, what) -> np.ndarray:
    if arr.dtype.kind == "b":
        raise DataTypeError(f"{what}: boolean class labels are ambiguous; pass integers "
                            f"(labels.astype(int)) or one-hot rows of floats")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))].ravel()[0]
            raise DomainError(f"{what}: class labels must be whole numbers, got {bad!r}; "
                              f"class probabilities need one more dimension (k per sample)")
    bad = arr[(arr < 0) | (arr >= k)]
    if bad.size:
        raise DomainError(f"{what}: label {bad.ravel()[0]} is out of range for {k} classes "
                          f"(expected 0 .. {k - 1})")
    return arr.astype(np.int64)


def _class_probabilities(rows: np.ndarray, k: int, batch, what) -> List[Item]:
    if rows.shape[-1] != k:
        extra = (" (class indices of a batch need batched logits: Values holding arrays)"
                 if batch is None else _transposed_hint(rows, k, batch))
        raise ShapeError(f"{what}: {k} logits but one-hot / probability rows of length "
                         f"{rows.shape[-1]} (shape {rows.shape}){extra}")
    if rows.ndim == 2 and rows.shape[0] != batch:
        raise ShapeError(f"{what}: {rows.shape[0]} one-hot rows for a batch of {batch}")
    if not np.all((rows >= 0) & (rows <= 1)):
        raise DomainError(f"{what}: one-hot / probability labels must lie in [0, 1]")
    if not np.allclose(rows.sum(axis=-1), 1.0, rtol=0, atol=1e-9):
        raise DomainError(f"{what}: a one-hot / probability label must sum to 1 over the "
                          f"classes; got {rows.sum(axis=-1)!r:.80}")
    if rows.ndim == 1:
        return [float(t) for t in rows]
    return [np.ascontiguousarray(rows[:, i]) for i in range(k)]


def _transposed_hint(arr: np.ndarray, k: int, batch) -> str:
    if arr.ndim == 2 and arr.shape[0] == k and (batch is None or arr.shape[1] == batch):
        return f"; this looks like ({k}, samples): pass its transpose, one row per sample"
    return ""


def target_rule_of(loss) -> Optional[str]:
    """:data:`PER_OUTPUT` or :data:`CLASSES` for a library loss, None for any other
    callable (its targets are its own business)."""
    return getattr(loss, "target_rule", None)


def check_targets(loss, target, k: int, batch: Optional[int]) -> None:
    """Read ``target`` with ``loss``'s rule (if it has one) and raise what the loss would
    raise, without building anything: ``fit`` checks all its targets once this way."""
    rule = target_rule_of(loss)
    what = getattr(loss, "composite_name", None) or getattr(loss, "__name__", "loss")
    if rule == PER_OUTPUT:
        per_output_targets(target, k, batch, what)
    elif rule == CLASSES:
        class_targets(target, k, batch, what)
