"""A finite-difference gradient checker for any function of Values.

For each input ``x`` (each entry, for a batched input) the numeric derivative is the
central difference, in float64::

    df/dx ~ (f(x + eps) - f(x - eps)) / (2 eps)

and it must agree with the analytic gradient from ``backward()``::

    |analytic - numeric| <= atol + rtol * |numeric|

Like ``torch.autograd.gradcheck``: returns True, or raises :class:`GradcheckError`
listing every input whose two gradients differ, with both numbers.
"""
from __future__ import annotations

from typing import Callable, List, Sequence

import numpy as np

from ..errors import ArgumentError, DataTypeError, GradcheckError
from .validate import check_real
from .engine import Value
from .node_validation import describe
from .modes import no_grad

__all__ = ["gradcheck", "GradcheckError", "numeric_grad", "analytic_grad"]


def _scalar_output(f, inputs, where):
    out = f(*inputs)
    if not isinstance(out, Value):
        raise DataTypeError(f"gradcheck: f must return a Value, got {type(out).__name__} ({where})")
    return out.sum() if out.is_batched else out


def _checked(f, inputs, what, wrap=False) -> List[Value]:
    """The inputs as a non-empty list of Values (numbers wrapped when ``wrap``), and
    ``f`` callable; else an error of the library's family."""
    if not callable(f):
        raise DataTypeError(f"{what}: f must be a function, not {type(f).__name__}")
    if isinstance(inputs, (Value, str, bytes, dict)) or not hasattr(inputs, "__iter__"):
        raise DataTypeError(f"{what}: inputs must be a list of Values, not {type(inputs).__name__}")
    items = [Value(x) if wrap and not isinstance(x, Value) else x for x in inputs]
    for i, x in enumerate(items):
        if not isinstance(x, Value):
            raise DataTypeError(f"{what}: input {i} must be a Value, not {type(x).__name__}")
    if not items:
        raise ArgumentError(f"{what}: give at least one input")
    return items


def analytic_grad(f: Callable, inputs: Sequence[Value]) -> List:
    """The gradients of ``f(*inputs)`` (summed over a batched output) from ``backward()``,
    leaving the inputs' own ``grad`` as it was."""
    inputs = _checked(f, inputs, "analytic_grad")
    saved = [x.grad for x in inputs]
    try:
        for x in inputs:
            x.grad = 0.0 if not x.is_batched else np.zeros_like(x.data)
        _scalar_output(f, inputs, "analytic").backward()
        return [np.array(x.grad, dtype=float) for x in inputs]
    finally:
        for x, g in zip(inputs, saved):
            x.grad = g


def numeric_grad(f: Callable, inputs: Sequence[Value], eps: float = 1e-6) -> List:
    """Central differences of ``f(*inputs)`` with respect to every entry of every input."""
    inputs = _checked(f, inputs, "numeric_grad")
    eps = check_real(eps, "numeric_grad: eps", 0.0, above=True)
    grads = []
    with no_grad():
        for x in inputs:
            original = x.data
            flat = np.atleast_1d(np.array(original, dtype=float))
            g = np.zeros_like(flat)
            try:
                for i in range(flat.size):
                    for sign in (+1, -1):
                        bumped = flat.copy()
                        bumped[i] += sign * eps
                        x.data = bumped if x.is_batched else float(bumped[0])
                        g[i] += sign * float(_scalar_output(f, inputs, "numeric").data)
            finally:  # also when f raises: a model weight must not stay moved by eps
                x.data = original
            grads.append((g / (2 * eps)).reshape(np.shape(original)))
    return grads


def gradcheck(f: Callable, inputs: Sequence[Value], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check ``backward()`` against central differences for ``f(*inputs)``.

    ``inputs`` are Values (numbers are wrapped); ``f`` returns a Value (a batched one is
    summed). Returns True, or raises :class:`GradcheckError` naming each input whose
    analytic and numeric gradients differ by more than ``atol + rtol * |numeric|``.
    """
    inputs = _checked(f, inputs, "gradcheck", wrap=True)
    atol = check_real(atol, "gradcheck: atol", 0.0)
    rtol = check_real(rtol, "gradcheck: rtol", 0.0)
    analytic = analytic_grad(f, inputs)
    numeric = numeric_grad(f, inputs, eps)
    problems = []
    for k, (x, a, n) in enumerate(zip(inputs, analytic, numeric)):
        bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
        if np.any(bad):
            name = describe(x) if x.label else f"input {k}"
            for idx in zip(*np.nonzero(np.atleast_1d(bad))):
                a_i = np.atleast_1d(a)[idx]
                n_i = np.atleast_1d(n)[idx]
                at = f"[{idx[0]}]" if x.is_batched else ""
                problems.append(f"  {name}{at}: analytic {a_i:.10g}, numeric {n_i:.10g}, "
                                f"difference {abs(a_i - n_i):.3g}")
    if problems:
        raise GradcheckError("gradcheck failed (atol={}, rtol={}, eps={}):\n{}".format(
            atol, rtol, eps, "\n".join(problems)))
    return True
