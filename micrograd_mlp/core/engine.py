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
from typing import Iterable

import numpy as np

from ..errors import (
    AnomalyError, ArgumentError, DataTypeError, DomainError, GradientError, MicrogradError,
    ShapeError,
)
from .validate import check_flag, check_iterable
from .graph_walk import interior_order, topological_order
from .modes import (
    anomaly_mode, current_group, current_modes, is_anomaly_enabled, is_grad_enabled, no_grad,
    set_group,
)
from .node_validation import batch_mismatch, check_batch_shapes, check_finite, describe
from .primitives import PRIMITIVES, on_registration
from .value_data import as_value_data, quote_label

ndarray = np.ndarray

__all__ = [
    "Value", "no_grad", "anomaly_mode", "is_grad_enabled", "sum_values", "max_values",
    "where", "topological_order", "apply", "primitive_function", "backward_seed",
    "to_input_shape", "describe", "is_anomaly_enabled", "set_group", "current_group",
    "MicrogradError", "DataTypeError", "DomainError", "ShapeError", "GradientError",
    "AnomalyError",
]


# ---------------------------------------------------------------- versions
# Every assignment to a Value's ``data`` takes a new tick of one clock; a node made by
# an operation keeps the clock's value at its birth. backward() refuses a node whose
# input was assigned after the node was computed (its tick is larger): the partials
# would read the new value beside a result of the old one (PyTorch's version counter).

