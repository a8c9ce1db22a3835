"""The numbers of a graph a student can check, by the names the ledger prints, and a
replay of the graph's backward pass with some numbers replaced (to test a slip).

:func:`catalog` lists them: forward values (``s1[0]``, ``E``), gradients
(``dE/dW2[0,1]``), local derivatives of one-input activations (``sigma'(s2[0])``), and
the vectors and matrices they form (``dE/dW2``).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..core.engine import Value
from ..errors import TraceInputError
from .answers import canonical_name
from ..views.trace import ledger
from ..functions.composite import COMPOSITES, short_name
from ..views.viewmodel import INDEXED_NAME, Namer, build_view

__all__ = ["Quantity", "Catalog", "catalog", "entry_of"]


def entry_of(group):
    """The registry entry (:class:`~micrograd_mlp.functions.composite.Composite`) of a
    collapsed group, or None for a group that is not a registered composite."""
    return COMPOSITES.get(group.name) if group is not None else None


def _number(fn, *args) -> float:
    """``fn(*args)`` as a float; NaN where a student's number leaves its domain."""
    try:
        out = fn(*args)
        return float(out)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError, ArithmeticError):
        return math.nan


@dataclass
class Quantity:
    """One number a student can give: its ``name``, ``kind`` (``"forward"``,
    ``"gradient"`` or ``"local"``), ``node``, true ``value``, ``rank`` (its place
    in backward order; forward values come after every gradient) and ``inner``, the
    node label the name is built on (``s2[0]`` in ``sigma'(s2[0])``)."""

    name: str
    kind: str
    node: Value
    value: float
    rank: float
    inner: str = ""  # the indexed label inside the name (s2[0] in sigma'(s2[0]))


@dataclass
class Vector:
    name: str
    keys: np.ndarray  # object array of scalar keys, in the vector's shape


