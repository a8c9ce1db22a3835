"""Piecewise derivatives are masks, not products: an input whose branch was not taken
(relu at u <= 0, the input ``where`` did not pick, the smaller input of ``max``,
``min0`` at u > 0) receives 0 from an infinite or NaN upstream gradient, as in PyTorch,
on every path: the built scalar graph, the built batch, and the numpy replay."""
import math

import importlib.util

import numpy as np
import pytest

from micrograd_mlp.core.engine import Value, apply, max_values, sum_values, where
from micrograd_mlp.core.recorder import Recorded
from micrograd_mlp.functions import activations, losses

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
SEEDS = (INF, -INF, NAN, 1.0)


def _t(x, grad=True):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def test_the_issue_example_relu_then_square_root():
    x = Value(-1.0)
    (x.relu() ** 0.5).backward()
    assert x.grad == 0.0
    xt = _t(-1.0)
    (torch.relu(xt) ** 0.5).backward()
    assert xt.grad.item() == 0.0


# one-input primitives: (ours, torch's, points including the branch points)
UNARY = [
    ("relu", lambda v: v.relu(), torch.relu, [-1.0, 0.0, 2.0]),
    ("min0", lambda v: apply("min0", v), lambda t: torch.clamp(t, max=0.0), [-1.0, 0.0, 2.0]),
    ("abs", lambda v: abs(v), torch.abs, [-1.0, 0.0, 2.0]),
    ("tanh", lambda v: v.tanh(), torch.tanh, [-30.0, 0.0, 0.5]),
    ("exp", lambda v: v.exp(), torch.exp, [-800.0, 0.0, 1.0]),
    ("log", lambda v: v.log(), torch.log, [1e-300, 1.0, 3.0]),
    ("log1p", lambda v: v.log1p(), torch.log1p, [-0.5, 0.0, 3.0]),
    ("expm1", lambda v: v.expm1(), torch.expm1, [-800.0, 0.0, 1.0]),
    ("erf", lambda v: v.erf(), torch.erf, [-30.0, 0.0, 1.0]),
    ("neg", lambda v: -v, torch.neg, [-1.0, 0.0]),
    ("square", lambda v: v ** 2, lambda t: t ** 2, [-1.0, 0.0, 2.0]),
    ("sqrt", lambda v: v ** 0.5, lambda t: t ** 0.5, [0.0, 4.0]),
]


@pytest.mark.parametrize("name,ours,theirs,points", UNARY, ids=[u[0] for u in UNARY])
def test_every_one_input_primitive_takes_any_upstream_as_torch(name, ours, theirs, points):
    for x in points:
        for seed in SEEDS:
            v = Value(x)
            with np.errstate(all="ignore"):
                ours(v).backward(seed)
            t = _t(x)
            theirs(t).backward(_t(seed, False))
            np.testing.assert_allclose(v.grad, t.grad.item(), rtol=1e-14, atol=0, equal_nan=True,
                                       err_msg=f"{name}({x}) seed {seed}")


# two- and n-input primitives, at points where one input's branch is not taken
MULTI = [
    ("where", lambda a, b, c: where(c, a, b), lambda a, b, c: torch.where(c > 0, a, b)),
    ("max", lambda a, b, c: max_values([a, b]), lambda a, b, c: torch.maximum(a, b)),
    ("mul", lambda a, b, c: a * b, lambda a, b, c: a * b),
    ("add", lambda a, b, c: a + b, lambda a, b, c: a + b),
    ("sub", lambda a, b, c: a - b, lambda a, b, c: a - b),
    ("div", lambda a, b, c: a / b, lambda a, b, c: a / b),
    # u^v: at v = 0 (and d/dv at u = 0) PyTorch masks and the engine multiplies, so an
    # infinite upstream gives NaN there: the points below keep u > 0 and v != 0
    ("pow", lambda a, b, c: (abs(a) + 1.0) ** b, lambda a, b, c: (torch.abs(a) + 1.0) ** b),
    ("sum", lambda a, b, c: sum_values([a, b, c]), lambda a, b, c: a + b + c),
]


@pytest.mark.parametrize("name,ours,theirs", MULTI, ids=[m[0] for m in MULTI])
def test_every_many_input_primitive_takes_any_upstream_as_torch(name, ours, theirs):
    points = [(2.0, -3.0, 1.0), (-3.0, 2.0, -1.0), (0.0, 1.5, 0.0), (1.5, 0.0, 2.0)]
    for a, b, c in points:
        if b == 0.0 and name in ("div", "pow"):
            continue
        for seed in SEEDS:
            va, vb, vc = Value(a), Value(b), Value(c)
            with np.errstate(all="ignore"):
                ours(va, vb, vc).backward(seed)
            ta, tb, tc = _t(a), _t(b), _t(c)
            theirs(ta, tb, tc).backward(_t(seed, False))
            for v, t in ((va, ta), (vb, tb), (vc, tc)):
                want = 0.0 if t.grad is None else t.grad.item()
                np.testing.assert_allclose(v.grad, want, rtol=1e-14, atol=0, equal_nan=True,
                                           err_msg=f"{name}{(a, b, c)} seed {seed}")


