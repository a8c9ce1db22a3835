"""``Value``: a number (or a lockstep batch of numbers) that remembers how it was made.

Every arithmetic operation on Values creates a new Value whose ``op`` names the
primitive that made it (see :mod:`micrograd_mlp.core.primitives`) and whose ``parents`` are
its inputs. ``backward()`` then applies the chain rule from the output back to the
leaves::

    d out/d x  =  sum over every path x -> ... -> out of the product of local derivatives

Gradient semantics (the same as PyTorch's):

* ``backward()`` seeds ``d out/d out = 1`` and *accumulates* into the ``grad`` of every
  leaf (a Value not made by an operation: inputs, weights). Calling ``backward()`` twice
  adds the gradient twice; set ``leaf.grad = 0`` (or ``model.zero_grad()``) in between.
* The ``grad`` of an intermediate node is reset at the start of each ``backward()``, so
  after any call it holds ``d out/d node`` of that call: never a stale sum.
* A node used several times (``a * a``, ``b = a + a``) receives the sum of its paths.

Batching ("lockstep"): ``data`` may be a 1-D float64 array, one entry per sample. Every
operation broadcasts a scalar against a batch; a scalar node (a weight) that feeds a
batched one gets the sum over the batch of its per-sample gradients. ``Value.sum()``
and ``Value.mean()`` reduce a batch to a scalar.

Errors are exceptions that name the node (its label, or its operation) and the cause.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterable

import numpy as np

from ..errors import ArgumentError, DataTypeError, DomainError, GradientError, ShapeError
from .validate import check_flag, check_iterable
from .graph_walk import interior_order, topological_order
from .modes import current_modes
from .node_validation import batch_mismatch, check_batch_shapes, check_finite, describe
from . import primitives  # noqa: F401  (fills the table with the engine's own rows)
from .registry import BUILT_IN, PRIMITIVES, on_registration
from .value_data import as_value_data, quote_label

ndarray = np.ndarray

__all__ = [
    "Value", "apply", "chain_rule_step", "contribution", "sum_values", "max_values",
    "where", "backward_seed", "to_input_shape",
]


# ---------------------------------------------------------------- versions
# Every assignment to a Value's ``data`` takes a fresh tick of one clock (a leaf starts
# at 0); a node made by an operation keeps the newest tick of its inputs. backward()
# refuses a node whose input was assigned after the node was computed (the input's tick
# is then larger than any tick before it): the partials would read the new value beside
# a result of the old one (PyTorch's version counter). ``next()`` on an itertools.count
# is one atomic step in CPython, so a tick is never read and bumped in two steps and
# threads training their own graphs at once never see a false "assigned after".

_TICKS = itertools.count(1)


def _stale_input(node, inputs):
    """Raise the error for an input of ``node`` assigned after ``node`` was computed."""
    changed = [p for p in inputs if p._tick > node._tick]
    names = ", ".join(describe(p) for p in changed)
    raise GradientError(
        f"backward(): the .data of {names} was assigned after {describe(node)} was "
        f"computed from it, so the gradient would mix the old and the new value. Run the "
        f"forward pass again after changing .data (an optimiser's step() goes after "
        f"backward(), before the next forward pass).")


# ---------------------------------------------------------------- data checking


def _as_data(data, label=""):
    """Validate ``data`` and return it as a Python float or a 1-D float64 array."""
    if data.__class__ is float:
        return data
    if isinstance(data, Value):
        raise DataTypeError(f"Value({quote_label(label)}): got a Value as data; use the Value itself")
    return as_value_data(data, label)


# ---------------------------------------------------------------- the node


class Value:
    """A scalar (or a lockstep batch) in a computational graph.

    Attributes: ``data`` (float or 1-D float64 array), ``grad`` (same shape, the
    derivative of the last ``backward()`` root with respect to this node), ``label``,
    ``op`` (name of the primitive that made it; ``""`` for a leaf), ``parents`` (tuple
    of input nodes), ``group`` (the composite it belongs to, or None) and
    ``requires_grad`` (False for constants: they get no gradient).
    """

    # ``_data`` holds ``data`` (read through a property, so that assigning it can be
    # noticed); ``_tick`` is the version clock's tick: of the last assignment, else the
    # newest of the inputs' at birth (0 for a leaf never assigned).
    __slots__ = ("_data", "grad", "label", "op", "parents", "group", "requires_grad", "_tick")
    # ndarray * Value must call Value.__rmul__ rather than loop over the array
    __array_ufunc__ = None

    def __init__(self, data, label: str = "", requires_grad: bool = True):
        if not isinstance(label, str):
            raise DataTypeError(f"Value label must be a str, not {type(label).__name__}")
        self._data = _as_data(data, label)
        self.grad = 0.0 if self._data.__class__ is float else np.zeros_like(self._data)
        self.label = label
        self.op = ""
        self.parents = ()
        self.group = current_modes().group
        self.requires_grad = requires_grad if requires_grad.__class__ is bool else \
            check_flag(requires_grad, "requires_grad")
        self._tick = 0  # older than any assignment

    # ------------------------------------------------------------ properties

    @property
    def data(self):
        """The number (float) or the batch (1-D float64 array) this node holds.
        Assigning it is checked like ``Value(data)``, and a graph computed from the old
        value then refuses ``backward()`` (see ``_stale_input``) instead of mixing the
        two values."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = _as_data(value, self.label)
        self._tick = next(_TICKS)

    @property
    def is_batched(self) -> bool:
        """True when ``data`` is a 1-D array (one entry per sample)."""
        return self._data.__class__ is ndarray

    @property
    def primitive(self):
        """The :class:`~micrograd_mlp.core.registry.Primitive` that made this node (None for a leaf)."""
        return PRIMITIVES.get(self.op)

    def __repr__(self):
        name = f"{self.label!r}, " if self.label else ""
        if self.data.__class__ is ndarray:
            return f"Value({name}batch of {self.data.size}, op={self.op or 'leaf'!r})"
        grad = "None" if self.grad is None else f"{self.grad:.6g}"
        return f"Value({name}data={self.data:.6g}, grad={grad})"

    def __float__(self):
        if self.data.__class__ is ndarray:
            raise ShapeError(f"float() of {describe(self)}: it holds a batch of {self.data.size}")
        return self.data

    def __bool__(self):
        # `if v:` on a Value is almost always a bug in a composite (branching on data)
        raise TypeError("the truth value of a Value is ambiguous; compare v.data instead")

    # ------------------------------------------------------------ operations
    # Each operation is one row of the table in core/primitives.py, which holds its
    # forward rule and its local derivatives; a method here only names the row.

    def __add__(self, other):
        """``self + other``; local derivatives 1 and 1."""
        return apply("add", self, other if other.__class__ is Value else _const(other))

    def __radd__(self, other):
        return apply("add", _lift(other), self)

    def __sub__(self, other):
        """``self - other``; local derivatives 1 and -1."""
        return apply("sub", self, other if other.__class__ is Value else _const(other))

    def __rsub__(self, other):
        return apply("sub", _lift(other), self)

    def __mul__(self, other):
        """``self * other``; local derivatives ``other`` and ``self``."""
        return apply("mul", self, other if other.__class__ is Value else _const(other))

    def __rmul__(self, other):
        return apply("mul", _lift(other), self)

    def __truediv__(self, other):
        """``self / other``; local derivatives ``1/other`` and ``-self/other^2``."""
        return apply("div", self, _lift(other))

    def __rtruediv__(self, other):
        return apply("div", _lift(other), self)

    def __neg__(self):
        """``-self``; local derivative -1."""
        return apply("neg", self)

    def __pow__(self, other):
        """``self ** other``: a number exponent ``c`` gives ``c * self^(c - 1)`` (the row
        ``pow_const``), a Value exponent also gets ``self^other * ln(self)``."""
        if other.__class__ is Value:
            return apply("pow", self, other)
        return apply("pow_const", self, _const(other))

    def __rpow__(self, other):
        return apply("pow", _const(other), self)

    def __abs__(self):
        """``|self|``; local derivative ``sign(self)`` (0 at 0, as PyTorch)."""
        return apply("abs", self)

    def abs(self):
        """``|u|``; local derivative ``sign(u)`` (0 at 0, as PyTorch)."""
        return apply("abs", self)

    def exp(self):
        """``e^u``; local derivative ``e^u`` (the result itself)."""
        return apply("exp", self)

    def log(self):
        """Natural log ``ln(u)``; local derivative ``1/u``; DomainError for ``u <= 0``."""
        return apply("log", self)

    def log1p(self):
        """``ln(1 + u)``, accurate for small ``u``; local derivative ``1/(1 + u)``."""
        return apply("log1p", self)

    def expm1(self):
        """``e^u - 1``, accurate for small ``u``; local derivative ``e^u``."""
        return apply("expm1", self)

    def tanh(self):
        """``tanh(u)``; local derivative ``1 - tanh(u)^2`` (from the result)."""
        return apply("tanh", self)

    def relu(self):
        """``max(0, u)``; local derivative ``[u > 0]`` (0 at 0, as PyTorch)."""
        return apply("relu", self)

    def erf(self):
        """The error function ``erf(u) = 2/sqrt(pi) int_0^u e^(-t^2) dt``; local
        derivative ``2/sqrt(pi) e^(-u^2)``."""
        return apply("erf", self)

    def sqrt(self):
        """``u^0.5``."""
        return self ** 0.5

    def sum(self):
        """Sum over the batch: ``sum_n u[n]`` (a scalar node stays as it is)."""
        if self.data.__class__ is not ndarray:
            return self
        return apply("batch_sum", self)

    def mean(self):
        """Mean over the batch: ``(1/N) sum_n u[n]`` (a scalar node stays as it is)."""
        if self.data.__class__ is not ndarray:
            return self
        return apply("batch_sum", self) * (1.0 / self.data.size)

    # ------------------------------------------------------------ backward

    def backward(self, grad=None):
        """Apply the chain rule from this node back to every leaf it depends on.

        ``grad`` seeds ``d root/d root`` (default 1, or ones for a batch; pass
        another array to weight the samples). Leaf grads accumulate across calls;
        intermediate grads are reset first (see the module docstring). Every node,
        from the root back, runs :func:`chain_rule_step` (here in its unrolled form,
        :func:`_chain_rule_loop`).
        """
        if not self.requires_grad:
            why = ("it depends only on constants" if self.parents
                   else "it is a constant, or was computed under no_grad()")
            raise GradientError(f"backward() on {describe(self)}: no gradient path, {why}")
        seed = backward_seed(self, grad)
        if not self.parents:  # a leaf: nothing to propagate
            _accumulate(self, seed, self, False)
            return
        order = interior_order(self)  # every node after its inputs; grads reset to 0
        self.grad = seed
        _chain_rule_loop(reversed(order), current_modes().anomaly)

    def zero_grad(self):
        """Set ``grad`` to 0 on every node this one depends on (and itself)."""
        for node in topological_order(self, all_nodes=True):
            node.grad = 0.0 if node.data.__class__ is float else np.zeros_like(node.data)


