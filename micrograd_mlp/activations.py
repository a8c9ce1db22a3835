"""Activation functions as composite nodes, with numpy closed forms for plotting.

Each activation is written with engine primitives (so the graph shows what it is made
of and the chain rule gives its derivative) and decorated with
:func:`~micrograd_mlp.composite.composite` (so drawings show it as one labelled group).
Each is also registered in :data:`ACTIVATIONS` with vectorised numpy forms ``f(x)`` and
``df(x)`` used for plots and to check the autodiff derivative.

Numerical stability comes from the choice of primitives (sigmoid through
``e^-|x|``), never from clipping; no composite branches in Python on a node's data, so
all of them work on batched Values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict

import numpy as np

from .composite import composite
from .engine import Value

__all__ = ["Activation", "ACTIVATIONS", "get", "relu", "sigmoid", "tanh", "identity"]


@dataclass(frozen=True)
class Activation:
    """A registered activation: ``name``, the composite ``fn(v, **params)``, numpy
    closed forms ``f(x)``/``df(x)``, the ``formula`` and ``derivative`` as text, and
    its default ``params``. Calling it applies the composite."""

    name: str
    fn: Callable
    f: Callable
    df: Callable
    formula: str
    derivative: str
    params: Dict = field(default_factory=dict)

    def __call__(self, v, **params):
        return self.fn(v, **{**self.params, **params})


ACTIVATIONS: Dict[str, Activation] = {}


def register(name, f, df, formula, derivative, **params):
    """Decorator adding a composite activation to :data:`ACTIVATIONS`."""

    def add(fn):
        ACTIVATIONS[name] = Activation(name, fn, f, df, formula, derivative, params)
        return fn

    return add


def get(activation):
    """Turn an activation spec into a callable ``Value -> Value``: a registered name
    (``"sigmoid"``), None or ``"none"`` (identity), or any callable (returned as is)."""
    if activation is None:
        return ACTIVATIONS["identity"]
    if callable(activation):
        return activation
    if isinstance(activation, str):
        key = activation.lower()
        if key in ("none", "linear"):
            key = "identity"
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        raise KeyError(f"unknown activation {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    raise TypeError(f"activation must be a name, a callable or None, not {type(activation).__name__}")


def _as_value(x):
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


# ---------------------------------------------------------------- numpy closed forms


def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------- activations


@register("identity", lambda x: np.asarray(x, dtype=float) * 1.0,
          lambda x: np.ones_like(np.asarray(x, dtype=float)), "f(x) = x", "f'(x) = 1")
@composite("identity", "f(x) = x", "1")
def identity(v):
    """``f(x) = x`` (a linear unit: no activation)."""
    return _as_value(v)


@register("relu", lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0).astype(float),
          "ReLU(x) = max(0, x)", "ReLU'(x) = 1 if x > 0 else 0")
@composite("relu", "ReLU(x) = max(0, x)", "1 if x > 0 else 0")
def relu(v):
    """``ReLU(x) = max(0, x)``; derivative 1 for ``x > 0``, else 0."""
    return _as_value(v).relu()


@register("sigmoid", _np_sigmoid, lambda x: _np_sigmoid(x) * (1.0 - _np_sigmoid(x)),
          "sigma(x) = 1 / (1 + e^-x)", "sigma'(x) = sigma(x) (1 - sigma(x))")
@composite("sigmoid", "sigma(x) = 1 / (1 + e^-x)", "sigma(x) (1 - sigma(x))")
def sigmoid(v):
    """``sigma(x) = 1 / (1 + e^-x)``, computed so that no exponent is positive:
    with ``p = relu(x)`` and ``n = x - p`` (= min(x, 0)),
    ``sigma(x) = e^n / (e^-p + e^n)``. For x > 0 that is ``1 / (e^-x + 1)``, for x < 0
    ``e^x / (1 + e^x)``; at x = 0 the chain rule gives the true 1/4 (a form built on
    ``|x|`` would give 0 there, since d|x|/dx = 0 at 0)."""
    v = _as_value(v)
    p = v.relu()
    en = (v - p).exp()
    return en / ((-p).exp() + en)


@register("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
          "tanh(x) = (e^x - e^-x) / (e^x + e^-x)", "tanh'(x) = 1 - tanh(x)^2")
@composite("tanh", "tanh(x)", "1 - tanh(x)^2")
def tanh(v):
    """``tanh(x) = (e^x - e^-x) / (e^x + e^-x)`` (one primitive)."""
    return _as_value(v).tanh()