ACTS = [
    ("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
    ("silu", torch.nn.functional.silu), ("softplus", torch.nn.functional.softplus),
    ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, 0.01)),
    ("selu_standard", torch.selu), ("gelu", torch.nn.functional.gelu),
    ("gelu_tanh", lambda t: torch.nn.functional.gelu(t, approximate="tanh")),
]


def _agree_or_both_non_finite(ours, theirs, what):
    """A composite is many nodes where PyTorch has one, so an infinite upstream may
    meet ``inf - inf`` inside it; what must agree: every finite answer (0 included)
    exactly as PyTorch's, and a non-finite one wherever PyTorch's is."""
    if math.isfinite(theirs):
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-15), what
    else:
        assert not math.isfinite(ours), what


@pytest.mark.parametrize("name,theirs", ACTS, ids=[a[0] for a in ACTS])
def test_every_activation_takes_any_upstream_as_torch(name, theirs):
    act = activations.ACTIVATIONS[name]
    for x in (-1000.0, -2.0, 0.0, 1.5, 1000.0):
        for seed in SEEDS:
            v = Value(x)
            with np.errstate(all="ignore"):
                act(v).backward(seed)
            t = _t(x)
            theirs(t).backward(_t(seed, False))
            _agree_or_both_non_finite(v.grad, t.grad.item(), f"{name}({x}) seed {seed}")


def test_losses_take_any_upstream_as_torch():
    F = torch.nn.functional
    cases = [
        (lambda p: losses.hinge(p, 1.0), lambda t: torch.clamp(1.0 - t, min=0.0), (2.0, 0.5)),
        (lambda p: losses.binary_cross_entropy(p, 1.0),
         lambda t: F.binary_cross_entropy(t, _t(1.0, False)), (0.0, 0.3, 1.0)),
        (lambda p: losses.binary_cross_entropy_with_logits(p, 0.0),
         lambda t: F.binary_cross_entropy_with_logits(t, _t(0.0, False)), (-50.0, 0.0, 3.0)),
        (lambda p: losses.mse(p, 0.5), lambda t: (t - 0.5) ** 2, (0.5, 2.0)),
    ]
    for ours, theirs, points in cases:
        for x in points:
            for seed in SEEDS:
                v = Value(x)
                with np.errstate(all="ignore"):
                    ours(v).backward(seed)
                t = _t(x)
                theirs(t).backward(_t(seed, False))
                _agree_or_both_non_finite(v.grad, t.grad.item(), f"{ours}({x}) seed {seed}")


# ---------------------------------------------------------------- random graphs


def _build(ops, ws, x, K, lib):
    """The graph ``ops`` over the scalar leaves ``ws`` and the input ``x`` (a batch),
    with either engine (``lib``: "ours" or "torch"); the root is ``K * mean``."""
    T = lib == "torch"
    nodes = list(ws) + [x]
    for op, i, j, k in ops:
        a, b, c = nodes[i % len(nodes)], nodes[j % len(nodes)], nodes[k % len(nodes)]
        if op == "mul":
            n = a * b
        elif op == "add":
            n = a + b
        elif op == "sub":
            n = a - b
        elif op == "tanh":
            n = torch.tanh(a) if T else a.tanh()
        elif op == "relu_sqrt":   # sqrt'(0) = inf flows into a relu not taken
            n = (torch.relu(a) if T else a.relu()) ** 0.5
        elif op == "relu":
            n = torch.relu(a) if T else a.relu()
        elif op == "min0":
            n = torch.clamp(a, max=0.0) if T else apply("min0", a)
        elif op == "where":
            n = torch.where(c > 0, a, b) if T else where(c, a, b)
        elif op == "max":  # at a tie the first input takes the gradient, as torch.max(dim)
            n = torch.max(torch.stack(torch.broadcast_tensors(a, b)), dim=0).values if T \
                else max_values([a, b])
        elif op == "abs":
            n = torch.abs(a) if T else abs(a)
        else:  # "square"
            n = a ** 2
        nodes.append(n)
    total = nodes[-1] + nodes[-2] + nodes[-3]
    mean = total.mean()
    return mean * K


OPS = ["mul", "add", "sub", "tanh", "relu_sqrt", "relu", "min0", "where", "max", "abs", "square"]