# ---------------------------------------------------------------- the chain rule


def chain_rule_step(node: Value, anomaly: bool = False) -> None:
    """One step of the chain rule, at ``node``: every input ``p`` that needs a gradient
    receives ``d root/d node * d node/d p``::

        local = row.partials(node.data, *inputs.data)     # d node/d p, from the row
        p.grad += contribution(node.grad, local[i], row.piecewise)

    ``node.grad`` must be complete (every consumer of ``node`` has run its step).
    Refuses a node whose input was assigned after it was computed (``_stale_input``).
    """
    parents = node.parents
    for p in parents:
        if p._tick > node._tick:
            _stale_input(node, parents)
    row = PRIMITIVES.get(node.op)
    if row is None:
        _unregistered(node.op)
    local = row.partials(node._data, *[p._data for p in parents])
    for p, d in zip(parents, local):
        if p.requires_grad:
            _accumulate(p, contribution(node.grad, d, row.piecewise), node, anomaly)


def contribution(upstream, local, masked: bool = False):
    """What one input receives from one node: ``upstream * local`` (``d root/d node``
    times ``d node/d input``). ``masked``: the node's row is piecewise (relu, where,
    max), so a local derivative of exactly 0 says the input's branch was not taken and
    the input receives 0 whatever arrived from above, an infinite or NaN ``upstream``
    too (as PyTorch; the product would give ``inf * 0 = NaN``). Backward, the trace's
    ledger and replay all apply this one rule."""
    if not masked:
        return upstream * local
    # nothing infinite or NaN arrived (a sum is finite only then): the product is the mask
    if upstream.__class__ is ndarray:
        if math.isfinite(upstream.sum()):
            return upstream * local
    elif math.isfinite(upstream):
        return upstream * local
    if local.__class__ is ndarray or upstream.__class__ is ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(local == 0.0, 0.0, upstream * local)
    return 0.0 if local == 0.0 else upstream * local


