"""``micrograd_mlp.check.gradients``: a numpy backward against autodiff, mistakes named.

The right gradients come from numpy code written here (and from torch), never from the
checker; each planted mistake is one test.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

pass
from micrograd_mlp.errors import ArgumentError, DataTypeError, ShapeError
from micrograd_mlp.grading import numpy_backward
from micrograd_mlp.nets.mlp import MLP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_demos import run as run_demo  # noqa: E402


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def setup(n=6, seed=3):
    """A 3-4-2 sigmoid network, mse loss (mean over n*k terms), and its data."""
    rng = np.random.default_rng(seed)
    model = MLP(3, [4, 2], activation="sigmoid", seed=seed)
    X = rng.normal(size=(n, 3))
    Y = rng.normal(size=(n, 2))
    return model, X, Y


def reference(model, X, Y, deriv1=None, deriv2=None):
    """The mse backward by hand, ``(out, in)`` layout; ``deriv1/2`` replace sigma'."""
    (W1, W2), (b1, b2) = model.get_parameters("out_in")
    s1 = X @ W1.T + b1
    x1 = sig(s1)
    s2 = x1 @ W2.T + b2
    x2 = sig(s2)
    dx2 = 2 * (x2 - Y) / Y.size
    ds2 = dx2 * (x2 * (1 - x2) if deriv2 is None else deriv2(s2, x2))
    dx1 = ds2 @ W2
    ds1 = dx1 * (x1 * (1 - x1) if deriv1 is None else deriv1(s1, x1))
    return {"W1": ds1.T @ X, "b1": ds1.sum(0), "W2": ds2.T @ x1, "b2": ds2.sum(0)}


def gcheck(student, model, X, Y, **kw):
    return numpy_backward.gradients(student, model, X, Y, loss="mse", **kw)


def test_right_in_both_layouts_and_the_model_grads_are_kept():
    model, X, Y = setup()
    for p in model.parameters():
        p.grad = 0.25
    ref = reference(model, X, Y)
    report = gcheck(ref, model, X, Y)
    assert report.ok and report.layout == "out_in", str(report)
    flipped = {k: (v.T if k[0] == "W" else v) for k, v in ref.items()}
    report = gcheck({k.lower(): v for k, v in flipped.items()}, model, X, Y)  # w1, b1 keys
    assert report.ok and report.layout == "in_out", str(report)
    assert all(p.grad == 0.25 for p in model.parameters())
    assert "All gradients right." in str(report)


