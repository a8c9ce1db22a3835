"""The gradient checker finds wrong derivatives and accepts right ones."""
import numpy as np
import pytest

from micrograd_mlp import GradcheckError, Value, gradcheck
from micrograd_mlp.functions.composite import composite
from micrograd_mlp.core.gradcheck import numeric_grad


def test_accepts_a_correct_gradient():
    assert gradcheck(lambda a, b: (a * b).tanh() + a ** 3, [Value(0.3), Value(-1.2)])


def test_numeric_gradient_matches_the_closed_form():
    (g,) = numeric_grad(lambda x: x.exp() * x, [Value(0.7)])
    assert g == pytest.approx(np.exp(0.7) * 1.7, rel=1e-8)


def test_reports_each_wrong_input_with_both_numbers():
    # a deliberately wrong derivative: the forward is x^2 but the graph says 3x
    def bad_square(x):
        out = x * 3.0 * 0.5
        out.data = x.data ** 2
        return out * 1.0

    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda x: bad_square(x), [Value(2.0, "x")])
    message = str(err.value)
    assert "node 'x'" in message and "analytic 1.5" in message and "numeric 4" in message


def test_works_on_batched_inputs_and_restores_them():
    x = Value(np.array([0.5, -0.3, 2.0]), "x")
    x.grad = np.array([9.0, 9.0, 9.0])
    assert gradcheck(lambda v: (v * v).tanh(), [x])
    np.testing.assert_array_equal(x.data, [0.5, -0.3, 2.0])
    np.testing.assert_array_equal(x.grad, [9.0, 9.0, 9.0])  # the user's grad is untouched


def test_checks_a_composite():
    @composite("softsign")
    def softsign(v):
        return v / (1.0 + abs(v))

    assert gradcheck(softsign, [Value(0.8)])
