"""The groups of a recording (:mod:`micrograd_mlp.core.recorder`): nodes run as one numpy
call each, and the references through which they read and write the buffers.

A group is planned once with :class:`RefSpec` (the graph positions it reads and writes)
and bound to the buffers of one batch size with :meth:`ReplayGroup.bind`, which turns every
spec into a pair of :class:`Ref` (values, gradients). The batched rules (registered by
name; a primitive row names its rule in its ``batched`` field) build the fast groups.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import DomainError
from .engine import contribution
from .node_validation import describe
from .registry import PRIMITIVES

__all__ = ["RefSpec", "Ref", "ReplayGroup", "OpGroup", "SumGroup", "BatchSumGroup", "AffineGroup",
           "affine_gradients",
           "MaxGroup",
           "affine_terms", "regular_view", "BATCHED_RULES", "register_batched_rule", "batched_rule_of"]


def regular_view(buf: np.ndarray, idx: np.ndarray) -> Optional[np.ndarray]:
    """``buf[idx]`` as a *view* of ``buf`` when the slots ``idx`` form a regular grid,
    ``idx[i, j, ..] = a + s_0 i + s_1 j + ..`` with distinct entries (a range, a strided
    range, a matrix of weights laid out row by row; steps may be negative), else None.

    Reading a view costs nothing and writing into it needs no index arithmetic; the
    slots are laid out so that the common groups (a layer's outputs, its weights) are
    regular."""
    if idx.size == 0:
        return None
    first = int(idx.flat[0])
    if idx.ndim == 1:   # the common case (a range of slots): a plain slice of ``buf``
        n = idx.size
        step = int(idx[1]) - first if n > 1 else 1
        if step == 0:
            return None     # a repeated slot
        if step > 0:
            stop = first + step * n
            regular = (idx.tolist() == list(range(first, stop, step)) if n <= 64
                       else bool((idx == np.arange(first, stop, step)).all()))
            return buf[first:stop:step] if regular else None
    steps = []
    for axis, n in enumerate(idx.shape):
        if n == 1:
            steps.append(0)
            continue
        probe = [0] * idx.ndim
        probe[axis] = 1
        steps.append(int(idx[tuple(probe)]) - first)
    grid = first + sum(s * np.arange(n).reshape([-1 if d == a else 1 for d in range(idx.ndim)])
                       for a, (s, n) in enumerate(zip(steps, idx.shape)))
    if not np.array_equal(grid, idx) or np.unique(idx).size != idx.size:
        return None
    down = tuple(a for a, s in enumerate(steps) if s < 0)
    if down:  # descending along some axes: the ascending view, flipped back
        view = regular_view(buf, np.flip(idx, down))
        return None if view is None else np.flip(view, down)
    row = buf.strides[0]
    return as_strided(buf[first:], shape=idx.shape + buf.shape[1:],
                      strides=tuple(s * row for s in steps) + buf.strides[1:])


class Ref:
    """The entries ``idx`` of one buffer: read, written and accumulated through a
    precomputed view when the slots are regular (see :func:`regular_view`), else by
    fancy indexing, with repeated slots (a node used several times by one group) summed."""

    __slots__ = ("buf", "idx", "view", "scatter", "add")

    def __init__(self, buf: np.ndarray, idx, assign: bool = False):
        self.buf = buf
        self.idx = np.asarray(idx, dtype=np.intp)
        self.view = regular_view(buf, self.idx)
        self.scatter = _Scatter(self.idx) if self.view is None else None
        # a gradient with this one contribution is written, not added (no zeroing)
        self.add = self.set if assign else self.accumulate

    def get(self) -> np.ndarray:
        view = self.view
        return view if view is not None else self.buf[self.idx]

    def set(self, x) -> None:
        if self.view is not None:
            self.view[...] = x
        else:
            self.buf[self.idx] = x

    def accumulate(self, c) -> None:
        if self.view is not None:
            self.view += c
        else:
            self.scatter.add(self.buf, c)


class _Scatter:
    """``G[slots] += c`` for fixed ``slots``, correct when a slot repeats (a node used
    several times): repeated slots are summed with one ``np.add.reduceat`` over a
    precomputed sorting (``np.add.at`` is much slower)."""

    __slots__ = ("slots", "unique", "one", "order", "starts", "targets", "n")

    def __init__(self, slots):
        self.slots = np.asarray(slots, dtype=np.intp)
        flat = self.slots.ravel()
        self.n = flat.size
        self.unique = np.unique(flat).size == flat.size
        self.one = not self.unique and bool(np.all(flat == flat[0]))   # one node, many uses
        if self.one:
            self.targets = int(flat[0])
        elif not self.unique:
            self.order = np.argsort(flat, kind="stable")
            ordered = flat[self.order]
            self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            self.targets = ordered[self.starts]

    def add(self, G, c):
        if self.unique:
            G[self.slots] += c
            return
        c = np.broadcast_to(c, self.slots.shape + G.shape[1:]).reshape((self.n,) + G.shape[1:])
        if self.one:
            G[self.targets] += c.sum(axis=0)
            return
        G[self.targets] += np.add.reduceat(c[self.order], self.starts, axis=0)


class RefSpec:
    """Graph positions (any shape) of batched or scalar nodes, before binding."""

    __slots__ = ("idx", "batched", "assign")

    def __init__(self, positions, batched: bool):
        self.idx = np.asarray(positions, dtype=np.intp)
        self.batched = bool(batched)
        self.assign = False   # set by the recorder: the only gradient these nodes get

    def bind(self, bufs):
        """``(Ref into the values, Ref into the gradients)`` of this batch size."""
        values, grads = bufs[self.batched]
        return Ref(values, self.idx), Ref(grads, self.idx, self.assign)


class ReplayGroup:
    """Base class: ``specs`` pairs each attribute holding a :class:`RefSpec` (or a list
    of them) with the attribute its gradients go in (``("out", "g_out")``); :meth:`bind`
    returns a copy whose first attribute holds the values' Ref and whose second holds
    the gradients' Ref."""

    specs = ()

    def map_slots(self, slot: np.ndarray, single) -> list:
        """Turn graph positions into buffer slots (once, after the layout); a batched
        spec whose nodes all get exactly one gradient contribution (``single[i]``)
        writes its gradient instead of adding it. Returns the batched slots whose
        gradients are added to (they need zeroing before a backward)."""
        added = []
        for name, _ in self.specs:
            for spec in _as_list(getattr(self, name)):
                if isinstance(spec, RefSpec):
                    spec.assign = spec.batched and bool(single[spec.idx].all())
                    spec.idx = slot[spec.idx]
                    if spec.batched and not spec.assign:
                        added.extend(spec.idx.ravel().tolist())
        return added

    def bind(self, bufs) -> "ReplayGroup":
        bound = object.__new__(type(self))    # a shallow copy (copy.copy is slower)
        bound.__dict__.update(self.__dict__)
        for name, grad_name in self.specs:
            value = getattr(self, name)
            if isinstance(value, list):
                pairs = [s.bind(bufs) if isinstance(s, RefSpec) else (s, None) for s in value]
                setattr(bound, name, [a for a, _ in pairs])
                setattr(bound, grad_name, [g for _, g in pairs])
            elif value is None:
                setattr(bound, grad_name, None)
            else:
                ref, gref = value.bind(bufs)
                setattr(bound, name, ref)
                setattr(bound, grad_name, gref)
        return bound


def _as_list(x):
    return x if isinstance(x, list) else [x]


class OpGroup(ReplayGroup):
    """Nodes of one level made by one primitive with the same input pattern, run as one
    numpy call on stacked arrays with the primitive's own ``check``, ``forward`` and
    ``partials``. ``args``: per input a :class:`RefSpec` or a float (a constant shared
    by every member, e.g. the exponent 2 of a square, kept a float so the primitive
    takes its cheap scalar branch); ``needs_grad[a]``: input ``a`` receives a gradient;
    ``scalar_beside_batch[a]``: a scalar input of a batched node (broadcast forward,
    its gradient summed over the batch backward). ``nodes``: the members' nodes, to
    name the one outside the domain in an error."""

    specs = (("out", "g_out"), ("args", "g_args"))

    def __init__(self, op, out, args, needs_grad, scalar_beside_batch, nodes=()):
        prim = PRIMITIVES[op]
        self.nodes = list(nodes)
        self.op, self.out, self.args = op, out, list(args)
        self.needs_grad = list(needs_grad)
        self.scalar_beside_batch = scalar_beside_batch
        self.prim_forward, self.partials, self.check = prim.forward, prim.partials, prim.check
        self.masked = prim.piecewise   # a zero local derivative is a mask (see contribution)
        self.cache = None  # (inputs, output) of the last forward, for the backward

    def forward(self):
        xs = []
        for a, b in zip(self.args, self.scalar_beside_batch):
            if a.__class__ is float:
                xs.append(a)
            elif b:
                xs.append(a.get()[:, None])
            else:
                xs.append(a.get())
        if self.check is not None:
            problem = self.check(*xs)
            if problem:
                raise self.domain_error(xs, problem)
        out = self.prim_forward(*xs)
        self.out.set(out)
        self.cache = (xs, out)

    def domain_error(self, xs, problem) -> DomainError:
        """The built graph's error for the first member outside the domain (the
        primitive's check on each member's inputs in turn), naming its node."""
        for m, node in enumerate(self.nodes):
            mine = self.check(*[x[m] if x.__class__ is np.ndarray else x for x in xs])
            if mine:
                names = ", ".join(describe(p) for p in node.parents)
                return DomainError(f"{self.op}({names}): {mine}")
        return DomainError(f"replay: {self.op}: {problem}")

    def backward(self):
        up = self.g_out.get()
        xs, out = self.cache
        parts = self.partials(out, *xs)
        for g, need, b, d in zip(self.g_args, self.needs_grad, self.scalar_beside_batch, parts):
            if not need:
                continue
            if d.__class__ is float and d == 1.0:   # up * 1.0 == up
                c = up
            else:
                c = contribution(up, d, self.masked)
            if b:   # a scalar feeding a batch receives the batch's sum
                g.add((c if c.shape == up.shape else np.broadcast_to(c, up.shape)).sum(axis=1))
            else:
                g.add(c)


class SumGroup(ReplayGroup):
    """n-ary ``sum`` nodes with a batched output: one ``(k, n_b, B)`` read of the
    batched inputs and one ``(k, n_s)`` read of the scalar ones. ``d sum/d u_i = 1``:
    every input receives the upstream gradient (summed over the batch for a scalar)."""

    specs = (("out", "g_out"), ("xb", "g_xb"), ("xs", "g_xs"))

    def __init__(self, out, xb, xb_grad, xs, xs_grad):
        self.out, self.xb, self.xs = out, xb, xs
        self.xb_grad, self.xs_grad = xb_grad, xs_grad

    def forward(self):
        out = self.xb.get().sum(axis=1) if self.xb is not None else 0.0
        if self.xs is not None:
            out = out + self.xs.get().sum(axis=1)[:, None]
        self.out.set(out)

    def backward(self):
        up = self.g_out.get()
        if self.xb_grad:
            self.g_xb.add(up[:, None, :])
        if self.xs_grad:
            self.g_xs.add(up.sum(axis=1)[:, None])


class BatchSumGroup(ReplayGroup):
    """Batch sums ``sum_n u[n]``: a batch reduced to a scalar; the derivative 1 sends
    the scalar upstream gradient to every sample."""

    specs = (("out", "g_out"), ("arg", "g_arg"))

    def __init__(self, out, arg, arg_grad):
        self.out, self.arg, self.arg_grad = out, arg, arg_grad

    def forward(self):
        self.out.set(self.arg.get().sum(axis=1))

    def backward(self):
        if self.arg_grad:
            self.g_arg.add(self.g_out.get()[:, None])


def affine_gradients(G, X, W, need_w=True, need_x=True, need_b=True, *, out_w=None,
                     out_x=None, out_b=None, ones=None):
    """The gradients of a dense affine layer ``S = X W^T + b``, the one place replay
    writes them (rows are samples: ``X`` is ``(B, n)``, ``W`` ``(k, n)``, ``S`` and
    ``G = dL/dS`` ``(B, k)``)::

        dL/dW = G^T X,   dL/dX = G W,   dL/db = sum_n G[n] = 1^T G

    the chain rule through the ``mul`` and ``sum`` rows of every neuron, as three matrix
    products. Each is computed when needed (``need_*``), into ``out_*`` when given (a
    view of a gradient vector); ``ones``: a vector of ``B`` ones to reuse. Returns
    ``(dW, dX, db)``, None for one not computed."""
    dW = np.matmul(G.T, X, out=out_w) if need_w else None
    dX = np.matmul(G, W, out=out_x) if need_x else None
    db = None
    if need_b:
        db = np.matmul(np.ones(G.shape[0]) if ones is None else ones, G, out=out_b)
    return dW, dX, db


class AffineGroup(ReplayGroup):
    """Neuron pre-activations ``s_i = sum_j w_ij x_j (+ b_i)`` (sums of products of a
    scalar leaf and a batched node, each product used nowhere else) as one matrix
    product, the products not stored::

        S = W X + b,   dL/dW = G X^T,   dL/dX = W^T G,   dL/db = sum_n G

    with ``G = dL/dS``. When every row reads the same inputs (a dense layer) ``X`` is
    ``(n, B)``; else ``(k, n, B)``."""

    specs = (("out", "g_out"), ("w", "g_w"), ("x", "g_x"), ("b", "g_b"))

    def __init__(self, out, w, w_grad, x, x_grad, b, b_grad, dense):
        self.out, self.w, self.x, self.b = out, w, x, b
        self.w_grad, self.x_grad, self.b_grad = w_grad, x_grad, b_grad
        self.dense = dense
        self.cache = None

    def forward(self):
        W, X = self.w.get(), self.x.get()
        self.cache = (W, X)
        target = self.out.view
        if self.dense and target is not None:   # straight into the buffer
            np.matmul(W, X, out=target)
            if self.b is not None:
                target += self.b.get()[:, None]
            return
        out = W @ X if self.dense else np.einsum("kn,knb->kb", W, X)
        if self.b is not None:
            out += self.b.get()[:, None]
        self.out.set(out)

    def backward(self):
        G = self.g_out.get()
        W, X = self.cache
        if self.dense:   # columns are samples here: affine_gradients on the transposes
            dW, dX, db = affine_gradients(G.T, X.T, W, self.w_grad, self.x_grad, self.b_grad)
            if dW is not None:
                self.g_w.add(dW)
            if dX is not None:
                self.g_x.add(dX.T)
            if db is not None:
                self.g_b.add(db)
            return
        # every row reads its own inputs: X is (k, n, B)
        if self.w_grad:
            self.g_w.add(np.einsum("kb,knb->kn", G, X))
        if self.x_grad:
            self.g_x.add(W[:, :, None] * G[:, None, :])
        if self.b_grad:
            self.g_b.add(G.sum(axis=1))


class MaxGroup(ReplayGroup):
    """n-ary ``max`` nodes with batched inputs: one ``(k, n, B)`` read, the maximum over
    the inputs' axis, and the row's derivative rule vectorised: the *first* input equal
    to the maximum (or the first NaN, when the maximum is NaN) receives the whole
    upstream gradient, every other input 0 (``tests/test_replay_batched_max.py`` checks
    it against the row's own ``partials``, ties and NaN included)."""

    specs = (("out", "g_out"), ("x", "g_x"))

    def __init__(self, out, x, x_grad):
        self.out, self.x, self.x_grad = out, x, x_grad
        self.cache = None

    def forward(self):
        X = self.x.get()
        out = np.maximum.reduce(X, axis=1) + 0.0   # as the row's forward: -0.0 becomes 0.0
        self.out.set(out)
        self.cache = (X, out)

    def backward(self):
        if not self.x_grad:
            return
        X, out = self.cache
        hit = X == out[:, None, :]
        hit |= X != X
        # the first hit along the inputs (argmax: the first True; none when no hit)
        first = np.arange(X.shape[1])[:, None] == hit.argmax(axis=1)[:, None, :]
        hit &= first
        # a mask, not a product: an input not taken gets 0 even from an infinite gradient
        self.g_x.add(np.where(hit, self.g_out.get()[:, None, :], 0.0))


def affine_terms(node, position, order, uses, batched):
    """For a ``sum`` node of the form ``sum_j w_j * x_j (+ b)`` (each product made by a
    ``bilinear`` row, ``d/dw = x`` and ``d/dx = w``; ``w_j`` scalar leaves,
    ``x_j`` batched nodes, each product used only by this sum, ``b`` a scalar leaf, the
    weights, the inputs each all trainable or all not): the positions
    ``(w, x, b, products)``; else None."""
    w, x, b, products = [], [], None, []
    for p in node.parents:
        j = position[id(p)]
        row = PRIMITIVES.get(p.op)
        if row is not None and row.bilinear and uses[j] == 1 and batched[j]:
            u, v = p.parents
            iu, iv = position[id(u)], position[id(v)]
            if not u.parents and not batched[iu] and batched[iv]:
                w.append(iu), x.append(iv)
            elif not v.parents and not batched[iv] and batched[iu]:
                w.append(iv), x.append(iu)
            else:
                return None
            products.append(j)
        elif not p.parents and not batched[j] and b is None:
            b = j
        else:
            return None
    if len(w) < 2:
        return None
    if len({order[i].requires_grad for i in w}) > 1 or len({order[i].requires_grad for i in x}) > 1:
        return None
    return w, x, b, products


# ---------------------------------------------------------------- batched rules


class BatchedRule:
    """How replay runs the groups of a primitive faster than the generic way.

    ``fuse(plan, i)``: optionally absorb node ``i`` together with some of its parents
    into one fused member (returns its description, or None); ``build(plan, key,
    members)``: a group object for ``members`` (or None: the generic group)."""

    def __init__(self, build: Callable, fuse: Optional[Callable] = None):
        self.build = build
        self.fuse = fuse


#: rule name -> :class:`BatchedRule`. A primitive row names its rule in its ``batched``
#: field (``batched="n_ary_sum"``), so the rule follows the row, whatever its op name.
BATCHED_RULES: Dict[str, BatchedRule] = {}


def register_batched_rule(kind: str, build: Callable, fuse: Optional[Callable] = None) -> None:
    """Make replay run the groups of every primitive whose row has ``batched=kind`` with
    ``build(plan, key, members)`` (and, with ``fuse``, recognise a pattern rooted at
    such a node)."""
    BATCHED_RULES[kind] = BatchedRule(build, fuse)


def batched_rule_of(op: str) -> Optional[BatchedRule]:
    """The batched rule the primitive ``op`` names in its row, or None."""
    prim = PRIMITIVES.get(op)
    kind = getattr(prim, "batched", None)
    return BATCHED_RULES.get(kind) if isinstance(kind, str) else None


def _build_sum(plan, key, members):
    """n-ary sums with a batched output: one ``(k, n, B)`` read instead of n reads;
    ``d sum/d u_i = 1``."""
    _, _, arity, out_b, _, arg_b, arg_rg = key
    if not out_b:
        return None
    batched_grads = [r for b, r in zip(arg_b, arg_rg) if b]
    scalar_grads = [r for b, r in zip(arg_b, arg_rg) if not b]
    if len(set(batched_grads)) > 1 or len(set(scalar_grads)) > 1:
        return None  # some inputs need a gradient and some not: the generic group
    cols = plan.parent_columns(members, arity)
    xb = [c for c, b in zip(cols, arg_b) if b]
    xs = [c for c, b in zip(cols, arg_b) if not b]
    return SumGroup(RefSpec(members, True),
                    RefSpec(np.stack(xb, axis=1), True) if xb else None,
                    bool(xb) and batched_grads[0],
                    RefSpec(np.stack(xs, axis=1), False) if xs else None,
                    bool(xs) and scalar_grads[0])


def _fuse_affine(plan, i):
    """A sum of products ``w_j * x_j`` (scalar leaves times batched nodes) and a bias:
    one matrix product (see :class:`~micrograd_mlp.core.recorder_groups.AffineGroup`)."""
    return affine_terms(plan.order[i], plan.position, plan.order, plan.uses, plan.batched) \
        if plan.batched[i] else None


def _build_batch_sum(plan, key, members):
    """Batch sums ``sum_n u[n]`` of several nodes: one reduction over the batch axis;
    the derivative 1 sends each scalar upstream gradient to every sample."""
    if not key[5][0]:
        return None  # a scalar input: the generic group
    cols = plan.parent_columns(members, 1)
    return BatchSumGroup(RefSpec(members, False), RefSpec(cols[0], True), key[6][0])


def _build_max(plan, key, members):
    """n-ary maxima of batched inputs (all needing a gradient, or none): one
    :class:`MaxGroup`; else the generic group."""
    _, op, arity, out_b, _, arg_b, arg_rg = key
    if not (out_b and all(arg_b)) or len(set(arg_rg)) > 1 or PRIMITIVES[op].check is not None:
        return None
    cols = plan.parent_columns(members, arity)
    return MaxGroup(RefSpec(members, True), RefSpec(np.stack(cols, axis=1), True), arg_rg[0])


register_batched_rule("n_ary_sum", _build_sum, _fuse_affine)
register_batched_rule("n_ary_max", _build_max)
register_batched_rule("batch_sum", _build_batch_sum)
