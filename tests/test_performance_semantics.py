"""What makes the engine cheap, checked as behaviour (no timings): no reference cycles,
``__slots__`` nodes, deep graphs without recursion, memory per node."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

from micrograd_mlp import MLP, Value, losses


def test_nodes_have_slots_and_no_dict():
    v = Value(1.0) * 2.0
    assert not hasattr(v, "__dict__")
    assert isinstance(v.parents, tuple)


def test_graph_freed_without_the_cycle_collector():
    """Reference counting alone frees a whole graph, composites and backward included:
    after deleting it the cycle collector finds nothing unreachable."""
    from micrograd_mlp.functions.composite import Group

    was = gc.isenabled()
    gc.collect()
    gc.disable()
    # keep what the collector finds, to look at it: other libraries loaded by earlier
    # tests (matplotlib) may free cycles of their own meanwhile; none may be ours
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        model = MLP(2, [3, 1], activation="sigmoid", seed=0)
        loss = losses.mse(model(np.ones((4, 2))), np.zeros(4))
        loss.backward()
        model.intermediates = None  # the model keeps the last forward's nodes (R14)
        del loss, model
        gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, (Value, MLP, Group))]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()


def test_deep_chain_needs_no_recursion():
    """A chain 10^5 deep under a recursion limit of 100: gradient c^n exactly as the
    closed form (n multiplications by c)."""
    c, n = 1.00001, 100_000
    x0 = Value(1.0)
    x = x0
    for _ in range(n):
        x = x * c
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        x.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x0.grad == pytest.approx(c ** n, rel=1e-9)


def test_second_backward_on_deep_chain_accumulates_leaf_only():
    a = Value(0.5)
    x = a
    for _ in range(1000):
        x = x + a
    x.backward()
    x.backward()
    assert a.grad == 2 * 1001


def _bytes_per_node(make, n):
    gc.collect()
    tracemalloc.start()
    keep = make(n)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keep
    return size / n


def _chain(V, n):
    x = V(1.0)
    for _ in range(n):
        x = x * 1.0000001
    return x


def test_memory_per_node_is_small():
    """A chain step (a mul node, its constant, the parents tuple, the float) stays
    under 300 bytes (a plain-object node with a __dict__ alone takes more)."""
    assert _bytes_per_node(lambda n: _chain(Value, n), 20_000) < 300


def test_memory_at_most_0_3_of_micrograd():
    micrograd_engine = pytest.importorskip("micrograd.engine")
    ours = _bytes_per_node(lambda n: _chain(Value, n), 20_000)
    theirs = _bytes_per_node(lambda n: _chain(micrograd_engine.Value, n), 20_000)
    assert ours <= 0.3 * theirs
