"""Replay: record the graph of one training step once, then re-run it on new data.

Building a graph costs one Python object per operation; for a training loop whose
graph has the same shape at every step (the same network, the same loss, the same batch
size) that work is repeated identically each time. :class:`Recorded` takes a built graph
apart once into arrays:

* every node gets a *slot*: a row of a ``(n_batched, B)`` array for batched nodes, an
  entry of an ``(n_scalar,)`` array for scalar ones (parameters, constants, the loss);
* every node gets a *level*: 0 for leaves, ``1 + max(level of its parents)`` otherwise,
  so all nodes of one level depend only on lower levels;
* nodes of the same level, the same primitive and the same input pattern (which inputs
  are scalar or batched, which need a gradient) form a *group*, run as one numpy call on
  stacked arrays, with the primitive's own ``forward`` and ``partials`` from
  :mod:`micrograd_mlp.primitives` (they accept arrays of any shape).

:meth:`Recorded.run` then reads the parameters' current ``data``, takes new input data
(the next batch), and computes the loss and every parameter gradient without creating a
single :class:`~micrograd_mlp.engine.Value`. The chain rule is the engine's: for a node
``y = op(x_1 .. x_n)`` with upstream gradient ``g = d loss/d y``,

    d loss/d x_i  +=  g * d op/d x_i          (summed over the batch for a scalar x_i)

applied level by level from the loss down. The results equal a freshly built graph up to
the order of floating-point additions (tests check 1e-12).

Speed comes from the layout: the slots are numbered so that a group's outputs, a
layer's weights (row by row, as ``model.parameters()`` lists them) and the parameter
vector are regular blocks of the buffers, read and written through precomputed numpy
views rather than index arrays; constants shared by a group are passed as Python
floats. :func:`train_step` hands the gradient vector to the optimiser's vector rule and,
with ``sync=False`` (as :func:`~micrograd_mlp.train.fit` runs it), keeps the
parameters as a vector between steps until :meth:`CompiledStep.sync`.

A recording is valid only while the graph's *shape* does not depend on the data: the
composites of this library never branch on data, so that holds for every network and
loss built from them. A different batch size changes the shape: :meth:`Recorded.run`
raises :class:`~micrograd_mlp.engine.ShapeError`, and :func:`compile_step` re-records.
"""
from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import DomainError, GradientError, ShapeError
from .engine import Value, topological_order
from .primitives import PRIMITIVES

__all__ = ["Recorded", "single_threaded_blas"]

ndarray = np.ndarray


def _regular_view(buf: np.ndarray, idx: np.ndarray) -> Optional[np.ndarray]:
    """``buf[idx]`` as a *view* of ``buf`` when the slots ``idx`` form a regular grid,
    ``idx[i, j, ..] = a + s_0 i + s_1 j + ..`` with distinct entries (a range, a strided
    range, a matrix of weights laid out row by row; steps may be negative), else None.

    Reading a view costs nothing and writing into it needs no index arithmetic, which is
    most of what replaying a small network costs; the slots are laid out so that the
    common groups (a layer's outputs, its weights) are regular."""
    if idx.size == 0:
        return None
    first = int(idx.flat[0])
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
        view = _regular_view(buf, np.flip(idx, down))
        return None if view is None else np.flip(view, down)
    row = buf.strides[0]
    return as_strided(buf[first:], shape=idx.shape + buf.shape[1:],
                      strides=tuple(s * row for s in steps) + buf.strides[1:])


class _Ref:
    """The entries ``idx`` of one buffer (rows of ``D``/``GD`` or entries of
    ``S``/``GS``): read, written and accumulated through a precomputed view when the
    slots are regular (see :func:`_regular_view`), else by fancy indexing, with repeated
    slots (a node used several times by one group) summed."""

    __slots__ = ("buf", "idx", "view", "scatter")

    def __init__(self, buf: np.ndarray, idx):
        self.buf = buf
        self.idx = np.asarray(idx, dtype=np.intp)
        self.view = _regular_view(buf, self.idx)
        self.scatter = _Scatter(self.idx) if self.view is None else None

    def get(self) -> np.ndarray:
        view = self.view
        return view if view is not None else self.buf[self.idx]

    def set(self, x) -> None:
        if self.view is not None:
            self.view[...] = x
        else:
            self.buf[self.idx] = x

    def add(self, c) -> None:
        if self.view is not None:
            self.view += c
        else:
            self.scatter.add(self.buf, c)


