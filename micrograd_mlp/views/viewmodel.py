"""The view model shared by every picture of a graph: names and the visible graph.

:class:`Namer` gives each node the name a student writes (``W1[0,1]``, ``s2[0]``,
``sigma(s1[0])``) and its expression; :func:`build_view` decides which nodes are shown
(with composites collapsed into one node, helper products folded into their consumer)
and which :class:`Edge`, with its product of local derivatives as :class:`Factor`s,
joins them. The trace, the ledger, the drawings and the stepper all read this one model,
so they name and group nodes alike. :func:`format_number` is the one number format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.validate import check_flag, check_int, check_iterable
from ..core.validate_values import check_values
from ..core.engine import Value, contribution
from ..core.node_validation import describe
from ..core.graph_walk import topological_order
from ..core.registry import ATOM
from ..errors import DataTypeError, DomainError, GradientError, ShapeError
from ..functions.composite import group_path, short_name

__all__ = ["View", "Edge", "Factor", "build_view", "check_view", "format_number", "Namer"]

ndarray = np.ndarray

# ---------------------------------------------------------------- numbers


def format_number(x, digits: int = 4, batch_items: int = 3) -> str:
    """``x`` with ``digits`` decimals; a batch shows its first ``batch_items`` entries
    and its size (``[0.1, 0.2, 0.3, ...] (n=100)``)."""
    if x is None:
        return "?"
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    if isinstance(x, ndarray) and x.dtype.kind not in "biuf":
        raise DataTypeError(f"format_number: an array of dtype {x.dtype} is not numbers")
    if not isinstance(x, (ndarray, float, int, np.number)):
        raise DataTypeError(f"format_number: {type(x).__name__} is not a number")
    if isinstance(x, ndarray):
        if x.ndim > 1:
            raise ShapeError(f"format_number: a batch is 1-D, got shape {x.shape}")
        if x.ndim == 0:
            return format_number(float(x), digits)
        head = ", ".join(format_number(float(v), digits) for v in x[:batch_items])
        more = ", ..." if x.size > batch_items else ""
        return f"[{head}{more}] (n={x.size})"
    try:
        x = float(x)
    except OverflowError:
        raise DomainError("format_number: the number is too large for a float") from None
    if x == 0.0:
        x = 0.0  # no "-0.0000"
    text = f"{x:.{digits}f}"
    if text.lstrip("-").strip("0.") == "" and x != 0.0:
        text = f"{x:.{digits}g}"  # 1e-09 rather than 0.0000
    if text.startswith("-") and text.lstrip("-").strip("0.") == "":
        text = text[1:]
    return text


def paren(text: str) -> str:
    """Parenthesise a negative number inside a product: ``0.4 * (-0.1)``."""
    return f"({text})" if text.startswith("-") else text


# ---------------------------------------------------------------- names


INDEXED_NAME = re.compile(r"^([A-Za-z_]+?)(\d*)\[([0-9, ]+)\]$")
PLAIN_NAME = re.compile(r"^([A-Za-z]+?)(\d*)$")

_GREEK = {"sigma", "alpha", "beta", "gamma", "delta", "lambda", "mu", "theta", "eta"}


#: the names a network's layers use: a digit after them is the layer (``W^{(1)}``)
LAYER_BASES = ("W", "b", "s", "x")


def _latex_label(label: str) -> str:
    """``W1[1,0]`` -> ``W^{(1)}_{1,0}``, ``x0[1]`` -> ``x^{(0)}_{1}``, ``yhat`` ->
    ``\\hat{y}``; a user's variable with a number (``w1``, ``a2``) -> ``w_1``, since
    ``^{(1)}`` reads as "layer 1"; anything else in ``\\mathrm{}`` with special
    characters escaped."""
    m = INDEXED_NAME.match(label)
    if m:
        base, layer, idx = m.groups()
        sup = f"^{{({layer})}}" if layer and base in LAYER_BASES else \
            (f"_{{{layer}}}" if layer else "")
        if layer and base not in LAYER_BASES:
            return f"{_latex_base(base)}_{{{layer},{idx.replace(' ', '')}}}"
        return f"{_latex_base(base)}{sup}_{{{idx.replace(' ', '')}}}"
    m = PLAIN_NAME.match(label)
    if m:
        base, layer = m.groups()
        if not layer:
            return _latex_base(base)
        return f"{_latex_base(base)}^{{({layer})}}" if base in LAYER_BASES else \
            f"{_latex_base(base)}_{{{layer}}}"
    return "\\mathrm{" + latex_escape(label) + "}"


def _latex_base(base: str) -> str:
    if base.endswith("hat") and len(base) > 3:
        return f"\\hat{{{_latex_base(base[:-3])}}}"
    if base in _GREEK:
        return "\\" + base
    if len(base) == 1:
        return base
    return "\\mathrm{" + latex_escape(base) + "}"


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    out = []
    for ch in text:
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append("\\textbackslash{}")
        elif ch == "^":
            out.append("\\^{}")
        elif ch == "~":
            out.append("\\~{}")
        else:
            out.append(ch)
    return "".join(out)


class Namer:
    """Names nodes in traces, as text (``fmt="text"``) or LaTeX (``fmt="latex"``):
    a labelled node by its label, a constant by its value, the output of a collapsed
    group by the group (``sigmoid(x)``), an unlabelled intermediate by its expression
    (``y - yhat``) while that stays short, else ``t1, t2, ...`` numbered in forward
    order. ``view`` (a :class:`View`) tells which nodes are collapsed outputs."""

    def __init__(self, order: Sequence[Value], fmt: str = "text", max_len: int = 28,
                 digits: int = 4, view: Optional["View"] = None):
        order = check_values(order, "Namer order")
        self.fmt = fmt
        self.max_len = max_len
        self.digits = digits
        self.view = view
        self.groups = view.groups if view is not None else {}
        self.root: Optional[Value] = None  # the traced root (its upstream 1 is left out)
        self._cache: Dict[int, Tuple[str, int]] = {}
        self._numbers: Dict[int, int] = {}
        self._depth = 0
        k = 0
        for n in order:
            if n.parents and not n.label:
                k += 1
                self._numbers[id(n)] = k

    def __call__(self, node: Value, atom: bool = True) -> str:
        """The node's name; ``atom=True`` parenthesises a compound expression."""
        text, prec = self.named(node)
        return f"({text})" if atom and prec < ATOM else text

    def named(self, node: Value) -> Tuple[str, int]:
        """``(name, precedence)``: 5 for atoms, lower for sums, products ..."""
        key = id(node)
        found = self._cache.get(key)
        if found is None:
            found = self._name(node)
            self._cache[key] = found
        return found

    def _child(self, node: Value, need: int) -> str:
        text, prec = self.named(node)
        return f"({text})" if prec < need else text

    def _name(self, node: Value) -> Tuple[str, int]:
        latex = self.fmt == "latex"
        if node.label:
            return (_latex_label(node.label) if latex else node.label), ATOM
        if not node.parents:
            if isinstance(node.data, ndarray):
                return ("\\mathrm{const}" if latex else "const"), ATOM
            text = plain_number(node.data)
            return text, (3 if text.startswith("-") else ATOM)
        number = self._numbers.get(id(node), 0)
        fallback = (f"t_{{{number}}}" if latex else f"t{number}"), ATOM
        if self._depth > 6:
            return fallback  # a long chain of unnamed nodes: no deep recursion
        self._depth += 1
        try:
            text = self._expression(node, latex)
        finally:
            self._depth -= 1
        if text is None or len(_strip_latex(text) if latex else text) > self.max_len:
            return fallback
        if node in self.groups:
            return text, ATOM
        return text, node.primitive.precedence

    def _expression(self, node: Value, latex: bool) -> Optional[str]:
        group = self.groups.get(node)
        if group is not None:
            fname = short_name(group.name, latex) or group.name
            edges = self.view.edges.get(node, [])
            ins = [e.inp for e in edges if e.inp.requires_grad] or [e.inp for e in edges]
            return f"{fname}(" + ", ".join(self(p, atom=False) for p in _unique(ins)) + ")"
        prim = node.primitive
        if prim is None:  # made by a primitive since unregistered
            return None
        needs = prim.operand_precedence
        if needs is None:  # a function call: its arguments need no parentheses
            names = [self(p, atom=False) for p in node.parents]
        else:
            names = [self._child(p, needs[min(i, len(needs) - 1)])
                     for i, p in enumerate(node.parents)]
        return prim.fill(prim.latex if latex else prim.text, names)


