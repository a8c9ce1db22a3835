"""NaN and infinity (issue 12, class 3): every primitive, activation and loss against
PyTorch at +-inf, NaN and +-1000, on the scalar path (Python floats) and the batched
path (numpy arrays), values and gradients; NaN propagates and anomaly_mode() sees it.

The rules (docs/numerics.md): a value equals PyTorch's (NaN where PyTorch gives NaN,
the true limit where PyTorch gives one). A gradient at an infinite input equals
PyTorch's. A gradient at a NaN input is PyTorch's or NaN (PyTorch's piecewise kernels
pick a branch for NaN, a composite cannot without branching on data). The documented
exceptions are listed in DEVIATIONS below, each with its reason.
"""
import math

import numpy as np
import pytest

from micrograd_mlp import MLP, Value, anomaly_mode, max_values, sum_values, where
from micrograd_mlp.core.engine import apply
from micrograd_mlp.errors import AnomalyError, DomainError
from micrograd_mlp.functions import activations as A
from micrograd_mlp.functions import losses
from micrograd_mlp.core.recorder import Recorded

torch = pytest.importorskip("torch")
F = torch.nn.functional

INF, NAN = math.inf, math.nan
SPECIAL = [INF, -INF, NAN, 1000.0, -1000.0]


def tensor(x, grad=True):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def same(ours, ref, rtol=1e-12, atol=0.0):
    """Equal numbers, NaN where the other has NaN, infinities of the same sign."""
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    if ours.shape != ref.shape:
        return False
    return bool(np.all(np.isclose(ours, ref, rtol=rtol, atol=atol, equal_nan=True)))


def nan_or_same(ours, ref):
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    return bool(np.all(np.isnan(ours) | np.isclose(ours, ref, rtol=1e-12, atol=0.0, equal_nan=True)))


# ---------------------------------------------------------------- activations

TORCH_ACTIVATIONS = {
    "identity": lambda t: t * 1.0,
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
    "swish": F.silu,
    "prelu": lambda t: F.leaky_relu(t, 0.1),
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "parametric_sigmoid": lambda t: torch.sigmoid(1.0 * t),
    # the default threshold 20: exact at +-1000 and +-inf (threshold=1000 would give
    # log1p(e^1000) = inf at x = 1000)
    "softplus": F.softplus,
    "selu": lambda t: F.elu(t, alpha=A.SELU_ALPHA),  # seed 000's lam = 1
    "selu_standard": F.selu,
    # ELiSH is not in PyTorch: its two pieces, each finite where it is selected
    # (each piece clamped, so the unselected one's 0 * inf does not leak into the grad)
    "elish": lambda t: torch.where(t >= 0, torch.clamp(t, min=0.0) * torch.sigmoid(t),
                                   torch.expm1(torch.clamp(t, max=0.0)) * torch.sigmoid(t)),
    "soboleva_tanh": torch.tanh,  # a = b = c = d = 1
    "gelu": F.gelu,
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
}


def torch_activation(name, xs):
    t = tensor(xs)
    y = TORCH_ACTIVATIONS[name](t)
    y.sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def engine_activation(name, xs, path):
    """Value and gradient through the composite: one scalar graph per point, or one
    batched graph for all points."""
    act = A.ACTIVATIONS[name]
    if path == "batched":
        v = Value(np.array(xs))
        out = act(v)
        out.backward()
        return out.data, v.grad
    values, grads = [], []
    for x in xs:
        v = Value(x)
        out = act(v)
        out.backward()
        values.append(out.data)
        grads.append(v.grad)
    return np.array(values), np.array(grads)


def numpy_activation(name, xs):
    act = A.ACTIVATIONS[name]
    with np.errstate(all="ignore"):  # the closed forms may warn at inf; the values count
        return np.asarray(act.f(np.array(xs)), float), np.asarray(act.df(np.array(xs)), float)


