"""One registration call makes a new primitive, sin, available everywhere at once:
on Value, in gradcheck, in the ledger (text and LaTeX), in drawings, in replay and in
the trace command's expression language. Nothing but this file knows of sin; the
fixture takes it out of the table again, so other tests never see it."""
import math
import re

import numpy as np
import pytest

from micrograd_mlp import Value, gradcheck, sum_values

from micrograd_mlp.views import trace
from micrograd_mlp.core import registry
from micrograd_mlp.errors import ArgumentError


def _sin_forward(u):
    return math.sin(u) if u.__class__ is float else np.sin(u)


def _sin_partials(out, u):
    return (math.cos(u) if u.__class__ is float else np.cos(u),)


@pytest.fixture
def sin():
    """Register ``sin`` for one test and remove it afterwards, whatever happens."""
    row = registry.register_primitive(
        "sin", _sin_forward, _sin_partials, symbol="sin",
        local_text=("cos({u})",), latex="\\sin({u})", local_latex=("\\cos({u})",),
        doc="``sin(u)``.")
    try:
        yield row
    finally:
        registry.unregister_primitive("sin")


def test_value_gets_a_sin_method_and_its_derivative(sin):
    a = Value(0.7, "a")
    y = a.sin() * 3.0
    y.backward()
    assert y.op == "mul" and y.parents[0].op == "sin"
    assert y.data == pytest.approx(3.0 * math.sin(0.7), rel=1e-15)
    assert a.grad == pytest.approx(3.0 * math.cos(0.7), rel=1e-15)
    # batched, and the sum rule of a scalar beside a batch
    x = Value(np.array([0.1, -2.0, 3.0]), "x")
    w = Value(0.5, "w")
    (x * w).sin().sum().backward()
    np.testing.assert_allclose(x.grad, 0.5 * np.cos(0.5 * x.data), rtol=1e-14)
    assert w.grad == pytest.approx(float(np.sum(x.data * np.cos(0.5 * x.data))), rel=1e-14)


def test_the_row_carries_the_formula(sin):
    assert sin.formula(0) == "d sin(u)/du = cos(u)"
    assert registry.PRIMITIVES["sin"] is sin


def test_gradcheck_passes_and_catches_a_wrong_rule(sin):
    xs = [Value(v) for v in (-1.3, 0.2, 2.9)]
    assert gradcheck(lambda a, b, c: (a * b).sin() + c.sin() * a, xs)
    # the same op with a deliberately wrong derivative is caught
    registry.register_primitive("bad_sin", _sin_forward, lambda out, u: (-np.cos(u),),
                                  local_text=("-cos({u})",))
    try:
        with pytest.raises(AssertionError, match="analytic"):
            gradcheck(lambda a: a.bad_sin(), [Value(0.3)])
    finally:
        registry.unregister_primitive("bad_sin")
    assert not hasattr(Value, "bad_sin")


def test_ledger_text_and_latex(sin):
    pass

    u = Value(1.0, "u")
    y = u.sin()
    y.label = "y"
    text = trace.format_table(y, "text", collapse=False)
    assert f"dy/du = cos(u) = {math.cos(1.0):.4f}" in text
    latex = trace.format_table(y, "latex", collapse=False)
    assert "\\frac{\\partial y}{\\partial u} &= \\cos(u)" in latex
    step = next(iter(trace.backward_steps(y)))
    assert step.terms[0].formula == "d sin(u)/du = cos(u)"
    # named inside a larger expression, parenthesised by its precedence
    a, b = Value(0.5, "a"), Value(2.0, "b")
    f = (a * b).sin() * b
    f.label = "f"
    rows = trace.format_table(f, "text", collapse=False)
    assert "dsin(a * b)/d" not in rows  # a product is an argument, no extra parentheses
    assert f"df/d(a * b) = df/dsin(a * b) * cos(a * b)" in rows


