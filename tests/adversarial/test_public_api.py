"""Walk the public API with wrong arguments (issue 12, class 7): every public callable
of the main modules, given None, strings, booleans, huge integers, NaN, negative
numbers, ragged lists, 3-D arrays, empty lists or dicts, raises an error of the
library's family (MicrogradError) or returns a result; never a bare TypeError,
AttributeError, OverflowError, ZeroDivisionError, RecursionError ...

Two walks: every parameter without a default gets the bad value (all at once), and,
for the functions listed in GOOD, each parameter in turn gets it while the others
hold good values."""
import inspect
import math

import numpy as np
import pytest

from micrograd_mlp import MLP, Value
from micrograd_mlp.errors import ArgumentError, DataTypeError, DomainError, UnknownLossError

from .api_walk import (
    BAD, DOCUMENTED, call, each_value_in_turn, public_callables, required_arguments,
)

MODULES = ["micrograd_mlp", "micrograd_mlp.nets.layers", "micrograd_mlp.nets.mlp", "micrograd_mlp.nets.init", "micrograd_mlp.nets.optim", "micrograd_mlp.functions.losses",
           "micrograd_mlp.functions.activations", "micrograd_mlp.nets.train", "micrograd_mlp.nets.data",
           "micrograd_mlp.views.graph", "micrograd_mlp.views.trace", "micrograd_mlp.views.viewmodel",
           "micrograd_mlp.core.gradcheck"]

CALLABLES = public_callables(MODULES)