def check_against_torch(name, values, grads):
    ref_v, ref_g = torch_activation(name, SPECIAL)
    problems = []
    for i, x in enumerate(SPECIAL):
        if not same(values[i], ref_v[i]):
            problems.append(f"{name}({x}) = {values[i]}, torch {ref_v[i]}")
        ok = nan_or_same(grads[i], ref_g[i]) if math.isnan(x) else same(grads[i], ref_g[i])
        if not ok:
            problems.append(f"{name}'({x}) = {grads[i]}, torch {ref_g[i]}")
    assert not problems, "\n".join(problems)


def test_the_torch_table_covers_every_activation():
    assert set(TORCH_ACTIVATIONS) == set(A.names(aliases=True))


@pytest.mark.parametrize("path", ["scalar", "batched"])
@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_activation_equals_torch_at_inf_nan_and_1000(name, path):
    check_against_torch(name, *engine_activation(name, SPECIAL, path))


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_numpy_closed_forms_equal_torch_at_inf_nan_and_1000(name):
    check_against_torch(name, *numpy_activation(name, SPECIAL))


@pytest.mark.parametrize("name", sorted(set(TORCH_ACTIVATIONS) - {"identity"}))
def test_nan_input_gives_nan_value_and_anomaly_mode_reports_it(name):
    # (identity makes no node: the NaN is reported by the next operation)
    for data in (NAN, np.array([0.5, NAN])):
        out = A.ACTIVATIONS[name](Value(data))
        assert np.isnan(out.data).any()
        with anomaly_mode(), pytest.raises(AnomalyError):
            A.ACTIVATIONS[name](Value(data))


def test_the_issue_examples():
    """Issue 12's examples: relu(nan) was 0, sigmoid/softplus/leaky_relu(+inf) NaN."""
    assert math.isnan(A.relu(Value(NAN)).data)
    assert A.sigmoid(Value(INF)).data == 1.0
    assert A.softplus(Value(INF)).data == INF
    assert A.leaky_relu(Value(INF)).data == INF
    assert A.leaky_relu(Value(-INF)).data == -INF
    assert math.isnan(max_values([1.0, NAN]).data)
    assert math.isnan(max_values([NAN, 1.0]).data)
    assert math.isnan(losses.hinge(Value(NAN), 1.0).data)


# ---------------------------------------------------------------- primitives

UNARY = {
    # name: (engine function, torch function, inputs inside the engine's domain)
    "exp": (lambda v: v.exp(), torch.exp, SPECIAL),
    "log": (lambda v: v.log(), torch.log, [INF, NAN, 1000.0, 0.5]),
    "log1p": (lambda v: v.log1p(), torch.log1p, [INF, NAN, 1000.0, -0.5]),
    "expm1": (lambda v: v.expm1(), torch.expm1, SPECIAL),
    "tanh": (lambda v: v.tanh(), torch.tanh, SPECIAL),
    "relu": (lambda v: v.relu(), torch.relu, SPECIAL),
    # min(u, 0), relu's partner in the activations; its derivative at NaN is NaN (below)
    "min0": (lambda v: apply("min0", v), lambda t: torch.clamp(t, max=0.0), SPECIAL + [0.0]),
    "abs": (lambda v: abs(v), torch.abs, SPECIAL),
    "erf": (lambda v: v.erf(), torch.erf, SPECIAL),
    "neg": (lambda v: -v, torch.neg, SPECIAL),
    "square": (lambda v: v ** 2, lambda t: t ** 2, SPECIAL),
    "cube": (lambda v: v ** 3, lambda t: t ** 3, SPECIAL + [-1e200, 1e200]),
    "sqrt": (lambda v: v ** 0.5, lambda t: t ** 0.5, [INF, NAN, 1000.0, 0.0]),
}


