"""The compiled tape (core/tape.py): the same numbers and errors as the numpy replay and
the built graph, on random graphs of every primitive, on batches, on NaN and infinities;
a primitive registered without compiled rules falls back to numpy (said once), one
registered with them joins the tape; fit of a model that is not an MLP runs on it."""
import math
import warnings

import numpy as np
import pytest

from micrograd_mlp.core.engine import Value, apply, max_values, sum_values, where
from micrograd_mlp.core.registry import PRIMITIVES, register_primitive, unregister_primitive
from micrograd_mlp.core.recorder import Recorded
from micrograd_mlp.core.tape import SlowReplayWarning
from micrograd_mlp.errors import ArgumentError, DomainError
from micrograd_mlp.functions.activations import softplus
from micrograd_mlp.nets.layers import Module, wrap_inputs

numba = pytest.importorskip("numba")

BUILT_IN = sorted(PRIMITIVES)


def close(a, b, tol=1e-12):
    """Equal to ``tol`` relative (NaN where the other is NaN, same infinities)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    near = finite & (np.abs(a - b) <= tol * (1.0 + np.abs(b)))
    return bool(np.all(same | near))


# ---------------------------------------------------------------- random graphs


def _op(kind, a, b, c, d):
    """A node of primitive ``kind`` on pool nodes, with inputs kept inside its domain
    (through other primitives) and results kept bounded."""
    if kind == "add":
        return (a + b).tanh()
    if kind == "sub":
        return (a - b).tanh()
    if kind == "mul":
        return a * b
    if kind == "div":
        return (a / (b.abs() + 0.5)).tanh()
    if kind == "neg":
        return -a
    if kind == "pow_const":
        return (a ** 3.0) * 0.5 + (a.abs() + 0.1) ** 0.5 + a ** 2.0
    if kind == "pow":
        return (a.tanh() + 1.5) ** b.tanh()
    if kind == "exp":
        return a.tanh().exp()
    if kind == "log":
        return (a.abs() + 0.1).log()
    if kind == "log1p":
        return a.abs().log1p()
    if kind == "expm1":
        return a.tanh().expm1()
    if kind in ("tanh", "relu", "abs", "erf"):
        return getattr(a, kind)()
    if kind == "min0":
        return apply("min0", a)
    if kind == "where":
        return where(a, b, c)
    if kind == "sum":
        return sum_values([a, b, c, d]).tanh()
    if kind == "max":
        return max_values([a, b, c])
    if kind == "bce":   # a probability and a target, both in (0, 1)
        return apply("bce", (a.tanh() + 1.0) * 0.5, (b.tanh() + 1.0) * 0.5) * 0.1
    if kind == "batch_sum":
        return (a.sum() * 0.25).tanh()   # a scalar node of a batch (itself when scalar)
    raise AssertionError(kind)


def random_graph(leaves, seed, n=80):
    """A random graph over ``leaves``: ``n`` nodes cycling through every primitive,
    each on random earlier nodes; the root is the batch sum of the sum of them all (not
    a mean: its 1/B would be a constant of the recorded batch size)."""
    rng = np.random.default_rng(seed)
    pool = list(leaves)
    for k in range(n):
        kind = BUILT_IN[k % len(BUILT_IN)]
        a, b, c, d = (pool[int(i)] for i in rng.integers(0, len(pool), size=4))
        pool.append(_op(kind, a, b, c, d))
    return sum_values(pool[len(leaves):]).sum()


def _leaves(rng, n_params, n_inputs, B):
    params = [Value(float(v), f"w{i}") for i, v in enumerate(rng.normal(size=n_params))]
    inputs = [Value(rng.normal(size=B) if B else float(rng.normal()), f"x{j}",
                    requires_grad=False) for j in range(n_inputs)]
    return params, inputs


def built(seed, params, inputs, param_data, input_data):
    """Loss and parameter gradients of the graph built on these numbers."""
    ps = [Value(float(v), p.label) for p, v in zip(params, param_data)]
    xs = [Value(x, v.label, requires_grad=False) for v, x in zip(inputs, input_data)]
    root = random_graph(ps + xs, seed)
    root.backward()
    return root.data, np.array([p.grad for p in ps])


@pytest.mark.parametrize("seed", range(6))
def test_scalar_random_graphs_compiled_equals_numpy_replay_equals_built(seed):
    rng = np.random.default_rng(seed)
    params, inputs = _leaves(rng, 5, 3, None)
    root = random_graph(params + inputs, seed)
    ops = {n.op for n in _nodes(root)}
    assert set(BUILT_IN) - {"batch_sum"} <= ops   # every primitive is in the graph
    recs = {e: Recorded(root, params, inputs, engine=e) for e in ("compiled", "numpy")}
    assert recs["compiled"].engine == "compiled" and recs["numpy"].engine == "numpy"
    for trial in range(3):
        pd, xd = rng.normal(size=5), [float(v) for v in rng.normal(size=3)]
        loss, grads = built(seed, params, inputs, pd, xd)
        for rec in recs.values():
            got_loss, got = rec.run(xd, accumulate=False, param_data=pd)
            assert close(got_loss, loss) and close(got, grads), (rec.engine, trial)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("B", [1, 7])
def test_batched_random_graphs_on_batches_of_other_sizes(seed, B):
    rng = np.random.default_rng(10 + seed)
    params, inputs = _leaves(rng, 4, 3, 5)      # recorded on a batch of 5
    root = random_graph(params + inputs, seed)
    assert "batch_sum" in {n.op for n in _nodes(root)}
    recs = {e: Recorded(root, params, inputs, engine=e) for e in ("compiled", "numpy")}
    for _ in range(2):
        pd, xd = rng.normal(size=4), [rng.normal(size=B) for _ in range(3)]
        loss, grads = built(seed, params, inputs, pd, xd)
        for rec in recs.values():
            got_loss, got = rec.run(xd, accumulate=False, param_data=pd)
            assert close(got_loss, loss) and close(got, grads), rec.engine


def _nodes(root):
    seen, stack, out = set(), [root], []
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
            stack.extend(v.parents)
    return out


def test_scalar_nodes_beside_a_batch_get_the_batch_sum_of_their_gradients():
    # w2 = w * w is a scalar node computed from a parameter, feeding a batched node and
    # (through a batch sum) a scalar one: its gradient is spread over the columns
    rng = np.random.default_rng(0)
    w = Value(0.3, "w")
    x = Value(rng.normal(size=4), "x", requires_grad=False)
    root = ((w * w) * x).tanh().sum() * (w * w) + (w * x).sum().exp()
    rec = Recorded(root, [w], [x], engine="compiled")
    for B in (4, 9, 1):
        xd = rng.normal(size=B)
        x2 = Value(xd, "x", requires_grad=False)
        w2 = Value(0.3, "w")
        ref = ((w2 * w2) * x2).tanh().sum() * (w2 * w2) + (w2 * x2).sum().exp()
        ref.backward()
        loss, grads = rec.run([xd], accumulate=False)
        assert close(loss, ref.data) and close(grads, [w2.grad])


# ---------------------------------------------------------------- NaN and infinity


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 800.0, -800.0]


@pytest.mark.parametrize("kind", ["exp", "expm1", "tanh", "relu", "min0", "abs", "erf", "neg",
                                  "mul", "add", "sub", "where", "max", "sum", "square",
                                  "log", "log1p", "div", "pow"])
def test_nan_and_infinity_follow_the_built_graphs_rules(kind):
    def graph(u, v):
        if kind in ("exp", "expm1", "tanh", "relu", "abs", "erf"):
            return getattr(u, kind)() * v
        if kind == "min0":
            return apply("min0", u) * v
        if kind == "neg":
            return -u * v
        if kind == "mul":
            return u * v
        if kind == "add":
            return (u + v) * v
        if kind == "sub":
            return (u - v) * u
        if kind == "where":
            return where(u, v, u * 2.0)
        if kind == "max":
            return max_values([u, v, u * 0.5])
        if kind == "sum":
            return sum_values([u, v, u])
        if kind == "log":   # inside the domain, or NaN (which no check refuses)
            return (u * u + 1.0).log() * v
        if kind == "log1p":
            return (u * u).log1p() + v
        if kind == "div":
            return u / (v * v + 1.0)
        if kind == "pow":
            return (u * u + 1.0) ** v
        return u ** 2.0 + v

    u0, v0 = Value(0.5, "u"), Value(1.5, "v")
    recs = [Recorded(graph(u0, v0), [u0, v0], engine=e) for e in ("compiled", "numpy")]
    for a in SPECIAL:
        for b in (1.5, np.nan, np.inf, 0.0):
            with np.errstate(all="ignore"):
                u, v = Value(a, "u"), Value(b, "v")
                ref = graph(u, v)
                ref.backward()
                for rec in recs:
                    loss, grads = rec.run(accumulate=False, param_data=[a, b])
                    assert close(loss, ref.data), (rec.engine, a, b)
                    assert close(grads, [u.grad, v.grad]), (rec.engine, a, b, grads, u.grad, v.grad)


# ---------------------------------------------------------------- domain errors


# (graph of one leaf x, a value inside the domain, values outside): every check
DOMAIN = [
    ("log", lambda x: x.log(), 1.0, [0.0, -2.0]),
    ("log1p", lambda x: x.log1p(), 1.0, [-1.0, -3.0]),
    ("div", lambda x: 1.0 / x, 2.0, [0.0, -0.0]),
    ("pow_const frac", lambda x: x ** 0.5, 4.0, [-1.0]),
    ("pow_const neg", lambda x: x ** -2.0, 4.0, [0.0]),
    ("pow base", lambda x: x ** Value(1.5, "e"), 2.0, [-1.0]),
    ("pow zero", lambda x: x ** Value(-1.0, "e"), 2.0, [0.0]),
]


def _error_of(fn):
    with pytest.raises(DomainError) as err:
        fn()
    return str(err.value)


@pytest.mark.parametrize("name, graph, good, bad", DOMAIN, ids=[d[0] for d in DOMAIN])
def test_every_domain_error_is_the_built_graphs_on_every_path(name, graph, good, bad):
    x = Value(good, "x")
    root = graph(x) * 3.0 + x
    recs = [Recorded(root, [x], engine=e) for e in ("compiled", "numpy")]
    for value in bad:
        built_message = _error_of(lambda: graph(Value(value, "x")))
        assert "x" in built_message     # the message names the node's input
        for rec in recs:
            assert _error_of(lambda: rec.forward(param_data=[value])) == built_message, rec.engine
        # and the recording still runs on good data afterwards
        for rec in recs:
            assert close(rec.forward(param_data=[good]), root.data)


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_a_domain_error_in_one_sample_of_a_batch_names_the_node(engine):
    w = Value(1.0, "w")
    x = Value(np.array([1.0, 2.0, 3.0]), "x", requires_grad=False)
    hidden = (w * x)
    hidden.label = "h"
    root = hidden.log().sum()
    rec = Recorded(root, [w], [x], engine=engine)
    bad = np.array([1.0, -2.0, 3.0, 4.0])
    x2 = Value(bad, "x", requires_grad=False)
    h2 = Value(1.0, "w") * x2
    h2.label = "h"
    built_message = _error_of(lambda: h2.log())
    assert "node 'h'" in built_message
    assert _error_of(lambda: rec.forward([bad])) == built_message


# ---------------------------------------------------------------- registered primitives


def _register_sin(name, compiled):
    extra = {}
    if compiled:
        extra = dict(compiled_forward=lambda u: math.sin(u),
                     compiled_partials=lambda out, u: (math.cos(u),))
    return register_primitive(name, np.sin, lambda out, u: (np.cos(u),),
                              local_text=("cos({u})",), **extra)


def test_a_primitive_without_compiled_rules_falls_back_to_numpy_said_once():
    _register_sin("tape_sin_plain", compiled=False)
    try:
        w = Value(0.4, "w")
        x = Value(np.linspace(-1, 1, 5), "x", requires_grad=False)
        root = (w * x).tape_sin_plain().sum()
        with pytest.warns(SlowReplayWarning, match="tape_sin_plain"):
            rec = Recorded(root, [w], [x])
        assert rec.engine == "numpy"
        with warnings.catch_warnings():
            warnings.simplefilter("error")       # the second recording says nothing
            again = Recorded(root, [w], [x])
        assert again.engine == "numpy"
        xd = np.linspace(-2, 3, 7)
        loss, grads = rec.run([xd], accumulate=False)
        assert close(loss, np.sum(np.sin(0.4 * xd)))
        assert close(grads, [np.sum(xd * np.cos(0.4 * xd))])
        with pytest.raises(ArgumentError, match="no compiled rules"):
            Recorded(root, [w], [x], engine="compiled")
    finally:
        unregister_primitive("tape_sin_plain")


def test_a_primitive_with_compiled_rules_joins_the_tape():
    _register_sin("tape_sin_fast", compiled=True)
    try:
        w = Value(0.4, "w")
        x = Value(np.linspace(-1, 1, 5), "x", requires_grad=False)
        root = ((w * x).tape_sin_fast() * w).sum()
        with warnings.catch_warnings():
            warnings.simplefilter("error", SlowReplayWarning)
            rec = Recorded(root, [w], [x])
        assert rec.engine == "compiled"
        xd = np.linspace(-2, 3, 7)
        loss, grads = rec.run([xd], accumulate=False)
        # d/dw sum(w sin(w x)) = sum(sin(w x) + w x cos(w x)), closed form
        assert close(loss, np.sum(0.4 * np.sin(0.4 * xd)))
        assert close(grads, [np.sum(np.sin(0.4 * xd) + 0.4 * xd * np.cos(0.4 * xd))])
    finally:
        unregister_primitive("tape_sin_fast")


def test_compiled_rules_come_whole():
    fwd = lambda u: math.sqrt(u)  # noqa: E731
    with pytest.raises(ArgumentError, match="together"):
        register_primitive("tape_half", np.sqrt, lambda out, u: (0.5 / out,),
                           local_text=("1/(2 sqrt({u}))",), compiled_forward=fwd)
    with pytest.raises(ArgumentError, match="compiled_check"):
        register_primitive("tape_half", np.sqrt, lambda out, u: (0.5 / out,),
                           local_text=("1/(2 sqrt({u}))",), check=lambda u: None,
                           compiled_forward=fwd, compiled_partials=lambda out, u: (0.5 / out,))
    assert "tape_half" not in PRIMITIVES


def test_an_unknown_engine_is_refused():
    w = Value(1.0, "w")
    with pytest.raises(ArgumentError, match="engine"):
        Recorded(w * 2.0, engine="fast")


# ---------------------------------------------------------------- fit


class Bumps(Module):
    """A model written with scalar Values (no layers): ``y = a tanh(b x0 + c x1) +
    softplus(d x0 - e) x1``."""

    nin, nout = 2, 1

    def __init__(self):
        self.w = [Value(v, n) for v, n in zip((0.5, -0.3, 0.8, 0.2, 0.1), "abcde")]

    def named_parameters(self):
        return [(p.label, p) for p in self.w]

    def forward(self, x):
        x0, x1 = wrap_inputs(self, x, 2, "x")
        a, b, c, d, e = self.w
        return [a * (b * x0 + c * x1).tanh() + softplus(d * x0 - e) * x1]

    def __call__(self, x):
        return self.forward(x)[0]


def test_fit_of_a_scalar_model_on_the_tape_equals_the_built_path():
    from micrograd_mlp.nets.compiled_step import compile_step
    from micrograd_mlp.nets.train import fit
    from micrograd_mlp.functions import losses

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    step = compile_step(Bumps(), losses.mse, X)
    assert step.program.rec.engine == "compiled"    # the model part runs on the tape
    results = []
    for replay in (True, False):
        model = Bumps()
        history = fit(model, X, y, loss="mse", lr=0.05, epochs=15, batch_size=16, seed=1,
                      progress=False, replay=replay)
        results.append((np.array([p.data for p in model.parameters()]), history.loss))
    (p1, l1), (p2, l2) = results
    assert not np.allclose(p1, [0.5, -0.3, 0.8, 0.2, 0.1])    # it trained
    assert close(p1, p2) and close(l1, l2)
