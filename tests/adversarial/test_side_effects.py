"""Side effects (issue 12, class 5): a failing call leaves its inputs as they were
(gradcheck restores every input also when the function raises), and ``fit`` refuses an
optimiser that would train something other than the model it is given."""
import numpy as np
import pytest

from micrograd_mlp import MLP, Value, gradcheck
from micrograd_mlp.core.gradcheck import analytic_grad, numeric_grad
from micrograd_mlp.errors import (
    ArgumentError, DataTypeError, DomainError, GradcheckError, MicrogradError,
)
from micrograd_mlp.nets import optim
from micrograd_mlp.nets.train import fit


class Boom(Exception):
    pass


def raises_when_moved(original):
    """A function that raises as soon as its input is not at ``original``: what a
    model with a domain check does at ``x + eps``."""
    def f(x):
        if not np.array_equal(np.asarray(x.data), np.asarray(original)):
            raise Boom("moved")
        return x * x
    return f


@pytest.mark.parametrize("data", [0.7, np.array([0.5, -1.5, 2.0])], ids=["scalar", "batched"])
def test_gradcheck_restores_the_input_when_f_raises(data):
    x = Value(data, "x")
    before = np.array(x.data, copy=True)
    with pytest.raises(Boom):
        gradcheck(raises_when_moved(before), [x])
    assert np.array_equal(x.data, before)
    assert type(x.data) is type(data if isinstance(data, np.ndarray) else 0.7)


def test_numeric_grad_restores_every_input_when_f_raises_on_the_second():
    a, b = Value(1.25, "a"), Value(np.array([3.0, 4.0]), "b")
    calls = {"n": 0}

    def f(a, b):
        calls["n"] += 1
        if calls["n"] > 3:  # a's bumps done, fails inside b's
            raise Boom()
        return (a * b).sum()

    with pytest.raises(Boom):
        numeric_grad(f, [a, b])
    assert a.data == 1.25 and np.array_equal(b.data, [3.0, 4.0])


def test_gradcheck_leaves_a_model_weight_where_it_was_when_the_loss_raises():
    """The issue's case: a weight stayed moved by eps for good."""
    model = MLP(2, [2, 1], activation="tanh", seed=3)
    weights = model.parameters()
    before = [w.data for w in weights]

    def loss(*ws):
        if any(w.data != b for w, b in zip(ws, before)):
            raise DomainError("the loss refuses a moved weight")
        return model([0.1, 0.2]) ** 2

    with pytest.raises(DomainError):
        gradcheck(loss, weights)
    assert [w.data for w in weights] == before


def test_gradcheck_restores_on_a_domain_error_of_the_engine_itself():
    """log(x - 1e-6) at x = 1.5e-6: fine at x, a DomainError at x - eps."""
    x = Value(1.5e-6, "x")
    with pytest.raises(DomainError, match="log"):
        gradcheck(lambda x: (x - 1e-6).log(), [x], eps=1e-6)
    assert x.data == 1.5e-6


def test_analytic_grad_restores_the_grads_when_f_raises():
    x = Value(2.0, "x")
    x.grad = 5.0

    def f(x):
        out = x * x
        raise Boom()

    with pytest.raises(Boom):
        analytic_grad(f, [x])
    assert x.grad == 5.0


def test_a_failing_gradcheck_still_restores_data_and_grads():
    x = Value(0.3, "x")
    x.grad = 0.25

    def wrong(x):  # forward x^2, graph says 2x * 1.5
        out = x * x * 1.0
        out.data = x.data ** 3
        return out

    with pytest.raises(GradcheckError):
        gradcheck(wrong, [x])
    assert x.data == 0.3 and x.grad == 0.25


def test_after_gradcheck_a_fresh_graph_trains_normally():
    """gradcheck moves the data and puts it back; a graph built afterwards is valid."""
    w = Value(0.4, "w")
    gradcheck(lambda w: (w * 3.0).tanh(), [w])
    out = (w * 3.0).tanh()
    out.backward()
    assert w.grad == pytest.approx(3 * (1 - np.tanh(1.2) ** 2), rel=1e-12)


# ---------------------------------------------------------------- fit and optimisers


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    return X, (X[:, 0] > 0).astype(float)


def test_fit_refuses_an_optimiser_over_another_models_parameters():
    X, y = data()
    model, other = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    before = [p.data for p in model.parameters()] + [p.data for p in other.parameters()]
    with pytest.raises(ArgumentError, match="another model"):
        fit(model, X, y, optimizer=optim.SGD(other.parameters(), lr=0.1), epochs=2,
            progress=False)
    after = [p.data for p in model.parameters()] + [p.data for p in other.parameters()]
    assert after == before  # neither model moved


def test_fit_refuses_an_optimiser_over_part_of_the_model():
    X, y = data()
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ArgumentError, match=r"does not update 4 of this model's 13"):
        fit(model, X, y, optimizer=optim.Adam(model.parameters()[:9], lr=0.1), epochs=1,
            progress=False)


def test_fit_accepts_an_optimiser_over_the_model_and_more():
    """Extra trainable Values (say a PReLU slope used by a custom loss) are fine."""
    X, y = data()
    model = MLP(2, [3, 1], seed=0)
    extra = Value(0.1, "alpha")
    history = fit(model, X, y, optimizer=optim.SGD(model.parameters() + [extra], lr=0.1),
                  epochs=3, progress=False)
    assert len(history.loss) == 3 and history.loss[-1] < history.loss[0]


@pytest.mark.parametrize("thing", [object(), 0.1, [1, 2]])
def test_fit_refuses_an_optimiser_that_is_not_one(thing):
    X, y = data()
    with pytest.raises(MicrogradError) as err:
        fit(MLP(2, [3, 1], seed=0), X, y, optimizer=thing, epochs=1, progress=False)
    assert isinstance(err.value, (DataTypeError, ArgumentError))


def test_a_refused_data_assignment_leaves_the_value_and_its_graph_intact():
    w = Value(0.5, "w")
    out = w * w
    with pytest.raises(MicrogradError):
        w.data = "a lot"
    assert w.data == 0.5
    out.backward()
    assert w.grad == 1.0