def test_agrees_with_torch():
    torch = pytest.importorskip("torch")
    model, X, Y = setup()
    (W1, W2), (b1, b2) = model.get_parameters("out_in")
    t = {k: torch.tensor(v, requires_grad=True) for k, v in
         dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    x = torch.tensor(X)
    out = torch.sigmoid(torch.sigmoid(x @ t["W1"].T + t["b1"]) @ t["W2"].T + t["b2"])
    torch.nn.functional.mse_loss(out, torch.tensor(Y)).backward()
    report = gcheck({k: v.grad.numpy() for k, v in t.items()}, model, X, Y)
    assert report.ok, str(report)


@pytest.mark.parametrize("factor, slip, words", [
    (-1.0, "sign", "wrong sign"),
    (2.0, "factor", "the 1/2 of the loss"),
    (0.5, "factor", "the 2 of the square"),
    (6.0, "factor", "the 1/n of the mean is missing"),       # n = 6
    (1 / 6, "factor", "divided by the batch size once too often"),
    (3.7, "factor", "constant factor 3.7"),
])
def test_constant_factors(factor, slip, words):
    model, X, Y = setup()
    ref = reference(model, X, Y)
    ref["W2"] = ref["W2"] * factor
    report = gcheck(ref, model, X, Y)
    assert report.wrong() == ["W2"]
    assert report["W2"].slip == slip and words in report["W2"].message
    assert report["W2"].factor == pytest.approx(factor)


def test_transposed_square_matrix_and_mixed_layouts():
    model = MLP(3, [3, 2], activation="sigmoid", seed=1)  # W1 is 3 x 3
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    ref = reference(model, X, Y)
    ref["W1"] = ref["W1"].T
    report = gcheck(ref, model, X, Y)
    assert report.wrong() == ["W1"] and report["W1"].slip == "transposed"
    model, X, Y = setup()
    ref = reference(model, X, Y)
    ref["W1"] = ref["W1"].T  # (in, out) while W2 is (out, in)
    report = gcheck(ref, model, X, Y)
    assert report.wrong() == ["W1"] and report["W1"].slip == "transposed"
    assert "mix" in str(report)


def test_wrong_activation_derivative_taken_at_the_output():
    model, X, Y = setup()
    bad = reference(model, X, Y, deriv1=lambda s, x: sig(x) * (1 - sig(x)))
    report = gcheck(bad, model, X, Y)
    assert set(report.wrong()) == {"W1", "b1"}
    for name in ("W1", "b1"):
        assert report[name].slip == "activation"
        assert "layer 1" in report[name].message and "at the output x1" in report[name].message


def test_activation_derivative_left_out_in_the_output_layer():
    model, X, Y = setup()
    bad = reference(model, X, Y, deriv2=lambda s, x: np.ones_like(s))
    report = gcheck(bad, model, X, Y)
    assert set(report.wrong()) == {"W1", "b1", "W2", "b2"}
    assert all(v.slip == "activation" and "layer 2" in v.message and "left out" in v.message
               for v in report.verdicts.values())


def test_wrong_in_some_rows_only():
    model, X, Y = setup()
    ref = reference(model, X, Y)
    ref["W1"][2] += 0.3  # neuron 2 of layer 1 only
    ref["b2"][1] -= 0.1
    report = gcheck(ref, model, X, Y)
    assert report["W1"].slip == "rows" and "neurons 2 only" in report["W1"].message
    assert report["b2"].slip == "rows" and "entries 1 only" in report["b2"].message


def test_missing_unknown_shape_and_nan():
    model, X, Y = setup()
    ref = reference(model, X, Y)
    del ref["b1"]
    ref["W3"] = np.zeros((2, 2))
    ref["extra"] = 1.0
    ref["W2"] = np.zeros((3, 3))
    ref["b2"] = np.array([np.nan, 0.0])
    ref["W1"] = np.zeros((4, 3)).tolist()  # a list is read as an array
    report = gcheck(ref, model, X, Y)
    assert report["b1"].status == "missing"
    assert report["W3"].status == "unknown" and report["extra"].status == "unknown"
    assert report["W2"].slip == "shape" and report["b2"].slip == "not finite"
    assert report["W1"].slip == "zeros"
    assert not report.ok


def test_student_functions_of_every_arity():
    model, X, Y = setup()
    ref = reference(model, X, Y)
    assert gcheck(lambda: ref, model, X, Y).ok
    assert gcheck(lambda X_, Y_: ref, model, X, Y).ok

    def seed004_style(params, X_, Y_):  # receives (in, out) weights
        assert params["W1"].shape == (3, 4)
        return {k: (v.T if k[0] == "W" else v) for k, v in ref.items()}
    assert gcheck(seed004_style, model, X, Y).ok


def test_bad_arguments_are_library_errors():
    model, X, Y = setup()
    with pytest.raises(ShapeError):
        gcheck({}, model, X[:, :2], Y)
    with pytest.raises(ArgumentError):
        gcheck({}, model, X, Y, layout="rows")
    with pytest.raises(DataTypeError):
        gcheck([1, 2], model, X, Y)
    with pytest.raises(DataTypeError):
        gcheck(lambda: [1, 2], model, X, Y)
    with pytest.raises(DataTypeError):
        gcheck({"W1": "abc"}, model, X, Y)


def test_demo_diagnoses_its_three_planted_mistakes(tmp_path):
    result = run_demo("check_numpy_backward", tmp_path)
    slips = result["slips"]
    assert slips["correct"] == {}
    assert slips["no_mean"] == {"W2": "factor"}
    assert result["reports"]["no_mean"]["W2"].factor == pytest.approx(result["n"])
    assert slips["relu_slope"] == {"W1": "activation", "b1": "activation"}
    assert "derivative of relu" in result["reports"]["relu_slope"]["W1"].message
    assert slips["transposed"] == {"W1": "transposed"}
    text = Path(result["files"][0]).read_text()
    assert text.count("Planted mistake") == 3


def test_square_weights_only_the_layout_is_the_one_that_fits():
    # batch size == number of classes == every width: every shape is ambiguous
    model = MLP(3, [3, 3], activation="tanh", out_activation=None, seed=2)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(3, 3)), np.array([0, 2, 1])
    torch = pytest.importorskip("torch")
    (W1, W2), (b1, b2) = model.get_parameters("out_in")
    t = {k: torch.tensor(v, requires_grad=True) for k, v in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    logits = torch.tanh(torch.tensor(X) @ t["W1"].T + t["b1"]) @ t["W2"].T + t["b2"]
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}
    seed004 = {k: (v.T if k[0] == "W" else v) for k, v in grads.items()}
    for given, layout in ((grads, "out_in"), (seed004, "in_out")):
        report = numpy_backward.gradients(given, model, X, y, loss="cross_entropy")
        assert report.ok and report.layout == layout, str(report)
    seed004["W2"] = seed004["W2"].T  # one of them the other way round
    report = numpy_backward.gradients(seed004, model, X, y, loss="cross_entropy")  # a tie
    assert len(report.wrong()) == 1 and report[report.wrong()[0]].slip == "transposed"
    assert "shapes do not tell the layout" in str(report)
    report = numpy_backward.gradients(seed004, model, X, y, loss="cross_entropy", layout="in_out")
    assert report.wrong() == ["W2"] and report["W2"].slip == "transposed"
