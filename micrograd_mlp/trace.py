"""Step through backpropagation: the chain rule, one node at a time.

For a root ``E`` (a loss), backward computes ``dE/dn`` for every node ``n`` by the
chain rule: when a node ``c`` is reached, its gradient is final, and each input ``p``
of ``c`` receives the contribution::

    dE/dp  +=  dE/dc * dc/dp          (upstream gradient * local derivative)

This module replays that walk *without touching* ``Value.grad`` (it keeps its own
table of gradients) and reports it three ways:

* :func:`backward_steps` -- a generator of :class:`Step` objects, one per non-leaf
  node in the order ``Value.backward()`` visits them: the node, its upstream gradient,
  and per input the local derivative (its formula from the primitives table, its
  value) and the contribution added to that input;
* :func:`ledger` -- one :class:`Row` per node, in the order its gradient becomes
  final, reading like a hand solution:
  ``dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472 = 0.1105``;
* :func:`format_table` -- that ledger as plain text, Markdown or LaTeX.

Two levels of detail. *Expanded* (``collapse=False``) shows every primitive. With
``collapse=True`` each composite group (a sigmoid, a loss) is one step whose local
derivative is the group's overall derivative ``d out/d in`` (computed by a small
backward pass inside the group: the sum over internal paths of the products of local
derivatives), and unlabelled helper nodes used once (the products ``W2[0,j] * x1[j]``
inside a neuron) are folded into their consumer, so the steps are the exercise's
steps: ``dE/dx2, dE/ds2, dE/dW2, dE/db2, dE/dx1 ...``. ``collapse`` may also be a set
of group names (``{"sigmoid"}``) to collapse only those.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .composite import group_path
from .engine import GradientError, Value, topological_order

__all__ = [
    "Step", "Term", "Row", "View", "build_view", "backward_steps", "ledger",
    "format_table", "format_number", "Namer", "vectors_of", "summary",
    "add_cli_arguments", "run_cli",
]

ndarray = np.ndarray

# ---------------------------------------------------------------- numbers


def format_number(x, digits: int = 4, batch_items: int = 3) -> str:
    """``x`` with ``digits`` decimals; a batch shows its first ``batch_items`` entries
    and its size (``[0.1, 0.2, 0.3, ...] (n=100)``)."""
    if x is None:
        return "?"
    if isinstance(x, ndarray):
        if x.ndim == 0:
            return format_number(float(x), digits)
        head = ", ".join(format_number(float(v), digits) for v in x[:batch_items])
        more = ", ..." if x.size > batch_items else ""
        return f"[{head}{more}] (n={x.size})"
    x = float(x)
    if x == 0.0:
        x = 0.0  # no "-0.0000"
    text = f"{x:.{digits}f}"
    if text.lstrip("-").strip("0.") == "" and x != 0.0:
        text = f"{x:.{digits}g}"  # 1e-09 rather than 0.0000
    if text.startswith("-") and text.lstrip("-").strip("0.") == "":
        text = text[1:]
    return text


def _paren(text: str) -> str:
    """Parenthesise a negative number inside a product: ``0.4 * (-0.1)``."""
    return f"({text})" if text.startswith("-") else text


# ---------------------------------------------------------------- names


_INDEXED = re.compile(r"^([A-Za-z_]+?)(\d*)\[([0-9, ]+)\]$")
_PLAIN = re.compile(r"^([A-Za-z]+?)(\d*)$")

# Text and LaTeX templates of each primitive, in its inputs' names {u}, {v}, {c}.
_EXPR_TEXT = {
    "add": "{u} + {v}", "sub": "{u} - {v}", "mul": "{u} * {v}", "div": "{u} / {v}",
    "neg": "-{u}", "powc": "{u}^{v}", "pow": "{u}^{v}", "exp": "exp({u})",
    "log": "ln({u})", "log1p": "ln(1 + {u})", "expm1": "exp({u}) - 1",
    "tanh": "tanh({u})", "relu": "relu({u})", "abs": "|{u}|", "erf": "erf({u})",
    "where": "where({c} > 0, {u}, {v})", "bsum": "sum_n {u}",
}
_EXPR_LATEX = {
    "add": "{u} + {v}", "sub": "{u} - {v}", "mul": "{u} \\cdot {v}",
    "div": "\\frac{{{u}}}{{{v}}}", "neg": "-{u}", "powc": "{u}^{{{v}}}",
    "pow": "{u}^{{{v}}}", "exp": "e^{{{u}}}", "log": "\\ln {u}",
    "log1p": "\\ln(1 + {u})", "expm1": "e^{{{u}}} - 1", "tanh": "\\tanh {u}",
    "relu": "\\operatorname{{relu}}({u})", "abs": "\\lvert {u} \\rvert",
    "erf": "\\operatorname{{erf}}({u})",
    "where": "\\operatorname{{where}}({c} > 0, {u}, {v})", "bsum": "\\sum_n {u}",
}
# Local derivatives d out/d input_i, one template per input ("1" means: leave out).
_LOCAL_TEXT = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{v}", "{u}"),
    "div": ("1/{v}", "-{u}/{v}^2"), "neg": ("-1",), "powc": ("{v} * {u}^{w}", "0"),
    "pow": ("{v} * {u}^({v} - 1)", "{u}^{v} * ln({u})"), "exp": ("exp({u})",),
    "log": ("1/{u}",), "log1p": ("1/(1 + {u})",), "expm1": ("exp({u})",),
    "tanh": ("1 - tanh({u})^2",), "relu": ("[{u} > 0]",), "abs": ("sign({u})",),
    "erf": ("2/sqrt(pi) * exp(-{u}^2)",), "where": ("0", "[{c} > 0]", "[{c} <= 0]"),
    "bsum": ("1",),
}
_LOCAL_LATEX = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{v}", "{u}"),
    "div": ("\\frac{{1}}{{{v}}}", "-\\frac{{{u}}}{{{v}^2}}"), "neg": ("-1",),
    "powc": ("{v} \\cdot {u}^{{{w}}}", "0"),
    "pow": ("{v} \\cdot {u}^{{{v} - 1}}", "{u}^{{{v}}} \\ln {u}"), "exp": ("e^{{{u}}}",),
    "log": ("\\frac{{1}}{{{u}}}",), "log1p": ("\\frac{{1}}{{1 + {u}}}",),
    "expm1": ("e^{{{u}}}",), "tanh": ("1 - \\tanh^2 {u}",), "relu": ("[{u} > 0]",),
    "abs": ("\\operatorname{{sign}}({u})",),
    "erf": ("\\tfrac{{2}}{{\\sqrt{{\\pi}}}} e^{{-{u}^2}}",),
    "where": ("0", "[{c} > 0]", "[{c} \\le 0]"), "bsum": ("1",),
}
# How a collapsed one-input composite writes its derivative: sigma'(s2[0]).
_SHORT = {"sigmoid": ("sigma", "\\sigma"), "tanh": ("tanh", "\\tanh"),
          "relu": ("ReLU", "\\mathrm{ReLU}"), "identity": ("id", "\\mathrm{id}")}
_GREEK = {"sigma", "alpha", "beta", "gamma", "delta", "lambda", "mu", "theta", "eta"}


def _latex_label(label: str) -> str:
    """``W1[1,0]`` -> ``W^{(1)}_{1,0}``, ``x0[1]`` -> ``x^{(0)}_{1}``, ``yhat`` ->
    ``\\hat{y}``; anything else in ``\\mathrm{}`` with special characters escaped."""
    m = _INDEXED.match(label)
    if m:
        base, layer, idx = m.groups()
        sup = f"^{{({layer})}}" if layer else ""
        return f"{_latex_base(base)}{sup}_{{{idx.replace(' ', '')}}}"
    m = _PLAIN.match(label)
    if m:
        base, layer = m.groups()
        return f"{_latex_base(base)}^{{({layer})}}" if layer else _latex_base(base)
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


_PREC = {"add": 1, "sub": 1, "sum": 1, "mul": 2, "div": 2, "neg": 3, "powc": 4, "pow": 4}
# the precedence each input of an op needs to go without parentheses
_NEEDS = {"add": (1, 1), "sum": (1, 1), "sub": (1, 2), "mul": (2, 3), "div": (2, 3),
          "neg": (4,), "powc": (5, 5), "pow": (5, 5)}


class Namer:
    """Names nodes in traces, as text (``fmt="text"``) or LaTeX (``fmt="latex"``):
    a labelled node by its label, a constant by its value, the output of a collapsed
    group by the group (``sigmoid(x)``), an unlabelled intermediate by its expression
    (``y - yhat``) while that stays short, else ``t1, t2, ...`` numbered in forward
    order. ``view`` (a :class:`View`) tells which nodes are collapsed outputs."""

    def __init__(self, order: Sequence[Value], fmt: str = "text", max_len: int = 28,
                 digits: int = 4, view: Optional["View"] = None):
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
        return f"({text})" if atom and prec < 5 else text

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
            return (_latex_label(node.label) if latex else node.label), 5
        if not node.parents:
            if isinstance(node.data, ndarray):
                return ("\\mathrm{const}" if latex else "const"), 5
            text = _number(node.data)
            return text, (3 if text.startswith("-") else 5)
        number = self._numbers.get(id(node), 0)
        fallback = (f"t_{{{number}}}" if latex else f"t{number}"), 5
        if self._depth > 6:
            return fallback  # a long chain of unnamed nodes: no deep recursion
        self._depth += 1
        try:
            text = self._expression(node, latex)
        finally:
            self._depth -= 1
        if text is None or len(_strip_latex(text) if latex else text) > self.max_len:
            return fallback
        return text, _PREC.get(node.op, 5) if node not in self.groups else 5

    def _expression(self, node: Value, latex: bool) -> Optional[str]:
        group = self.groups.get(node)
        if group is not None:
            short = _SHORT.get(group.name)
            fname = short[1 if latex else 0] if short else group.name
            edges = self.view.edges.get(node, [])
            ins = [e.inp for e in edges if e.inp.requires_grad] or [e.inp for e in edges]
            return f"{fname}(" + ", ".join(self(p, atom=False) for p in _unique(ins)) + ")"
        templates = _EXPR_LATEX if latex else _EXPR_TEXT
        needs = _NEEDS.get(node.op)
        if node.op == "sum":
            return " + ".join(self._child(p, 1) for p in node.parents)
        if node.op not in templates:
            return None
        if needs is None:  # a function call: its argument needs no parentheses
            names = [self(p, atom=False) for p in node.parents]
        else:
            names = [self._child(p, needs[min(i, len(needs) - 1)])
                     for i, p in enumerate(node.parents)]
        keys = ("c", "u", "v") if len(names) == 3 else ("u", "v")
        return templates[node.op].format(**dict(zip(keys, names)))


def _unique(nodes):
    seen, out = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def _strip_latex(text: str) -> str:
    return re.sub(r"\\[a-zA-Z]+|[{}^_]", "", text)


def _number(x: float) -> str:
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


def _fill(template: str, parents: Sequence[Value], namer, extra: Optional[dict] = None) -> str:
    """Put the parents' names into a template: ``{u}, {v}`` (``{c}, {u}, {v}`` for a
    three-input op)."""
    names = [namer(p) for p in parents]
    keys = ("c", "u", "v") if len(parents) == 3 else ("u", "v")
    fields = dict(zip(keys, names))
    fields.update(extra or {})
    return _tidy(template.format(**fields))


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


def build_view(root: Value, collapse=False, fold: Optional[bool] = None) -> View:
    """The :class:`View` of the graph below ``root``.

    ``collapse``: False (every primitive), True (every composite group, e.g. sigmoid
    and the loss, becomes one node) or a set of group names/titles (``{"sigmoid",
    "neuron"}``). ``fold`` (default: on when collapsing) merges an unlabelled helper
    node that has one consumer into that consumer, multiplying the local derivatives.
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value as the root, not {type(root).__name__}")
    if collapse and not isinstance(collapse, bool):
        collapse = {collapse} if isinstance(collapse, str) else set(collapse)
    if fold is None:
        fold = bool(collapse)
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
            parts = n.primitive.partials(n.data, *[p.data for p in n.parents])
            edges[n] = [Edge(p, d, (Factor(n, i),)) for i, (p, d) in enumerate(zip(n.parents, parts))]

    folded = set()
    if fold:
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
    return View(root, order, visible, edges, groups, members, folded)


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
        parts = n.primitive.partials(n.data, *[p.data for p in n.parents])
        for i, (p, d) in enumerate(zip(n.parents, parts)):
            grads[p] = grads.get(p, 0.0) + g * d
            here = paths.get(n)
            step = None if here is None else here + (Factor(n, i),)
            paths[p] = step if p not in paths else None
    where = {n: i for i, n in enumerate(sub)}
    inputs.sort(key=where.__getitem__)
    return [Edge(p, grads.get(p, 0.0), (Factor(out, 0, group, p, paths.get(p)),))
            for p in inputs]