class _Group:
    """Nodes of one level made by one primitive with the same input pattern, run as one
    numpy call on stacked arrays with the primitive's own ``forward`` and ``partials``.

    ``args``: per input position, a :class:`_Ref` into the data buffers or a Python float
    (a constant shared by every member, e.g. the exponent 2 of a square: passing it as a
    float keeps the primitives on their cheap scalar branches). ``grads``: per input, the
    matching :class:`_Ref` into the gradient buffers, or None when that input needs no
    gradient. ``beside[i]``: a scalar input of a batched node (broadcast over the batch
    forward, its gradient summed over the batch backward)."""

    def __init__(self, op, out, gout, args, grads, beside):
        prim = PRIMITIVES[op]
        self.op = op
        self.out, self.gout = out, gout
        self.args, self.grads, self.beside = args, grads, beside
        self.prim_forward = prim.forward
        self.partials = prim.partials
        self.check = prim.check
        self.cache = None  # (inputs, output) of the last forward, for the backward

    def forward(self):
        xs = []
        for a, b in zip(self.args, self.beside):
            if a.__class__ is float:
                xs.append(a)
            elif b:
                xs.append(a.get()[:, None])     # a scalar beside a batch
            else:
                xs.append(a.get())
        if self.check is not None:
            problem = self.check(*xs)
            if problem:
                raise DomainError(f"replay: {self.op}: {problem}")
        out = self.prim_forward(*xs)
        self.out.set(out)
        self.cache = (xs, out)

    def backward(self):
        up = self.gout.get()
        xs, out = self.cache
        parts = self.partials(out, *xs)
        for g, b, d in zip(self.grads, self.beside, parts):
            if g is None:
                continue
            c = up if d.__class__ is float and d == 1.0 else up * d   # up * 1.0 == up
            if b:   # a scalar feeding a batch: sum over the samples
                g.add((c if c.shape == up.shape else np.broadcast_to(c, up.shape)).sum(axis=1))
            else:
                g.add(c)


class _SumGroup:
    """n-ary ``sum`` nodes with a batched output: one ``(k, n_b, B)`` read of the
    batched inputs and one ``(k, n_s)`` read of the scalar ones, instead of n reads.
    ``d sum/d u_i = 1``: every input receives the upstream gradient."""

    def __init__(self, out, gout, xb, gxb, xs, gxs):
        self.out, self.gout = out, gout
        self.xb, self.gxb, self.xs, self.gxs = xb, gxb, xs, gxs

    def forward(self):
        out = self.xb.get().sum(axis=1) if self.xb is not None else 0.0
        if self.xs is not None:
            out = out + self.xs.get().sum(axis=1)[:, None]
        self.out.set(out)

    def backward(self):
        up = self.gout.get()
        if self.gxb is not None:
            self.gxb.add(up[:, None, :])
        if self.gxs is not None:
            self.gxs.add(up.sum(axis=1)[:, None])


class _BatchSumGroup:
    """``bsum`` nodes: a batch reduced to a scalar, ``sum_n u[n]``; its derivative 1
    sends the scalar upstream gradient to every sample."""

    def __init__(self, out, gout, arg, garg):
        self.out, self.gout, self.arg, self.garg = out, gout, arg, garg

    def forward(self):
        self.out.set(self.arg.get().sum(axis=1))

    def backward(self):
        if self.garg is not None:
            self.garg.add(self.gout.get()[:, None])