_TICKS = itertools.count(1)
_CLOCK = 0


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
    # noticed); ``_tick`` is the version clock's value at birth or at the last assignment.
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
        self._tick = _CLOCK

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
        global _CLOCK
        self._data = _as_data(value, self.label)
        _CLOCK = next(_TICKS)
        self._tick = _CLOCK

    @property
    def is_leaf(self) -> bool:
        """True for a node not made by an operation (an input, a weight, a constant)."""
        return not self.parents

    @property
    def is_batched(self) -> bool:
        """True when ``data`` is a 1-D array (one entry per sample)."""
        return self._data.__class__ is ndarray

    @property
    def primitive(self):
        """The :class:`~micrograd_mlp.core.primitives.Primitive` that made this node (None for a leaf)."""
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

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other):
        other = other if other.__class__ is Value else _const(other)
        try:
            data = self._data + other._data
        except ValueError:  # numpy could not broadcast two batches
            batch_mismatch("add", (self, other))
        return _make("add", data, (self, other))

    def __radd__(self, other):
        return _const(other) + self

    def __sub__(self, other):
        other = other if other.__class__ is Value else _const(other)
        try:
            data = self._data - other._data
        except ValueError:  # numpy could not broadcast two batches
            batch_mismatch("sub", (self, other))
        return _make("sub", data, (self, other))

    def __rsub__(self, other):
        return _const(other) - self

    def __mul__(self, other):
        other = other if other.__class__ is Value else _const(other)
        try:
            data = self._data * other._data
        except ValueError:  # numpy could not broadcast two batches
            batch_mismatch("mul", (self, other))
        return _make("mul", data, (self, other))

    def __rmul__(self, other):
        return _const(other) * self

    def __truediv__(self, other):
        other = other if other.__class__ is Value else _const(other)
        return apply("div", self, other)

    def __rtruediv__(self, other):
        return apply("div", _const(other), self)

    def __neg__(self):
        return _make("neg", -self._data, (self,))

    def __pow__(self, other):
        if other.__class__ is Value:
            return apply("pow", self, other)
        return apply("pow_const", self, _const(other))

    def __rpow__(self, other):
        return apply("pow", _const(other), self)

    def __abs__(self):
        return apply("abs", self)

    # ------------------------------------------------------------ functions
    # exp, log, log1p, expm1, tanh, relu, abs, erf and every registered one-input
    # primitive are methods made from the primitives table (see install_primitive).

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
        intermediate grads are reset first (see the module docstring).
        """
        if not self.requires_grad:
            why = ("it depends only on constants" if self.parents
                   else "it is a constant, or was computed under no_grad()")
            raise GradientError(f"backward() on {describe(self)}: no gradient path, {why}")
        seed = backward_seed(self, grad)
        if not self.parents:  # a leaf: nothing to propagate
            _accumulate(self, seed, self, False)
            return
        order = interior_order(self)  # also resets the interior grads to 0
        self.grad = seed
        partials_of = _PARTIALS
        anomaly = current_modes().anomaly
        # Unrolled for the common one- and two-input primitives: this loop runs once
        # per node, so a list comprehension and a star-call per node are measurable.
        for node in reversed(order):
            parents = node.parents
            g = node.grad
            t = node._tick
            n = len(parents)
            if n == 2:
                a, b = parents
                if a._tick > t or b._tick > t:
                    _stale_input(node, parents)
                da, db = partials_of[node.op](node._data, a._data, b._data)
                if a.requires_grad:
                    _accumulate(a, g * da, node, anomaly)
                if b.requires_grad:
                    _accumulate(b, g * db, node, anomaly)
            elif n == 1:
                a = parents[0]
                if a._tick > t:
                    _stale_input(node, parents)
                _accumulate(a, g * partials_of[node.op](node._data, a._data)[0], node, anomaly)
            else:
                for p in parents:
                    if p._tick > t:
                        _stale_input(node, parents)
                parts = partials_of[node.op](node._data, *[p._data for p in parents])
                for p, d in zip(parents, parts):
                    if p.requires_grad:
                        _accumulate(p, g * d, node, anomaly)

    def zero_grad(self):
        """Set ``grad`` to 0 on every node this one depends on (and itself)."""
        for node in topological_order(self, all_nodes=True):
            node.grad = 0.0 if node.data.__class__ is float else np.zeros_like(node.data)


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
    if c.__class__ is ndarray:
        c = to_input_shape(c, p._data)
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

# The table's rules by op name, kept in step with it by install_primitive: one dict
# lookup per node in the hot loops instead of an attribute chain.
_PARTIALS = {}
_FORWARD = {}
_CHECKS = {}
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
    v._tick = _CLOCK
    return v


def _make(op: str, data, parents: tuple) -> Value:
    """Create the node ``op(parents)`` whose forward result is ``data``."""
    modes = current_modes()
    v = _new(Value)
    v._data = data
    v.grad = 0.0
    v.label = ""
    v.group = modes.group
    v._tick = _CLOCK
    if data.__class__ is ndarray:
        check_batch_shapes(op, data, parents)
    if modes.grad_enabled:
        v.op = op
        v.parents = parents
        rg = False
        for p in parents:
            if p.requires_grad:
                rg = True
                break
        v.requires_grad = rg
    else:
        v.op = ""
        v.parents = ()
        v.requires_grad = False
    if modes.anomaly:
        check_finite(data, v, f"forward value of {op}", parents)
    return v


def apply(op: str, *parents: Value) -> Value:
    """Apply the primitive ``op`` to the nodes ``parents`` (after its domain check)."""
    args = [p._data for p in parents]
    check = _CHECKS.get(op)
    try:
        problem = check(*args) if check is not None else None
        if not problem:
            data = _FORWARD[op](*args)
    except ValueError:  # numpy could not broadcast two batches
        batch_mismatch(op, parents)
    if problem:
        names = ", ".join(describe(p) for p in parents)
        raise DomainError(f"{op}({names}): {problem}")
    return _make(op, data, parents)


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


def primitive_function(name: str):
    """The primitive ``name`` as a function of Values or numbers: ``f(x) = apply(name,
    x)``, e.g. ``primitive_function("tanh")(0.5)``."""
    prim = PRIMITIVES[name]

    if prim.arity == 1:  # every activation calls these: no list, no star-call
        def function(x):
            return apply(name, x if x.__class__ is Value else _const(x))
    else:
        def function(*inputs):
            return apply(name, *[_lift(x) for x in inputs])

    function.__name__ = prim.method or name
    function.__doc__ = prim.doc or f"``{prim.expr}`` (the primitive {name!r})."
    return function


def _unregistered(name: str):
    """A rule that refuses to run: the primitive ``name`` was unregistered."""

    def refuse(*_):
        raise GradientError(f"the primitive {name!r} was unregistered; a graph it made can "
                            f"no longer be computed or differentiated")

    return refuse


def install_primitive(prim, added: bool = True) -> None:
    """Keep the engine in step with the primitives table: the fast lookup tables, and
    the ``Value`` method ``prim.method`` (added, or removed with ``added=False``)."""
    name = prim.name
    if not added:
        _CHECKS.pop(name, None)
        # nodes it made may still exist: using them again says why it fails
        _PARTIALS[name] = _FORWARD[name] = _unregistered(name)
        if prim.method and getattr(getattr(Value, prim.method, None), "primitive_name", "") == name:
            delattr(Value, prim.method)
        return
    if prim.method and hasattr(Value, prim.method):
        raise ArgumentError(f"primitive {name!r}: Value already has an attribute "
                            f"{prim.method!r}; give the primitive another method name")
    _PARTIALS[name] = prim.partials
    _FORWARD[name] = prim.forward
    if prim.check:
        _CHECKS[name] = prim.check
    if prim.method:
        method = primitive_function(name)
        method.primitive_name = name  # marks a method made here (removable)
        setattr(Value, prim.method, method)


on_registration(install_primitive)


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
