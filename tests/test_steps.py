"""Exercise-level steps (views/steps.py): the hand solution's vectors, in its order,
every number checked against an independent numpy forward/backward pass."""
import re

import numpy as np
import pytest

from micrograd_mlp import examples
from micrograd_mlp.core.engine import Value
from micrograd_mlp.errors import TraceInputError
from micrograd_mlp.functions.losses import squared_error
from micrograd_mlp.nets.mlp import MLP
from micrograd_mlp.views.steps import define_intermediates, exercise_steps, format_steps

ACT = {
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda s, x: x * (1 - x)),
    "tanh": (np.tanh, lambda s, x: 1 - x ** 2),
    "relu": (lambda s: np.maximum(s, 0), lambda s, x: (s > 0).astype(float)),
}


def mlp_reference(Ws, bs, x0, y, act="sigmoid", loss="half", input_grad=False):
    """Forward and backward of an MLP by hand in numpy (rows = neurons): returns a dict
    keyed by the step names of the hand solution (``s1``, ``dE/dW2``, ``sigma'(s2)`` ...)."""
    f, df = ACT[act]
    short = {"sigmoid": "sigma", "tanh": "tanh", "relu": "ReLU"}[act]
    out, xs, ss = {}, [np.asarray(x0, float)], [None]
    for l, (W, b) in enumerate(zip(Ws, bs), 1):
        s = W @ xs[-1] + (b if b is not None else 0.0)
        ss.append(s)
        xs.append(f(s))
        out[f"s{l}"], out[f"x{l}"] = s, xs[-1]
    k = 0.5 if loss == "half" else 1.0
    out["E"] = k * np.sum((xs[-1] - y) ** 2)
    L = len(Ws)
    dx = 2 * k * (xs[-1] - y)
    out[f"dE/dx{L}"] = dx
    for l in range(L, 0, -1):
        d = df(ss[l], xs[l])
        out[f"{short}'(s{l})"] = d
        ds = dx * d
        out[f"dE/ds{l}"] = ds
        out[f"dE/dW{l}"] = np.outer(ds, xs[l - 1])
        out[f"dE/db{l}"] = ds
        dx = Ws[l - 1].T @ ds
        if l > 1 or input_grad:
            out[f"dE/dx{l - 1}"] = dx
    return out


TASK5_ORDER = ["s1", "x1", "s2", "x2", "E", "dE/dx2", "sigma'(s2)", "dE/ds2", "dE/dW2", "dE/db2",
               "dE/dx1", "sigma'(s1)", "dE/ds1", "dE/dW1", "dE/db1", "dE/dx0"]


def task5_steps(loss="half"):
    ex = examples.task5(loss)
    return ex, exercise_steps(ex.root, ex.model)


def task5_ref(loss="half"):
    n = examples.TASK5
    return mlp_reference([np.array(n["W1"]), np.array(n["W2"])], [np.array(n["b1"]), np.array(n["b2"])],
                         n["x0"], np.array(n["y"]), loss=loss, input_grad=True)


def test_task5_steps_follow_the_hand_solution():
    _, steps = task5_steps()
    assert [s.name for s in steps] == TASK5_ORDER
    assert [s.phase for s in steps] == ["forward"] * 5 + ["backward"] * 11
    assert [s.index for s in steps] == list(range(1, 17))


@pytest.mark.parametrize("loss", ["half", "full"])
def test_task5_every_number_against_numpy(loss):
    _, steps = task5_steps(loss)
    ref = task5_ref(loss)
    for step in steps:
        np.testing.assert_allclose(step.value, np.reshape(ref[step.name], np.shape(step.value)),
                                   rtol=1e-12, atol=1e-14, err_msg=step.name)
        for e, want in zip(step.entries, np.ravel(ref[step.name])):
            assert e.value == pytest.approx(float(want), rel=1e-12, abs=1e-14), e.name
    # the number the issue names (doubled without the 1/2)
    want = 0.0390366 * (1 if loss == "half" else 2)
    assert steps[TASK5_ORDER.index("dE/dx1")].entries[0].value == pytest.approx(want, abs=2e-7)


def test_formulas_in_the_exercises_notation():
    _, steps = task5_steps()
    formula = {s.name: s.formula for s in steps}
    assert formula["dE/ds2"].startswith("dE/ds2 = dE/dx2 * sigma'(s2)")
    assert "elementwise" in formula["dE/ds2"]
    assert formula["dE/dW2"].startswith("dE/dW2 = dE/ds2 x1^T")
    assert formula["dE/db2"] == "dE/db2 = dE/ds2"
    assert formula["dE/dx1"] == "dE/dx1 = W2^T dE/ds2"
    assert formula["dE/dx2"] == "dE/dx2 = x2 - y"
    assert formula["sigma'(s2)"] == "sigma'(s2) = x2 * (1 - x2)"
    _, full = task5_steps("full")
    assert full[TASK5_ORDER.index("dE/dx2")].formula == "dE/dx2 = 2 * (x2 - y)"


