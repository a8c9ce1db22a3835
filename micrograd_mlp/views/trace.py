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

from ..core.engine import Value, backward_seed, contribution, to_input_shape

from ..core.graph_walk import topological_order
from ..core.validate import check_choice, check_iterable
from ..core.validate_values import check_value, check_values
from ..errors import DataTypeError, GradientError
from ..functions.composite import COMPOSITES, short_name
from .viewmodel import (
    INDEXED_NAME, PLAIN_NAME, Edge, Factor, Namer, View, build_view, check_view,
    constant_operand, fill_template, format_number, paren,
)
ndarray = np.ndarray

__all__ = ["Step", "Term", "Row", "backward_steps", "traced_gradients", "ledger", "format_table",
           "vectors_of", "format_array", "summary"]

@dataclass
class Term:
    """One input of a backward step: ``contribution = upstream * local`` (0 from a
    mask whose local derivative is 0: see :func:`~micrograd_mlp.core.engine.contribution`).

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


def _add_into(old, share, inp: Value):
    """Add a contribution to an input's gradient so far by the engine's rule (a scalar
    input fed into a batch receives the batch sum)."""
    share = to_input_shape(share, inp.data)
    return share if old is None else old + share


def _factor_text(f: Factor, namer: Namer, latex: bool = False) -> str:
    """A local derivative as text (``"1"`` when it is the constant one)."""
    if f.group is not None:
        if f.path is not None and len(f.path) <= 6:
            return _product([_factor_text(p, namer, latex) for p in f.path], latex)
        short = short_name(f.group.name, latex)
        if short:
            return f"{short}'({namer(f.inp, atom=False)})"
        if latex:
            return (f"\\frac{{\\partial {namer(f.node)}}}{{\\partial {namer(f.inp)}}}")
        return f"d{namer(f.node)}/d{namer(f.inp)}"
    node = f.node
    prim = node.primitive
    constant = constant_operand(node)
    if constant is not None:  # u^c with c a number: 2 * u, 3 * u^2
        text_forms, latex_forms = prim.constant_local(constant)
        templates = latex_forms if latex else text_forms
    else:
        templates = prim.local_latex if latex else prim.local_text
    return fill_template(templates[min(f.index, len(templates) - 1)], node, namer, f.index)


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
    check_value(root, "backward_steps: root")
    if not root.requires_grad:
        raise GradientError("backward_steps(): the root depends on no Value that requires a gradient")
    view = check_view(view, root) or build_view(root, collapse, fold)
    namer = Namer(view.order, view=view)
    grads: Dict[Value, object] = {root: backward_seed(root, grad)}
    index = 0
    for node in reversed(topological_order(root)):
        if not view.is_step(node):
            continue
        upstream = grads.get(node)
        if upstream is None:
            upstream = 0.0 * node.data
        terms = []
        for pos, edge in enumerate(view.edges[node]):
            share = contribution(upstream, edge.local, edge.masked)
            total = None
            if edge.inp.requires_grad:
                grads[edge.inp] = _add_into(grads.get(edge.inp), share, edge.inp)
                total = grads[edge.inp]
            terms.append(Term(edge.inp, pos, _formula(edge), _edge_text(edge, namer),
                              edge.local, share, total))
        index += 1
        yield Step(index, node, namer(node, atom=False), upstream, tuple(terms),
                   view.groups.get(node))


def traced_gradients(root: Value, collapse=False) -> Dict[Value, object]:
    """``{node: d root/d node}`` for every node that needs a gradient, computed by
    replaying the steps (no ``Value.grad`` is changed)."""
    check_value(root, "gradients: root")
    grads: Dict[Value, object] = {root: backward_seed(root)}
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
    rows = [Row(root, root.data, backward_seed(root), ())]
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
        num = [] if is_root else [paren(format_number(part.upstream, digits))]
        sign = ""
        if local != "1":
            if local.startswith("-") and sym and not _compound(local[1:]):
                sign, local = "-", local[1:]  # -dE/dc * u rather than dE/dc * -u
            if local != "1":
                sym.append(f"({local})" if _compound(local) and sym else local)
            num.append(paren(format_number(part.edge.local, digits)))
        symbolic.append(sign + times.join(sym) if sym else "1")
        numeric.append(times.join(num) if num else "1")
    sym_text = symbolic[0] + "".join(f" - {t[1:]}" if t.startswith("-") else f" + {t}"
                                     for t in symbolic[1:])
    num_text = " + ".join(numeric)
    if sym_text == "1":  # d root/d node = 1: nothing to show but the result
        sym_text = num_text = ""
    if num_text == sym_text:  # only constant factors (a + a): "1 + 1" once, not twice
        num_text = ""
    shares = [contribution(part.upstream, part.edge.local, part.edge.masked)
              for part in row.parts]
    if len(shares) > 1 and num_text and not any(hasattr(x, "shape") for x in shares):
        # every sum shown added up: 0.1105 * 0.4 + (-0.0515) * 0.1 = 0.0442 + (-0.0051)
        added = " + ".join(paren(format_number(x, digits)) for x in shares)
        if added != num_text:  # not when every term is one number already
            num_text += " = " + added
    return lhs, sym_text, num_text, format_number(_round_off_to_zero(row.grad, shares), digits)


def _round_off_to_zero(value, shares):
    """0 for a sum that cancels to floating-point round-off (``0.1 + 0.2 - 0.3`` gives
    5.6e-17, not a gradient worth printing); the value itself otherwise."""
    if hasattr(value, "shape") or len(shares) < 2 or any(hasattr(x, "shape") for x in shares):
        return value
    return 0.0 if abs(value) <= 1e-12 * sum(abs(x) for x in shares) else value


def format_table(root: Value, fmt: str = "text", collapse=True, digits: int = 4,
                 rows: Optional[List[Row]] = None) -> str:
    """The ledger of ``root`` as ``"text"`` (one line per gradient:
    ``dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472 = 0.1105``),
    ``"markdown"`` (a table) or ``"latex"`` (an ``align*`` block; needs amsmath)."""
    check_choice(fmt, "format", ("text", "markdown", "latex"))
    if rows is not None:
        rows = check_iterable(rows, "rows")
        if not all(isinstance(r, Row) for r in rows):
            raise DataTypeError("rows must be the Row list that ledger() returns")
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
    nodes = check_values(nodes, "vectors_of: nodes")
    found: Dict[str, Dict[tuple, object]] = {}
    for n in nodes:
        m = INDEXED_NAME.match(n.label or "")
        if m:
            base = m.group(1) + m.group(2)
            idx = tuple(int(i) for i in m.group(3).split(","))
        elif n.label and PLAIN_NAME.match(n.label):
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
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataTypeError(f"format_array needs an array of numbers: {e}") from None
    if a.ndim == 0:
        return format_number(float(a), digits)
    if a.ndim == 1:
        return "(" + ", ".join(format_number(v, digits) for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(format_number(v, digits) for v in r) + "]" for r in a) + "]"


def _leaf_rank(base: str):
    """Sort key for the given numbers: inputs, then each layer's W and b, targets last."""
    m = PLAIN_NAME.match(base)
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
    check_value(root, "summary: root")
    order = topological_order(root, all_nodes=True)
    view = build_view(root, collapse=True)
    grads = traced_gradients(root, collapse=True)
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
        if len(es) == 1 and short_name(group.name):
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
                lines.append(f"  {short_name(name)}'({base}) = {format_array(vec, digits)}")
        lines.append(f"  d{root_name}/d{base} = {format_array(arr, digits)}")
    return "\n".join(lines) + "\n"