def _unique(nodes):
    seen, out = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def _strip_latex(text: str) -> str:
    return re.sub(r"\\[a-zA-Z]+|[{}^_]", "", text)


def plain_number(x: float) -> str:
    return f"{float(x):g}"


def _tidy(text: str) -> str:
    """Drop doubled parentheses ``f((a + b))`` -> ``f(a + b)``."""
    changed = True
    while changed:
        changed = False
        match = {}
        stack = []
        for i, ch in enumerate(text):
            if ch == "(":
                stack.append(i)
            elif ch == ")" and stack:
                match[stack.pop()] = i
        for i, j in match.items():
            if text[i + 1:i + 2] == "(" and match.get(i + 1) == j - 1:
                text = text[:i + 1] + text[i + 2:j - 1] + text[j:]
                changed = True
                break
    return text


def fill_template(template: str, node: Value, namer, index: int = 0) -> str:
    """Put the names of ``node``'s inputs into a template of its primitive (``{u}``,
    ``{v}`` ...; ``index``: the input an n-ary row's ``{u_i}`` stands for)."""
    names = [namer(p) for p in node.parents]
    return _tidy(node.primitive.fill(template, names, index))


def constant_operand(node: Value) -> Optional[float]:
    """The number in the primitive's constant input of ``node`` (the exponent ``c`` of
    ``u^c``) when that input is a scalar constant leaf, else None."""
    index = node.primitive.constant_input if node.primitive is not None else None
    if index is None:
        return None
    operand = node.parents[index]
    if operand.parents or operand.requires_grad or operand.data.__class__ is not float:
        return None
    return operand.data


