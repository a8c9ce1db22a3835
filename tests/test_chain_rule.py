"""The chain-rule step and its unrolled loop agree: ``Value.backward()`` (the loop) and
``chain_rule_step`` run node by node give the same gradients, bit for bit, and the same
errors, on random graphs of every primitive (scalars and batches)."""
import math

import numpy as np
import pytest

from micrograd_mlp.core.engine import (
    Value, apply, backward_seed, chain_rule_step, contribution, max_values, sum_values, where,
)
from micrograd_mlp.core.graph_walk import topological_order
from micrograd_mlp.core.graph_walk import interior_order
from micrograd_mlp.core.modes import anomaly_mode
from micrograd_mlp.errors import AnomalyError, GradientError


def _random_graph(seed, batch=None, special=False):
    """A graph of every kind of row over a few leaves; ``special`` puts infinities
    and NaN among the leaves."""
    rng = np.random.default_rng(seed)

    def leaf_value():
        if special and rng.random() < 0.3:
            return float(rng.choice([math.inf, -math.inf, math.nan, 0.0]))
        x = rng.uniform(0.2, 2.0) * rng.choice([-1.0, 1.0])
        return x if batch is None else rng.uniform(0.2, 2.0, size=batch) * rng.choice([-1, 1], size=batch)

    leaves = [Value(leaf_value(), f"x{i}") for i in range(5)]
    nodes = list(leaves)
    for _ in range(40):
        a, b, c = (nodes[int(rng.integers(len(nodes)))] for _ in range(3))
        k = int(rng.integers(12))
        if k == 0:
            nodes.append(a + b)
        elif k == 1:
            nodes.append(a * b)
        elif k == 2:
            nodes.append(a - b)
        elif k == 3:
            nodes.append(a.relu())
        elif k == 4:
            nodes.append(a.tanh())
        elif k == 5:
            nodes.append(where(c, a, b))
        elif k == 6:
            nodes.append(max_values([a, b, c]))
        elif k == 7:
            nodes.append(sum_values([a, b, c]))
        elif k == 8:
            nodes.append(apply("min0", a))
        elif k == 9:
            nodes.append(abs(a))
        elif k == 10:
            nodes.append(-a)
        else:
            nodes.append((a * 0.1).exp())
    return leaves, sum_values(nodes[-8:])


def _step_by_step(root):
    """backward() written with chain_rule_step alone (the reference)."""
    order = interior_order(root)
    root.grad = backward_seed(root)
    for node in reversed(order):
        chain_rule_step(node)


def _grads(leaves):
    return [np.asarray(v.grad, dtype=float) for v in leaves]


@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("special", [False, True])
def test_the_loop_equals_the_step_on_random_graphs(batch, special):
    for seed in range(40):
        with np.errstate(all="ignore"):
            leaves1, root1 = _random_graph(seed, batch, special)
            leaves2, root2 = _random_graph(seed, batch, special)
            root1.backward()
            _step_by_step(root2)
        for g1, g2 in zip(_grads(leaves1), _grads(leaves2)):
            np.testing.assert_array_equal(g1, g2)   # NaN where NaN, bit for bit


def test_the_loop_and_the_step_give_the_same_stale_input_error():
    for seed in range(10):
        leaves1, root1 = _random_graph(seed)
        leaves2, root2 = _random_graph(seed)
        reached = {id(v) for v in topological_order(root1, all_nodes=True)}
        k = next(i for i, v in enumerate(leaves1) if id(v) in reached)
        leaves1[k].data = 0.5
        leaves2[k].data = 0.5
        errors = []
        for run in (root1.backward, lambda: _step_by_step(root2)):
            with pytest.raises(GradientError) as info:
                run()
            errors.append(str(info.value))
        assert errors[0] == errors[1]
        assert "was assigned after" in errors[0]


def test_the_loop_and_the_step_give_the_same_anomaly_error():
    x = Value(0.0, "x")
    root = x * math.inf  # the contribution into x is inf
    with pytest.raises(AnomalyError) as loop:
        with anomaly_mode():
            root.backward()
    x2 = Value(0.0, "x")
    root2 = x2 * math.inf
    with pytest.raises(AnomalyError) as step:
        order = interior_order(root2)
        root2.grad = backward_seed(root2)
        for node in reversed(order):
            chain_rule_step(node, anomaly=True)
    assert str(loop.value) == str(step.value)


def test_contribution_is_a_product_unless_masked():
    assert math.isnan(contribution(math.inf, 0.0))              # a product: inf * 0
    assert contribution(math.inf, 0.0, masked=True) == 0.0      # a mask: branch not taken
    assert contribution(math.nan, 0.0, masked=True) == 0.0
    assert contribution(2.0, 3.0, masked=True) == 6.0
    got = contribution(np.array([math.inf, math.nan, 2.0]), np.array([0.0, 0.0, 1.0]), True)
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.0])
    got = contribution(np.array([math.inf, 1.0]), 0.0, True)   # a scalar local, batched upstream
    np.testing.assert_array_equal(got, [0.0, 0.0])


def test_every_built_in_operation_is_a_method_written_out_in_value():
    """The engine's own rows have their method in the class body (searchable as
    ``def tanh``), made by nobody at run time; calling it makes a node of that row."""
    from micrograd_mlp.core.registry import BUILT_IN, PRIMITIVES
    rows = [PRIMITIVES[name] for name in sorted(BUILT_IN) if PRIMITIVES[name].method]
    assert {r.name for r in rows} >= {"exp", "log", "tanh", "relu", "abs", "erf"}
    for row in rows:
        method = Value.__dict__[row.method]
        assert not hasattr(method, "primitive_name"), row.name   # not attached at run time
        assert method(Value(0.5)).op == row.name


def test_no_forward_rule_is_written_in_the_value_class():
    """The forward of every operation comes from its row: no method of ``Value``
    computes on ``_data`` with an arithmetic operator."""
    import ast
    import inspect
    from micrograd_mlp.core import engine
    tree = ast.parse(inspect.getsource(engine.Value))

    def is_data(n):
        return isinstance(n, ast.Attribute) and n.attr in ("_data", "data")

    computing = [ast.unparse(node) for node in ast.walk(tree)
                 if (isinstance(node, ast.BinOp) and (is_data(node.left) or is_data(node.right)))
                 or (isinstance(node, ast.UnaryOp) and is_data(node.operand))]
    assert computing == []
    # the check can fail: the old __mul__ computed its own forward
    old = ast.parse("def __mul__(self, other):\n    data = self._data * other._data")
    assert [ast.unparse(n) for n in ast.walk(old)
            if isinstance(n, ast.BinOp) and (is_data(n.left) or is_data(n.right))] == \
        ["self._data * other._data"]


def test_leaves_are_listed_once_in_parent_order_and_stop_where_told():
    from micrograd_mlp.core.engine import Value
    from micrograd_mlp.core.graph_walk import leaves

    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    ab = a * b
    root = (ab + c) * a          # a is reached twice, listed once
    assert [v.label for v in leaves(root)] == ["a", "b", "c"]
    assert [v.label for v in leaves(root, {id(ab)})] == ["c", "a"]   # ab's inputs not entered
