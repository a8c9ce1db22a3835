"""The batched rule of the ``max`` row (``MaxGroup``) against the row's own
``forward``/``partials`` and against the built graph: ties, NaN, infinities, -0.0."""
import numpy as np
import pytest

from micrograd_mlp.core.engine import Value, apply
from micrograd_mlp.core.registry import PRIMITIVES
from micrograd_mlp.core.recorder import Recorded
from micrograd_mlp.core.recorder_groups import MaxGroup, batched_rule_of
from micrograd_mlp.functions import losses


def _inputs(rng, n, B, kind):
    X = rng.normal(size=(n, B))
    if kind == "ties":      # small integers: many inputs equal to the maximum
        X = rng.integers(-2, 2, size=(n, B)).astype(float)
    elif kind == "special":
        X[rng.random((n, B)) < 0.2] = np.nan
        X[rng.random((n, B)) < 0.1] = np.inf
        X[rng.random((n, B)) < 0.1] = -np.inf
        X[rng.random((n, B)) < 0.1] = -0.0
    return X


def test_the_max_row_names_its_batched_rule():
    assert PRIMITIVES["max"].batched == "n_ary_max"
    assert batched_rule_of("max") is not None


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("kind", ["normal", "ties", "special"])
@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_recorded_max_equals_the_rows_partials(kind, n, engine):
    if engine == "compiled":
        pytest.importorskip("numba")
    rng = np.random.default_rng(n)
    B = 64
    X = _inputs(rng, n, B, kind)
    up = rng.normal(size=B)
    xs = [Value(np.full(B, 0.5), f"x{i}") for i in range(n)]
    m = apply("max", *xs)
    rec = Recorded([m], params=[], inputs=xs, engine=engine)
    bound = rec.bind(B)
    if engine == "numpy":
        assert any(isinstance(g, MaxGroup) for g in bound.groups)
    bound.load(list(X))
    bound.forward()
    bound.zero_grads()
    bound.grad_row(m)[...] = up
    bound.backward(seed=False)
    prim = PRIMITIVES["max"]
    out = prim.forward(*X)
    parts = prim.partials(out, *X)
    np.testing.assert_array_equal(bound.row(m), out)
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(bound.grad_row(x), up * parts[i])


def test_softmax_cross_entropy_with_tied_logits_matches_the_built_graph():
    # every class tied: the first takes the max's derivative in both
    B, k = 6, 4
    Z = np.zeros((B, k))
    Z[3] = [1.0, 1.0, 0.5, 1.0]
    y = np.array([0, 1, 2, 3, 0, 1])
    zs = [Value(Z[:, j].copy(), f"z{j}") for j in range(k)]
    built = losses.softmax_cross_entropy(zs, y)
    built.backward()
    leaves = [Value(np.full(B, 0.5), f"z{j}") for j in range(k)]
    rec = Recorded(losses.softmax_cross_entropy(leaves, y), params=[], inputs=leaves)
    bound = rec.bind(B)
    bound.load(list(Z.T))
    bound.forward()
    bound.backward()
    assert abs(bound.root_value() - built.data) <= 1e-12
    for leaf, z in zip(leaves, zs):
        np.testing.assert_allclose(bound.grad_row(leaf), z.grad, rtol=0, atol=1e-12)
