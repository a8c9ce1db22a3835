"""The public API's answers to wrong arguments found by the first walks (issue 12,
class 7), kept as examples; the tables of every public callable are in
``test_argument_tables.py``."""
import math

import numpy as np
import pytest

from micrograd_mlp import MLP, Value
from micrograd_mlp.errors import ArgumentError, DataTypeError, DomainError, UnknownLossError


def _model():
    return MLP(2, [3, 1], seed=0)


X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([0.0, 1.0, 1.0, 0.0])


def _root():
    a, b = Value(0.5, "a"), Value(-1.5, "b")
    f = (a * b + a).tanh()
    f.label = "f"
    return f


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
