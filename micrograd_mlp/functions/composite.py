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
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from ..core.modes import current_group, set_group

__all__ = ["Group", "Composite", "composite", "grouped", "COMPOSITES", "group_path",
           "short_name", "symbol_of", "tagged", "tagging"]


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
def tagging(group: Group):
    """Tag every node created inside the ``with`` block with ``group``."""
    before = set_group(group)
    try:
        yield group
    finally:
        set_group(before)


def grouped(name: str, kind: str = "composite", title: str = "", **params):
    """Tag every node created inside the ``with`` block with a new group inside the
    current one."""
    return tagging(Group(name, params, current_group(), kind, title))


@dataclass(eq=False)
class Composite:
    """One registered composite, everything about it in one entry.

    ``name`` (the registry key), ``function`` (the decorated function, which tags its
    nodes with a group), ``formula`` and ``derivative`` as text (``"sigma(x) = 1 / (1 +
    e^-x)"``, ``"sigma'(x) = sigma(x) (1 - sigma(x))"``); ``short``/``short_latex``:
    how a ledger writes it, ``sigma`` in ``sigma'(s2[0])`` (empty: by its name);
    ``symbol``: what a drawing shows (``σ``). An activation also carries numpy closed
    forms ``f(x)``/``df(x)`` (with ``params`` bound; a keyword overrides one), its
    default ``params`` and ``alias_of`` (the entry it repeats, for ``"swish"``).
    Calling the entry applies the composite with its ``params``.

    What views and graders read instead of branching on a name (empty or None: the
    composite has no such form):

    * ``output_derivative`` -- an activation's derivative written through its own
      output ``out = f(s)``, a template in ``{out}``: ``"{out} * (1 - {out})"`` for the
      sigmoid (``sigma'(s) = sigma(s) (1 - sigma(s))``), ``"1 - {out}^2"`` for tanh;
      ``output_derivative_fn(out)`` -- the same as a numpy function of the output;
    * ``output_range`` -- ``(low, high)``, the values the output can take (``(0, 1)``
      for the sigmoid, ``(-1, 1)`` for tanh): a target at either end is reachable in
      the limit;
    * ``term`` -- a loss that is a sum over the outputs ``E = sum_j term(out_j,
      target_j)``: one output's term, a template in ``{out}`` and ``{target}``
      (``"1/2 * ({out} - {target})^2"``); ``term_fn(out, target)`` -- the terms as a
      numpy function (elementwise);
    * ``output_gradient`` -- that loss's ``dE/d out_j``, a template in ``{out}`` and
      ``{target}`` (``"{out} - {target}"``); ``output_gradient_fn(out, target)`` -- the
      same as a numpy function (elementwise).
    """

    name: str
    function: Callable
    formula: str = ""
    derivative: str = ""
    short: str = ""
    short_latex: str = ""
    symbol: str = ""
    f: Optional[Callable] = None
    df: Optional[Callable] = None
    params: Dict = field(default_factory=dict)
    alias_of: str = ""
    kind: str = "composite"
    output_derivative: str = ""
    output_derivative_fn: Optional[Callable] = None
    output_range: Optional[Tuple[float, float]] = None
    term: str = ""
    term_fn: Optional[Callable] = None
    output_gradient: str = ""
    output_gradient_fn: Optional[Callable] = None

    def __call__(self, v, **params):
        return self.function(v, **{**self.params, **params})

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        kind = "Activation" if self.kind == "activation" else "Composite"
        return f"{kind}({self.name!r}{extra})"


#: Every composite, by name: the losses, the activations (kind "activation") ...
COMPOSITES: Dict[str, Composite] = {}


def short_name(name: str, latex: bool = False) -> str:
    """How a ledger writes the composite ``name`` (``sigma``, or ``\\sigma`` in LaTeX);
    ``""`` when it has no short name."""
    entry = COMPOSITES.get(name)
    if entry is None:
        return ""
    return entry.short_latex if latex else entry.short


def symbol_of(name: str) -> str:
    """What a drawing shows for the composite ``name`` (``σ``), else ``""``."""
    entry = COMPOSITES.get(name)
    return entry.symbol if entry is not None else ""


def tagged(name: str, fn: Callable) -> Callable:
    """``fn`` wrapped so the nodes it creates form one group called ``name``. Keyword
    arguments of the call that are plain numbers or strings become the group's
    ``params`` (shown in drawings: ``prelu(alpha=0.1)``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        params = {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))}
        with tagging(Group(name, params, current_group(), "composite")):
            return fn(*args, **kwargs)

    wrapper.composite_name = name
    return wrapper


def composite(name: str, formula: str = "", derivative: str = "", **entry):
    """Decorator: the nodes the function creates form one group called ``name``, and
    the function is registered in :data:`COMPOSITES` under ``name``. ``entry``: the
    other fields of :class:`Composite` (``short``, ``symbol``, ``f``, ``df`` ...)."""

    def decorate(fn):
        wrapper = tagged(name, fn)
        COMPOSITES[name] = Composite(name, wrapper, formula, derivative, **entry)
        return wrapper

    return decorate
