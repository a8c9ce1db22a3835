"""Walks over a computational graph: every node after all of its inputs.

Both walks are iterative (a chain a million nodes deep is fine) and read only a node's
``parents`` and ``requires_grad``, so they sit below the engine's ``Value``.
"""
from __future__ import annotations

from ..errors import DataTypeError
from .validate import check_flag

__all__ = ["topological_order", "interior_order", "leaves"]

_EXIT = object()  # stack marker: the node below it has had all its parents listed


def topological_order(root, all_nodes: bool = False) -> list:
    """Every node ``root`` depends on, each after all of its parents (inputs first,
    ``root`` last). Iterative, so a chain a million deep is fine. With
    ``all_nodes=False`` (the default) only nodes that require a gradient are listed."""
    if not (hasattr(root, "parents") and hasattr(root, "requires_grad")):
        raise DataTypeError(f"topological_order needs a Value, not {type(root).__name__}")
    return _depth_first(root, check_flag(all_nodes, "all_nodes"))


def interior_order(root) -> list:
    """The nodes made by an operation that ``root`` depends on through a gradient path,
    in topological order (``root`` last), with their ``grad`` reset to 0 on the way:
    what ``backward()`` walks (leaves need no visit of their own)."""
    order = [node for node in _depth_first(root, False) if node.parents or node is root]
    for node in order:
        node.grad = 0.0
    return order


def leaves(root, stop=()) -> list:
    """The leaves (nodes without parents) ``root`` depends on, depth first in parent
    order, so two graphs of one shape list theirs in the same order. The walk does not
    enter a node whose ``id`` is in ``stop`` (the inputs of a part of a graph)."""
    found, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in stop:
            continue
        seen.add(id(node))
        if node.parents:
            stack.extend(reversed(node.parents))
        else:
            found.append(node)
    return found


def _depth_first(root, all_nodes: bool) -> list:
    order = []
    append = order.append
    seen = set()
    add = seen.add
    stack = [root]
    push = stack.append
    pop = stack.pop
    # A node is pushed again under an _EXIT marker, so no tuple is built per node and
    # the node is listed once its parents are.
    while stack:
        node = pop()
        if node is _EXIT:
            append(pop())
            continue
        if node in seen:
            continue
        add(node)
        push(node)
        push(_EXIT)
        for p in node.parents:
            if p not in seen and (all_nodes or p.requires_grad):
                push(p)
    return order
