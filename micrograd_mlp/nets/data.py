"""Toy data sets for the exercises (SPEC R18).

Every generator is deterministic given its ``seed`` (a :func:`numpy.random.default_rng`
stream) and returns plain numpy arrays: ``X`` of shape ``(n_samples, n_features)``
(float64) ready to feed an ``MLP`` as one lockstep batch, and ``y`` of shape
``(n_samples,)``: integer class labels for classification sets, float64 targets for
regression sets.

=====================  ==========  ===============  ===========================
generator              X shape     y                source
=====================  ==========  ===============  ===========================
:func:`xor`            (4, 2)      int {0, 1}       seed 000, exercise 2
:func:`generate_linear`  (n, 2)    int {0, 1}       seed 003
:func:`generate_XOR_easy` (21, 2)  int {0, 1}       seed 003
:func:`sinusoid`       (n, 1)      float            seed 002 (train and test sets)
:func:`moons`          (n, 2)      int {0, 1}       two interleaved half circles
:func:`digits`         (n, 64)     int {0..9}       seed 004 stand-in: 8x8 digits
=====================  ==========  ===============  ===========================

:func:`train_val_split` splits any ``(X, y)`` into a training and a validation part.
"""
from __future__ import annotations

import numbers
from typing import Optional, Tuple

import numpy as np

__all__ = [
    "xor", "generate_linear", "generate_XOR_easy", "sinusoid", "moons", "digits",
    "train_val_split", "one_hot",
]

Arrays = Tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------- argument checks


def _check_count(name: str, n, minimum: int = 1) -> int:
    """``n`` as an int >= ``minimum``, else a clear error."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an integer number of samples, not {type(n).__name__} ({n!r})")
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return int(n)


def _check_scale(name: str, s) -> float:
    """``s`` as a finite float >= 0 (a standard deviation), else a clear error."""
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"{name} must be a real number (a standard deviation), not {type(s).__name__}")
    s = float(s)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (a standard deviation), got {s}")
    return s


# ---------------------------------------------------------------- generators


def xor() -> Arrays:
    """The XOR problem: the four corners of the unit square.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        ``(0, 0), (0, 1), (1, 0), (1, 1)``.
    y : ndarray of shape (4,), int
        ``y = x0 XOR x1``: 1 where exactly one coordinate is 1, else 0.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = (X[:, 0] != X[:, 1]).astype(int)
    return X, y


def generate_linear(n: int = 100, seed: Optional[int] = 0) -> Arrays:
    """Points uniform in the unit square, split by the diagonal (seed 003).

    Parameters
    ----------
    n : int, default 100
        Number of points.
    seed : int or None, default 0
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        ``X ~ U([0, 1]^2)``.
    y : ndarray of shape (n,), int
        0 where ``x[0] > x[1]`` (below the diagonal), else 1.
    """
    n = _check_count("n", n)
    X = np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, 2))
    y = np.where(X[:, 0] > X[:, 1], 0, 1)
    return X, y


def generate_XOR_easy() -> Arrays:  # noqa: N802 (the name seed 003 uses)
    """The two diagonals of the unit square, 21 points (seed 003).

    For ``i = 0 .. 10``: the point ``(0.1 i, 0.1 i)`` with label 0 and the point
    ``(0.1 i, 1 - 0.1 i)`` with label 1, except that the second one is left out at
    ``i = 5``, where both diagonals meet at ``(0.5, 0.5)``. Points come in that order
    (pairs by i). No randomness.

    Returns
    -------
    X : ndarray of shape (21, 2), float64
    y : ndarray of shape (21,), int
    """
    points, labels = [], []
    for i in range(11):
        t = 0.1 * i
        points.append((t, t))
        labels.append(0)
        if i == 5:
            continue
        points.append((t, 1.0 - t))
        labels.append(1)
    return np.array(points, dtype=float), np.array(labels, dtype=int)


def sinusoid(n_train: int = 40, n_test: int = 200, sigma: float = 0.1,
             seed: Optional[int] = 0, low: float = 0.0, high: float = 10.0):
    """Noisy sinusoid regression (seed 002): ``y = sin(x) + eps``, ``eps ~ N(0, sigma^2)``.

    ``x`` is uniform in ``[low, high]`` (default [0, 10]) for both sets; the training
    set is small and the test set large, so that big networks over-fit visibly. A
    model with no hidden unit (a straight line) reaches a training MSE near 0.5,
    the variance of ``sin`` over a few periods.

    Parameters
    ----------
    n_train : int, default 40
    n_test : int, default 200
    sigma : float >= 0, default 0.1
        Standard deviation of the Gaussian noise (added to both sets).
    seed : int or None, default 0
    low, high : float
        The interval of ``x``.

    Returns
    -------
    X_train : ndarray of shape (n_train, 1), float64, sorted ascending
    y_train : ndarray of shape (n_train,), float64
    X_test : ndarray of shape (n_test, 1), float64, sorted ascending
    y_test : ndarray of shape (n_test,), float64
    """
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    sigma = _check_scale("sigma", sigma)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low={low}, high={high}")
    rng = np.random.default_rng(seed)

    def draw(n):
        x = np.sort(rng.uniform(low, high, size=n))
        y = np.sin(x) + sigma * rng.standard_normal(n)
        return x[:, None], y

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return X_train, y_train, X_test, y_test