def engine_unary(fn, xs, path):
    if path == "batched":
        v = Value(np.array(xs))
        out = fn(v)
        out.backward(np.ones_like(out.data) if out.is_batched else None)
        return np.broadcast_to(out.data, (len(xs),)) if not out.is_batched else out.data, v.grad
    vals, grads = [], []
    for x in xs:
        v = Value(x)
        out = fn(v)
        out.backward()
        vals.append(out.data)
        grads.append(v.grad)
    return np.array(vals), np.array(grads)


@pytest.mark.parametrize("path", ["scalar", "batched"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_primitive_equals_torch(name, path):
    fn, tfn, xs = UNARY[name]
    values, grads = engine_unary(fn, xs, path)
    t = tensor(xs)
    y = tfn(t)
    y.sum().backward()
    assert same(values, y.detach().numpy()), (values, y)
    if name == "min0":  # NaN at NaN, where PyTorch's clamp picks 0: see primitives.py
        nan_at = np.isnan(xs)
        assert np.all(np.isnan(grads[nan_at]))
        grads, ref = grads[~nan_at], t.grad.numpy()[~nan_at]
    else:
        ref = t.grad.numpy()
    assert same(grads, ref), (grads, t.grad)


@pytest.mark.parametrize("xs", [SPECIAL, [1.0, 2.0, NAN], [INF, 1.0], [INF, -INF]])
def test_batch_sum_equals_torch(xs):
    """batch_sum reduces a batch (the batched path only)."""
    v = Value(np.array(xs))
    out = v.sum()
    out.backward()
    t = tensor(xs)
    y = torch.sum(t)
    y.backward()
    assert same(out.data, y.item()) and same(v.grad, t.grad.numpy())


BINARY_POINTS = [INF, -INF, NAN, 0.0, 2.5, -1.5]
PAIRS = [(a, b) for a in BINARY_POINTS for b in BINARY_POINTS]

BINARY = {
    "add": (lambda a, b: a + b, torch.add, lambda a, b: True),
    "sub": (lambda a, b: a - b, torch.sub, lambda a, b: True),
    "mul": (lambda a, b: a * b, torch.mul, lambda a, b: True),
    "div": (lambda a, b: a / b, torch.div, lambda a, b: b != 0),  # u/0 is a DomainError
    # u^v with a Value exponent: u >= 0 (or NaN), and 0 only to a positive power
    "pow": (lambda a, b: a ** b, torch.pow,
            lambda a, b: (math.isnan(a) or a > 0 or (a == 0 and b > 0))),
    # max of two different numbers (torch splits the gradient of a tie, ours goes to
    # the first: a documented difference that has nothing to do with NaN)
    "max": (lambda a, b: max_values([a, b]), lambda a, b: torch.stack([a, b]).max(),
            lambda a, b: not (a == b or (math.isnan(a) and math.isnan(b)))),
}


@pytest.mark.parametrize("path", ["scalar", "batched"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_primitive_equals_torch(name, path):
    fn, tfn, allowed = BINARY[name]
    pairs = [p for p in PAIRS if allowed(*p)]
    ref = []
    for a, b in pairs:
        ta, tb = tensor(a), tensor(b)
        y = tfn(ta, tb)
        y.backward()
        ref.append((y.item(), ta.grad.item(), tb.grad.item()))
    ref = np.array(ref)
    if path == "batched" and name != "max":
        va, vb = Value(np.array([a for a, _ in pairs])), Value(np.array([b for _, b in pairs]))
        out = fn(va, vb)
        out.backward()
        got = np.column_stack([out.data, va.grad, vb.grad])
    else:
        rows = []
        for a, b in pairs:
            if path == "batched":  # max: a batch of one, to keep each pair apart
                va, vb = Value(np.array([a])), Value(np.array([b]))
            else:
                va, vb = Value(a), Value(b)
            out = fn(va, vb)
            out.backward()
            rows.append([float(np.sum(out.data)), float(np.sum(va.grad)), float(np.sum(vb.grad))])
        got = np.array(rows)
    bad = [f"{name}{pairs[i]}: ours {got[i]}, torch {ref[i]}"
           for i in range(len(pairs)) if not same(got[i], ref[i])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", ["scalar", "batched"])
def test_max_nan_takes_the_gradient_as_torch(path):
    wrap = (lambda x: Value(np.array([x]))) if path == "batched" else Value
    a, b, c = wrap(1.0), wrap(NAN), wrap(3.0)
    out = max_values([a, b, c])
    out.backward()
    assert np.isnan(out.data).all()
    assert [float(np.sum(v.grad)) for v in (a, b, c)] == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("path", ["scalar", "batched"])
def test_where_with_a_nan_condition_is_nan_with_nan_gradients(path):
    wrap = (lambda x: Value(np.array([x]))) if path == "batched" else Value
    c, a, b = wrap(NAN), wrap(2.0), wrap(3.0)
    out = where(c, a, b)
    out.backward()
    assert np.isnan(out.data).all() and np.isnan(a.grad).all() and np.isnan(b.grad).all()
    with anomaly_mode(), pytest.raises(AnomalyError, match="where"):
        where(wrap(NAN), 2.0, 3.0)


@pytest.mark.parametrize("cond, picked", [(INF, "a"), (-INF, "b"), (0.0, "b"), (1e-300, "a")])
def test_where_infinite_condition_selects_and_an_unselected_nan_stays_out(cond, picked):
    for path in ("scalar", "batched"):
        wrap = (lambda x: Value(np.array([x, x]))) if path == "batched" else Value
        a, b = wrap(2.0), wrap(NAN) if picked == "a" else wrap(2.0)
        if picked == "b":
            a = wrap(NAN)
        out = where(wrap(cond), a, b)
        out.backward(np.ones(2) if path == "batched" else None)
        assert np.all(out.data == 2.0)
        chosen, other = (a, b) if picked == "a" else (b, a)
        assert np.all(chosen.grad == 1.0) and np.all(other.grad == 0.0)


@pytest.mark.parametrize("path", ["scalar", "batched"])
def test_sum_of_plus_and_minus_infinity_is_nan(path):
    wrap = (lambda x: Value(np.array([x]))) if path == "batched" else Value
    out = sum_values([wrap(INF), wrap(-INF), wrap(1.0)])
    assert np.isnan(out.data).all()


@pytest.mark.parametrize("path", ["scalar", "batched"])
@pytest.mark.parametrize("fn, x", [(lambda v: v.log(), -INF), (lambda v: v.log(), 0.0),
                                   (lambda v: v.log1p(), -INF), (lambda v: 1.0 / v, 0.0),
                                   (lambda v: v ** 0.5, -INF)])
def test_outside_the_domain_both_paths_raise_domain_error(fn, x, path):
    """PyTorch answers NaN or inf here; the engine refuses on both paths alike (R-level
    design: log of 0 is a bug in a loss, not a number)."""
    v = Value(np.array([1.0, x])) if path == "batched" else Value(x)
    with pytest.raises(DomainError):
        fn(v)


def test_power_overflow_keeps_the_sign():
    assert (Value(-1e200) ** 3).data == -INF
    assert (Value(np.array([-1e200])) ** 3).data[0] == -INF
    assert (Value(1e200) ** 3).data == INF


# ---------------------------------------------------------------- losses


def engine_loss(fn, preds, target, path):
    """The loss and d loss/d pred for each pred on one path: a batch of all samples
    (reduction mean), or one scalar graph per sample (their mean)."""
    if path == "batched":
        v = Value(np.array(preds))
        out = fn(v, np.array(target))
        out.backward()
        return float(out.data), np.asarray(v.grad, float)
    vals, grads = [], []
    for p, y in zip(preds, target):
        v = Value(p)
        out = fn(v, y)
        out.backward()
        vals.append(out.data)
        grads.append(v.grad / len(preds))
    return float(np.mean(vals)), np.array(grads)


def torch_loss(tfn, preds, target):
    t = tensor(preds)
    y = tfn(t, torch.tensor(target, dtype=torch.float64))
    y.backward()
    return y.item(), t.grad.numpy()


LOSS_POINTS = [INF, -INF, NAN, 1000.0, -1000.0, 0.25]
#: (loss, pred, target) -> (value, gradient) where the engine differs from PyTorch
#: on purpose; none: BCE with logits uses PyTorch's own formula (1 - y) z + softplus(-z).
DEVIATIONS = {}

LOSSES = {
    "mse": (losses.mse, F.mse_loss, [0.0, 1.0, -2.0]),
    "squared_error": (losses.squared_error, lambda p, y: 0.5 * ((p - y) ** 2).mean(),
                      [0.0, 1.0, -2.0]),
    "bce_with_logits": (losses.binary_cross_entropy_with_logits,
                        F.binary_cross_entropy_with_logits, [0.0, 1.0]),
    "hinge": (losses.hinge, lambda s, y: torch.relu(1.0 - y * s).mean(), [-1.0, 1.0]),
}


@pytest.mark.parametrize("path", ["scalar", "batched"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_equals_torch_at_inf_and_nan(name, path):
    fn, tfn, targets = LOSSES[name]
    bad = []
    for x in LOSS_POINTS:
        for y in targets:
            got = engine_loss(fn, [x, 0.5], [y, y], path)
            want = DEVIATIONS.get((name, x, y))
            ref = torch_loss(tfn, [x, 0.5], [y, y])
            if want is not None:
                ref = (want[0], np.array([want[1] / 2, ref[1][1]]))
            grad_ok = nan_or_same(got[1], ref[1]) if math.isnan(x) else same(got[1], ref[1])
            if not (same(got[0], ref[0]) and grad_ok):
                bad.append(f"{name}(pred={x}, y={y}): ours {got}, torch {ref}")
    assert not bad, "\n".join(bad)


def test_bce_with_logits_is_exact_for_large_finite_logits():
    """(1 - y) z + softplus(-z) at z = -1e300, y = 1 is 1e300 (the limit), and the
    gradient sigma(z) - y at z = +-1000 is exact."""
    assert losses.binary_cross_entropy_with_logits(Value(-1e300), 1.0).data == 1e300
    for z0, y, g in ((1000.0, 1.0, 0.0), (-1000.0, 1.0, -1.0), (1000.0, 0.0, 1.0)):
        z = Value(z0)
        losses.binary_cross_entropy_with_logits(z, y).backward()
        assert z.grad == g


CE_LOGITS = [
    [INF, 0.0, 1.0], [-INF, 0.0, 1.0], [NAN, 0.0, 1.0], [1000.0, -1000.0, 0.0],
    [-INF, -INF, 0.0], [0.0, 1.0, 2.0],
]


@pytest.mark.parametrize("label", [0, 2])
@pytest.mark.parametrize("logits", CE_LOGITS, ids=lambda z: str(z))
def test_softmax_cross_entropy_equals_torch(logits, label):
    t = tensor(logits)
    ref = F.cross_entropy(t[None], torch.tensor([label]))
    ref.backward()
    for path in ("scalar", "batched"):
        if path == "batched":
            zs = [Value(np.array([z, z])) for z in logits]
            out = losses.softmax_cross_entropy(zs, np.array([label, label]))
        else:
            zs = [Value(z) for z in logits]
            out = losses.softmax_cross_entropy(zs, label)
        out.backward()
        grads = [float(np.sum(z.grad)) for z in zs]  # a batch of 2 with mean reduction
        assert same(out.data, ref.item()), (path, out.data, ref.item())
        assert nan_or_same(grads, t.grad.numpy()) if any(map(math.isnan, logits)) \
            else same(grads, t.grad.numpy()), (path, grads, t.grad)


LSE_CASES = [[INF, 0.0], [-INF, 0.0], [NAN, 0.0], [1000.0, -1000.0], [-INF, -INF],
             [INF, -INF]]


@pytest.mark.parametrize("logits", LSE_CASES, ids=str)
def test_log_softmax_and_softmax_equal_torch(logits):
    for ours, theirs in ((losses.log_softmax, lambda t: F.log_softmax(t, 0)),
                         (losses.softmax, lambda t: F.softmax(t, 0))):
        t = tensor(logits)
        ref = theirs(t)
        ref.sum().backward()
        zs = [Value(z) for z in logits]
        outs = ours(zs)
        sum_values(outs).backward()
        assert same([o.data for o in outs], ref.detach().numpy())
        assert same([z.grad for z in zs], t.grad.numpy())


@pytest.mark.parametrize("logits", LSE_CASES, ids=str)
def test_logsumexp_equals_torch_except_at_an_infinite_maximum(logits):
    """The documented deviation: an infinite largest logit gives NaN here (PyTorch:
    +-inf); anomaly_mode() reports it."""
    ref = torch.logsumexp(tensor(logits), 0).item()
    got = losses.logsumexp([Value(z) for z in logits]).data
    if math.isinf(max(logits)):
        assert math.isnan(got) and math.isinf(ref)
        with anomaly_mode(), pytest.raises(AnomalyError):
            losses.logsumexp([Value(z) for z in logits])
    else:
        assert same(got, ref)


@pytest.mark.parametrize("p", [NAN, INF, -INF, 1.5])
def test_binary_cross_entropy_refuses_nan_and_out_of_range_probabilities_like_torch(p):
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(tensor(p), tensor(1.0, grad=False))
    for data in (p, np.array([0.5, p])):
        with pytest.raises(DomainError, match=r"\[0, 1\]"):
            losses.binary_cross_entropy(Value(data), 1.0 if np.ndim(data) == 0 else np.ones(2))


# ---------------------------------------------------------------- a network


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "gelu"])
def test_mlp_fed_nan_answers_nan_on_both_paths(activation):
    model = MLP(2, [4, 1], activation=activation, seed=0)
    assert math.isnan(model([NAN, 0.5]).data)
    out = model(np.array([[NAN, 0.5], [0.1, 0.2]]))
    assert math.isnan(out.data[0]) and math.isfinite(out.data[1])
    with anomaly_mode(), pytest.raises(AnomalyError):
        model([NAN, 0.5])


def test_mlp_fed_inf_gives_the_saturated_answer():
    """sigmoid hidden units saturate at +-inf inputs: the output is finite, as torch."""
    model = MLP(2, [3, 1], activation="sigmoid", seed=1)
    tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(),  # sigmoid on
                             torch.nn.Linear(3, 1), torch.nn.Sigmoid()).double()  # both layers
    with torch.no_grad():
        for k, layer in enumerate(model.layers):
            lin = tm[2 * k]
            lin.weight.copy_(torch.tensor(layer.weight_matrix()))
            lin.bias.copy_(torch.tensor(layer.bias_vector()))
    x = [INF, 0.5]  # (INF and -INF together would meet as inf - inf = NaN, in torch too)
    ours = model(x).data
    ref = tm(torch.tensor([x], dtype=torch.float64)).item()
    assert math.isfinite(ours)
    assert ours == pytest.approx(ref, rel=1e-12)


# ---------------------------------------------------------------- the two paths agree


def random_points(seed, n=12):
    """Normal numbers of all sizes with infinities, NaN and zeros mixed in."""
    rng = np.random.default_rng(seed)
    xs = rng.normal(scale=10.0 ** rng.integers(-3, 4, size=n))
    special = rng.random(n) < 0.4
    xs[special] = rng.choice([INF, -INF, NAN, 0.0, -0.0], size=int(special.sum()))
    return xs.tolist()


@pytest.mark.parametrize("seed", range(6))
def test_scalar_and_batched_activations_agree_on_random_points(seed):
    xs = random_points(seed)
    for name in sorted(TORCH_ACTIVATIONS):
        sv, sg = engine_activation(name, xs, "scalar")
        bv, bg = engine_activation(name, xs, "batched")
        # (math.tanh and np.tanh may differ in the last bit: 1 - tanh^2 near saturation
        # shows it as an absolute difference of a few 1e-16)
        assert same(sv, bv, rtol=1e-13) and same(sg, bg, rtol=1e-12, atol=1e-15), \
            (name, xs, sv, bv, sg, bg)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("op", ["log", "log1p", "sqrt", "reciprocal", "pow"])
def test_scalar_and_batched_refuse_the_same_inputs(op, seed):
    """A batch raises DomainError exactly when some sample alone raises; otherwise the
    numbers are the scalar path's."""
    fns = {"log": lambda v: v.log(), "log1p": lambda v: v.log1p(),
           "sqrt": lambda v: v ** 0.5, "reciprocal": lambda v: 1.0 / v,
           "pow": lambda v: 2.0 ** v * v ** Value(1.5)}
    fn = fns[op]
    xs = random_points(seed, n=6)
    scalar, refused = [], 0
    for x in xs:
        try:
            scalar.append(fn(Value(x)).data)
        except DomainError:
            refused += 1
    try:
        batched = fn(Value(np.array(xs))).data
    except DomainError:
        assert refused > 0, (op, xs)
    else:
        assert refused == 0, (op, xs)
        assert same(batched, scalar, rtol=1e-13)


@pytest.mark.parametrize("path", ["scalar", "batched"])
def test_anomaly_mode_reports_an_infinite_gradient_in_backward(path):
    """sqrt at 0 is 0, its derivative inf: the forward passes, backward() stops at it."""
    x = Value(np.array([4.0, 0.0]) if path == "batched" else 0.0, "x")
    with anomaly_mode():
        out = (x ** 0.5).sum()
        with pytest.raises(AnomalyError, match="gradient flowing into node 'x'"):
            out.backward()


@pytest.mark.parametrize("path", ["scalar", "batched"])
def test_softplus_equals_torch_with_threshold_1000_at_inf_and_nan(path):
    """The existing tests' reference (threshold=1000, exact for moderate x) agrees at the
    special points too; from x = 710 up to the threshold it overflows (log1p(e^x) = inf),
    which is why the table above uses the default threshold 20."""
    xs = [INF, -INF, NAN, 700.0, -1000.0]
    values, grads = engine_activation("softplus", xs, path)
    t = tensor(xs)
    y = F.softplus(t, threshold=1000)
    y.sum().backward()
    assert same(values, y.detach().numpy()) and nan_or_same(grads, t.grad.numpy())
    assert not np.isnan(grads[[0, 1, 3, 4]]).any()


@pytest.mark.parametrize("name", sorted(set(TORCH_ACTIVATIONS) - {"swish"}))
def test_replay_gives_the_built_graphs_numbers_at_infinities(name):
    """A recorded graph replayed on batches holding +-inf and +-1000 gives the loss and
    the weight's gradient of the graph built on the same batch (and NaN where it does)."""
    rng = np.random.default_rng(7)
    w = Value(0.7, "w")
    x = Value(np.array([0.3, -0.2, 1.0, 2.0]), "x", requires_grad=False)
    act = A.ACTIVATIONS[name]
    rec = Recorded(act(w * x).sum(), [w], [x])
    for _ in range(3):
        xd = rng.permutation([INF, -INF, 1000.0, -1000.0])
        x.data = xd
        w.grad = 0.0
        built = act(w * x).sum()
        built.backward()
        loss, grads = rec.run([xd], accumulate=False)
        assert same(loss, built.data) and same(grads, [w.grad]), (name, xd, loss, built.data)
