"""The vectors a replayed step keeps: ``optimizer.update(..., out=)`` gives the numbers of
``update()``; a replayed training run equals a built one; an optimiser whose own
``update`` takes no ``out`` still works; the bulk parameter read."""
import numpy as np
import pytest

from micrograd_mlp import MLP, losses, optim
from micrograd_mlp.core.engine import Value
from micrograd_mlp.core.value_data import data_vector
from micrograd_mlp.nets.compiled_step import compile_step, replayed_train_step

OPTIMISERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_update_into_out_gives_the_numbers_of_update(name):
    rng = np.random.default_rng(len(name))
    a = OPTIMISERS[name]([Value(0.0) for _ in range(7)])
    b = OPTIMISERS[name]([Value(0.0) for _ in range(7)])
    theta = rng.normal(size=7)
    out = np.full(7, np.nan)
    for _ in range(4):
        g = rng.normal(size=7)
        theta_before, g_before = theta.copy(), g.copy()
        expected = a.update(theta, g)
        got = b.update(theta, g, out=out)
        assert got is out
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(theta, theta_before)   # neither argument changed
        np.testing.assert_array_equal(g, g_before)
        theta = expected


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "adam"])
def test_replayed_training_equals_built_training(name):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 4, size=12)
    built_model = MLP(3, [6, 4], activation=["relu", None], seed=4)
    replay_model = MLP(3, [6, 4], activation=["relu", None], seed=4)
    built_opt = OPTIMISERS[name](built_model.parameters())
    replay_opt = OPTIMISERS[name](replay_model.parameters())
    step = compile_step(replay_model, losses.softmax_cross_entropy)
    for k in range(5):
        Xb, yb = X[k % 3 * 4:][:4], y[k % 3 * 4:][:4]
        built_opt.zero_grad()
        loss = losses.softmax_cross_entropy(built_model(Xb), yb)
        loss.backward()
        built_opt.step()
        value, _ = replayed_train_step(step, Xb, yb, replay_opt, sync=k % 2 == 0)
        assert abs(value - loss.data) <= 1e-12
    step.sync()
    for p, q in zip(replay_model.parameters(), built_model.parameters()):
        assert abs(p.data - q.data) <= 1e-12
        assert abs(p.grad - q.grad) <= 1e-12


def test_an_optimiser_whose_update_takes_no_out_still_trains():
    class Halving(optim.SGD):
        def update(self, theta, grad):      # a rule of its own, without out=
            return theta - 0.5 * grad

    model = MLP(2, [3, 1], activation=["tanh", None], seed=1)
    before = [p.data for p in model.parameters()]
    opt = Halving(model.parameters(), lr=0.1)
    X, y = np.ones((4, 2)), np.zeros(4)
    step = compile_step(model, losses.mse)
    replayed_train_step(step, X, y, opt)
    grads = [p.grad for p in model.parameters()]
    for p, b, g in zip(model.parameters(), before, grads):
        assert p.data == pytest.approx(b - 0.5 * g, abs=1e-15)


def test_the_bulk_read_gives_each_values_data():
    vs = [Value(1.5), Value(-2), Value(True), Value(np.float32(0.25))]
    np.testing.assert_array_equal(data_vector(vs), [1.5, -2.0, 1.0, 0.25])
    with pytest.raises((TypeError, ValueError)):
        data_vector([Value(np.ones(3))])       # a batch is not one number