def test_the_walk_covers_the_public_api():
    names = {n.rsplit(".", 1)[1] for n, _ in CALLABLES}
    assert len(CALLABLES) > 80
    assert {"Value", "MLP", "fit", "draw_dot", "render", "gradcheck", "mse", "SGD", "Adam",
            "sigmoid", "moons", "format_table", "load_checkpoint", "one_hot"} <= names


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
@pytest.mark.parametrize("name, fn", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_required_arguments_all_wrong(name, fn, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a function taking a path writes here, if anywhere
    args, kwargs = required_arguments(fn, BAD[bad])
    try:
        call(fn, *args, **kwargs)
    except DOCUMENTED:
        pass


# ---------------------------------------------------------------- one argument at a time


def _model():
    return MLP(2, [3, 1], seed=0)


X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([0.0, 1.0, 1.0, 0.0])


def _root():
    a, b = Value(0.5, "a"), Value(-1.5, "b")
    f = (a * b + a).tanh()
    f.label = "f"
    return f


GOOD = {
    "Value": lambda: ((1.5,), {}),
    "MLP": lambda: ((2, [3, 1]), {}),
    "Neuron": lambda: ((2,), {}),
    "Layer": lambda: ((2, 3), {}),
    "fit": lambda: ((_model(), X4, Y4), {"epochs": 2, "progress": False}),
    "predict": lambda: ((_model(), X4), {}),
    "accuracy": lambda: ((_model(), X4, Y4), {}),
    "listing": lambda: ((_model(), X4, Y4), {}),
    "SGD": lambda: ((_model().parameters(),), {}),
    "Adam": lambda: ((_model().parameters(),), {}),
    "draw_dot": lambda: ((_root(),), {}),
    "draw_mlp": lambda: ((_model(), [0.5, -1.0], [1.0]), {}),
    "render": lambda: ((_root(), "g.dot"), {}),
    "gradcheck": lambda: ((lambda v: v * v, [Value(1.5)]), {}),
    "numeric_grad": lambda: ((lambda v: v * v, [Value(1.5)]), {}),
    "mse": lambda: (([Value(0.5), Value(0.1)], [1.0, 0.0]), {}),
    "squared_error": lambda: (([Value(0.5), Value(0.1)], [1.0, 0.0]), {}),
    "binary_cross_entropy": lambda: ((Value(0.3), 1.0), {}),
    "binary_cross_entropy_with_logits": lambda: ((Value(0.3), 1.0), {}),
    "softmax_cross_entropy": lambda: (([Value(0.5), Value(0.1)], 1), {}),
    "hinge": lambda: ((Value(0.3), -1.0), {}),
    "l2": lambda: ((_model(), 0.1, 4), {}),
    "prelu": lambda: ((Value(-0.5),), {}),
    "leaky_relu": lambda: ((Value(-0.5),), {}),
    "parametric_sigmoid": lambda: ((Value(-0.5),), {}),
    "selu": lambda: ((Value(-0.5),), {}),
    "soboleva_tanh": lambda: ((Value(-0.5),), {}),
    "gelu": lambda: ((Value(-0.5),), {}),
    "evaluate": lambda: (("tanh", 0.5), {}),
    "moons": lambda: ((), {}),
    "generate_linear": lambda: ((), {}),
    "sinusoid": lambda: ((), {}),
    "train_val_split": lambda: ((X4, np.array([0, 1, 1, 0])), {}),
    "one_hot": lambda: (([0, 2, 1],), {}),
    "format_table": lambda: ((_root(),), {}),
    "ledger": lambda: ((_root(),), {}),
    "summary": lambda: ((_root(),), {}),
    "format_number": lambda: ((0.25,), {}),
    "anomaly_mode": lambda: ((), {}),
    "topological_order": lambda: ((_root(),), {}),
    "backward_steps": lambda: ((_root(),), {}),
}

# parameters whose huge values are legal but take forever (a count of epochs ...) are
# capped by the library: the walk checks that the cap is a clear error, not a hang
ONE_AT_A_TIME = [(name, fn, p.name) for name, fn in CALLABLES
                 if name.rsplit(".", 1)[1] in GOOD
                 for p in inspect.signature(fn).parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("name, fn, param", ONE_AT_A_TIME,
                         ids=[f"{n}({p}=)" for n, _, p in ONE_AT_A_TIME])
def test_each_argument_wrong_in_turn(name, fn, param, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args, kwargs = GOOD[name.rsplit(".", 1)[1]]()
    each_value_in_turn(lambda: (fn, args, kwargs), param, BAD.values())


# ---------------------------------------------------------------- the examples


@pytest.mark.parametrize("make, error", [
    (lambda: Value(10 ** 400), DomainError),
    (lambda: Value(1.0) + 10 ** 400, DomainError),
    (lambda: MLP(2, None), DataTypeError),
    (lambda: MLP(2, [3], seed="abc"), DataTypeError),
    (lambda: MLP(2, [3], seed=-5), ArgumentError),
    (lambda: MLP(2, [10 ** 400]), ArgumentError),
    (lambda: MLP(2, [3], bias="no"), DataTypeError),
    (lambda: MLP(2, [2.0]), DataTypeError),
])
def test_constructors_refuse_with_library_errors(make, error):
    with pytest.raises(error):
        make()


def test_adam_betas_must_be_a_pair():
    from micrograd_mlp.nets.optim import Adam
    ps = _model().parameters()
    with pytest.raises(DataTypeError, match="pair"):
        Adam(ps, betas=0.9)
    with pytest.raises(ArgumentError, match=r"betas\[1\]"):
        Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(ArgumentError, match="finite"):
        Adam(ps, lr=float("nan"))


def test_draw_dot_digits_and_rankdir():
    from micrograd_mlp.views.graph import draw_dot
    with pytest.raises(ArgumentError, match="digits"):
        draw_dot(_root(), digits=-1)
    with pytest.raises(ArgumentError, match="rankdir"):
        draw_dot(_root(), rankdir="XY")
    with pytest.raises(DataTypeError):
        draw_dot(None)
    assert "digraph" in draw_dot(_root(), digits=0).source


@pytest.mark.parametrize("name", ["get", "softmax", "logsumexp", "weights_of", "l2", "LOSSES",
                                  "_reduce", "REDUCTIONS", "nope"])
def test_fit_accepts_only_real_losses_by_name(name):
    from micrograd_mlp import fit
    with pytest.raises(UnknownLossError, match="unknown loss") as info:
        fit(_model(), X4, Y4, loss=name, epochs=1, progress=False)
    assert "mse" in str(info.value) and "hinge" in str(info.value)


def test_loss_names_that_are_losses_still_work():
    from micrograd_mlp import fit
    for name in ("mse", "MSE", "bce", "squared_error", "binary_cross_entropy"):
        h = fit(_model(), X4, Y4, loss=name, epochs=1, progress=False)
        assert math.isfinite(h.loss[0])


def test_a_file_descriptor_is_not_a_path(tmp_path):
    """``open(True)`` would read (and close) stdout: paths must be names."""
    from micrograd_mlp.nets.mlp import load_checkpoint
    for fd in (True, 0, 1, 2):
        with pytest.raises(DataTypeError, match="file name"):
            load_checkpoint(fd)
        with pytest.raises(DataTypeError, match="file name"):
            _model().save(fd)