class _AffineGroup:
    """Neuron pre-activations ``s_i = sum_j w_ij x_j (+ b_i)``: each ``sum`` node whose
    terms are ``mul`` nodes of a scalar leaf (the weight) and a batched node, used
    nowhere else, run as one matrix product (the ``mul`` nodes are not stored)::

        S = W X + b,   dL/dW = G X^T,   dL/dX = W^T G,   dL/db = sum_n G

    with ``G = dL/dS``. When every row reads the same inputs (a dense layer) ``X`` is
    ``(n, B)`` and these are plain matrix products; else ``X`` is ``(k, n, B)``."""

    def __init__(self, out, gout, w, gw, x, gx, b, gb, dense):
        self.out, self.gout = out, gout
        self.w, self.gw, self.x, self.gx, self.b, self.gb = w, gw, x, gx, b, gb
        self.dense = dense
        self.cache = None

    def forward(self):
        W = self.w.get()
        X = self.x.get()
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
        G = self.gout.get()
        W, X = self.cache
        if self.gw is not None:
            self.gw.add(G @ X.T if self.dense else np.einsum("kb,knb->kn", G, X))
        if self.gx is not None:
            self.gx.add(W.T @ G if self.dense else W[:, :, None] * G[:, None, :])
        if self.gb is not None:
            self.gb.add(G.sum(axis=1))


def _affine_terms(node, position, order, uses, batched):
    """For a ``sum`` node of the form ``sum_j w_j * x_j (+ b)`` (``w_j`` scalar leaves,
    ``x_j`` batched nodes, each product used only by this sum, ``b`` a scalar leaf, the
    weights, the inputs and the bias each all trainable or all not): the positions
    ``(w, x, b, products)``; else None."""
    w, x, b, products = [], [], None, []
    for p in node.parents:
        j = position[id(p)]
        if p.op == "mul" and uses[j] == 1 and batched[j]:
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