# the compiled tape where numba is installed (make test installs it)
ENGINES = ("numpy", "compiled") if importlib.util.find_spec("numba") else ("numpy",)


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_agree_with_torch_on_every_path(seed):
    rng = np.random.default_rng(1000 + seed)
    X = rng.choice([-1.5, -0.5, 0.0, 0.5, 1.0, 2.0], size=5)
    w0 = rng.uniform(-1.5, 1.5, size=3)
    ops = [(OPS[int(rng.integers(len(OPS)))], *rng.integers(0, 50, size=3).tolist())
           for _ in range(12)]
    K = float(rng.choice([1.0, INF, NAN]))   # the upstream gradient fed into the graph

    wt = [_t(float(w)) for w in w0]
    troot = _build(ops, wt, _t(X, False), _t(K, False), "torch")
    if troot.requires_grad:
        troot.backward()
    want = np.array([0.0 if w.grad is None else w.grad.item() for w in wt])

    with np.errstate(all="ignore"):
        # built, batched
        ws = [Value(float(w)) for w in w0]
        root = _build(ops, ws, Value(X.copy(), requires_grad=False), K, "ours")
        if root.requires_grad:
            root.backward()
        batched = np.array([w.grad for w in ws])
        # built, one scalar graph per sample (the mean's 1/N inside K's graph)
        ws1 = [Value(float(w)) for w in w0]
        for x in X:
            r = _build(ops, ws1, Value(float(x), requires_grad=False), K / len(X), "ours")
            if r.requires_grad:
                r.backward()
        scalar = np.array([w.grad for w in ws1])
        # replayed: recorded on other data of the batch's size (the mean's 1/N is
        # recorded), replayed on X
        ws2 = [Value(float(w)) for w in w0]
        xs = Value(np.linspace(-1.0, 1.0, len(X)), requires_grad=False)
        root2 = _build(ops, ws2, xs, K, "ours")
        replayed = {}
        for engine in ENGINES:  # the numpy replay and the compiled tape
            if root2.requires_grad:
                rec = Recorded(root2, params=ws2, inputs=[xs], engine=engine)
                rec.forward([X.copy()])
                replayed[engine] = rec.backward()
            else:
                replayed[engine] = np.zeros(3)
    np.testing.assert_allclose(batched, want, rtol=1e-9, equal_nan=True)
    for engine, grads in replayed.items():
        np.testing.assert_allclose(grads, want, rtol=1e-9, equal_nan=True, err_msg=engine)
    np.testing.assert_allclose(scalar, want, rtol=1e-9, equal_nan=True)


def test_the_trace_and_the_ledger_use_the_mask_rule():
    from micrograd_mlp.views.trace import backward_steps, format_table, traced_gradients
    x = Value(-1.0, "x")
    y = x.relu() ** 0.5
    y.label = "y"
    assert traced_gradients(y)[x] == 0.0
    for step in backward_steps(y):
        for term in step.terms:
            assert not math.isnan(term.contribution)
    table = format_table(y, collapse=False)
    assert "nan" not in table.lower()
    # the same for where and max with an infinite upstream from a square root at 0
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    z = max_values([a, b]) - 2.0
    w = where(a, z, b).relu() ** 0.5
    w.backward()
    traced = traced_gradients(w)
    # z = max(2, -3) - 2 = 0, so relu(0) = 0 meets sqrt'(0) = inf: masked to 0
    assert traced[a] == a.grad == 0.0
    assert traced[b] == b.grad == 0.0


def test_a_row_that_says_where_its_derivative_is_off_has_partials_of_one_elsewhere():
    from micrograd_mlp.core.registry import PRIMITIVES

    u = np.array([-np.inf, -2.0, -0.0, 0.0, 1e-300, 3.0, np.inf, np.nan])
    rows = [row for row in PRIMITIVES.values() if row.off_where is not None]
    assert [row.name for row in rows] == ["relu"]
    for row in rows:
        out = row.forward(u)
        (d,) = row.partials(out, u)
        np.testing.assert_array_equal(d, np.where(row.off_where(out, u), 0.0, 1.0))
        for x in u.tolist():   # the float path gives the same numbers
            assert row.partials(row.forward(x), x)[0] == (0.0 if row.off_where(None, x) else 1.0)


def test_off_where_is_refused_where_it_has_no_meaning():
    from micrograd_mlp.core.registry import register_primitive
    from micrograd_mlp.errors import ArgumentError

    with pytest.raises(ArgumentError, match="one-input piecewise"):
        register_primitive("halfwave", lambda u: u, lambda out, u: (1.0,), arity=1,
                           local_text=("1",), off_where=lambda out, u: u <= 0)
