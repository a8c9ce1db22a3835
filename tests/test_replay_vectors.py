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


@pytest.mark.parametrize("loss", ["mse", "softmax_cross_entropy"])
def test_a_batch_size_has_one_set_of_numbers_whoever_ran_it_first(loss):
    """The first batch of a size runs the built loss and records it; its numbers are the
    recording's, so a step's result does not depend on what ran earlier (a reading of the
    full-batch loss before training, say)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=40) if loss == "mse" else rng.integers(0, 4, size=40)
    nout = 1 if loss == "mse" else 4
    loss_fn = getattr(losses, loss)

    def train(read_first):
        model = MLP(3, [5, nout], seed=2)
        step = compile_step(model, loss_fn)
        opt = optim.SGD(model.parameters(), lr=0.1)
        if read_first:
            step.run(X, y, data_vector(model.parameters()))
        first = step.run(X, y, data_vector(model.parameters()))[:2]
        for _ in range(3):
            replayed_train_step(step, X, y, opt)
        return first, data_vector(model.parameters())

    (loss_a, grads_a), theta_a = train(False)
    (loss_b, grads_b), theta_b = train(True)
    assert loss_a == loss_b
    np.testing.assert_array_equal(grads_a, grads_b)
    np.testing.assert_array_equal(theta_a, theta_b)