def test_drawing_shows_the_symbol(sin):
    from micrograd_mlp.views.graph import draw_dot

    a = Value(0.4, "a")
    f = a.sin() + a
    f.backward()
    source = draw_dot(f).source
    assert re.search(r"label=<sin> shape=circle", source)
    assert 'tooltip="d sin(u)/du = cos(u)"' in source


def test_replay_equals_the_built_graph(sin):
    from micrograd_mlp.core.recorder import Recorded

    rng = np.random.default_rng(7)
    w, b = Value(0.8, "w"), Value(-0.3, "b")

    def loss(x_data, y_data):
        x = Value(x_data, "x")
        y = Value(y_data, "y", requires_grad=False)
        err = (x * w + b).sin() - y
        return (err * err).mean(), x, y

    L, x, y = loss(rng.normal(size=6), rng.normal(size=6))
    rec = Recorded(L, params=[w, b], inputs=[x, y])
    for _ in range(3):
        xd, yd = rng.normal(size=6), rng.normal(size=6)
        w.grad = b.grad = 0.0
        built, _, _ = loss(xd, yd)
        built.backward()
        value, grads = rec.run([xd, yd], accumulate=False)
        assert value == pytest.approx(built.data, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grads, [w.grad, b.grad], rtol=1e-12, atol=1e-12)


def test_trace_command_knows_sin(sin, capsys):
    from micrograd_mlp import cli

    code = cli.main(["trace", "sin(a)*b", "a=1", "b=2"])
    out = capsys.readouterr().out
    assert code in (0, None)
    # the ledger rows, whatever the root is called: the chain rule written with cos
    assert re.search(rf"^d\w+/da = b \* cos\(a\) = {2 * math.cos(1.0):.4f}$", out, re.M)
    assert re.search(rf"^d\w+/db = sin\(a\) = {math.sin(1.0):.4f}$", out, re.M)


def test_unregistering_takes_it_away_everywhere():
    registry.register_primitive("sin", _sin_forward, _sin_partials, local_text=("cos({u})",))
    assert hasattr(Value, "sin")
    registry.unregister_primitive("sin")
    assert "sin" not in registry.PRIMITIVES and not hasattr(Value, "sin")
    from micrograd_mlp.cli.trace_cmd import known_functions
    assert "sin" not in known_functions()


def test_registration_refuses_what_would_break_something(sin):
    with pytest.raises(ArgumentError, match="already a primitive"):
        registry.register_primitive("sin", np.sin, _sin_partials, local_text=("cos({u})",))
    with pytest.raises(ArgumentError, match="cannot be removed"):
        registry.unregister_primitive("tanh")
    with pytest.raises(ArgumentError, match="one local-derivative"):
        registry.register_primitive("cos2", np.cos, _sin_partials, local_text=())
    with pytest.raises(ArgumentError, match="does not fit"):
        registry.register_primitive("cos2", np.cos, _sin_partials, local_text=("{v}",))
    # a method name Value already has: refused, and the table is left as it was
    with pytest.raises(ArgumentError, match="already has an attribute"):
        registry.register_primitive("sqrt2", np.sqrt, _sin_partials,
                                      local_text=("1",), method="sqrt")
    assert "sqrt2" not in registry.PRIMITIVES and "cos2" not in registry.PRIMITIVES
    assert Value(4.0).sqrt().data == 2.0  # still the engine's own method


def test_an_n_ary_primitive_is_written_with_its_joiner():
    """A registered n-ary op (an average) in the ledger, with {args} and {u_i}."""
    pass

    def forward(*xs):
        return sum(xs) / len(xs)

    def partials(out, *xs):
        return (1.0 / len(xs),) * len(xs)

    registry.register_primitive("avg", forward, partials, arity=None,
                                  text="avg({args})", local_text=("1/n",))
    try:
        from micrograd_mlp.core.engine import apply
        a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(6.0, "c")
        f = apply("avg", a, b, c)
        f.label = "f"
        assert f.data == 3.0
        text = trace.format_table(f, "text", collapse=False)
        assert "da = 1/n = 0.3333" in text.replace("df/", "")
        assert gradcheck(lambda *vs: apply("avg", *vs), [a, b, c])
        assert sum_values([a, b]).primitive.expr == "u_1 + ... + u_n"
    finally:
        registry.unregister_primitive("avg")


