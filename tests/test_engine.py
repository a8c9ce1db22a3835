"""The engine: every primitive against finite differences, random graphs against
finite differences and torch, deep graphs, accumulation semantics, errors."""
import math
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from micrograd_mlp import AnomalyError, DataTypeError, DomainError, GradientError, ShapeError, Value, anomaly_mode, gradcheck, no_grad, sum_values, where
from micrograd_mlp.core.engine import apply
from micrograd_mlp.core.registry import PRIMITIVES

RNG = np.random.default_rng(12345)


def _sample_inputs(prim, rng):
    """Random float inputs inside the primitive's domain and away from kinks."""
    arity = prim.arity or 3
    for attempt in range(200):
        if prim.name == "pow_const":
            xs = [rng.uniform(0.2, 2.5), float(rng.choice([-2.0, -0.5, 0.5, 1.5, 2.0, 3.0]))]
        elif prim.name == "pow":
            xs = [rng.uniform(0.2, 2.5), rng.uniform(-2.0, 2.0)]
        else:
            xs = list(rng.uniform(-2.5, 2.5, size=arity))
            if attempt > 100:  # a narrow domain: try the positive unit interval
                xs = list(rng.uniform(0.05, 0.95, size=arity))
        if prim.check is None or not prim.check(*xs):
            if all(abs(x) > 1e-3 for x in xs):  # away from the kinks of relu/abs/where
                return [float(x) for x in xs]
    raise AssertionError(f"no input found in the domain of {prim.name}")


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_passes_gradcheck_at_50_points(name):
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # a constant per primitive
    for _ in range(50):
        xs = _sample_inputs(prim, rng)
        if name == "pow_const":  # the exponent is a constant by definition
            c = xs[1]
            assert gradcheck(lambda u: apply("pow_const", u, Value(c, requires_grad=False)), [Value(xs[0])],
                             atol=1e-6, rtol=1e-5)
            continue
        assert gradcheck(lambda *vs: apply(name, *vs), [Value(x) for x in xs], atol=1e-6, rtol=1e-5)


def test_primitive_table_rows_are_complete():
    for name, prim in PRIMITIVES.items():
        assert prim.name == name
        assert prim.symbol and prim.expr
        n = prim.arity or 1
        assert len(prim.dexprs) == n, name
        for text in prim.formulas():
            assert text.startswith("d ") and "=" in text


# ---------------------------------------------------------------- random graphs

# A random program over a pool of nodes: (op, i, j) picks operands by index, so the
# same node is used several times (fan-out). Every op is smooth and defined for all
# real inputs, so finite differences are reliable.
UNARY = ["tanh", "square", "softexp", "logsq", "recip", "neg", "erf"]
BINARY = ["add", "sub", "mul", "div_safe"]


def _apply_op(op, a, b, lib):
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div_safe":
        return a / (1.0 + b * b)
    if op == "tanh":
        return lib["tanh"](a)
    if op == "square":
        return a ** 2
    if op == "softexp":
        return lib["exp"](lib["tanh"](a))
    if op == "logsq":
        return lib["log"](1.0 + a * a)
    if op == "recip":
        return 1.0 / (2.0 + lib["tanh"](a))
    if op == "neg":
        return -a
    if op == "erf":
        return lib["erf"](a)
    raise AssertionError(op)


VALUE_LIB = {"tanh": Value.tanh, "exp": Value.exp, "log": Value.log, "erf": Value.erf}

programs = st.lists(
    st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 10**6), st.integers(0, 10**6)),
    min_size=1, max_size=12)
fanouts = st.lists(st.tuples(st.integers(0, 10**6), st.integers(2, 5)), min_size=1, max_size=3)
leaf_values = st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3)


def _run_program(program, fanout, leaves, lib, total):
    pool = list(leaves)
    for op, i, j in program:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(_apply_op(op, a, b, lib))
    for i, k in fanout:
        node = pool[i % len(pool)]
        pool.append(total([node] * k) * node)  # node used k + 1 times
    return total(pool[len(leaves):])


@given(programs, fanouts, leaf_values)
def test_random_graphs_with_fanout_match_finite_differences(program, fanout, xs):
    def f(*leaves):
        return _run_program(program, fanout, leaves, VALUE_LIB, sum_values)

    assert gradcheck(f, [Value(x) for x in xs], atol=1e-5, rtol=1e-4)


