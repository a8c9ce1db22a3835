"""The studio's data sets: the usual two-dimensional toys (moons, circles, XOR,
spiral), the library's own sets (:mod:`micrograd_mlp.nets.data`) and a sinusoid for
regression, each drawn from ``np.random.default_rng(seed)``.

Every set comes as a :class:`DataSet`: training inputs ``X`` (n, d), targets ``y``
(class labels 0/1, or real numbers for regression), a validation part drawn the same
way from the next seed, and its ``kind`` (``"classification"`` or ``"regression"``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.validate import check_choice, check_int
from ..nets import data as library_data

__all__ = ["DataSet", "make", "NAMES", "N_POINTS"]

N_POINTS = 200  #: points of a generated two-dimensional set (training part)


@dataclass
class DataSet:
    """Training points ``(X, y)``, validation points ``(X_val, y_val)`` and the
    ``kind`` of task."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    kind: str

    @property
    def dim(self) -> int:
        """The number of input coordinates (2, or 1 for a regression curve)."""
        return int(self.X.shape[1])


def _circles(n, rng):
    """Two rings, radius 1 (label 0) and 0.5 (label 1), Gaussian noise 0.08."""
    label = np.arange(n) % 2
    t = rng.uniform(0.0, 2 * np.pi, n)
    r = np.where(label == 0, 1.0, 0.5) + 0.08 * rng.standard_normal(n)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1), label.astype(int)


def _xor(n, rng):
    """Four clouds at the corners of [-1, 1]^2: label ``x0 * x1 < 0``."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    X = X + 0.1 * np.sign(X)  # a margin around the axes
    return X, (X[:, 0] * X[:, 1] < 0).astype(int)


def _spiral(n, rng):
    """Two interleaved arms ``r = t``, turned by pi from each other; noise 0.05."""
    label = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3 * np.pi
    r = t / (3 * np.pi)
    angle = t + np.pi * label
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return X + 0.03 * rng.standard_normal(X.shape), label.astype(int)


def _generated(fn, seed):
    X, y = fn(N_POINTS, np.random.default_rng(seed))
    Xv, yv = fn(N_POINTS // 2, np.random.default_rng(seed + 1))
    return DataSet(X, y, Xv, yv, "classification")


def _moons(seed):
    X, y = library_data.moons(N_POINTS, noise=0.15, seed=seed)
    Xv, yv = library_data.moons(N_POINTS // 2, noise=0.15, seed=seed + 1)
    return DataSet(X, y, Xv, yv, "classification")


def _sinusoid(seed):
    X, y, Xv, yv = library_data.sinusoid(n_train=40, n_test=100, seed=seed)
    return DataSet(X, y, Xv, yv, "regression")


def _linear(seed):
    X, y = library_data.generate_linear(100, seed=seed)
    Xv, yv = library_data.generate_linear(50, seed=seed + 1)
    return DataSet(X, y, Xv, yv, "classification")


def _fixed(fn):
    X, y = fn()
    return DataSet(X, y, X.copy(), y.copy(), "classification")


_MAKERS = {
    "moons": _moons,
    "circles": lambda seed: _generated(_circles, seed),
    "xor": lambda seed: _generated(_xor, seed),
    "spiral": lambda seed: _generated(_spiral, seed),
    "sinusoid": _sinusoid,
    "linear": _linear,
    "xor_easy": lambda seed: _fixed(library_data.generate_XOR_easy),
    "xor4": lambda seed: _fixed(library_data.xor),
}
NAMES = tuple(_MAKERS)  #: the names :func:`make` knows


def make(name: str, seed: int) -> DataSet:
    """The data set ``name`` (one of :data:`NAMES`) drawn with ``seed``; ``xor_easy``
    and ``xor4`` are fixed sets (their validation part is the training part)."""
    name = check_choice(name, "data", NAMES)
    seed = check_int(seed, "seed", minimum=0, maximum=2 ** 32 - 2)
    ds = _MAKERS[name](seed)
    ds.X = np.asarray(ds.X, dtype=np.float64)
    ds.X_val = np.asarray(ds.X_val, dtype=np.float64)
    cast = np.float64 if ds.kind == "regression" else int
    ds.y, ds.y_val = np.asarray(ds.y, dtype=cast), np.asarray(ds.y_val, dtype=cast)
    return ds
