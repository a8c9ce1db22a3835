"""Activations: autodiff derivative vs closed forms, finite differences, mpmath and
torch; stability at +-1000; derivatives at 0; groups; the registry's errors."""
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_mlp import Value, anomaly_mode, gradcheck

from micrograd_mlp.views import trace
from micrograd_mlp import activations as A
from micrograd_mlp.errors import DomainError
from micrograd_mlp.core.graph_walk import topological_order

ALL = A.names(aliases=True)
KINKED = {"relu", "prelu", "leaky_relu", "selu", "selu_standard"}  # not differentiable at 0
SMOOTH = [n for n in ALL if n not in KINKED]
SOBOLEVA_PARAMS = dict(a=0.5, b=0.8, c=1.2, d=1.5)


def autodiff(name, x, **params):
    """Value and derivative of the registered activation at the points ``x`` (a batch)."""
    v = Value(np.array(x, dtype=float))
    out = A.ACTIVATIONS[name](v, **params)
    out.backward()
    return out.data, v.grad


@pytest.fixture
def strict_numpy():
    """numpy overflow / invalid / divide-by-zero raise, and any warning is an error."""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_registry_has_every_activation_of_the_seeds():
    expected = {"relu", "sigmoid", "tanh", "silu", "swish", "prelu", "leaky_relu",
                "parametric_sigmoid", "softplus", "selu", "elish", "soboleva_tanh", "gelu",
                "identity"}
    assert expected <= set(A.ACTIVATIONS)
    for name in expected:
        assert callable(getattr(A, name))
        act = A.ACTIVATIONS[name]
        assert act.formula and act.derivative
    assert A.swish is A.silu
    assert A.ACTIVATIONS["prelu"].params == {"alpha": 0.1}
    assert A.ACTIVATIONS["leaky_relu"].params == {"alpha": 0.01}
    assert A.ACTIVATIONS["parametric_sigmoid"].params == {"alpha": 1.0}
    assert A.ACTIVATIONS["selu"].params["lam"] == 1.0


