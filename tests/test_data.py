"""Tests of micrograd_mlp.data: shapes, labels from the defining rules, seeding, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from micrograd_mlp import data


def test_xor_truth_table():
    X, y = data.xor()
    assert X.shape == (4, 2) and y.shape == (4,)
    assert {tuple(r) for r in X} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for (a, b), label in zip(X.astype(int), y):
        assert label == (a ^ b)


@given(n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_generate_linear_rule_and_range(n, seed):
    X, y = data.generate_linear(n, seed=seed)
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.min() >= 0.0 and X.max() <= 1.0
    expected = [0 if a > b else 1 for a, b in X]
    assert y.tolist() == expected


def test_generate_linear_seeded():
    a = data.generate_linear(50, seed=3)
    b = data.generate_linear(50, seed=3)
    c = data.generate_linear(50, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # both classes appear for a reasonable sample
    assert set(a[1].tolist()) == {0, 1}


def test_generate_xor_easy_points():
    X, y = data.generate_XOR_easy()
    assert X.shape == (21, 2) and y.shape == (21,)
    zeros = {(round(a, 10), round(b, 10)) for (a, b), c in zip(X, y) if c == 0}
    ones = {(round(a, 10), round(b, 10)) for (a, b), c in zip(X, y) if c == 1}
    assert zeros == {(round(0.1 * i, 10), round(0.1 * i, 10)) for i in range(11)}
    assert ones == {(round(0.1 * i, 10), round(1 - 0.1 * i, 10)) for i in range(11) if i != 5}
    assert len(zeros) == 11 and len(ones) == 10


def test_sinusoid_shapes_and_noise():
    Xtr, ytr, Xte, yte = data.sinusoid(n_train=40, n_test=200, sigma=0.1, seed=1)
    assert Xtr.shape == (40, 1) and ytr.shape == (40,)
    assert Xte.shape == (200, 1) and yte.shape == (200,)
    for X in (Xtr, Xte):
        assert X.min() >= 0 and X.max() <= 10 and np.all(np.diff(X[:, 0]) >= 0)
    resid = np.concatenate([ytr - np.sin(Xtr[:, 0]), yte - np.sin(Xte[:, 0])])
    # the noise is N(0, 0.1^2): its sample standard deviation is near 0.1
    assert 0.08 < resid.std() < 0.12 and abs(resid.mean()) < 0.03


def test_sinusoid_without_noise_is_exact_and_linear_baseline_near_half():
    Xtr, ytr, _, _ = data.sinusoid(n_train=400, sigma=0.0, seed=2)
    assert np.allclose(ytr, np.sin(Xtr[:, 0]))
    # a least-squares line (the no-hidden-unit model) leaves an MSE near 0.5
    A = np.hstack([Xtr, np.ones_like(Xtr)])
    coef, *_ = np.linalg.lstsq(A, ytr, rcond=None)
    mse = np.mean((A @ coef - ytr) ** 2)
    assert 0.35 < mse < 0.6


def test_moons_matches_sklearn_without_noise():
    sk = pytest.importorskip("sklearn.datasets")
    X, y = data.moons(n=101, noise=0.0, shuffle=False)
    Xs, ys = sk.make_moons(n_samples=101, noise=0.0, shuffle=False)
    assert np.allclose(X, Xs) and np.array_equal(y, ys)


def test_moons_noise_and_shuffle():
    X, y = data.moons(n=200, noise=0.1, seed=0)
    assert X.shape == (200, 2) and y.shape == (200,)
    assert np.sum(y == 0) == 100 and np.sum(y == 1) == 100
    assert not np.array_equal(y, np.sort(y))  # shuffled
    Xc, yc = data.moons(n=200, noise=0.0, shuffle=False)
    # each noisy point lies near some clean point of its own moon
    for label in (0, 1):
        d = np.linalg.norm(X[y == label][:, None, :] - Xc[yc == label][None, :, :], axis=2)
        assert d.min(axis=1).max() < 0.5
    assert not np.allclose(X, data.moons(n=200, noise=0.1, seed=1)[0])


def test_digits_scaled_and_subset():
    X, y = data.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(y.tolist()) == set(range(10))
    Xs, ys = data.digits(n=100, seed=5)
    assert Xs.shape == (100, 64)
    Xs2, ys2 = data.digits(n=100, seed=5)
    assert np.array_equal(Xs, Xs2) and np.array_equal(ys, ys2)
    X3, y3 = data.digits(classes=3)
    assert set(y3.tolist()) == {0, 1, 2}


def test_train_val_split_partition_and_stratified():
    X, y = data.digits(n=500, seed=0)
    Xtr, ytr, Xva, yva = data.train_val_split(X, y, val_fraction=0.2, seed=1)
    assert len(ytr) + len(yva) == 500
    assert sorted(np.concatenate([ytr, yva]).tolist()) == sorted(y.tolist())
    for c in range(10):
        frac = np.sum(yva == c) / np.sum(y == c)
        assert abs(frac - 0.2) < 0.06


def test_train_val_split_is_a_partition():
    X = np.arange(50.0)[:, None]
    y = np.arange(50) % 3
    Xtr, ytr, Xva, yva = data.train_val_split(X, y, val_fraction=0.3, seed=2)
    idx = np.concatenate([Xtr[:, 0], Xva[:, 0]]).astype(int)
    assert sorted(idx.tolist()) == list(range(50))  # every row exactly once
    assert np.array_equal(np.concatenate([ytr, yva]), idx % 3)  # rows stay paired
    assert 12 <= len(yva) <= 18


def test_one_hot():
    Y = data.one_hot(np.array([2, 0, 1]), 4)
    assert np.array_equal(Y, np.eye(4)[[2, 0, 1]])
    with pytest.raises(ValueError, match="n_classes"):
        data.one_hot(np.array([5]), 3)


@pytest.mark.parametrize("call, err, match", [
    (lambda: data.generate_linear(0), ValueError, "n must be >= 1"),
    (lambda: data.generate_linear(-3), ValueError, "n must be >= 1"),
    (lambda: data.generate_linear(2.5), TypeError, "integer"),
    (lambda: data.sinusoid(n_train=0), ValueError, "n_train"),
    (lambda: data.sinusoid(sigma=-0.1), ValueError, "sigma"),
    (lambda: data.sinusoid(sigma=float("nan")), ValueError, "sigma"),
    (lambda: data.sinusoid(low=3, high=1), ValueError, "low < high"),
    (lambda: data.moons(n=0), ValueError, "n must be >= 2"),
    (lambda: data.moons(noise=-1), ValueError, "noise"),
    (lambda: data.digits(n=5000), ValueError, "1797"),
    (lambda: data.digits(classes=11), ValueError, "classes"),
    (lambda: data.train_val_split(np.zeros((4, 2)), np.zeros(4), val_fraction=1.5),
     ValueError, "val_fraction"),
    (lambda: data.train_val_split(np.zeros((4, 2)), np.zeros(3)), ValueError, "same number"),
])
def test_bad_arguments(call, err, match):
    with pytest.raises(err, match=match):
        call()