def _chain_rule_loop(nodes, anomaly: bool) -> None:
    """:func:`chain_rule_step` for each of ``nodes`` (root first), unrolled for the
    common one- and two-input rows: this loop runs once per node of every graph, and
    a list, a star-call and an attribute chain per node are measurable. It does what
    ``for node in nodes: chain_rule_step(node, anomaly)`` does, to the bit and to the
    error (``tests/test_chain_rule.py`` runs both on random graphs)."""
    partials_of = _PARTIALS
    masked = _PIECEWISE
    for node in nodes:
        parents = node.parents
        op = node.op
        g = node.grad
        t = node._tick
        n = len(parents)
        if n == 2:
            a, b = parents
            if a._tick > t or b._tick > t:
                _stale_input(node, parents)
            da, db = partials_of[op](node._data, a._data, b._data)
            if op in masked:
                da, db = contribution(g, da, True), contribution(g, db, True)
            else:
                da, db = g * da, g * db
            if a.requires_grad:
                _accumulate(a, da, node, anomaly)
            if b.requires_grad:
                _accumulate(b, db, node, anomaly)
        elif n == 1:
            a = parents[0]
            if a._tick > t:
                _stale_input(node, parents)
            d = partials_of[op](node._data, a._data)[0]
            _accumulate(a, contribution(g, d, True) if op in masked else g * d, node, anomaly)
        else:
            chain_rule_step(node, anomaly)


