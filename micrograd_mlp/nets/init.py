"""Weight initialisers: each returns a ``(d_out, d_in)`` array whose row ``i`` holds the
weights of neuron ``i`` (biases start at zero)."""
from __future__ import annotations

import math
from typing import Callable, Dict

import numpy as np

from ..core.validate import check_int
from ..errors import ArgumentError, DataTypeError, ShapeError

__all__ = ["INITIALIZERS", "initialize", "xavier_normal", "xavier_uniform", "he_normal", "uniform"]


def _checked(d_in, d_out, rng):
    """The layer sizes as ints >= 1 and ``rng`` a numpy Generator, else a library error."""
    if not isinstance(rng, np.random.Generator):
        raise DataTypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), "
                            f"not {type(rng).__name__}")
    return check_int(d_in, "d_in", 1, 10 ** 6), check_int(d_out, "d_out", 1, 10 ** 6), rng


def xavier_normal(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot normal: ``w ~ N(0, sigma^2)`` with ``sigma = sqrt(2 / (d_in + d_out))``."""
    d_in, d_out, rng = _checked(d_in, d_out, rng)
    return rng.normal(0.0, math.sqrt(2.0 / (d_in + d_out)), size=(d_out, d_in))


def xavier_uniform(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot uniform: ``w ~ U(-a, a)`` with ``a = sqrt(6 / (d_in + d_out))`` (the same
    variance ``2 / (d_in + d_out)`` as :func:`xavier_normal`)."""
    d_in, d_out, rng = _checked(d_in, d_out, rng)
    a = math.sqrt(6.0 / (d_in + d_out))
    return rng.uniform(-a, a, size=(d_out, d_in))


def he_normal(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """He (Kaiming) normal for ReLU units: ``w ~ N(0, 2 / d_in)``."""
    d_in, d_out, rng = _checked(d_in, d_out, rng)
    return rng.normal(0.0, math.sqrt(2.0 / d_in), size=(d_out, d_in))


def uniform(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """``w ~ U(-1, 1)`` (micrograd's choice)."""
    d_in, d_out, rng = _checked(d_in, d_out, rng)
    return rng.uniform(-1.0, 1.0, size=(d_out, d_in))


INITIALIZERS: Dict[str, Callable] = {
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "uniform": uniform,
}


def initialize(init, d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """The ``(d_out, d_in)`` weight matrix of scheme ``init`` (a name in
    :data:`INITIALIZERS` or a callable ``(d_in, d_out, rng) -> array``). Biases are
    always initialised to zero."""
    fn = init if callable(init) else (INITIALIZERS.get(init) if isinstance(init, str) else None)
    if fn is None:
        raise ArgumentError(f"unknown initialiser {init!r}; known: {', '.join(INITIALIZERS)}")
    w = np.asarray(fn(d_in, d_out, rng), dtype=np.float64)
    if w.shape != (d_out, d_in):
        raise ShapeError(f"initialiser {init!r} returned shape {w.shape}, expected {(d_out, d_in)}")
    return w


# ---------------------------------------------------------------- helpers


