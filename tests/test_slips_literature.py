"""The slips the teaching literature documents, each from a worked answer that makes it.

Each answer is built here with numpy the way a student who makes the slip builds it
(Task 5's numbers from ``task5_reference``), and the checker must name that slip.
"""
import numpy as np
import pytest

from micrograd_mlp import examples
from micrograd_mlp.cli.trace_cmd import build_target
from micrograd_mlp.grading import hand_solution
from test_examples import task5_reference

REF = task5_reference()
W1 = np.array([[0.2, -0.3], [0.1, -1.2], [0.4, 0.3]])
W2 = np.array([[0.4, 0.2, 0.2], [0.1, 0.3, 0.5]])


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def fmt(a, digits=4):
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}f}"
    if a.ndim == 1:
        return "(" + ", ".join(f"{v:.{digits}f}" for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(f"{v:.{digits}f}" for v in r) + "]" for r in a) + "]"


def slip_of(text, root=None):
    report = hand_solution.check(root if root is not None else examples.task5().root, text)
    assert not report.ok
    return report


def test_composition_taken_as_a_product():
    # d sigma(s2)/ds2 taken as sigma(s2) itself: dE/ds2 = dE/dx2 * x2
    report = slip_of(f"dE/ds2 = {fmt(REF['dx2'] * REF['x2'])}\n")
    assert report.slip == "composition as a product"


def test_sigma_prime_at_the_output_and_the_output_form_at_the_input():
    wrong = sig(REF["x2"]) * (1 - sig(REF["x2"]))
    assert slip_of(f"dE/ds2 = {fmt(REF['dx2'] * wrong)}\n").slip == "sigma' at the wrong vector"
    s2 = REF["s2"]
    report = slip_of(f"dE/ds2 = {fmt(REF['dx2'] * s2 * (1 - s2))}\n")
    assert report.slip == "sigma' at the wrong vector" and "s2 (1 - s2)" in str(report)


def test_sigma_prime_multiplied_instead_of_applied():
    # sigma'(s2) read as "sigma' times s2"
    report = slip_of(f"dE/ds2 = {fmt(REF['dx2'] * REF['dsig2'] * REF['s2'])}\n")
    assert report.slip == "sigma' multiplied, not applied"


def test_dot_product_where_the_elementwise_product_belongs():
    dot = float(REF["dx2"] @ REF["dsig2"])
    report = slip_of(f"dE/ds2 = {fmt([dot, dot])}\n")
    assert report.slip == "dot product, not elementwise"


def test_elementwise_product_where_the_matrix_product_belongs():
    # W2^T * dE/ds2 elementwise, never summed: a 3 x 2 matrix of terms for dE/dx1
    terms = (W2 * REF["ds2"][:, None]).T
    report = slip_of(f"dE/dx1 = {fmt(terms)}\n")
    assert report.slip == "elementwise, not a matrix product"


def test_transposed():
    assert slip_of(f"dE/dW2 = {fmt(REF['dW2'].T)}\n").slip == "transposed"


def test_gradient_overwritten_instead_of_summed_for_an_input_feeding_two_neurons():
    one_share = W2[0, 0] * REF["ds2"][0]  # dE/dx1[0] keeps neuron 0's share only
    other = W2[1, 0] * REF["ds2"][1]
    for share in (one_share, other):
        report = slip_of(f"dE/dx1[0] = {share:.4f}\n")
        assert report.slip == "overwritten, not summed"


def test_gradient_overwritten_for_a_plus_a():
    root, _, _ = build_target("L = a*b + a", ["a=3", "b=-2"])   # dL/da = b + 1 = -1
    report = slip_of("dL/da = -2.0000\n", root)               # the a*b share only
    assert report.slip == "overwritten, not summed"
    root, _, _ = build_target("a + a", ["a=3"])
    assert slip_of("dout/da = 1.0000\n", root).slip == "overwritten, not summed"


def test_sign_of_a_subtraction():
    report = slip_of(f"dE/dx2 = {fmt(REF['y'] - REF['x2'] if 'y' in REF else -REF['dx2'])}\n")
    assert report.slip == "sign" and "y - x2" in str(report)


def test_relu_prime_at_zero():
    root, _, _ = build_target("L = relu(a*b + c)", ["a=1", "b=2", "c=-2"])  # a*b + c = 0
    report = slip_of("dL/da = 2.0000\n", root)  # ReLU'(0) taken as 1: dL/da = b
    assert report.slip == "derivative at a kink"
    assert hand_solution.check(root, "dL/da = 0.0000\n").ok  # the library's ReLU'(0) = 0


def test_rounding_too_early_and_within_the_rule():
    r2 = lambda a: np.round(a, 2)  # noqa: E731  carried with 2 decimals
    x0, b1, b2, y = np.array([1.0, 2.0]), np.array([0.3, -0.1, 1.2]), np.array([-0.6, 0.5]), np.array([0.0, 1.0])
    s1 = r2(W1 @ x0 + b1)
    x1 = r2(sig(s1))
    s2 = r2(W2 @ x1 + b2)
    x2 = r2(sig(s2))
    dx2 = r2(x2 - y)
    ds2 = dx2 * r2(x2 * (1 - x2))
    report = slip_of(f"dE/ds2 = {fmt(ds2)}\n")
    assert report.slip == "rounded too early"
    # carried with 4 decimals, the rule: right
    r4 = lambda a: np.round(a, 4)  # noqa: E731
    x2 = r4(sig(r4(W2 @ r4(sig(r4(W1 @ x0 + b1))) + b2)))
    ds2 = r4(r4(x2 - y) * r4(x2 * (1 - x2)))
    assert hand_solution.check(examples.task5().root, f"dE/ds2 = {fmt(ds2)}\n").ok
