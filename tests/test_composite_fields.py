"""The forms a composite declares about itself (read by views and graders instead of
branching on names) agree with the engine's own derivative."""
import numpy as np
import pytest

from micrograd_mlp.core.engine import Value
from micrograd_mlp.functions import activations, losses
from micrograd_mlp.functions.composite import COMPOSITES


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_output_derivative_equals_backward(name):
    entry = COMPOSITES[name]
    xs = np.linspace(-4.0, 4.0, 41)
    s = Value(xs.copy())
    out = entry(s)
    out.backward()
    assert np.allclose(entry.output_derivative_fn(out.data), s.grad, rtol=1e-12, atol=1e-15)
    # the text form evaluates to the same numbers
    text = entry.output_derivative.replace("^", "**").format(out="o")
    assert np.allclose(eval(text, {"o": out.data}), s.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_output_range_bounds_the_output(name):
    low, high = COMPOSITES[name].output_range
    out = COMPOSITES[name](Value(np.linspace(-30.0, 30.0, 61))).data
    assert out.min() >= low and out.max() <= high
    assert out.min() < low + 1e-6 and out.max() > high - 1e-6


def test_activations_without_an_output_form_say_so():
    assert COMPOSITES["relu"].output_derivative == ""
    assert COMPOSITES["relu"].output_derivative_fn is None
    assert COMPOSITES["gelu"].output_range is None


@pytest.mark.parametrize("name,fn", [("squared_error", losses.squared_error),
                                     ("sum_squared_error", losses.sum_squared_error)])
def test_loss_term_and_gradient_equal_the_composite(name, fn):
    entry = COMPOSITES[name]
    rng = np.random.default_rng(3)
    out_np, target = rng.normal(size=3), rng.normal(size=3)
    outs = [Value(float(o)) for o in out_np]
    loss = fn(outs, list(target)) if name == "sum_squared_error" else fn(outs, target)
    loss.backward()
    assert np.isclose(np.sum(entry.term_fn(out_np, target)), loss.data, rtol=1e-13)
    assert np.allclose(entry.output_gradient_fn(out_np, target), [o.grad for o in outs], rtol=1e-13)
    for j in range(3):
        text = entry.output_gradient.format(out="o", target="t")
        assert np.isclose(eval(text, {"o": out_np[j], "t": target[j]}), outs[j].grad)
        term = entry.term.replace("^", "**").replace("1/2", "0.5").format(out="o", target="t")
        assert np.isclose(eval(term, {"o": out_np[j], "t": target[j]}),
                          entry.term_fn(out_np[j], target[j]))