@pytest.mark.parametrize("name", ALL)
def test_autodiff_equals_closed_form_at_201_points(name):
    x = np.linspace(-10, 10, 201)
    if name in KINKED:
        x = x[x != 0]
    f, df = autodiff(name, x)
    act = A.ACTIVATIONS[name]
    np.testing.assert_allclose(f, act.f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(df, act.df(x), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_closed_form_derivative_is_the_slope_of_the_closed_form(name):
    # df checked on its own against central differences of f (away from 0 for kinks)
    act = A.ACTIVATIONS[name]
    x = np.linspace(-6, 6, 61) + 0.05
    h = 1e-6
    numeric = (act.f(x + h) - act.f(x - h)) / (2 * h)
    np.testing.assert_allclose(act.df(x), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_gradcheck_on_a_batch(name):
    x = Value(np.array([-3.0, -0.7, -0.01, 0.013, 0.4, 2.5]), "x")
    assert gradcheck(lambda v: A.ACTIVATIONS[name](v), [x])


@pytest.mark.parametrize("name", SMOOTH)
def test_derivative_at_zero_is_the_true_one(name):
    """At x = 0 (where relu/abs kinks hide inside several forms) the chain rule must
    still give the derivative: compared with central differences of the composite."""
    x = Value(0.0, "x")
    out = A.ACTIVATIONS[name](x)
    out.backward()
    with_no_graph = lambda t: A.ACTIVATIONS[name](Value(t)).data  # noqa: E731
    # ELiSH is only C1 at 0 (its second derivative jumps), so the central difference
    # is O(h) accurate there; a trap such as sign(0) = 0 would be off by >= 0.1
    h = 1e-7
    numeric = (with_no_graph(h) - with_no_graph(-h)) / (2 * h)
    assert x.grad == pytest.approx(numeric, abs=1e-7)


@pytest.mark.parametrize("name, expected", [
    ("sigmoid", 0.25), ("tanh", 1.0), ("silu", 0.5), ("softplus", 0.5), ("elish", 0.5),
    ("gelu", 0.5), ("gelu_tanh", 0.5), ("soboleva_tanh", 1.0), ("parametric_sigmoid", 0.25),
    ("identity", 1.0),
    # kinks: the derivative from the left, as PyTorch (relu'(0) = 0, prelu'(0) = alpha)
    ("relu", 0.0), ("prelu", 0.1), ("leaky_relu", 0.01),
    ("selu", A.SELU_ALPHA), ("selu_standard", A.SELU_LAMBDA * A.SELU_ALPHA),
])
def test_derivative_at_zero_closed_values(name, expected):
    for x in (Value(0.0), Value(np.zeros(2))):
        A.ACTIVATIONS[name](x).backward()
        np.testing.assert_allclose(x.grad, expected, rtol=1e-15)


def test_soboleva_derivative_at_zero_general_parameters():
    # f'(0) = (N'(0) D(0) - N(0) D'(0)) / D(0)^2 = (a + b) / 2
    x = Value(0.0)
    A.soboleva_tanh(x, **SOBOLEVA_PARAMS).backward()
    assert x.grad == pytest.approx((0.5 + 0.8) / 2, rel=1e-14)


# ---------------------------------------------------------------- stability

# The true limits (value, derivative) at x = -1000 and x = +1000.
LIMITS = {
    "identity": ((-1000, 1), (1000, 1)),
    "relu": ((0, 0), (1000, 1)),
    "sigmoid": ((0, 0), (1, 0)),
    "tanh": ((-1, 0), (1, 0)),
    "silu": ((0, 0), (1000, 1)),
    "swish": ((0, 0), (1000, 1)),
    "prelu": ((-100, 0.1), (1000, 1)),
    "leaky_relu": ((-10, 0.01), (1000, 1)),
    "parametric_sigmoid": ((0, 0), (1, 0)),
    "softplus": ((0, 0), (1000, 1)),
    "selu": ((-A.SELU_ALPHA, 0), (1000, 1)),
    "selu_standard": ((-A.SELU_LAMBDA * A.SELU_ALPHA, 0), (1000 * A.SELU_LAMBDA, A.SELU_LAMBDA)),
    "elish": ((0, 0), (1000, 1)),
    "soboleva_tanh": ((-1, 0), (1, 0)),
    "gelu": ((0, 0), (1000, 1)),
    "gelu_tanh": ((0, 0), (1000, 1)),
}


def test_limits_cover_the_registry():
    assert set(LIMITS) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_stable_at_plus_minus_1000(name, strict_numpy):
    for x, (value, slope) in zip((-1000.0, 1000.0), LIMITS[name]):
        for data in (x, np.array([x, x])):  # the scalar (math) path and the numpy path
            v = Value(data)
            with anomaly_mode():  # raises on any NaN/inf, also in inner nodes
                out = A.ACTIVATIONS[name](v)
                out.backward()
            np.testing.assert_allclose(out.data, value, rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(v.grad, slope, rtol=1e-12, atol=1e-300)
        act = A.ACTIVATIONS[name]
        np.testing.assert_allclose(act.f(x), value, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(act.df(x), slope, rtol=1e-12, atol=1e-300)


def _mp_reference(name, x, **params):
    """Value and derivative at ``x`` in 50-digit arithmetic (mpmath), from the
    definitions of SPEC R7, not from this package."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    lam_std = mp.mpf("1.0507009873554804934193349852946")
    alpha = mp.mpf("1.6732632423543772848170429916717")
    sig = lambda t: 1 / (1 + mp.exp(-t))  # noqa: E731
    p = {"a": 1, "b": 1, "c": 1, "d": 1, **params}
    defs = {
        "identity": lambda t: t,
        "relu": lambda t: max(t, 0),
        "sigmoid": sig,
        "tanh": mp.tanh,
        "silu": lambda t: t * sig(t),
        "swish": lambda t: t * sig(t),
        "prelu": lambda t: t if t > 0 else mp.mpf("0.1") * t,
        "leaky_relu": lambda t: t if t > 0 else mp.mpf("0.01") * t,
        "parametric_sigmoid": sig,
        "softplus": lambda t: mp.log(1 + mp.exp(t)),
        "selu": lambda t: t if t > 0 else alpha * (mp.exp(t) - 1),
        "selu_standard": lambda t: lam_std * (t if t > 0 else alpha * (mp.exp(t) - 1)),
        "elish": lambda t: (t if t >= 0 else mp.exp(t) - 1) * sig(t),
        "soboleva_tanh": lambda t: (mp.exp(p["a"] * t) - mp.exp(-p["b"] * t))
        / (mp.exp(p["c"] * t) + mp.exp(-p["d"] * t)),
        "gelu": lambda t: t / 2 * (1 + mp.erf(t / mp.sqrt(2))),
        "gelu_tanh": lambda t: t / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (t + mp.mpf("0.044715") * t ** 3))),
    }
    f = defs[name]
    t = mp.mpf(x)
    return float(f(t)), float(mp.diff(f, t))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("x", [-1000.0, -50.0, -3.3, 2.1, 50.0, 1000.0])
def test_matches_50_digit_reference(name, x, strict_numpy):
    value, slope = _mp_reference(name, x)
    f, df = autodiff(name, [x])
    assert f[0] == pytest.approx(value, rel=1e-12, abs=1e-300)
    # abs 1e-15: tanh'(50) = 4e-43 comes out as 1 - tanh(50)^2 = 0, which is fine
    assert df[0] == pytest.approx(slope, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("x", [-1000.0, -50.0, -0.3, 0.0, 0.7, 50.0, 1000.0])
def test_soboleva_general_parameters_stable_and_exact(x, strict_numpy):
    value, slope = _mp_reference("soboleva_tanh", x, **SOBOLEVA_PARAMS)
    v = Value(x)
    with anomaly_mode():
        out = A.soboleva_tanh(v, **SOBOLEVA_PARAMS)
        out.backward()
    assert out.data == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert v.grad == pytest.approx(slope, rel=1e-9, abs=1e-300)
    act = A.ACTIVATIONS["soboleva_tanh"]
    assert act.f(x, **SOBOLEVA_PARAMS) == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert act.df(x, **SOBOLEVA_PARAMS) == pytest.approx(slope, rel=1e-9, abs=1e-300)


def test_soboleva_with_default_parameters_is_tanh():
    x = np.linspace(-20, 20, 81)
    f, df = autodiff("soboleva_tanh", x)
    np.testing.assert_allclose(f, np.tanh(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(df, 1 - np.tanh(x) ** 2, rtol=1e-9, atol=1e-15)


def test_soboleva_unbounded_parameters_grow_without_overflowing_early():
    # a > c: f ~ e^((a - c) x) for large x, still finite at x = 1000 with a - c = 0.5
    v = Value(1000.0)
    out = A.soboleva_tanh(v, a=1.5, b=1.0, c=1.0, d=1.0)
    out.backward()
    assert math.isfinite(out.data) and out.data == pytest.approx(math.exp(500.0), rel=1e-12)
    assert v.grad == pytest.approx(0.5 * math.exp(500.0), rel=1e-9)


@settings(max_examples=40)
@given(st.floats(-40, 40), st.sampled_from(ALL))
def test_autodiff_equals_closed_form_anywhere(x, name):
    if name in KINKED and x == 0:
        return
    f, df = autodiff(name, [x])
    act = A.ACTIVATIONS[name]
    assert f[0] == pytest.approx(float(act.f(x)), rel=1e-12, abs=1e-12)
    assert df[0] == pytest.approx(float(act.df(x)), rel=1e-9, abs=1e-12)


def test_scalar_and_batch_paths_agree():
    xs = [-7.5, -1.0, 0.0, 0.25, 3.0]
    for name in ALL:
        f, df = autodiff(name, xs)
        for i, x in enumerate(xs):
            v = Value(x)
            out = A.ACTIVATIONS[name](v)
            out.backward()
            assert out.data == pytest.approx(f[i], rel=1e-14, abs=1e-15)
            assert v.grad == pytest.approx(df[i], rel=1e-14, abs=1e-15)


# ---------------------------------------------------------------- parameters


def test_selu_lambda_choices():
    x = np.array([-2.0, 0.5])
    seed = A.selu(Value(x)).data
    std = A.selu(Value(x), standard=True).data
    np.testing.assert_allclose(seed, np.where(x > 0, x, A.SELU_ALPHA * np.expm1(x)), rtol=1e-15)
    np.testing.assert_allclose(std, A.SELU_LAMBDA * seed, rtol=1e-15)
    np.testing.assert_allclose(A.ACTIVATIONS["selu_standard"](Value(x)).data, std, rtol=1e-15)
    np.testing.assert_allclose(A.selu(Value(x), lam=2.0).data, 2 * seed, rtol=1e-15)
    with pytest.raises(ValueError, match="standard"):
        A.selu(Value(1.0), lam=2.0, standard=True)
    np.testing.assert_allclose(A.ACTIVATIONS["selu"](Value(x), standard=True).data, std, rtol=1e-15)


def test_closed_forms_take_parameters():
    act = A.ACTIVATIONS["prelu"]
    assert act.f(-2.0) == pytest.approx(-0.2)
    assert act.f(-2.0, alpha=0.3) == pytest.approx(-0.6)
    assert act.df(-2.0, alpha=0.3) == pytest.approx(0.3)
    assert A.ACTIVATIONS["parametric_sigmoid"](Value(1.0), alpha=2.0).data == pytest.approx(
        1 / (1 + math.exp(-2.0)))


@pytest.mark.parametrize("fn", [A.prelu, A.parametric_sigmoid])
def test_trainable_parameter_gets_its_gradient(fn):
    x = Value(np.array([-2.0, -0.5, 0.3, 1.7]), "x")
    alpha = Value(0.25, "alpha")
    assert gradcheck(lambda xv, a: fn(xv, alpha=a), [x, alpha])


def test_prelu_alpha_gradient_closed_form():
    x = Value(np.array([-2.0, -0.5, 0.3, 1.7]))
    alpha = Value(0.25)
    A.prelu(x, alpha=alpha).sum().backward()
    assert alpha.grad == pytest.approx(-2.5)  # sum of min(x, 0)


def test_bad_parameters_raise():
    with pytest.raises(DomainError, match="parameter c must be > 0"):
        A.soboleva_tanh(Value(1.0), c=0.0)
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(Value(1.0), approximate="fast")


def test_get_resolves_names_and_rejects_unknown_ones():
    assert A.activation_named("Sigmoid") is A.ACTIVATIONS["sigmoid"]
    assert A.activation_named(None) is A.ACTIVATIONS["identity"]
    assert A.activation_named("linear") is A.ACTIVATIONS["identity"]
    fn = lambda v: v  # noqa: E731
    assert A.activation_named(fn) is fn
    with pytest.raises(KeyError) as info:
        A.activation_named("sigmoidd")
    message = str(info.value)
    assert "sigmoidd" in message and "known:" in message
    for name in ("relu", "gelu", "soboleva_tanh", "swish"):
        assert name in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(TypeError):
        A.activation_named(3)


def test_plain_numbers_are_accepted():
    assert A.sigmoid(0.0).data == 0.5
    assert A.relu(np.array([-1.0, 2.0])).data.tolist() == [0.0, 2.0]


# ---------------------------------------------------------------- groups


def test_sigmoid_nodes_form_one_group():
    a = Value(0.3, "a")
    out = A.sigmoid(a)
    inner = [n for n in topological_order(out, all_nodes=True) if n is not a]
    assert len(inner) > 3  # relu, sub, exp, neg, exp, add, div ...
    assert {n.op for n in inner} >= {"relu", "exp", "div"}
    for node in inner:
        assert node.group is not None and node.group.name == "sigmoid"
    assert len({id(n.group) for n in inner}) == 1
    assert a.group is None


def test_nested_groups_silu_contains_a_sigmoid():
    a = Value(0.3, "a")
    out = A.silu(a)
    assert out.group.name == "silu"
    sig = [n for n in topological_order(out, all_nodes=True) if n.group and n.group.name == "sigmoid"]
    assert sig and all(n.group.parent is out.group for n in sig)
    leaky = A.leaky_relu(a)
    assert leaky.group.name == "prelu" and leaky.group.parent.name == "leaky_relu"


def test_drawing_of_sigmoid_has_a_cluster():
    graph = pytest.importorskip("micrograd_mlp.views.graph")
    a = Value(0.3, "a")
    out = A.sigmoid(a)
    dot = graph.draw_dot(out)
    source = dot if isinstance(dot, str) else dot.source
    blocks = []
    for m in re.finditer(r"subgraph cluster", source):
        depth = 0
        for i in range(source.index("{", m.start()), len(source)):  # the cluster's braces
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            if depth == 0:
                blocks.append((m.start(), i))
                break
    start, end = next((b0, b1) for b0, b1 in blocks if "sigmoid" in source[b0:b1])
    cluster, outside = source[start:end], source[:start] + source[end:]
    inner = [n for n in topological_order(out, all_nodes=True) if n is not a]
    node_defs = re.findall(r"^\s*(v\d+) \[", cluster, flags=re.M)
    assert len(node_defs) == len(inner)  # every inner value node is drawn in the cluster
    assert len(re.findall(r"^\s*(v\d+) \[", outside, flags=re.M)) == 1  # only the input a
    assert "sigmoid" not in outside


# ---------------------------------------------------------------- torch oracle


def _torch_cases():
    return [
        ("relu", {}, lambda F, t: F.relu(t)),
        ("sigmoid", {}, lambda F, t: F.sigmoid(t)),
        ("tanh", {}, lambda F, t: F.tanh(t)),
        ("silu", {}, lambda F, t: F.silu(t)),
        ("prelu", {}, lambda F, t: F.prelu(t, t.new_tensor([0.1]))),
        ("leaky_relu", {}, lambda F, t: F.leaky_relu(t, 0.01)),
        ("softplus", {}, lambda F, t: F.softplus(t, beta=1.0, threshold=1000.0)),
        ("selu_standard", {}, lambda F, t: F.selu(t)),
        ("selu", {"standard": True}, lambda F, t: F.selu(t)),
        ("gelu", {}, lambda F, t: F.gelu(t)),
        ("gelu_tanh", {}, lambda F, t: F.gelu(t, approximate="tanh")),
        ("gelu", {"approximate": "tanh"}, lambda F, t: F.gelu(t, approximate="tanh")),
    ]


@pytest.mark.parametrize("name, params, torch_fn", _torch_cases())
def test_matches_torch_float64(name, params, torch_fn):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.concatenate([np.linspace(-10, 10, 201), [-50.0, 50.0, 1e-8, -1e-8]])
    f, df = autodiff(name, x, **params)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch_fn(F, t)
    out.sum().backward()
    np.testing.assert_allclose(f, out.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(df, t.grad.numpy(), rtol=0, atol=1e-9)


def test_prelu_trainable_alpha_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([-3.0, -1.0, -0.2, 0.0, 0.4, 2.0])
    v, alpha = Value(x.copy()), Value(0.25)
    A.prelu(v, alpha=alpha).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    w = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.prelu(t, w).sum().backward()
    np.testing.assert_allclose(v.grad, t.grad.numpy(), atol=1e-12)
    assert alpha.grad == pytest.approx(float(w.grad[0]), abs=1e-12)


def test_groups_record_the_parameters_in_effect():
    v = Value(0.5)
    assert A.prelu(v).group.params == {"alpha": 0.1}
    assert A.prelu(v, alpha=0.3).group.params == {"alpha": 0.3}
    assert A.selu(v, standard=True).group.params["lam"] == A.SELU_LAMBDA
    assert A.soboleva_tanh(v, a=0.5).group.params == {"a": 0.5, "b": 1.0, "c": 1.0, "d": 1.0}
    alpha = Value(0.2)
    assert "alpha" not in A.prelu(v, alpha=alpha).group.params  # a Value is drawn as a node


def test_one_registration_of_an_activation_reaches_every_view():
    """A new activation registered once (composite, closed forms, short name, symbol)
    is in ACTIVATIONS, get(), the trace command's functions, the ledger and drawings."""
    pass
    from micrograd_mlp.cli.trace_cmd import known_functions
    from micrograd_mlp.functions.composite import COMPOSITES
    from micrograd_mlp.views.graph import draw_dot

    @A.register("cube_soft", lambda x: np.asarray(x) ** 3 / 3.0, lambda x: np.asarray(x) ** 2,
                "c(x) = x^3 / 3", "c'(x) = x^2", short="kappa", short_latex="\\kappa",
                symbol="κ")
    def cube_soft(v):
        return v * v * v * (1.0 / 3.0)

    try:
        assert A.activation_named("cube_soft") is A.ACTIVATIONS["cube_soft"] is COMPOSITES["cube_soft"]
        assert "cube_soft" in known_functions() and "cube_soft" in A.names()
        x = np.linspace(-2, 2, 9)
        f, df = A.evaluate("cube_soft", x)
        np.testing.assert_allclose(f, A.ACTIVATIONS["cube_soft"].f(x), rtol=1e-14)
        np.testing.assert_allclose(df, A.ACTIVATIONS["cube_soft"].df(x), rtol=1e-14)
        s = Value(1.5, "s")
        out = A.ACTIVATIONS["cube_soft"](s) * 2.0
        out.label = "E"
        assert "kappa'(s)" in trace.format_table(out, "text", collapse=True)
        assert "\\kappa'(s)" in trace.format_table(out, "latex", collapse=True)
        assert "κ' = 2.2500" in draw_dot(out, collapse=True).source
    finally:
        del COMPOSITES["cube_soft"]
    assert "cube_soft" not in A.ACTIVATIONS