class Recorded:
    """A recorded graph that can be re-run on new leaf data without building nodes.

    ``root``: the scalar loss Value of one built step. ``params``: the leaves whose
    gradient is wanted and whose ``data`` is re-read at every run (default: every leaf
    that requires a gradient, in the order found). ``inputs``: the leaves whose data are
    replaced at every run (the batch: input columns and targets), in the order
    :meth:`run` receives them. Every other leaf keeps the value it had when recorded.
    """

    def __init__(self, root: Value, params: Optional[Sequence[Value]] = None,
                 inputs: Sequence[Value] = ()):
        if not isinstance(root, Value):
            raise TypeError(f"Recorded: root must be a Value, not {type(root).__name__}")
        if root.data.__class__ is ndarray:
            raise ShapeError("Recorded: the root must be a scalar (reduce the batch with "
                             ".sum() or .mean() first)")
        if not root.requires_grad:
            raise GradientError("Recorded: the root depends on no parameter")
        order = topological_order(root, all_nodes=True)
        position = {id(node): i for i, node in enumerate(order)}
        self.params = list(params) if params is not None else [
            n for n in order if not n.parents and n.requires_grad]
        self.inputs = list(inputs)
        for what, nodes in (("params", self.params), ("inputs", self.inputs)):
            for v in nodes:
                if not isinstance(v, Value) or v.parents:
                    raise TypeError(f"Recorded: every entry of {what} must be a leaf Value")
        self.missing_params = [p for p in self.params if id(p) not in position]
        batch = {n.data.size for n in order if n.data.__class__ is ndarray}
        if len(batch) > 1:
            raise ShapeError(f"Recorded: the graph mixes batch sizes {sorted(batch)}")
        self.batch_size = batch.pop() if batch else None
        B = self.batch_size or 1
        batched = [n.data.__class__ is ndarray for n in order]
        for v in self.params:
            i = position.get(id(v))
            if i is not None and batched[i]:
                raise ShapeError(f"Recorded: parameter {v.label or v!r} is batched here")
        self.n_nodes = len(order)

        # ---- groups: nodes of one level, one op, one input pattern
        uses = np.zeros(len(order), dtype=np.intp)
        for n in order:
            for p in n.parents:
                uses[position[id(p)]] += 1
        affine = {}          # sum node -> (weights, inputs, bias) positions
        absorbed = set()     # the mul nodes an affine group computes itself
        for i, n in enumerate(order):
            if n.op == "sum" and batched[i]:
                terms = _affine_terms(n, position, order, uses, batched)
                if terms is not None:
                    affine[i] = terms
                    absorbed.update(terms[3])
        level = np.zeros(len(order), dtype=np.intp)
        buckets: Dict[Tuple, List[int]] = {}
        for i, n in enumerate(order):
            if not n.parents or i in absorbed:
                continue
            if i in affine:
                w, x, b, _ = affine[i]
                level[i] = 1 + max(level[j] for j in x)
                key = (level[i], "affine", len(w), b is not None,
                       order[w[0]].requires_grad, order[x[0]].requires_grad,
                       b is not None and order[b].requires_grad, n.requires_grad)
            else:
                ps = [position[id(p)] for p in n.parents]
                level[i] = 1 + max(level[j] for j in ps)
                key = (level[i], n.op, len(ps), batched[i], n.requires_grad,
                       tuple(batched[j] for j in ps),
                       tuple(order[j].requires_grad for j in ps))
            buckets.setdefault(key, []).append(i)
        keys = sorted(buckets, key=lambda k: (int(k[0]), k[1], k[2]))

        # ---- slots, laid out so that the groups read and write regular blocks: the
        # parameters first, in the order of ``params`` (so the gradient vector is one
        # slice), then the inputs in their order, then the other leaves, then each
        # group's outputs one after the other.
        slot = np.full(len(order), -1, dtype=np.intp)
        counts = [0, 0]  # scalar, batched

        def take(i):
            if slot[i] < 0:
                kind = int(batched[i])
                slot[i] = counts[kind]
                counts[kind] += 1

        for v in self.params + self.inputs:
            if id(v) in position:
                take(position[id(v)])
        for i, n in enumerate(order):
            if not n.parents:
                take(i)
        for key in keys:
            # members in the order of their inputs' slots, so that a layer's outputs
            # land in the order the next layer reads them (ascending, regular views)
            members = buckets[key]
            if key[1] == "affine":
                members.sort(key=lambda i: slot[affine[i][0][0]])
            else:
                members.sort(key=lambda i: [slot[position[id(p)]] for p in order[i].parents])
            for i in members:
                take(i)
        self._D = np.zeros((counts[1], B))
        self._S = np.zeros(counts[0])
        self._GD = np.zeros_like(self._D)
        self._GS = np.zeros_like(self._S)
        for i, n in enumerate(order):
            if not n.parents:
                (self._D if batched[i] else self._S)[slot[i]] = n.data

        present = [p for p in self.params if id(p) in position]
        self._param_nodes = present
        self._param_slots = np.asarray([slot[position[id(p)]] for p in present], dtype=np.intp)
        self._param_index = np.array([i for i, p in enumerate(self.params) if id(p) in position],
                                     dtype=np.intp)
        # the common case: every parameter present, in slots 0 .. P-1
        self._params_first = (len(present) == len(self.params)
                              and np.array_equal(self._param_slots, np.arange(len(present))))
        # (list of the float objects last written into the parameters' data, the same
        # numbers as an array): while every parameter still holds exactly those objects,
        # the next load needs no conversion (see train_step)
        self._known = None
        self._input_slots = [slot[position[id(v)]] if id(v) in position else -1
                             for v in self.inputs]
        self._input_batched = [id(v) in position and batched[position[id(v)]]
                               for v in self.inputs]
        self._root_slot = slot[position[id(root)]]
        self._slot_of = {id(n): slot[i] for i, n in enumerate(order)
                         if batched[i] and slot[i] >= 0}

        # ---- the group objects, reading and writing the buffers through _Refs
        fed = {id(v) for v in self.params + self.inputs}
        D, S, GD, GS = self._D, self._S, self._GD, self._GS

        def ref(positions, is_batched):
            idx = slot[np.asarray(positions, dtype=np.intp)]
            return (_Ref(D, idx), _Ref(GD, idx)) if is_batched else (_Ref(S, idx), _Ref(GS, idx))

        def shared_constant(positions):
            """The common value of scalar constant leaves (never fed, no gradient)."""
            nodes = [order[j] for j in positions]
            if all(not n.parents and not n.requires_grad and id(n) not in fed
                   and n.data.__class__ is float for n in nodes):
                values = {n.data for n in nodes}
                if len(values) == 1:
                    return values.pop()
            return None

        self.groups = []
        backward_groups = []
        for key in keys:
            members = buckets[key]
            op = key[1]
            if op == "affine":
                _, _, n_terms, has_b, w_rg, x_rg, b_rg, rg = key
                w_pos = np.array([affine[i][0] for i in members])
                x_pos = np.array([affine[i][1] for i in members])
                dense = bool(np.all(x_pos == x_pos[:1]))
                w, gw = ref(w_pos, False)
                x, gx = ref(x_pos[0] if dense else x_pos, True)
                b = gb = None
                if has_b:
                    b, gb = ref([affine[i][2] for i in members], False)
                out, gout = ref(members, True)
                group = _AffineGroup(out, gout, w, gw if w_rg else None, x, gx if x_rg else None,
                                     b, gb if b_rg else None, dense)
            else:
                _, _, arity, out_b, rg, arg_b, arg_rg = key
                cols = [[position[id(order[i].parents[a])] for i in members] for a in range(arity)]
                out, gout = ref(members, out_b)
                if op == "sum" and out_b:
                    pb = [c for c, b in zip(cols, arg_b) if b]
                    ps = [c for c, b in zip(cols, arg_b) if not b]
                    gb_ok = [r for c, b, r in zip(cols, arg_b, arg_rg) if b]
                    gs_ok = [r for c, b, r in zip(cols, arg_b, arg_rg) if not b]
                    xb = gxb = xs = gxs = None
                    if pb:
                        xb, gxb = ref(np.stack(pb, axis=1), True)
                    if ps:
                        xs, gxs = ref(np.stack(ps, axis=1), False)
                    group = _SumGroup(out, gout, xb, gxb if any(gb_ok) else None,
                                      xs, gxs if any(gs_ok) else None)
                    if any(gb_ok) and not all(gb_ok) or any(gs_ok) and not all(gs_ok):
                        group = None  # mixed: use the generic group below
                elif op == "bsum":
                    a, ga = ref(cols[0], True)
                    group = _BatchSumGroup(out, gout, a, ga if arg_rg[0] else None)
                else:
                    group = None
                if group is None:
                    args, grads = [], []
                    for c, b, r in zip(cols, arg_b, arg_rg):
                        const = None if (b or r) else shared_constant(c)
                        if const is not None:
                            args.append(float(const))
                            grads.append(None)
                        else:
                            a, ga = ref(c, b)
                            args.append(a)
                            grads.append(ga if r else None)
                    beside = tuple(out_b and not b for b in arg_b)
                    group = _Group(op, out, gout, args, grads, beside)
            self.groups.append(group)
            if rg:
                backward_groups.append(group)
        self._backward_groups = backward_groups[::-1]
        self.levels = int(level.max()) if len(order) else 0

    # ------------------------------------------------------------ running

    def _load(self, input_data, param_data=None):
        if len(input_data) != len(self.inputs):
            raise ShapeError(f"Recorded.run: expected {len(self.inputs)} input arrays, "
                             f"got {len(input_data)}")
        D, S = self._D, self._S
        for v, s, b, x in zip(self.inputs, self._input_slots, self._input_batched, input_data):
            if s < 0:
                continue
            if b:
                if x.__class__ is not ndarray or x.ndim != 1 or x.size != self.batch_size:
                    x = np.asarray(x, dtype=np.float64)
                    raise ShapeError(
                        f"Recorded.run: input {v.label or 'data'} has shape {x.shape}, the "
                        f"recorded graph has batches of {self.batch_size}; record again for "
                        "a new batch size")
                D[s] = x
            else:
                S[s] = x
        n = len(self._param_slots)
        if n:
            if param_data is None:
                current = [p.data for p in self._param_nodes]
                known = self._known
                if known is not None and all(map(operator.is_, current, known[0])):
                    param_data = known[1]    # the very numbers written by train_step
                else:
                    param_data = np.fromiter(current, dtype=np.float64, count=n)
            elif not self._params_first:
                param_data = np.asarray(param_data, dtype=np.float64)[self._param_index]
            if self._params_first:
                S[:n] = param_data
            else:
                S[self._param_slots] = param_data

    def forward(self, input_data: Sequence = (), param_data=None) -> float:
        """Recompute every node from the inputs ``input_data`` (arrays, in the order of
        ``inputs``) and the parameters' current data (or ``param_data``, one number per
        entry of ``params``, when given); returns the root's value."""
        self._load(input_data, param_data)
        for g in self.groups:
            g.forward()
        return float(self._S[self._root_slot])

    def param_data(self) -> np.ndarray:
        """The parameter values (in the order of ``params``) the last forward used."""
        if self._params_first:
            return self._S[:len(self.params)].copy()
        out = np.array([p.data for p in self.params], dtype=np.float64)
        out[self._param_index] = self._S[self._param_slots]
        return out

    def backward(self) -> np.ndarray:
        """The gradient of the root with respect to every parameter (in the order of
        ``params``; 0 for a parameter the root does not depend on), from the values of
        the last :meth:`forward`."""
        GD, GS = self._GD, self._GS
        GD.fill(0.0)
        GS.fill(0.0)
        GS[self._root_slot] = 1.0
        for g in self._backward_groups:
            g.backward()
        if self._params_first:
            return GS[:len(self.params)].copy()
        grads = np.zeros(len(self.params))
        if len(self._param_slots):
            grads[self._param_index] = GS[self._param_slots]
        return grads

    def run(self, input_data: Sequence = (), accumulate: bool = True,
            param_data=None) -> Tuple[float, np.ndarray]:
        """Forward and backward on new input data: returns ``(loss, grads)`` and adds
        each gradient to its parameter's ``.grad`` (as ``backward()`` does: zero them
        between steps), or sets it when ``accumulate=False``. ``param_data``: see
        :meth:`forward`."""
        loss = self.forward(input_data, param_data)
        grads = self.backward()
        if accumulate:
            for p, g in zip(self.params, grads.tolist()):
                p.grad = p.grad + g
        else:
            for p, g in zip(self.params, grads.tolist()):
                p.grad = g
        return loss, grads

    def watch(self, nodes: Sequence[Value]) -> None:
        """Remember ``nodes`` (batched nodes of the recorded graph, such as the model's
        outputs) so :meth:`watched` can return their values after each run."""
        self._watched = _Ref(self._D, [self._slot_of[id(v)] for v in nodes])

    def watched(self) -> np.ndarray:
        """The values ``(B, len(nodes))`` of the watched nodes in the last forward."""
        return self._watched.get().T.copy()

    def __repr__(self):
        return (f"Recorded({self.n_nodes} nodes, {len(self.groups)} groups over "
                f"{self.levels} levels, batch {self.batch_size}, {len(self.params)} params)")