def to_input_shape(contribution, input_data):
    """The contribution ``d root/d node * d node/d input`` as the input receives it:
    a scalar input (a weight) that fed a batched node gets the sum over the batch,
    ``sum_n contribution[n]``; otherwise the contribution itself. Backward, the trace
    and replay all apply this one rule."""
    if contribution.__class__ is ndarray and input_data.__class__ is not ndarray:
        return float(contribution.sum())
    return contribution


def _accumulate(p, c, node, anomaly):
    """Add the contribution ``c = d root/d node * d node/d p`` to ``p.grad``; a grad of
    None (PyTorch's "no gradient yet", as after ``p.grad = None``) starts from 0."""
    if c.__class__ is ndarray and p._data.__class__ is not ndarray:
        c = float(c.sum())  # to_input_shape: a scalar that fed a batch gets the batch's sum
    if anomaly:
        check_finite(c, node, f"gradient flowing into {describe(p)}")
    try:
        p.grad = p.grad + c
    except (TypeError, ValueError):  # rare, so no test of the grad on the common path
        g = p.grad
        if g is not None:
            kind = (f"an array of shape {g.shape}" if g.__class__ is ndarray
                    else f"a {type(g).__name__}")
            raise GradientError(
                f"backward(): the grad of {describe(p)} is {kind}; it must be a number, an "
                f"array of the batch's length, or None") from None
        p.grad = 0.0 + c  # a new object: c may be the caller's seed array


# ---------------------------------------------------------------- building nodes


def apply(op: str, *inputs: Value) -> Value:
    """The node ``op(inputs)``. Its value is the row's ``forward`` of the inputs' data
    (after the row's domain ``check``); it records its inputs as ``parents`` (unless
    inside ``no_grad()``) and needs a gradient when one of them does."""
    row = PRIMITIVES.get(op)
    if row is None:
        _unregistered(op)
    if row.check is not None:
        _check_domain(row, inputs)
    n = len(inputs)
    try:
        if n == 2:  # the common cases, without building a list
            a, b = inputs
            data = row.forward(a._data, b._data)
            tick = a._tick if a._tick > b._tick else b._tick
        elif n == 1:
            data = row.forward(inputs[0]._data)
            tick = inputs[0]._tick
        else:
            data = row.forward(*[p._data for p in inputs])
            tick = max([p._tick for p in inputs])
    except ValueError:  # numpy could not broadcast two batches
        batch_mismatch(op, inputs)
    modes = current_modes()
    v = _new(Value)
    v._data = data
    v.grad = 0.0
    v.label = ""
    v.group = modes.group
    if data.__class__ is ndarray:
        check_batch_shapes(op, data, inputs)
    v._tick = tick  # the newest version of its inputs
    if modes.grad_enabled:
        v.op = op
        v.parents = inputs
        needs = False
        for p in inputs:
            if p.requires_grad:
                needs = True
                break
        v.requires_grad = needs
    else:
        v.op = ""
        v.parents = ()
        v.requires_grad = False
    if modes.anomaly:
        check_finite(data, v, f"forward value of {op}", inputs)
    return v


def _check_domain(row, inputs) -> None:
    """Raise DomainError when the inputs lie outside the row's domain (``log`` of a
    non-positive number ...), as its ``check`` says."""
    try:
        problem = row.check(*[p._data for p in inputs])
    except ValueError:  # numpy could not broadcast two batches
        batch_mismatch(row.name, inputs)
    if problem:
        names = ", ".join(describe(p) for p in inputs)
        raise DomainError(f"{row.name}({names}): {problem}")


_new = object.__new__