# ---------------------------------------------------------------- steps


@dataclass
class Term:
    """One input of a backward step: ``contribution = upstream * local``.

    ``formula`` is the primitive's local-derivative rule from the primitives table
    (``d tanh(u)/du = 1 - tanh(u)^2``) or, for a collapsed group, its overall
    derivative; ``expr`` the same in this graph's names; ``total`` the input's
    gradient after this contribution (None for a constant, which gets none)."""

    inp: Value
    position: int
    formula: str
    expr: str
    local: object
    contribution: object
    total: object


@dataclass
class Step:
    """One node of the backward walk: the ``node`` (and its ``name``), its final
    gradient ``upstream`` = dE/dnode, and one :class:`Term` per input."""

    index: int
    node: Value
    name: str
    upstream: object
    terms: Tuple[Term, ...]
    group: object = None


def _seed(root: Value, grad):
    if grad is not None:
        return grad
    return np.ones_like(root.data) if isinstance(root.data, ndarray) else 1.0


def _add_into(old, contribution, inp: Value):
    """The engine's accumulation rule: a scalar input fed into a batch receives the
    batch sum of its contributions."""
    if isinstance(contribution, ndarray) and not isinstance(inp.data, ndarray):
        contribution = float(np.sum(contribution))
    return contribution if old is None else old + contribution