# ---------------------------------------------------------------- the view graph


@dataclass(frozen=True)
class Factor:
    """One local derivative on the way from a node to an input: either a primitive's
    ``d node/d node.parents[index]`` (``group`` None), or a collapsed group's overall
    ``d node/d inp`` (``path`` holds its primitive factors when the group has one
    path from ``inp`` to ``node``)."""

    node: Value
    index: int = 0
    group: object = None
    inp: Optional[Value] = None
    path: Optional[Tuple["Factor", ...]] = None


@dataclass
class Edge:
    """Input ``inp`` of a view node, the local derivative ``local`` (float or array)
    and the factors it is the product of."""

    inp: Value
    local: object
    factors: Tuple[Factor, ...]

    @property
    def masked(self) -> bool:
        """True when a local derivative of 0 on this edge is a mask, not a factor: a
        piecewise row (relu, where, max) or a collapsed group lies on the way, so the
        input receives 0 whatever arrives from above (see
        :func:`~micrograd_mlp.core.engine.contribution`)."""
        return any(f.group is not None or _row_of(f.node).piecewise for f in self.factors)


class View:
    """A graph as a trace sees it: the visible nodes (all nodes, or with composite
    groups collapsed and helper nodes folded), each with its input edges.

    ``order`` lists every node (constants too) inputs first; ``visible`` the nodes
    shown; ``edges[node]`` the input edges of a visible non-leaf node; ``groups[node]``
    the collapsed group a visible node is the output of (if any); ``members[group]``
    the nodes hidden inside a collapsed group."""

    def __init__(self, root: Value, order, visible, edges, groups, members, folded):
        self.root = root
        self.order = order
        self.visible = visible
        self.edges = edges
        self.groups = groups
        self.members = members
        self.folded = folded

    def is_step(self, node: Value) -> bool:
        """True when the node is visited as a backward step of this view."""
        return node in self.edges and node not in self.folded


MAX_FOLD = 8  # longest product of local derivatives a folded edge may carry


def _selected(group, collapse) -> bool:
    if collapse is True:
        return group.kind == "composite"
    if not collapse:
        return False
    return group.name in collapse or group.title in collapse


def _collapse_spec(collapse):
    """``collapse`` as False, True or a set of group names (a lone name is a set of one)."""
    if isinstance(collapse, (bool, np.bool_)) or collapse is None:
        return bool(collapse)
    if isinstance(collapse, str):
        return {collapse}
    names = list(check_iterable(collapse, "collapse"))
    if not all(isinstance(n, str) for n in names):
        raise DataTypeError("collapse must be True, False or a set of group names (str)")
    return set(names) or False


def check_view(view, root) -> Optional["View"]:
    """``view`` when it is None or a :class:`View` of ``root``'s graph."""
    if view is not None and not (isinstance(view, View) and view.root is root):
        raise DataTypeError(f"view must be None or build_view(root), not {type(view).__name__}")
    return view