class Catalog:
    """Every checkable quantity of a graph, by canonical name, and a replay of its
    backward pass under a slip."""

    def __init__(self, root: Value):
        if not isinstance(root, Value):
            raise TraceInputError(f"check() needs the root Value of a graph, not {type(root).__name__}")
        self.root = root
        self.view = build_view(root, collapse=True)
        if any(isinstance(n.data, np.ndarray) for n in self.view.order):
            raise TraceInputError("check() works on graphs of single numbers, not batches")
        self.rows = ledger(root, collapse=True)
        namer = Namer(self.view.order, view=self.view)
        namer.root = root
        self.namer = namer
        self.root_name = namer(root)
        self.scalars: Dict[str, Quantity] = {}
        self.grad_key: Dict[Value, str] = {}
        self.local_key: Dict[Value, str] = {}
        self.value_key: Dict[Value, str] = {}
        self.rank_of_node: Dict[Value, int] = {}
        for rank, row in enumerate(self.rows):
            if isinstance(row.grad, np.ndarray):
                continue
            self.rank_of_node[row.node] = rank
            self._add(f"d{self.root_name}/d{self.name_of(row.node)}", "gradient", row.node,
                      float(row.grad), rank, self.grad_key, row.node.label)
        for node, group in self.view.groups.items():
            edges = self.view.edges.get(node, [])
            short = short_name(group.name)
            if len(edges) == 1 and short and node in self.rank_of_node:
                self._add(f"{short}'({self.name_of(edges[0].inp)})", "local", node,
                          float(edges[0].local), self.rank_of_node[node] + 0.5, self.local_key,
                          edges[0].inp.label)
        for i, node in enumerate(self.view.order):
            if (node.label or node is root) and not isinstance(node.data, np.ndarray):
                key = canonical_name(self.name_of(node))
                if key not in self.scalars:
                    self._add(self.name_of(node), "forward", node, float(node.data), 1e6 + i,
                              self.value_key, node.label)
        self.vectors = self._vectors()
        self._lower: Optional[Dict[str, str]] = None

    def name_of(self, node: Value) -> str:
        """The node's name as the ledger prints it."""
        return self.namer(node, atom=bool(node.parents and not node.label))

    def _add(self, name, kind, node, value, rank, index, inner=""):
        key = canonical_name(name)
        self.scalars[key] = Quantity(name, kind, node, value, rank, inner or "")
        index[node] = key

    def _vectors(self) -> Dict[str, Vector]:
        """``dE/dW2`` -> the keys of ``dE/dW2[i,j]`` as a matrix (complete ones only)."""
        found: Dict[Tuple[str, str], Dict[tuple, str]] = {}
        for key, q in self.scalars.items():
            m = INDEXED_NAME.match(q.inner)
            if not m or q.inner not in q.name:
                continue
            template = q.name.replace("{", "{{").replace("}", "}}").replace(q.inner, "{}", 1)
            idx = tuple(int(i) for i in m.group(3).split(","))
            found.setdefault((template, m.group(1) + m.group(2)), {})[idx] = key
        out = {}
        for (template, base), entries in found.items():
            dims = {len(k) for k in entries}
            if len(dims) != 1:
                continue
            shape = tuple(max(k[d] for k in entries) + 1 for d in range(dims.pop()))
            if len(entries) != int(np.prod(shape)):
                continue
            keys = np.empty(shape, dtype=object)
            for idx, key in entries.items():
                keys[idx] = key
            name = template.format(base)
            out[canonical_name(name)] = Vector(name, keys)
        return out

    def names(self) -> List[str]:
        """Every name that can be answered (vectors first)."""
        return [v.name for v in self.vectors.values()] + [q.name for q in self.scalars.values()]

    def lowercase_names(self) -> Dict[str, str]:
        """``{canonical name in lower case: name}`` for suggestions (computed once)."""
        if self._lower is None:
            self._lower = {canonical_name(n).lower(): n for n in reversed(self.names())}
        return self._lower

    # ------------------------------------------------------------ replay under a slip

    def replay(self, grads_given: Optional[Dict[Value, float]] = None,
               values_given: Optional[Dict[Value, float]] = None,
               locals_given: Optional[Dict[Value, float]] = None,
               local_rule: Optional[Callable] = None, keep: str = "sum",
               kink: bool = False) -> Dict[str, float]:
        """Every quantity's value when backward runs with some numbers replaced:
        ``grads_given[n]`` as dE/dn, ``values_given[n]`` as n's forward value in the
        local derivatives, ``locals_given[n]`` as the local derivative of activation
        node n, and ``local_rule(node, edge)`` (a number or None) for activation edges.
        ``keep``: ``"sum"`` adds the gradient shares of a value used more than once (the
        chain rule); ``"first"`` or ``"last"`` keeps one share only (the slip of a
        gradient overwritten instead of accumulated). ``kink=True``: a one-input
        primitive whose input is exactly 0 takes its derivative from the right (the slip
        ``ReLU'(0) = 1``)."""
        grads_given, values_given = grads_given or {}, values_given or {}
        locals_given = locals_given or {}
        fwd = lambda n: values_given.get(n, n.data)  # noqa: E731
        out = {key: q.value for key, q in self.scalars.items() if q.kind == "forward"}
        out.update({self.scalars_key(n): v for n, v in values_given.items()
                    if self.scalars_key(n)})
        grads: Dict[Value, float] = {self.root: 1.0}
        for node in reversed(self.view.order):
            if not self.view.is_step(node):
                continue
            up = grads_given.get(node, grads.get(node, 0.0))
            for edge in self.view.edges[node]:
                if node in self.local_key:
                    local = local_rule(node, edge) if local_rule else None
                    if local is None:
                        local = locals_given.get(node)
                    if local is None:
                        local = self._activation_local(node, edge, fwd)
                    out[self.local_key[node]] = local
                else:
                    local = self._edge_local(edge, fwd, kink)
                if edge.inp.requires_grad:
                    share = up * local
                    if keep == "sum" or edge.inp not in grads:
                        grads[edge.inp] = grads.get(edge.inp, 0.0) + share
                    elif keep == "last":
                        grads[edge.inp] = share
        for node, key in self.grad_key.items():
            out[key] = grads_given.get(node, grads.get(node, 0.0)) if node is not self.root else 1.0
        return out

    def scalars_key(self, node: Value) -> Optional[str]:
        """The key of a node's forward value, if it is a checkable quantity."""
        key = canonical_name(self.name_of(node))
        q = self.scalars.get(key)
        return key if q is not None and q.node is node else None

    def _activation_local(self, node, edge, fwd) -> float:
        """An activation's local derivative at the (possibly replaced) forward values:
        through its output when the registry declares that form (``x (1 - x)``, as a
        student writes it), else the registered closed form at the input."""
        entry = entry_of(self.view.groups[node])
        if entry is None or (fwd(edge.inp) is edge.inp.data and fwd(node) is node.data):
            return float(edge.local)
        if entry.output_derivative_fn is not None:
            return _number(entry.output_derivative_fn, fwd(node))
        if entry.df is not None:
            return _number(entry.df, fwd(edge.inp))
        return float(edge.local)

    def _edge_local(self, edge, fwd, kink: bool = False) -> float:
        """The product of an edge's local derivatives at the forward values ``fwd``
        (each primitive's partial from its row; a collapsed group's by a small backward
        pass through its members). ``kink``: a one-input primitive at exactly 0 is
        differentiated just right of 0."""
        local = 1.0
        for f in edge.factors:
            if f.group is not None:
                local *= self._group_local(f.node, f.inp, fwd)
                continue
            node = f.node
            ins = [fwd(p) for p in node.parents]
            if kink and len(ins) == 1 and ins[0] == 0.0:
                right = 1e-9
                local *= float(node.primitive.partials(node.primitive.forward(right), right)[0])
                continue
            parts = node.primitive.partials(fwd(node), *ins)
            local *= float(parts[f.index])
        return float(local)

    def _group_local(self, out: Value, inp: Value, fwd) -> float:
        """``d out / d inp`` through the collapsed group of ``out``, at the forward
        values ``fwd`` (the group's hidden nodes recomputed from its inputs)."""
        group = self.view.groups.get(out)
        inside = set(self.view.members.get(group, ())) | {out}
        grads = {out: 1.0}
        for n in reversed(self.view.order):
            if n not in inside or n not in grads or not n.parents:
                continue
            try:
                parts = n.primitive.partials(fwd(n), *[fwd(p) for p in n.parents])
            except (ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
                return math.nan
            for p, d in zip(n.parents, parts):
                grads[p] = grads.get(p, 0.0) + grads[n] * float(d)
        return float(grads.get(inp, 0.0))

    def shares(self) -> Dict[Value, List[float]]:
        """Each node's gradient shares, one per use (``dE/dx1[0]`` gets
        ``W2[0,0] dE/ds2[0]`` and ``W2[1,0] dE/ds2[1]``), in the order backward adds them."""
        out: Dict[Value, List[float]] = {}
        grads: Dict[Value, float] = {self.root: 1.0}
        fwd = lambda n: n.data  # noqa: E731
        for node in reversed(self.view.order):
            if not self.view.is_step(node):
                continue
            up = grads.get(node, 0.0)
            for edge in self.view.edges[node]:
                local = float(edge.local) if node in self.local_key else self._edge_local(edge, fwd)
                if edge.inp.requires_grad:
                    out.setdefault(edge.inp, []).append(up * local)
                    grads[edge.inp] = grads.get(edge.inp, 0.0) + up * local
        return out

    # ------------------------------------------------------------ follow-through

    def recompute(self, override: Callable[[str, float], Optional[float]]) -> Dict[str, float]:
        """The value of every quantity computed from the *effective* values of the
        quantities it is built from, where a quantity's effective value is
        ``override(key, computed)`` (None: the computed value itself).

        With ``override`` returning the student's numbers this is follow-through
        grading: ``computed[k]`` is what ``k`` is, given the student's own earlier
        values. With ``override`` rounding each number it is the rounded-carry key.
        The forward pass runs every primitive of the graph from its row, the backward
        pass the collapsed view's edges; nothing is keyed by an op's name."""
        computed: Dict[str, float] = {}
        eff: Dict[Value, float] = {}

        def settle(key, value):
            computed[key] = value
            got = override(key, value)
            return value if got is None else float(got)

        for node in self.view.order:
            if not node.parents:  # a given number: never replaced
                eff[node] = float(node.data)
                if node in self.value_key:
                    computed[self.value_key[node]] = eff[node]
                continue
            if node.primitive is None:
                value = float(node.data)
            else:
                value = _number(node.primitive.forward, *[eff[p] for p in node.parents])
            key = self.value_key.get(node)
            eff[node] = settle(key, value) if key else value
        fwd = eff.__getitem__
        grads: Dict[Value, float] = {self.root: 1.0}
        done: Dict[Value, float] = {}
        for node in reversed(self.view.order):
            if not self.view.is_step(node):
                continue
            up = grads.get(node, 0.0)
            key = self.grad_key.get(node)
            if key and node is not self.root:
                up = settle(key, up)
            done[node] = up
            for edge in self.view.edges[node]:
                if node in self.local_key:
                    local = settle(self.local_key[node], self._activation_local(node, edge, fwd))
                else:
                    local = self._edge_local(edge, fwd)
                if edge.inp.requires_grad:
                    grads[edge.inp] = grads.get(edge.inp, 0.0) + up * local
        for node, key in self.grad_key.items():
            if node not in done and node is not self.root:
                settle(key, grads.get(node, 0.0))
        if self.root in self.grad_key:
            computed[self.grad_key[self.root]] = 1.0
        return computed


def catalog(root: Value) -> Dict[str, float]:
    """``{name: value}`` of every number :func:`check` can check for ``root``."""
    cat = Catalog(root)
    out = {v.name: np.vectorize(lambda k: cat.scalars[k].value, otypes=[float])(v.keys)
           for v in cat.vectors.values()}
    out.update({q.name: q.value for q in cat.scalars.values()})
    return out