def _factor_text(f: Factor, namer: Namer, latex: bool = False) -> str:
    """A local derivative as text (``"1"`` when it is the constant one)."""
    if f.group is not None:
        if f.path is not None and len(f.path) <= 6:
            return _product([_factor_text(p, namer, latex) for p in f.path], latex)
        short = _SHORT.get(f.group.name)
        if short is not None:
            return f"{short[1 if latex else 0]}'({namer(f.inp, atom=False)})"
        if latex:
            return (f"\\frac{{\\partial {namer(f.node)}}}{{\\partial {namer(f.inp)}}}")
        return f"d{namer(f.node)}/d{namer(f.inp)}"
    node = f.node
    templates = _LOCAL_LATEX if latex else _LOCAL_TEXT
    if node.op in ("sum", "bsum"):
        return "1"
    if node.op == "max":
        return "[max]" if not latex else "[\\max]"
    if node.op == "powc":
        c = node.parents[1].data
        if isinstance(c, ndarray):
            return node.primitive.dexprs[f.index]
        if f.index == 1:
            return "0"
        if c == 2.0:
            return f"2 * {namer(node.parents[0])}" if not latex else f"2 {namer(node.parents[0])}"
        base = _fill(templates["powc"][0], node.parents, namer, {"w": _number(c - 1.0)})
        return base
    if node.op in templates:
        return _fill(templates[node.op][f.index], node.parents, namer)
    return node.primitive.dexprs[min(f.index, len(node.primitive.dexprs) - 1)]


