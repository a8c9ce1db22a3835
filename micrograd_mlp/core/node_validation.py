"""Checks on the nodes an operation makes, and the names its error messages use.

:func:`describe` names a node in a message; :func:`check_batch_shapes` and
:func:`batch_mismatch` refuse batches of different lengths; :func:`check_finite` is the
test of anomaly mode (NaN or infinity where a number should be).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import AnomalyError, ShapeError

__all__ = ["describe", "check_batch_shapes", "batch_mismatch", "check_finite", "short_text"]

ndarray = np.ndarray


def describe(node) -> str:
    """A short name for a node in messages: its label, else its operation, else (an
    unlabelled leaf) what kind of leaf it is and its value."""
    if node.label:
        return f"node {node.label!r}"
    if node.op:
        return f"the {node.op!r} node"
    kind = "leaf" if node.requires_grad else "constant"
    data = node.data
    value = f"a batch of {data.size}" if data.__class__ is ndarray else f"{data:.6g}"
    return f"an unlabelled {kind} ({value})"


def check_batch_shapes(op, data, parents):
    shape = data.shape
    for p in parents:
        d = p.data
        if d.__class__ is ndarray and d.shape != shape:
            batch_mismatch(op, parents)


def batch_mismatch(op, parents):
    sizes = ", ".join(
        f"{describe(q)}: {q.data.size if q.data.__class__ is ndarray else 'scalar'}"
        for q in parents)
    raise ShapeError(f"{op}: batch lengths differ ({sizes})")


def check_finite(data, node, what, parents=()):
    ok = bool(np.all(np.isfinite(data))) if data.__class__ is ndarray else math.isfinite(data)
    if ok:
        return
    inputs = ", ".join(f"{describe(p)}={short_text(p.data)}" for p in parents)
    where_ = f" from inputs {inputs}" if inputs else ""
    raise AnomalyError(f"anomaly: {what} is {short_text(data)} at {describe(node)}{where_}")


def short_text(x):
    """A number, or a summary of an array's non-finite entries, for a message."""
    if x.__class__ is ndarray:
        bad = x[~np.isfinite(x)]
        return f"array with {bad.size} non-finite entries (first {bad[0] if bad.size else x[0]})"
    return repr(x)