def test_a_registered_domain_check_holds_on_both_paths():
    """A registered op with a domain check (a square root of u >= 0): the built graph
    and the replay of its recording give the same numbers on good batches and the same
    error on a bad one."""
    from micrograd_mlp.core.recorder import Recorded
    from micrograd_mlp.errors import DomainError

    def check(u):
        return "root of a negative number" if np.any(np.asarray(u) < 0) else None

    registry.register_primitive(
        "root", lambda u: np.sqrt(u) if isinstance(u, np.ndarray) else math.sqrt(u),
        lambda out, u: (0.5 / out,), local_text=("1/(2 * root({u}))",), check=check)
    try:
        w = Value(1.5, "w")

        def loss(xd):
            x = Value(xd, "x", requires_grad=False)
            return (x * w).root().mean(), x

        rng = np.random.default_rng(11)
        L, x = loss(rng.uniform(0.1, 2.0, size=4))
        rec = Recorded(L, params=[w], inputs=[x])
        good = rng.uniform(0.1, 2.0, size=4)
        built, _ = loss(good)
        w.grad = 0.0
        built.backward()
        value, grads = rec.run([good], accumulate=False)
        assert value == pytest.approx(built.data, rel=1e-12)
        assert grads[0] == pytest.approx(0.5 * np.mean(good / np.sqrt(good * 1.5)), rel=1e-12)
        assert grads[0] == pytest.approx(w.grad, rel=1e-12)
        bad = good.copy()
        bad[2] = -1.0
        with pytest.raises(DomainError, match="negative"):
            loss(bad)
        with pytest.raises(DomainError, match="negative"):
            rec.run([bad])
    finally:
        registry.unregister_primitive("root")


def test_scalar_and_batch_paths_agree_for_sin(sin):
    rng = np.random.default_rng(5)
    xs = rng.normal(scale=3.0, size=7)
    batch = Value(xs.copy(), "x")
    (batch.sin() * batch).sum().backward()
    for i, v in enumerate(xs):
        s = Value(float(v))
        (s.sin() * s).backward()
        assert batch.grad[i] == pytest.approx(s.grad, rel=1e-14, abs=1e-15)


def test_a_graph_outliving_its_primitive_fails_clearly():
    pass
    from micrograd_mlp.errors import GradientError

    registry.register_primitive("sin", _sin_forward, _sin_partials, local_text=("cos({u})",))
    a = Value(0.5, "a")
    f = a.sin() * a
    registry.unregister_primitive("sin")
    with pytest.raises(GradientError, match="'sin' was unregistered"):
        f.backward()
    with pytest.raises(GradientError, match="unregistered"):
        trace.format_table(f)
    with pytest.raises(GradientError, match="unregistered"):
        from micrograd_mlp.core.engine import apply
        apply("sin", a)
    # registering it again makes the old graph usable again
    registry.register_primitive("sin", _sin_forward, _sin_partials, local_text=("cos({u})",))
    try:
        a.grad = 0.0
        f.backward()
        assert a.grad == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=1e-15)
    finally:
        registry.unregister_primitive("sin")


def test_defaults_of_a_registration():
    row = registry.register_primitive(
        "log_cosh", lambda u: np.log(np.cosh(u)), lambda out, u: (np.tanh(u),),
        local_text=("tanh({u})",))
    try:
        assert (row.text, row.symbol, row.method) == ("log_cosh({u})", "log_cosh", "log_cosh")
        assert row.latex == "\\operatorname{{log\\_cosh}}({u})"  # a format template
        assert row.fill(row.latex, ["x"]) == "\\operatorname{log\\_cosh}(x)"
        assert row.local_latex == row.local_text
        assert Value(0.5).log_cosh().data == pytest.approx(math.log(math.cosh(0.5)), rel=1e-15)
    finally:
        registry.unregister_primitive("log_cosh")