def _product(texts: List[str], latex: bool = False) -> str:
    """Multiply factor texts, leaving out ones and turning ``-1`` into a sign."""
    sign = 1
    kept = []
    for t in texts:
        if t == "1":
            continue
        if t == "-1":
            sign = -sign
            continue
        if t.startswith("-") and not _compound(t[1:]):
            sign = -sign
            t = t[1:]
        kept.append(t)
    if not kept:
        return "-1" if sign < 0 else "1"
    joiner = " \\cdot " if latex else " * "
    body = joiner.join(f"({t})" if _compound(t) and len(kept) > 1 else t for t in kept)
    return f"-{body}" if sign < 0 else body


def _compound(text: str) -> bool:
    """True when ``text`` has a ``+`` or ``-`` outside parentheses (so it needs them
    inside a product)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif depth == 0 and ch in "+-" and 0 < i < len(text) - 1 and text[i - 1] == " ":
            return True
    return False


def _edge_text(edge: Edge, namer: Namer, latex: bool = False) -> str:
    return _product([_factor_text(f, namer, latex) for f in edge.factors], latex)


def _formula(edge: Edge) -> str:
    """The table's formula for the first factor of an edge."""
    f = edge.factors[0]
    if f.group is not None:
        from .composite import COMPOSITES
        info = COMPOSITES.get(f.group.name)
        rule = info.derivative if info is not None and info.derivative else "d out/d in"
        return f"{f.group.title}: {rule}"
    return f.node.primitive.formula(f.index)


