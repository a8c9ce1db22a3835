"""The numbers of a graph a student can check, by the names the ledger prints, and a
replay of the graph's backward pass with some numbers replaced (to test a slip).

:func:`catalog` lists them: forward values (``s1[0]``, ``E``), gradients
(``dE/dW2[0,1]``), local derivatives of one-input activations (``sigma'(s2[0])``), and
the vectors and matrices they form (``dE/dW2``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..core.engine import Value
from ..errors import TraceInputError
from ..functions.activations import ACTIVATIONS
from .answers import canonical_name
from ..views.trace import ledger
from ..functions.composite import short_name
from ..views.viewmodel import INDEXED_NAME, Namer, build_view

__all__ = ["Quantity", "Catalog", "catalog", "OUTPUT_FORMS"]

# an activation's derivative written through its output y, for the slip "s (1 - s)"
OUTPUT_FORMS: Dict[str, Tuple[str, Callable]] = {
    "sigmoid": ("{x} (1 - {x})", lambda y: y * (1.0 - y)),
    "tanh": ("1 - {x}^2", lambda y: 1.0 - y * y),
}


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
                    self._add(self.name_of(node), "forward", node, float(node.data), 1e6 + i, {},
                              node.label)
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
               local_rule: Optional[Callable] = None) -> Dict[str, float]:
        """Every quantity's value when backward runs with some numbers replaced:
        ``grads_given[n]`` as dE/dn, ``values_given[n]`` as n's forward value in the
        local derivatives, ``locals_given[n]`` as the local derivative of activation
        node n, and ``local_rule(node, edge)`` (a number or None) for activation edges."""
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
                    local = self._edge_local(edge, fwd)
                if edge.inp.requires_grad:
                    grads[edge.inp] = grads.get(edge.inp, 0.0) + up * local
        for node, key in self.grad_key.items():
            out[key] = grads_given.get(node, grads.get(node, 0.0)) if node is not self.root else 1.0
        return out

    def scalars_key(self, node: Value) -> Optional[str]:
        """The key of a node's forward value, if it is a checkable quantity."""
        key = canonical_name(self.name_of(node))
        q = self.scalars.get(key)
        return key if q is not None and q.node is node else None

    def _activation_local(self, node, edge, fwd) -> float:
        act = ACTIVATIONS.get(self.view.groups[node].name)
        if act is None or fwd(edge.inp) is edge.inp.data:
            return float(edge.local)
        return float(act.df(fwd(edge.inp)))

    @staticmethod
    def _edge_local(edge, fwd) -> float:
        local = 1.0
        for f in edge.factors:
            if f.group is not None:
                return float(edge.local)  # a composite inside a folded edge: as computed
            node = f.node
            if node.primitive.bilinear:   # d(u v)/du = v: the other input's value
                local *= fwd(node.parents[1 - f.index])
            else:
                local *= node.primitive.partials(node.data, *[p.data for p in node.parents])[f.index]
        return float(local)


def catalog(root: Value) -> Dict[str, float]:
    """``{name: value}`` of every number :func:`check` can check for ``root``."""
    cat = Catalog(root)
    out = {v.name: np.vectorize(lambda k: cat.scalars[k].value, otypes=[float])(v.keys)
           for v in cat.vectors.values()}
    out.update({q.name: q.value for q in cat.scalars.values()})
    return out


