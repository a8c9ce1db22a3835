"""Composite nodes: functions of Values (a sigmoid, a loss) whose nodes form one group.

A composite is an ordinary function written with primitive operations. Decorating it
with :func:`composite` tags every node it creates with a :class:`Group`, so a drawing
can show the group as a labelled cluster (or collapse it into one node) and a trace can
give the group's overall derivative beside its inner steps. Groups nest: a loss that
calls a sigmoid makes a sigmoid group inside the loss group. Neurons and layers use
:func:`grouped` in the same way.

Tagging costs one small object per call, so it stays on during training. Groups hold no
references to nodes (nodes point to their group, never the reverse), so a graph has no
reference cycles and is freed as soon as it is unused.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Dict, Optional, Tuple

from ..core import engine

__all__ = ["Group", "composite", "grouped", "COMPOSITES", "group_path"]


class Group:
    """One call of a composite: its ``name`` (``"sigmoid"``, ``"mse"``, ``"neuron"``),
    its non-Value ``params`` (``{"alpha": 0.1}``), its enclosing group ``parent``, and
    ``kind`` (``"composite"`` for functions, ``"module"`` for neurons and layers)."""

    __slots__ = ("name", "params", "parent", "kind", "title")

    def __init__(self, name: str, params: Optional[Dict] = None, parent=None,
                 kind: str = "composite", title: str = ""):
        self.name = name
        self.params = dict(params or {})
        self.parent = parent
        self.kind = kind
        self.title = title or name

    @property
    def depth(self) -> int:
        """0 for an outermost group, 1 for a group inside it, ..."""
        d, g = 0, self.parent
        while g is not None:
            d, g = d + 1, g.parent
        return d

    def ancestors(self) -> Tuple["Group", ...]:
        """This group and every group around it, outermost first."""
        chain = []
        g = self
        while g is not None:
            chain.append(g)
            g = g.parent
        return tuple(reversed(chain))

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Group({self.title!r}{extra})"


def group_path(node) -> Tuple[Group, ...]:
    """The groups a node lies in, outermost first (empty for an ungrouped node)."""
    return node.group.ancestors() if node.group is not None else ()


@contextmanager
def grouped(name: str, kind: str = "composite", title: str = "", **params):
    """Tag every node created inside the ``with`` block with a new group."""
    g = Group(name, params, engine.current_group(), kind, title)
    before = engine.set_group(g)
    try:
        yield g
    finally:
        engine.set_group(before)


class CompositeInfo:
    """What the registry knows of a composite: its ``name``, its ``formula`` as text
    (``"sigma(u) = 1 / (1 + e^-u)"``) and its derivative as text (``"sigma(u)(1 - sigma(u))"``)."""

    __slots__ = ("name", "formula", "derivative", "function")

    def __init__(self, name, formula, derivative, function):
        self.name, self.formula, self.derivative, self.function = name, formula, derivative, function

    def __repr__(self):
        return f"CompositeInfo({self.name!r}, {self.formula!r})"


COMPOSITES: Dict[str, CompositeInfo] = {}


def composite(name: str, formula: str = "", derivative: str = ""):
    """Decorator: the nodes the function creates form one group called ``name``.

    Keyword arguments of the call that are plain numbers or strings become the group's
    ``params`` (shown in drawings: ``prelu(alpha=0.1)``)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            params = {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))}
            g = Group(name, params, engine.current_group(), "composite")
            before = engine.set_group(g)
            try:
                return fn(*args, **kwargs)
            finally:
                engine.set_group(before)

        wrapper.composite_name = name
        COMPOSITES[name] = CompositeInfo(name, formula, derivative, wrapper)
        return wrapper

    return decorate