def backward_steps(root: Value, grad=None, collapse=False, fold: Optional[bool] = None,
                   view: Optional[View] = None) -> Iterator[Step]:
    """Yield one :class:`Step` per non-leaf node, in the order ``root.backward()``
    visits them (reverse topological order), with the same rules, but without
    changing any ``Value.grad``.

    Each step gives the node's gradient ``upstream = d root/d node`` (final when the
    node is reached) and, for every input, the local derivative (value and formula)
    and the contribution ``upstream * local`` added to that input's gradient.
    ``collapse``/``fold`` as in :func:`build_view` (default: every primitive)."""
    if not root.requires_grad:
        raise GradientError("backward_steps(): the root depends on no Value that requires a gradient")
    view = view or build_view(root, collapse, fold)
    namer = Namer(view.order, view=view)
    grads: Dict[Value, object] = {root: _seed(root, grad)}
    index = 0
    for node in reversed(topological_order(root)):
        if not view.is_step(node):
            continue
        upstream = grads.get(node)
        if upstream is None:
            upstream = 0.0 * node.data
        terms = []
        for pos, edge in enumerate(view.edges[node]):
            contribution = upstream * edge.local
            total = None
            if edge.inp.requires_grad:
                grads[edge.inp] = _add_into(grads.get(edge.inp), contribution, edge.inp)
                total = grads[edge.inp]
            terms.append(Term(edge.inp, pos, _formula(edge), _edge_text(edge, namer),
                              edge.local, contribution, total))
        index += 1
        yield Step(index, node, namer(node, atom=False), upstream, tuple(terms),
                   view.groups.get(node))


def gradients(root: Value, collapse=False) -> Dict[Value, object]:
    """``{node: d root/d node}`` for every node that needs a gradient, computed by
    replaying the steps (no ``Value.grad`` is changed)."""
    grads: Dict[Value, object] = {root: _seed(root, None)}
    for step in backward_steps(root, collapse=collapse):
        for t in step.terms:
            if t.total is not None:
                grads[t.inp] = t.total
    return grads


# ---------------------------------------------------------------- the ledger


@dataclass
class Contribution:
    """One consumer's share of a row: ``d root/d consumer * local``."""

    consumer: Value
    upstream: object
    edge: Edge


@dataclass
class Row:
    """One line of the hand solution: the ``node``, its forward ``value``, its
    gradient ``grad`` and the contributions it was summed from (empty for the root)."""

    node: Value
    value: object
    grad: object
    parts: Tuple[Contribution, ...]


def ledger(root: Value, collapse=True, fold: Optional[bool] = None) -> List[Row]:
    """The chain-rule ledger: one :class:`Row` per node that needs a gradient, in
    the order its gradient becomes final (the root first, then the nodes as backward
    reaches them, each leaf right after its last consumer)."""
    view = build_view(root, collapse, fold)
    remaining: Dict[Value, int] = {}
    for node, es in view.edges.items():
        if node in view.folded:
            continue
        for e in es:
            remaining[e.inp] = remaining.get(e.inp, 0) + 1
    parts: Dict[Value, List[Contribution]] = {}
    rows = [Row(root, root.data, _seed(root, None), ())]
    for step in backward_steps(root, collapse=collapse, fold=fold, view=view):
        if step.node is not root:
            rows.append(Row(step.node, step.node.data, step.upstream,
                            tuple(parts.get(step.node, ()))))
        for edge, term in zip(view.edges[step.node], step.terms):
            remaining[edge.inp] -= 1
            if term.total is None:
                continue
            parts.setdefault(edge.inp, []).append(Contribution(step.node, step.upstream, edge))
            if remaining[edge.inp] == 0 and not view.is_step(edge.inp):
                rows.append(Row(edge.inp, edge.inp.data, term.total, tuple(parts[edge.inp])))
    return rows