def test_every_sum_is_shown_added_up():
    _, steps = task5_steps()
    dx1 = steps[TASK5_ORDER.index("dE/dx1")]
    assert dx1.entries[0].line() == (
        "dE/dx1[0] = W2[0,0] * dE/ds2[0] + W2[1,0] * dE/ds2[1] = 0.4000 * 0.1105 + 0.1000 * (-0.0515)"
        " = 0.0442 + (-0.0051) = 0.0390")
    sums = 0
    for step in steps:
        for e in step.entries:
            if len(e.terms) > 1:
                sums += 1
                assert sum(e.terms) == pytest.approx(e.value, rel=1e-12, abs=1e-15), e.name
                assert e.added() in e.line()
    assert sums == 3 + 2 + 1 + 3 + 2  # s1, s2, E, dE/dx1, dE/dx0


def test_a_wrong_number_in_the_graph_would_show():
    """The numbers are read from the graph: perturb a weight after the forward pass and
    the forward steps keep the recorded values while a fresh graph changes them."""
    ex, steps = task5_steps()
    ex.model.layers[0].neurons[0].w[0].data += 1.0  # after the forward pass
    again = exercise_steps(ex.root, ex.model)
    assert again[0].entries[0].value == steps[0].entries[0].value  # s1 is the graph's node


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_three_layers_other_activations(act):
    rng = np.random.default_rng(3)
    widths = [3, 4, 3, 2]
    Ws = [rng.normal(size=(widths[i + 1], widths[i])) for i in range(3)]
    bs = [rng.normal(size=widths[i + 1]) for i in range(3)]
    x0 = rng.normal(size=3)
    y = rng.normal(size=2)
    model = MLP(3, widths[1:], activation=act)
    model.set_parameters(weights=Ws, biases=bs)
    xs = [Value(float(v), f"x0[{j}]", requires_grad=False) for j, v in enumerate(x0)]
    E = squared_error(model.forward(xs), [Value(float(v), f"y[{k}]", requires_grad=False)
                                          for k, v in enumerate(y)])
    E.label = "E"
    steps = exercise_steps(E, model)
    ref = mlp_reference(Ws, bs, x0, y, act)
    assert "dE/dx0" not in [s.name for s in steps]  # the input needs no gradient
    assert set(s.name for s in steps) == set(ref)
    for step in steps:
        np.testing.assert_allclose(np.ravel(step.value), np.ravel(ref[step.name]), rtol=1e-10,
                                   atol=1e-12, err_msg=step.name)


def test_linear_output_and_no_bias():
    model = MLP(2, [2, 1], activation="sigmoid", out_activation=None, bias=False, seed=1)
    xs = [Value(1.0, "x0[0]", requires_grad=False), Value(-2.0, "x0[1]", requires_grad=False)]
    E = squared_error(model.forward(xs), [Value(0.5, "y[0]", requires_grad=False)])
    E.label = "E"
    steps = exercise_steps(E, model)
    names = [s.name for s in steps]
    assert names == ["s1", "x1", "s2", "E", "dE/ds2", "dE/dW2", "dE/dx1", "sigma'(s1)", "dE/ds1",
                     "dE/dW1"]
    assert "+ b1" not in steps[0].formula
    W1 = model.layers[0].weight_matrix()
    W2 = model.layers[1].weight_matrix()
    s1 = W1 @ [1.0, -2.0]
    x1 = 1 / (1 + np.exp(-s1))
    s2 = W2 @ x1
    ds2 = s2 - 0.5
    ds1 = (W2.T @ ds2) * x1 * (1 - x1)
    np.testing.assert_allclose(steps[names.index("dE/dW1")].value, np.outer(ds1, [1.0, -2.0]),
                               rtol=1e-12)


def test_not_a_network_is_refused():
    ex = examples.task5()
    other = MLP(2, [3, 2])
    with pytest.raises(TraceInputError, match="MLP whose last forward pass"):
        exercise_steps(ex.root, other)
    with pytest.raises(TraceInputError):
        exercise_steps(ex.root, object())


def test_a_batch_is_refused_with_a_clear_error():
    model = MLP(2, [2, 1], seed=0)
    out = model(np.array([[1.0, 2.0], [0.5, -1.0]]))
    E = squared_error(out, np.array([0.0, 1.0]))
    with pytest.raises(TraceInputError, match="one sample"):
        exercise_steps(E, model)


def test_format_steps_text_and_markdown():
    _, steps = task5_steps()
    text = format_steps(steps)
    assert text.count("Step ") == 16
    assert "dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472 = 0.1105" in text
    md = format_steps(steps, "markdown")
    assert md.count("```text") == 16
    with pytest.raises(ValueError):
        format_steps(steps, "latex")


def test_json_numbers_are_plain_lists():
    _, steps = task5_steps()
    numbers = steps.numbers()
    assert isinstance(numbers["dE/dW2"], list) and isinstance(numbers["dE/dW2"][0], list)
    np.testing.assert_allclose(numbers["dE/dW2"], task5_ref()["dE/dW2"], rtol=1e-12)
    assert isinstance(numbers["E"], list) and len(numbers["E"]) == 1  # one sample: [E]


def test_define_intermediates_before_use():
    ex = examples.task5()
    defs = define_intermediates(ex.root, collapse=False)
    names = re.findall(r"^  (t\d+) = ", defs, flags=re.M)
    assert names, "the expanded Task 5 graph names some intermediates t<k>"
    seen = set()
    for line in defs.splitlines()[1:]:
        name, rest = line.strip().split(" = ", 1)
        for used in re.findall(r"\bt\d+\b", rest):
            assert used in seen, f"{used} used in {line!r} before it is defined"
        seen.add(name)
    assert define_intermediates(ex.root, collapse=True) == ""  # collapsed: no intermediate