def build_view(root: Value, collapse=False, fold: Optional[bool] = None) -> View:
    """The :class:`View` of the graph below ``root``.

    ``collapse``: False (every primitive), True (every composite group, e.g. sigmoid
    and the loss, becomes one node) or a set of group names/titles (``{"sigmoid",
    "neuron"}``). ``fold`` (default: on when collapsing) merges an unlabelled helper
    node that has one consumer into that consumer, multiplying the local derivatives.
    """
    if not isinstance(root, Value):
        raise DataTypeError(f"expected a Value as the root, not {type(root).__name__}")
    collapse = _collapse_spec(collapse)
    fold = bool(collapse) if fold is None else check_flag(fold, "fold")
    order = topological_order(root, all_nodes=True)
    consumers: Dict[Value, List[Value]] = {}
    for n in order:
        for p in n.parents:
            consumers.setdefault(p, []).append(n)

    cgroup: Dict[Value, object] = {}
    if collapse:
        for n in order:
            for g in group_path(n):
                if _selected(g, collapse):
                    cgroup[n] = g
                    break

    def is_output(n) -> bool:
        g = cgroup.get(n)
        if g is None:
            return False
        if n is root or (not n.parents and n.requires_grad):
            return True
        return any(cgroup.get(c) is not g for c in consumers.get(n, ()))

    members: Dict[object, List[Value]] = {}
    visible: List[Value] = []
    groups: Dict[Value, object] = {}
    for n in order:
        g = cgroup.get(n)
        if g is None:
            visible.append(n)
        elif is_output(n):
            visible.append(n)
            if n.parents:
                groups[n] = g
        else:
            members.setdefault(g, []).append(n)
    visible_set = set(visible)

    edges: Dict[Value, List[Edge]] = {}
    for n in visible:
        if not n.parents:
            continue
        if n in groups:
            edges[n] = _group_edges(n, groups[n], cgroup, visible_set)
        else:
            parts = _row_of(n).partials(n.data, *[p.data for p in n.parents])
            edges[n] = [Edge(p, d, (Factor(n, i),)) for i, (p, d) in enumerate(zip(n.parents, parts))]

    folded = _fold_helpers(edges, visible, root) if fold else set()
    return View(root, order, visible, edges, groups, members, folded)


def _fold_helpers(edges: Dict[Value, List[Edge]], visible: List[Value], root: Value) -> set:
    """Fold every unlabelled helper node used by one consumer into that consumer: the
    consumer's edge to it is replaced by the helper's own input edges, each carrying
    the product of the local derivatives (``edges`` is changed in place). Returns the
    folded nodes."""
    folded = set()
    uses: Dict[Value, int] = {}
    for es in edges.values():
        for e in es:
            uses[e.inp] = uses.get(e.inp, 0) + 1

    def foldable(p):
        return (p in edges and not p.label and p is not root and uses.get(p) == 1)

    # walk from the root down: a consumer splices in its foldable inputs' edges, and
    # (through the stack) their foldable inputs' edges in turn. Products are kept
    # short (MAX_FOLD factors): a long chain of helpers stays a chain of rows.
    for n in reversed(visible):
        if n not in edges or n in folded:
            continue
        out: List[Edge] = []
        stack = list(reversed(edges[n]))
        while stack:
            e = stack.pop()
            if foldable(e.inp) and len(e.factors) + max(
                    (len(i.factors) for i in edges[e.inp]), default=0) <= MAX_FOLD:
                folded.add(e.inp)
                for inner in reversed(edges[e.inp]):
                    stack.append(Edge(inner.inp, e.local * inner.local,
                                      e.factors + inner.factors))
            else:
                out.append(e)
        edges[n] = out
    return folded


def _row_of(node: Value):
    """The primitive row that made ``node``; a clear error when it was unregistered."""
    prim = node.primitive
    if prim is None:
        raise GradientError(f"the primitive {node.op!r} that made {describe(node)} was "
                            f"unregistered: the graph can no longer be shown")
    return prim


def _group_edges(out: Value, group, cgroup, visible_set) -> List[Edge]:
    """The overall local derivatives of a collapsed group's output ``out`` with
    respect to the group's inputs: a backward pass from ``out`` through the group's
    hidden nodes, stopping at nodes outside the group (and at its other outputs)."""
    def inside(n):
        return n is out or (cgroup.get(n) is group and n not in visible_set)

    sub: List[Value] = []
    seen = set()
    stack = [(out, False)]
    while stack:
        n, done = stack.pop()
        if done:
            sub.append(n)
            continue
        if n in seen:
            continue
        seen.add(n)
        stack.append((n, True))
        if inside(n):
            for p in n.parents:
                if p not in seen:
                    stack.append((p, False))
    grads = {out: 1.0}
    paths: Dict[Value, Optional[Tuple[Factor, ...]]] = {out: ()}
    inputs: List[Value] = []
    for n in reversed(sub):
        if not inside(n):
            inputs.append(n)
            continue
        if not n.parents or n not in grads:
            continue
        g = grads[n]
        row = _row_of(n)
        parts = row.partials(n.data, *[p.data for p in n.parents])
        for i, (p, d) in enumerate(zip(n.parents, parts)):
            grads[p] = grads.get(p, 0.0) + contribution(g, d, row.piecewise)
            here = paths.get(n)
            step = None if here is None else here + (Factor(n, i),)
            paths[p] = step if p not in paths else None
    where = {n: i for i, n in enumerate(sub)}
    inputs.sort(key=where.__getitem__)
    return [Edge(p, grads.get(p, 0.0), (Factor(out, 0, group, p, paths.get(p)),))
            for p in inputs]