def _row_strings(row: Row, root_name: str, namer: Namer, digits: int, latex: bool):
    """(left side, chain rule, numbers, result) of one row."""
    name = namer(row.node) if row.node.parents and not row.node.label else namer(row.node, atom=False)
    if latex:
        lhs = f"\\frac{{\\partial {root_name}}}{{\\partial {namer(row.node)}}}"
    else:
        lhs = f"d{root_name}/d{name}"
    if not row.parts:
        return lhs, "", "", format_number(row.grad, digits)
    symbolic, numeric = [], []
    for part in row.parts:
        local = _edge_text(part.edge, namer, latex)
        is_root = part.consumer is namer.root
        if latex:
            up = f"\\frac{{\\partial {root_name}}}{{\\partial {namer(part.consumer)}}}"
            times = " \\cdot "
        else:
            up = f"d{root_name}/d{namer(part.consumer)}"
            times = " * "
        sym = [] if is_root else [up]
        num = [] if is_root else [_paren(format_number(part.upstream, digits))]
        sign = ""
        if local != "1":
            if local.startswith("-") and sym and not _compound(local[1:]):
                sign, local = "-", local[1:]  # -dE/dc * u rather than dE/dc * -u
            if local != "1":
                sym.append(f"({local})" if _compound(local) and sym else local)
            num.append(_paren(format_number(part.edge.local, digits)))
        symbolic.append(sign + times.join(sym) if sym else "1")
        numeric.append(times.join(num) if num else "1")
    sym_text = symbolic[0] + "".join(f" - {t[1:]}" if t.startswith("-") else f" + {t}"
                                     for t in symbolic[1:])
    num_text = " + ".join(numeric)
    if sym_text == "1":  # d root/d node = 1: nothing to show but the result
        sym_text = num_text = ""
    return lhs, sym_text, num_text, format_number(row.grad, digits)


def format_table(root: Value, fmt: str = "text", collapse=True, digits: int = 4,
                 rows: Optional[List[Row]] = None) -> str:
    """The ledger of ``root`` as ``"text"`` (one line per gradient:
    ``dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472 = 0.1105``),
    ``"markdown"`` (a table) or ``"latex"`` (an ``align*`` block; needs amsmath)."""
    if fmt not in ("text", "markdown", "latex"):
        raise ValueError(f"unknown format {fmt!r}; expected 'text', 'markdown' or 'latex'")
    rows = rows if rows is not None else ledger(root, collapse)
    view = build_view(root, collapse)
    latex = fmt == "latex"
    namer = Namer(view.order, "latex" if latex else "text", view=view)
    namer.root = root
    root_name = namer(root)
    lines = []
    if fmt == "markdown":
        lines.append("| # | gradient | chain rule | numbers | value |")
        lines.append("|---:|---|---|---|---:|")
    elif latex:
        lines.append("% chain-rule ledger (needs \\usepackage{amsmath})")
        lines.append("\\begin{align*}")
    for i, row in enumerate(rows, 1):
        lhs, sym, num, res = _row_strings(row, root_name, namer, digits, latex)
        if fmt == "text":
            parts = [lhs] + [p for p in (sym, num) if p and p.strip("()") != res] + [res]
            lines.append(" = ".join(parts))
        elif fmt == "markdown":
            cells = [str(i), lhs, sym, num, res]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        else:
            rhs = " &= " + " = ".join([p for p in (sym, num) if p and p.strip("()") != res] + [res])
            lines.append(f"{lhs}{rhs} \\\\")
    if latex:
        if lines[-1].endswith(" \\\\"):
            lines[-1] = lines[-1][:-3]
        lines.append("\\end{align*}")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    text = text.replace("|", "\\|")
    # names and formulas as code (so [i,j] and * are not read as Markdown); numbers plain
    return f"`{text}`" if re.search(r"[A-Za-z]", text) and "(n=" not in text else text


# ---------------------------------------------------------------- vector summaries


