"""Lockstep batching: one graph for a whole batch equals the per-sample loop."""
import numpy as np
import pytest

from micrograd_mlp import ShapeError, Value, sum_values


def _tiny_net(params, x0, x1):
    """2 -> 3 (tanh) -> 1 (linear) written with Values, shared by both paths."""
    W1, b1, W2, b2 = params
    hidden = [sum_values([W1[i][0] * x0, W1[i][1] * x1, b1[i]]).tanh() for i in range(3)]
    return sum_values([W2[i] * hidden[i] for i in range(3)] + [b2])


def _params(rng):
    W1 = [[Value(rng.normal(), f"W1[{i},{j}]") for j in range(2)] for i in range(3)]
    b1 = [Value(rng.normal(), f"b1[{i}]") for i in range(3)]
    W2 = [Value(rng.normal(), f"W2[0,{i}]") for i in range(3)]
    b2 = Value(rng.normal(), "b2[0]")
    return W1, b1, W2, b2


def _flat(params):
    W1, b1, W2, b2 = params
    return [v for row in W1 for v in row] + b1 + W2 + [b2]


def test_batched_graph_equals_per_sample_loop_on_100_samples():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = rng.normal(size=100)
    params = _params(rng)

    # per sample: one graph each, losses averaged, gradients accumulated
    losses = []
    for (a, b), t in zip(X, y):
        out = _tiny_net(params, Value(float(a)), Value(float(b)))
        loss = (out - float(t)) ** 2 * (1.0 / len(X))
        loss.backward()
        losses.append(loss.data)
    loop_loss = sum(losses)
    loop_grads = [p.grad for p in _flat(params)]

    for p in _flat(params):
        p.grad = 0.0
    out = _tiny_net(params, Value(X[:, 0], "x0[0]"), Value(X[:, 1], "x0[1]"))
    loss = ((out - y) ** 2).mean()
    loss.backward()

    assert loss.data == pytest.approx(loop_loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose([p.grad for p in _flat(params)], loop_grads, rtol=1e-12, atol=1e-12)


def test_batched_input_gradients_are_per_sample():
    w = Value(3.0)
    x = Value(np.array([1.0, -2.0, 0.5]))
    ((w * x) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * 9.0 * x.data)  # d(w x)^2/dx = 2 w^2 x
    assert w.grad == pytest.approx(np.sum(2 * 3.0 * x.data ** 2))


def test_batched_root_seeds_ones_and_accepts_sample_weights():
    w = Value(2.0)
    x = Value(np.array([1.0, 2.0, 3.0]))
    (w * x).backward()
    assert w.grad == 6.0
    w.grad = 0.0
    (w * x).backward(np.array([1.0, 0.0, 2.0]))
    assert w.grad == 1.0 + 6.0


def test_every_unary_op_runs_elementwise_on_a_batch():
    x = np.array([0.3, 1.7, 2.2])
    v = Value(x)
    for method, f in [("exp", np.exp), ("log", np.log), ("tanh", np.tanh),
                      ("relu", lambda a: np.maximum(a, 0)), ("abs", np.abs), ("sqrt", np.sqrt)]:
        np.testing.assert_allclose(getattr(v, method)().data, f(x), rtol=1e-15)


def test_numpy_array_times_value_gives_one_batched_node():
    w = Value(2.0)
    out = np.array([1.0, 2.0]) * w
    assert isinstance(out, Value)
    np.testing.assert_array_equal(out.data, [2.0, 4.0])


def test_mismatched_batches_raise_in_every_kind_of_op():
    a, b = Value(np.ones(2), "a"), Value(np.ones(5), "b")
    for op in (lambda: a - b, lambda: a / b, lambda: a ** b, lambda: sum_values([a, b])):
        with pytest.raises(ShapeError, match="batch lengths differ"):
            op()