class _Scatter:
    """``G[slots] += c`` for a fixed array of ``slots``, correct when a slot repeats (a
    node used several times): repeated slots are summed with one ``np.add.reduceat``
    over a precomputed sorting, much faster than ``np.add.at``."""

    __slots__ = ("slots", "unique", "order", "starts", "targets", "n")

    def __init__(self, slots):
        self.slots = np.asarray(slots, dtype=np.intp)
        flat = self.slots.ravel()
        self.n = flat.size
        self.unique = np.unique(flat).size == flat.size
        if not self.unique:
            self.order = np.argsort(flat, kind="stable")
            ordered = flat[self.order]
            self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            self.targets = ordered[self.starts]

    def add(self, G, c):
        if self.unique:
            G[self.slots] += c
            return
        c = np.broadcast_to(c, self.slots.shape + G.shape[1:]).reshape((self.n,) + G.shape[1:])
        G[self.targets] += np.add.reduceat(c[self.order], self.starts, axis=0)


@contextmanager
def single_threaded_blas():
    """Run the enclosed code with the BLAS library (behind numpy's ``@``) limited to one
    thread, restoring the previous limit on exit (uses ``threadpoolctl``, which comes
    with scikit-learn; without it, nothing changes).

    Replay's matrix products are small (a layer's ``W X`` over one batch); a threaded
    BLAS on a busy machine spends far longer waking and waiting for its threads than
    computing them: measured on the 2-core machine, a digits step (1797 x 64 inputs)
    took 17-190 ms with the default threads and 2 ms with one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield



# ---------------------------------------------------------------- a training step