def vectors_of(nodes: Sequence[Value], what: str = "data") -> Dict[str, np.ndarray]:
    """Gather labelled nodes ``s1[0], s1[1], ...`` into arrays ``{"s1": array}``
    (``W1[i,j]`` into matrices), in order of first appearance; ``what`` is ``"data"``
    or a dict ``{node: value}`` (e.g. gradients). Batched values are left out."""
    found: Dict[str, Dict[tuple, object]] = {}
    for n in nodes:
        m = _INDEXED.match(n.label or "")
        if m:
            base = m.group(1) + m.group(2)
            idx = tuple(int(i) for i in m.group(3).split(","))
        elif n.label and _PLAIN.match(n.label):
            base, idx = n.label, ()
        else:
            continue
        value = n.data if what == "data" else what.get(n) if isinstance(what, dict) else None
        if value is None or isinstance(value, ndarray):
            continue  # batched nodes have no single number to list
        found.setdefault(base, {})[idx] = value
    out = {}
    for base, entries in found.items():
        if () in entries:
            out[base] = np.asarray(entries[()], dtype=float)
            continue
        shape = tuple(max(k[d] for k in entries) + 1 for d in range(len(next(iter(entries)))))
        arr = np.full(shape, np.nan)
        for k, v in entries.items():
            arr[k] = v
        out[base] = arr
    return out


def format_array(a: np.ndarray, digits: int = 7) -> str:
    """``(0.1, 0.2)`` for a vector, ``[[...], [...]]`` for a matrix."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return format_number(float(a), digits)
    if a.ndim == 1:
        return "(" + ", ".join(format_number(v, digits) for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(format_number(v, digits) for v in r) + "]" for r in a) + "]"


def _leaf_rank(base: str):
    """Sort key for the given numbers: inputs, then each layer's W and b, targets last."""
    m = _PLAIN.match(base)
    letters, layer = (m.group(1), m.group(2)) if m else (base, "")
    kind = {"x": 0, "W": 1, "w": 1, "b": 2, "y": 9}.get(letters, 5)
    if kind in (1, 2) and not layer:
        kind = 5  # a plain "b" in an expression is just a name
    return (kind == 9, int(layer) if layer else 0, kind, base)


def summary(root: Value, digits: int = 7) -> str:
    """Forward values and gradients as vectors, the way a student writes them:
    the given numbers (``x0, W1, b1, ...``), the forward values (``s1 = (...)``, ...,
    ``E``), then backward ``dE/dx2 = (...)``, ``sigma'(s2) = (...)``, ``dE/ds2``,
    ``dE/dW2 = [[...]]`` ... Only labelled nodes appear (labels like ``s1[0]`` are
    gathered into vectors, ``W1[i,j]`` into matrices)."""
    order = topological_order(root, all_nodes=True)
    view = build_view(root, collapse=True)
    grads = gradients(root, collapse=True)
    root_name = root.label or "f"
    leaves = vectors_of([n for n in order if not n.parents])
    computed = vectors_of([n for n in order if n.parents])
    lines = ["Given"]
    for base in sorted(leaves, key=_leaf_rank):
        lines.append(f"  {base} = {format_array(leaves[base], digits)}")
    lines.append("Forward pass")
    for base, arr in computed.items():
        lines.append(f"  {base} = {format_array(arr, digits)}")
    lines.append("Backward pass")
    # the overall derivatives of one-input composites, e.g. sigma'(s2)
    local_vectors: Dict[str, Dict[str, np.ndarray]] = {}
    for node, group in view.groups.items():
        es = view.edges.get(node, [])
        if len(es) == 1 and group.name in _SHORT:
            table = {es[0].inp: es[0].local}
            for base, vec in vectors_of([es[0].inp], table).items():
                local_vectors.setdefault(base, {})[group.name] = None
    for base in local_vectors:
        for name in local_vectors[base]:
            ins = {e.inp: e.local for n, g in view.groups.items() if g.name == name
                   for e in view.edges.get(n, [])[:1] if len(view.edges.get(n, [])) == 1}
            local_vectors[base][name] = vectors_of(list(ins), ins).get(base)
    backward = list(reversed([n for n in order if n in grads]))
    for base, arr in vectors_of(backward, grads).items():
        if base == root_name:
            continue
        for name, vec in local_vectors.get(base, {}).items():
            if vec is not None:
                lines.append(f"  {_SHORT[name][0]}'({base}) = {format_array(vec, digits)}")
        lines.append(f"  d{root_name}/d{base} = {format_array(arr, digits)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- command line


def add_cli_arguments(parser) -> None:
    """Add the ``trace`` subcommand's arguments to ``parser``."""
    from .trace_cli import add_arguments
    add_arguments(parser)


def run_cli(args) -> int:
    """Run ``micrograd-mlp trace ...``; returns the exit code."""
    from .trace_cli import run
    return run(args)