def moons(n: int = 100, noise: float = 0.1, seed: Optional[int] = 0,
          shuffle: bool = True) -> Arrays:
    """Two interleaved half circles ("two moons").

    The upper moon (label 0) is ``(cos t, sin t)``, the lower one (label 1) is
    ``(1 - cos t, 1/2 - sin t)``, for ``t`` evenly spaced in ``[0, pi]``; Gaussian
    noise of standard deviation ``noise`` is added to both coordinates. The upper
    moon gets ``n // 2`` points, the lower one the rest.

    Parameters
    ----------
    n : int, default 100
    noise : float >= 0, default 0.1
    seed : int or None, default 0
    shuffle : bool, default True
        Mix the two classes (else the upper moon comes first).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int
    """
    n = _check_count("n", n, minimum=2)
    noise = _check_scale("noise", noise)
    rng = np.random.default_rng(seed)
    n_up = n // 2
    n_down = n - n_up
    t_up = np.linspace(0.0, np.pi, n_up)
    t_down = np.linspace(0.0, np.pi, n_down)
    X = np.concatenate([
        np.stack([np.cos(t_up), np.sin(t_up)], axis=1),
        np.stack([1.0 - np.cos(t_down), 0.5 - np.sin(t_down)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_up, dtype=int), np.ones(n_down, dtype=int)])
    X = X + noise * rng.standard_normal(X.shape)
    if shuffle:
        order = rng.permutation(n)
        X, y = X[order], y[order]
    return X, y


def digits(n: Optional[int] = None, seed: Optional[int] = 0,
           classes: Optional[int] = None) -> Arrays:
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, no download).

    Pixel values (0..16 in the file) are scaled to ``[0, 1]``. Stand-in for seed 004's
    10-class image set.

    Parameters
    ----------
    n : int or None, default None
        Keep a random subset of ``n`` images (all 1797 when None).
    seed : int or None, default 0
        Seed of the subset (and of the order: the images are always shuffled).
    classes : int or None
        Keep only digits ``0 .. classes-1`` (all ten when None).

    Returns
    -------
    X : ndarray of shape (n, 64), float64 in [0, 1]
        Row ``k`` is image ``k`` read row by row (``X[k].reshape(8, 8)`` shows it).
    y : ndarray of shape (n,), int in ``0 .. 9``
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("digits() needs scikit-learn: pip install scikit-learn "
                          "(or the package's [data] extra)") from exc
    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(int)
    if classes is not None:
        classes = _check_count("classes", classes, minimum=2)
        if classes > 10:
            raise ValueError(f"classes must be between 2 and 10, got {classes}")
        keep = y < classes
        X, y = X[keep], y[keep]
    order = np.random.default_rng(seed).permutation(len(y))
    if n is not None:
        n = _check_count("n", n)
        if n > len(y):
            raise ValueError(f"n={n} is more than the {len(y)} images available")
        order = order[:n]
    return X[order], y[order]


# ---------------------------------------------------------------- helpers


def train_val_split(X, y, val_fraction: float = 0.2, seed: Optional[int] = 0,
                    stratify: bool = True):
    """Split ``(X, y)`` into a training and a validation set.

    With ``stratify`` (for class labels) each class is split in the same proportion,
    so both parts keep the class balance. At least one sample goes to each part.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
    y : ndarray of shape (n,)
    val_fraction : float in (0, 1), default 0.2
    seed : int or None, default 0
    stratify : bool, default True

    Returns
    -------
    X_train, y_train, X_val, y_val : ndarrays (the rows of X and y, shuffled)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows and y must be 1-D; "
                         f"got X {X.shape}, y {y.shape}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    n = len(y)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    rng = np.random.default_rng(seed)
    if stratify:
        val = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            val.append(idx[:int(round(val_fraction * len(idx)))])
        val = np.concatenate(val)
    else:
        val = rng.permutation(n)[:int(round(val_fraction * n))]
    if len(val) == 0 or len(val) == n:
        val = rng.permutation(n)[:min(max(1, int(round(val_fraction * n))), n - 1)]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    val_idx = rng.permutation(np.flatnonzero(mask))
    return X[train_idx], y[train_idx], X[val_idx], y[val_idx]


def one_hot(y, n_classes: Optional[int] = None) -> np.ndarray:
    """Integer labels of shape (n,) as a one-hot float64 matrix of shape (n, n_classes):
    ``Y[k, c] = 1`` if ``y[k] == c`` else 0."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ValueError(f"one_hot needs a 1-D array of integer labels, got dtype {y.dtype}, shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError("one_hot: labels must be >= 0")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and y.max() >= k:
        raise ValueError(f"one_hot: label {int(y.max())} does not fit n_classes={k}")
    Y = np.zeros((y.size, k))
    Y[np.arange(y.size), y] = 1.0
    return Y