def _const(x) -> Value:
    """Wrap a Python number or array as a constant node (no gradient)."""
    v = _new(Value)
    v._data = x if x.__class__ is float else _as_data(x)  # floats need no checking
    v.grad = 0.0
    v.label = ""
    v.op = ""
    v.parents = ()
    v.group = current_modes().group
    v.requires_grad = False
    v._tick = 0
    return v


def _lift(x) -> Value:
    return x if x.__class__ is Value else _const(x)


def sum_values(values: Iterable) -> Value:
    """``u_1 + u_2 + ... + u_n`` as one n-ary ``sum`` node (a shallow graph, one op
    node in a drawing), instead of a chain of ``n - 1`` additions."""
    nodes = tuple(_lift(v) for v in check_iterable(values, "sum_values()"))
    if not nodes:
        raise ShapeError("sum_values() of nothing: give at least one value")
    if len(nodes) == 1:
        return nodes[0]
    return apply("sum", *nodes)


def max_values(values: Iterable) -> Value:
    """``max(u_1, ..., u_n)`` elementwise over the batch; the derivative goes to the
    first largest input."""
    nodes = tuple(_lift(v) for v in check_iterable(values, "max_values()"))
    if not nodes:
        raise ShapeError("max_values() of nothing: give at least one value")
    if len(nodes) == 1:
        return nodes[0]
    return apply("max", *nodes)


def where(cond, a, b) -> Value:
    """``a`` where ``cond > 0``, else ``b`` (elementwise on batches). ``cond`` is a Value
    (or number) whose sign selects; it gets no gradient, ``a`` and ``b`` get theirs
    only where they were selected."""
    return apply("where", _lift(cond), _lift(a), _lift(b))


# ---------------------------------------------------------------- the table's rows

# The rows' partials and which rows are piecewise, by op name, kept in step with the
# table by _follow_table: one dict lookup per node in the backward loop.
_PARTIALS = {}
_PIECEWISE = set()


def _unregistered(name: str):
    """Refuse an op that is not (or no longer) in the table."""
    raise GradientError(f"the primitive {name!r} was unregistered (or never registered); "
                        f"a graph it made can no longer be computed or differentiated")


def _refuse(name: str):
    """A partials rule that refuses to run: the primitive ``name`` was unregistered."""

    def refuse(*_):
        _unregistered(name)

    return refuse


def _method_for(prim):
    """The ``Value`` method of a user-registered one-input (or n-input) primitive:
    ``apply(prim.name, self, *others)`` (numbers are lifted to constants)."""
    name = prim.name

    def method(*inputs):
        return apply(name, *[_lift(x) for x in inputs])

    method.__name__ = prim.method
    method.__doc__ = prim.doc or f"``{prim.expr}`` (the primitive {name!r})."
    method.primitive_name = name  # marks a method made here (removable)
    return method


def _follow_table(prim, added: bool = True) -> None:
    """Keep the engine in step with the primitives table: the lookup tables of the
    backward loop, and for a primitive a user registers, its ``Value`` method
    ``prim.method`` (added, or removed with ``added=False``). The engine's own
    operations are the methods written out in :class:`Value`."""
    name = prim.name
    if not added:
        _PARTIALS[name] = _refuse(name)  # nodes it made may still exist
        _PIECEWISE.discard(name)
        method = getattr(Value, prim.method, None) if prim.method else None
        if getattr(method, "primitive_name", "") == name:
            delattr(Value, prim.method)
        return
    if name not in BUILT_IN and prim.method and hasattr(Value, prim.method):
        raise ArgumentError(f"primitive {name!r}: Value already has an attribute "
                            f"{prim.method!r}; give the primitive another method name")
    _PARTIALS[name] = prim.partials
    if prim.piecewise:
        _PIECEWISE.add(name)
    else:
        _PIECEWISE.discard(name)
    if name not in BUILT_IN and prim.method:
        setattr(Value, prim.method, _method_for(prim))


on_registration(_follow_table)


# ---------------------------------------------------------------- checks


def backward_seed(root: Value, grad=None):
    """The gradient ``d root/d root`` backward starts from: 1 (ones for a batch), or
    ``grad`` checked to have the root's shape."""
    if grad is None:
        return 1.0 if root.data.__class__ is float else np.ones_like(root.data)
    seed = _as_data(grad, "backward seed")
    shape = np.shape(root.data)
    if np.shape(seed) != shape:
        raise ShapeError(
            f"backward(grad=...) on {describe(root)}: the seed has shape {np.shape(seed)}, "
            f"the node has shape {shape}")
    return seed