@given(programs, fanouts, leaf_values)
def test_random_graphs_match_torch_autograd(program, fanout, xs):
    torch = pytest.importorskip("torch")
    torch_lib = {"tanh": torch.tanh, "exp": torch.exp, "log": torch.log, "erf": torch.erf}
    leaves = [Value(x) for x in xs]
    out = _run_program(program, fanout, leaves, VALUE_LIB, sum_values)
    out.backward()
    t_leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    t_out = _run_program(program, fanout, t_leaves, torch_lib, lambda vs: sum(vs[1:], vs[0]))
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-9)
    for v, t in zip(leaves, t_leaves):
        expected = t.grad.item() if t.grad is not None else 0.0
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- deep graphs


@pytest.mark.slow
def test_chain_of_a_million_multiplications():
    x = Value(1.0, "x")
    y = x
    for _ in range(10**6):
        y = y * 1.0000001
    y.backward()
    # d/dx of x * c^n is c^n; the product itself accumulates rounding like the chain
    assert x.grad == pytest.approx(1.0000001 ** 10**6, rel=1e-9)
    assert y.data == pytest.approx(1.0000001 ** 10**6, rel=1e-9)


@pytest.mark.slow
def test_sum_of_a_million_terms_built_with_plus():
    xs = [Value(float(i % 7), f"x{i}") for i in range(10**6)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * x  # d total/d x_i = 2 x_i (x_0 enters once, linearly)
    total.backward()
    assert xs[0].grad == 1.0
    assert all(xs[i].grad == 2.0 * (i % 7) for i in (1, 2, 3, 999_999))


# ---------------------------------------------------------------- semantics (R3)


def test_leaf_gradients_accumulate_until_zeroed():
    a = Value(3.0)
    b = a * a + a
    b.backward()
    b.backward()
    assert a.grad == 14.0  # 2 * (2a + 1)
    a.grad = 0
    b.backward()
    assert a.grad == 7.0


def test_intermediate_gradients_are_reset_between_calls():
    a = Value(2.0)
    h = a * a
    out = h * 3.0
    out.backward()
    out.backward()
    assert h.grad == 3.0  # d out/d h, not a stale sum
    assert a.grad == 2 * (3.0 * 2 * 2.0)


def test_node_used_twice_gets_the_sum_of_its_paths():
    a = Value(-4.0)
    b = a + a
    c = a * a
    (b + c).backward()
    assert a.grad == 2.0 + 2 * -4.0


def test_backward_of_a_leaf_seeds_one():
    a = Value(5.0)
    a.backward()
    assert a.grad == 1.0


def test_no_grad_records_nothing():
    a = Value(2.0)
    with no_grad():
        b = a * a
    assert b.parents == () and b.data == 4.0
    with pytest.raises(GradientError, match="no gradient path"):
        b.backward()
    c = a * a  # recording is back on after the block
    c.backward()
    assert a.grad == 4.0


def test_constants_get_no_gradient():
    a = Value(2.0)
    y = 3.0 * a
    y.backward()
    const = y.parents[0]
    assert const.requires_grad is False and const.grad == 0.0
    assert a.grad == 3.0


def test_reflected_forms_and_powers():
    v = Value(0.5, "v")
    for f, df in [
        (lambda u: 2 * u, lambda x: 2.0),
        (lambda u: 2 ** u, lambda x: 2 ** x * math.log(2)),
        (lambda u: 1 - u, lambda x: -1.0),
        (lambda u: 1 / u, lambda x: -1 / x ** 2),
        (lambda u: 3 + u, lambda x: 1.0),
        (lambda u: -u, lambda x: -1.0),
        (lambda u: u ** 3, lambda x: 3 * x ** 2),
        (lambda u: u ** u, lambda x: x ** x * (math.log(x) + 1)),
        (lambda u: np.float64(2.0) * u, lambda x: 2.0),
    ]:
        v.grad = 0.0
        f(v).backward()
        assert v.grad == pytest.approx(df(0.5), rel=1e-12)


def test_where_routes_the_gradient_to_the_selected_branch():
    a, b = Value(2.0), Value(3.0)
    out = where(Value(-1.0), a * a, b * b)
    out.backward()
    assert out.data == 9.0 and a.grad == 0.0 and b.grad == 6.0


def test_batched_values_broadcast_scalars_and_sum_parameter_grads():
    w = Value(2.0, "w")
    x = Value(np.array([1.0, 2.0, 3.0]), "x")
    y = (w * x).sum()
    y.backward()
    assert y.data == 12.0
    assert w.grad == 6.0  # sum over the batch of x
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    m = (w * x).mean()
    assert m.data == 4.0


# ---------------------------------------------------------------- errors (R4)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0, 2.0], {"a": 1}, 1 + 2j])
def test_non_numeric_data_is_rejected(bad):
    with pytest.raises(DataTypeError) as err:
        Value(bad, "weight")
    assert "weight" in str(err.value)


def test_two_dimensional_data_is_a_shape_error():
    with pytest.raises(ShapeError, match="1-D"):
        Value(np.ones((2, 2)), "X")


def test_log_of_a_non_positive_number():
    x = Value(0.0, "x")
    with pytest.raises(DomainError, match=r"log.*'x'.*non-positive"):
        x.log()
    with pytest.raises(DomainError, match="non-positive"):
        Value(np.array([1.0, -1.0]), "batch").log()


def test_negative_base_with_a_value_exponent():
    base, e = Value(-2.0, "base"), Value(1.5, "e")
    with pytest.raises(DomainError, match=r"'base'.*negative base"):
        base ** e


def test_division_by_zero():
    a, z = Value(1.0, "a"), Value(0.0, "z")
    with pytest.raises(DomainError, match=r"'z'.*division by zero"):
        a / z
    with pytest.raises(DomainError, match="division by zero"):
        1 / z


def test_batch_length_mismatch():
    a = Value(np.ones(3), "a")
    b = Value(np.ones(4), "b")
    with pytest.raises(ShapeError, match=r"'a': 3.*'b': 4"):
        a + b
    with pytest.raises(ShapeError, match="batch lengths differ"):
        a * Value(np.ones(1), "c")


def test_backward_without_a_gradient_path():
    c = Value(2.0, "c", requires_grad=False)
    with pytest.raises(GradientError, match=r"'c'.*no gradient path"):
        c.backward()
    with pytest.raises(GradientError, match="no gradient path"):
        (c * 3.0).backward()


def test_backward_seed_shape_is_checked():
    x = Value(np.ones(3), "x")
    with pytest.raises(ShapeError, match="seed"):
        (x * 2.0).backward(np.ones(4))


def test_anomaly_mode_names_the_node_that_made_a_nan():
    x = Value(1000.0, "x")
    with anomaly_mode():
        with pytest.raises(AnomalyError, match="exp"):
            (x.exp() - x.exp())
    # outside anomaly mode the same overflow is silent (inf), as in numpy/torch
    assert x.exp().data == math.inf


def test_anomaly_mode_checks_the_backward_pass():
    x = Value(0.0, "x")
    y = x.sqrt()  # finite forward, infinite derivative at 0
    y.label = "root"
    with anomaly_mode():
        with pytest.raises(AnomalyError, match="gradient flowing into node 'x'"):
            y.backward()


def test_truth_value_of_a_value_is_an_error():
    with pytest.raises(TypeError, match="ambiguous"):
        bool(Value(1.0))


# ---------------------------------------------------------------- start-up


@pytest.mark.slow
def test_import_does_not_load_matplotlib_or_graphviz():
    code = ("import sys, micrograd_mlp; "
            "print(any(m.split('.')[0] in ('matplotlib', 'graphviz', 'torch', 'sklearn') "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- the shared rules


def test_backward_seed_and_the_batch_sum_rule():
    from micrograd_mlp.core.engine import backward_seed, to_input_shape

    assert backward_seed(Value(2.0)) == 1.0
    np.testing.assert_array_equal(backward_seed(Value(np.array([1.0, 2.0, 3.0]))), [1.0, 1.0, 1.0])
    weights = np.array([0.5, 2.0])
    np.testing.assert_array_equal(backward_seed(Value(np.array([1.0, 2.0])), weights), weights)
    with pytest.raises(ShapeError, match="seed has shape"):
        backward_seed(Value(np.array([1.0, 2.0])), np.array([1.0, 2.0, 3.0]))
    # a scalar input of a batched node receives the sum; a batched one its own entries
    c = np.array([0.25, -1.0, 4.0])
    got = to_input_shape(c, 7.0)
    assert isinstance(got, float) and got == 3.25
    assert to_input_shape(c, np.zeros(3)) is c
    assert to_input_shape(0.5, 7.0) == 0.5


def test_value_methods_are_made_from_the_table():
    for name, prim in PRIMITIVES.items():
        if prim.method:
            method = getattr(Value, prim.method)
            assert method.__doc__, name
            x = Value(0.6)
            assert method(x).op == name
    assert {p.method for p in PRIMITIVES.values() if p.method} >= {
        "exp", "log", "log1p", "expm1", "tanh", "relu", "abs", "erf"}
