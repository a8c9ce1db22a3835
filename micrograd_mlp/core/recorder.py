"""Replay: record the graph of one computation once, then re-run it on new data.

Building a graph costs one Python object per operation; when the graph has the same
shape at every step (the same network, the same loss) that work repeats identically.
:class:`Recorded` takes a built graph apart once into a *plan*:

* every node gets a *slot*: a row of a ``(n_batched, B)`` array for batched nodes, an
  entry of an ``(n_scalar,)`` array for scalar ones (parameters, constants, the loss);
* every node gets a *level*: 0 for leaves, ``1 + max(level of its parents)`` otherwise,
  so all nodes of one level depend only on lower levels;
* nodes of the same level, the same primitive and the same input pattern (which inputs
  are scalar or batched, which need a gradient) form a *group*, run as one numpy call on
  stacked arrays with the primitive's own ``forward``, ``partials`` and ``check`` from
  :mod:`micrograd_mlp.core.primitives` (they accept arrays of any shape). A primitive
  row may name a *batched rule* (its ``batched`` field, see
  :func:`register_batched_rule`) that runs its groups faster: ``"n_ary_sum"`` (with the
  affine pattern ``sum_j w_j x_j + b`` as one matrix product), ``"n_ary_max"`` and
  ``"batch_sum"`` are registered here.

The plan does not depend on the batch size ``B``: :meth:`Recorded.bind` lays out the
buffers for one ``B`` (a few are kept), so a graph recorded from one sample replays
batches of any size. The chain rule is the engine's: for ``y = op(x_1 .. x_n)`` with
upstream gradient ``g = d out/d y``,

    d out/d x_i  +=  g * d op/d x_i          (summed over the batch for a scalar x_i)

applied level by level from the outputs down. Results equal a freshly built graph up to
the order of floating-point additions (the tests check 1e-12).

A recording is valid while the graph's *shape* does not depend on the data: the
composites of this library never branch on data.

With numba installed and compiled rules for every primitive of the graph, the graph
is not grouped but becomes a compiled tape (:mod:`micrograd_mlp.core.tape`): one flat
program run by numba kernels, the same numbers (``engine=`` chooses).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import GradientError, ShapeError
from .engine import Value
from .graph_walk import topological_order
from .recorder_groups import (BATCHED_RULES, AffineGroup, OpGroup, Ref, RefSpec,
                              register_batched_rule, batched_rule_of)
from .tape import ENGINES, TapeBinding, tape_or_none
from .value_data import data_vector

__all__ = ["Recorded", "BoundRecording", "register_batched_rule", "BATCHED_RULES",
           "batched_rule_of",
           "ENGINES"]

ndarray = np.ndarray

#: bindings (buffers for one batch size) kept per recording; older ones are dropped
MAX_BINDINGS = 4


# ---------------------------------------------------------------- the plan


class _Plan:
    """The graph taken apart: topological ``order``, ``position`` of each node, which
    nodes are batched, how often each is used, fused members, levels and buckets."""

    def __init__(self, outputs: List[Value]):
        self.order = topological_order_of(outputs)
        self.position = {id(node): i for i, node in enumerate(self.order)}
        self.batched = [n.data.__class__ is ndarray for n in self.order]
        self.uses = None                      # counted by count_uses (numpy replay only)
        self.fused: Dict[int, Tuple] = {}     # node -> fused description (affine terms)
        self.absorbed = set()                 # nodes a fused member computes itself

    def count_uses(self):
        """``uses[i]``: how many times node ``i`` is an input."""
        self.uses = np.zeros(len(self.order), dtype=np.intp)
        position = self.position
        for n in self.order:
            for p in n.parents:
                self.uses[position[id(p)]] += 1

    def parent_columns(self, members, arity):
        """``cols[a][m]``: the position of input ``a`` of member ``m``."""
        order, position = self.order, self.position
        return [np.array([position[id(order[i].parents[a])] for i in members], dtype=np.intp)
                for a in range(arity)]

    def fuse(self):
        for i, n in enumerate(self.order):
            rule = batched_rule_of(n.op)
            if rule is not None and rule.fuse is not None:
                terms = rule.fuse(self, i)
                if terms is not None:
                    self.fused[i] = terms
                    self.absorbed.update(terms[3])

    def bucket(self) -> Dict[Tuple, List[int]]:
        """Nodes by (level, op, input pattern): each bucket becomes one group."""
        order, position, batched = self.order, self.position, self.batched
        level = np.zeros(len(order), dtype=np.intp)
        buckets: Dict[Tuple, List[int]] = {}
        for i, n in enumerate(order):
            if not n.parents or i in self.absorbed:
                continue
            if i in self.fused:
                w, x, b, _ = self.fused[i]
                level[i] = 1 + max(level[j] for j in x)
                key = (int(level[i]), "affine", len(w), b is not None,
                       order[w[0]].requires_grad, order[x[0]].requires_grad,
                       b is not None and order[b].requires_grad, n.requires_grad)
            else:
                ps = [position[id(p)] for p in n.parents]
                level[i] = 1 + max(level[j] for j in ps)
                key = (int(level[i]), n.op, len(ps), batched[i], n.requires_grad,
                       tuple(batched[j] for j in ps),
                       tuple(order[j].requires_grad for j in ps))
            buckets.setdefault(key, []).append(i)
        self.levels = int(level.max()) if len(order) else 0
        return buckets


def topological_order_of(outputs: List[Value]) -> List[Value]:
    """Every node the outputs depend on, parents before children, once each."""
    if len(outputs) == 1:
        return topological_order(outputs[0], all_nodes=True)
    seen, order = set(), []
    for out in outputs:
        for node in topological_order(out, all_nodes=True):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def _check_leaves(what, nodes):
    for v in nodes:
        if not isinstance(v, Value) or v.parents:
            raise GradientError(f"Recorded: every entry of {what} must be a leaf Value")


# ---------------------------------------------------------------- the recording


class Recorded:
    """A recorded graph that can be re-run on new leaf data without building nodes.

    ``outputs``: the scalar loss Value of one built step, or a list of Values (then
    :meth:`BoundRecording.backward` takes their upstream gradients). ``params``: the
    leaves whose gradient is wanted and whose ``data`` is re-read at every run (default:
    every leaf that requires a gradient, in the order found). ``inputs``: the leaves
    whose data are replaced at every run (the batch), in the order :meth:`run` receives
    them. Every other leaf keeps the value it had when recorded. The batch size may
    differ from run to run.

    ``engine``: ``"auto"`` (default) runs the compiled tape when numba is installed and
    every primitive of the graph has compiled rules, else the numpy groups;
    ``"compiled"`` the tape or an ArgumentError; ``"numpy"`` the groups. The numbers
    are the same (up to the order of floating-point additions); :attr:`engine` says
    which runs.
    """

    def __init__(self, outputs, params: Optional[Sequence[Value]] = None,
                 inputs: Sequence[Value] = (), engine: str = "auto"):
        self.outputs = self._check_outputs(outputs)
        plan = _Plan(self.outputs)
        self.params = list(params) if params is not None else [
            n for n in plan.order if not n.parents and n.requires_grad]
        self.inputs = list(inputs)
        _check_leaves("params", self.params)
        _check_leaves("inputs", self.inputs)
        self._check_batches(plan)
        self.n_nodes = len(plan.order)
        self._bindings: "OrderedDict[int, BoundRecording]" = OrderedDict()
        self._tape = tape_or_none(engine, plan.order, plan.position, plan.batched,
                                  self.params, self.inputs, self.outputs)
        self.engine = "numpy" if self._tape is None else "compiled"
        if self._tape is not None:
            self.levels = None
            self._slot_of = plan.position
            self._input_batched = [id(v) in plan.position and plan.batched[plan.position[id(v)]]
                                   for v in self.inputs]
            return
        plan.count_uses()
        plan.fuse()
        buckets = plan.bucket()
        self.levels = plan.levels
        keys = sorted(buckets, key=lambda k: (k[0], k[1], k[2]))
        slot, self._n_scalar, self._n_batched = self._assign_slots(plan, buckets, keys)
        self._record_leaves(plan, slot)
        # gradient contributions per node: its uses, plus one for an output (the caller)
        contributions = plan.uses.copy()
        for v in self.outputs:
            contributions[plan.position[id(v)]] += 1
        single = contributions == 1
        self._specs, self._backward_order, added = self._plan_groups(plan, buckets, keys,
                                                                     slot, single)
        batched = np.asarray(plan.batched, dtype=bool)
        self._accumulated_rows = np.unique(np.concatenate(
            [slot[batched & ~single & (slot >= 0)], np.asarray(added, dtype=np.intp)]))

    # ------------------------------------------------------------ recording steps

    def _check_outputs(self, outputs) -> List[Value]:
        single = isinstance(outputs, Value)
        outs = [outputs] if single else list(outputs)
        if not outs or not all(isinstance(v, Value) for v in outs):
            raise GradientError("Recorded: the outputs must be a Value or a list of Values")
        self.scalar_root = single and outs[0].data.__class__ is not ndarray
        if single and not self.scalar_root:
            raise ShapeError("Recorded: the root must be a scalar (reduce the batch with "
                             ".sum() or .mean() first)")
        if single and not outs[0].requires_grad:
            raise GradientError("Recorded: the root depends on no parameter")
        return outs

    def _check_batches(self, plan):
        sizes = {n.data.size for n in plan.order if n.data.__class__ is ndarray}
        if len(sizes) > 1:
            raise ShapeError(f"Recorded: the graph mixes batch sizes {sorted(sizes)}")
        self.recorded_batch = sizes.pop() if sizes else None
        for v in self.params:
            i = plan.position.get(id(v))
            if i is not None and plan.batched[i]:
                raise ShapeError(f"Recorded: parameter {v.label or v!r} is batched here")

    def _assign_slots(self, plan, buckets, keys):
        """Slots laid out so the groups read and write regular blocks: the parameters
        first, in the order of ``params`` (the gradient vector is one slice), then the
        inputs, the other leaves, then each group's outputs one after the other."""
        order, position, batched = plan.order, plan.position, plan.batched
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
                members.sort(key=lambda i: slot[plan.fused[i][0][0]])
            else:
                members.sort(key=lambda i: [slot[position[id(p)]] for p in order[i].parents])
            for i in members:
                take(i)
        return slot, counts[0], counts[1]

    def _record_leaves(self, plan, slot):
        order, position = plan.order, plan.position
        present = [p for p in self.params if id(p) in position]
        self.param_slots = np.asarray([slot[position[id(p)]] for p in present], dtype=np.intp)
        self.param_index = np.array([i for i, p in enumerate(self.params) if id(p) in position],
                                    dtype=np.intp)
        self._param_nodes = present
        # the common case: every parameter present, in slots 0 .. P-1
        self.params_first = (len(present) == len(self.params)
                             and np.array_equal(self.param_slots, np.arange(len(present))))
        self._input_slots = [slot[position[id(v)]] if id(v) in position else -1
                             for v in self.inputs]
        self._input_batched = [id(v) in position and plan.batched[position[id(v)]]
                               for v in self.inputs]
        self._output_slots = [(slot[position[id(v)]], plan.batched[position[id(v)]])
                              for v in self.outputs]
        self._slot_of = {id(n): slot[i] for i, n in enumerate(order)
                         if plan.batched[i] and slot[i] >= 0}
        fed = {id(v) for v in self.inputs}
        self._scalar_leaves = [(slot[i], n.data) for i, n in enumerate(order)
                               if not n.parents and not plan.batched[i]]
        self._batched_leaves = [(slot[i], n.data, id(n) in fed) for i, n in enumerate(order)
                                if not n.parents and plan.batched[i]]

    def _plan_groups(self, plan, buckets, keys, slot, single):
        """One group spec per bucket (a batched rule's or the generic one), with the
        slots it reads and writes; bound to buffers by :meth:`bind`."""
        fed = {id(v) for v in self.params + self.inputs}
        specs, backward, added = [], [], []
        for key in keys:
            members = np.array(buckets[key], dtype=np.intp)
            if key[1] == "affine":
                spec = self._affine_spec(plan, key, members)
            else:
                rule = batched_rule_of(key[1])
                spec = rule.build(plan, key, members) if rule is not None else None
                if spec is None:
                    spec = self._generic_spec(plan, key, members, fed)
            added += spec.map_slots(slot, single)
            specs.append(spec)
            if key[-1] if key[1] == "affine" else key[4]:
                backward.append(len(specs) - 1)
        return specs, backward[::-1], added

    @staticmethod
    def _affine_spec(plan, key, members):
        _, _, _, has_b, w_rg, x_rg, b_rg, _ = key
        w_pos = np.array([plan.fused[i][0] for i in members])
        x_pos = np.array([plan.fused[i][1] for i in members])
        dense = bool(np.all(x_pos == x_pos[:1]))
        b = RefSpec([plan.fused[i][2] for i in members], False) if has_b else None
        return AffineGroup(RefSpec(members, True), RefSpec(w_pos, False), w_rg,
                           RefSpec(x_pos[0] if dense else x_pos, True), x_rg, b, b_rg, dense)

    @staticmethod
    def _generic_spec(plan, key, members, fed):
        _, op, arity, out_b, _, arg_b, arg_rg = key
        args, grads = [], []
        for c, b, r in zip(plan.parent_columns(members, arity), arg_b, arg_rg):
            const = None if (b or r) else _shared_constant(plan, c, fed)
            if const is not None:
                args.append(const)
                grads.append(False)
            else:
                args.append(RefSpec(c, b))
                grads.append(r)
        scalar_beside_batch = tuple(out_b and not b for b in arg_b)
        return OpGroup(op, RefSpec(members, out_b), args, grads, scalar_beside_batch,
                       [plan.order[i] for i in members])

    # ------------------------------------------------------------ binding

    def bind(self, batch_size: int) -> "BoundRecording":
        """The buffers and groups for batches of ``batch_size`` (made on first use; the
        last few sizes are kept)."""
        bound = self._bindings.get(batch_size)
        if bound is None:
            bound = (BoundRecording(self, batch_size) if self._tape is None
                     else TapeBinding(self, self._tape, batch_size))
            self._bindings[batch_size] = bound
            while len(self._bindings) > MAX_BINDINGS:
                self._bindings.popitem(last=False)
        else:
            self._bindings.move_to_end(batch_size)
        return bound

    def _batch_of(self, input_data) -> int:
        if len(input_data) != len(self.inputs):
            raise ShapeError(f"Recorded.run: expected {len(self.inputs)} input arrays, "
                             f"got {len(input_data)}")
        sizes = set()
        for v, b, x in zip(self.inputs, self._input_batched, input_data):
            if b:
                x = np.asarray(x, dtype=np.float64)
                if x.ndim != 1 or x.size == 0:
                    raise ShapeError(f"Recorded.run: input {v.label or 'data'} must be a "
                                     f"non-empty 1-D array (one entry per sample); got shape "
                                     f"{x.shape}")
                sizes.add(x.size)
        if len(sizes) > 1:
            raise ShapeError(f"Recorded.run: the inputs' batch sizes differ ({sorted(sizes)})")
        return sizes.pop() if sizes else (self.recorded_batch or 1)

    # ------------------------------------------------------------ running

    def forward(self, input_data: Sequence = (), param_data=None) -> float:
        """Recompute every node from ``input_data`` (arrays, in the order of
        ``inputs``) and the parameters' current data (or ``param_data``, one number per
        entry of ``params``); returns the root's value."""
        bound = self.bind(self._batch_of(input_data))
        self.last = bound
        bound.load(input_data, param_data)
        bound.forward()
        return bound.root_value()

    def param_data(self) -> np.ndarray:
        """The parameter values (in the order of ``params``) the last forward used."""
        return self.last.param_data()

    def backward(self) -> np.ndarray:
        """The gradient of the root with respect to every parameter (in the order of
        ``params``; 0 for a parameter the root does not depend on), from the values of
        the last :meth:`forward`."""
        self.last.backward()
        return self.last.param_grads()

    def run(self, input_data: Sequence = (), accumulate: bool = True,
            param_data=None) -> Tuple[float, np.ndarray]:
        """Forward and backward on new input data: returns ``(loss, grads)`` and adds
        each gradient to its parameter's ``.grad`` (as ``backward()`` does: zero them
        between steps), or sets it when ``accumulate=False``."""
        loss = self.forward(input_data, param_data)
        grads = self.backward()
        for p, g in zip(self.params, grads.tolist()):
            p.grad = (0.0 if p.grad is None else p.grad) + g if accumulate else g  # None: no grad yet
        return loss, grads

    def slot_of(self, node: Value) -> int:
        """The row of a batched node of the recording in the batched buffers (of any
        node, with the compiled tape)."""
        return self._slot_of[id(node)]

    @property
    def tape(self):
        """The compiled :class:`~micrograd_mlp.core.tape.Tape` (None: numpy replay)."""
        return self._tape

    def __repr__(self):
        if self._tape is not None:
            return (f"Recorded({self.n_nodes} nodes, a compiled tape of "
                    f"{self._tape.n_ops} operations, {len(self.params)} params)")
        return (f"Recorded({self.n_nodes} nodes, {len(self._specs)} groups over "
                f"{self.levels} levels, {len(self.params)} params)")


def _shared_constant(plan, positions, fed):
    """The common value of scalar constant leaves (never fed, no gradient), or None."""
    nodes = [plan.order[j] for j in positions]
    if all(not n.parents and not n.requires_grad and id(n) not in fed
           and n.data.__class__ is float for n in nodes):
        values = {n.data for n in nodes}
        if len(values) == 1:
            return float(values.pop())
    return None


class BoundRecording:
    """A :class:`Recorded` laid out in buffers for one batch size: ``values``
    ``(n_batched, B)`` and ``scalars`` ``(n_scalar,)`` hold the nodes' data,
    ``grads``/``scalar_grads`` their gradients. Rows can be read and written in place
    (:meth:`row`, :meth:`grad_row`), so a caller can feed inputs and read outputs
    without copies."""

    def __init__(self, rec: Recorded, batch_size: int):
        self.rec = rec
        self.batch_size = batch_size
        self.values = np.zeros((rec._n_batched, batch_size))
        self.scalars = np.zeros(rec._n_scalar)
        self.grads = np.zeros_like(self.values)
        self.scalar_grads = np.zeros_like(self.scalars)
        for s, data in rec._scalar_leaves:
            self.scalars[s] = data
        for s, data, fed in rec._batched_leaves:
            if not fed and data.size != batch_size:
                raise ShapeError(f"Recorded: the graph holds a batched constant of "
                                 f"{data.size} samples; it cannot replay batches of "
                                 f"{batch_size} (feed it as an input)")
            if not fed:
                self.values[s] = data
        bufs = {True: (self.values, self.grads), False: (self.scalars, self.scalar_grads)}
        self.groups = [spec.bind(bufs) for spec in rec._specs]
        self.backward_groups = [self.groups[i] for i in rec._backward_order]

    def row(self, node: Value) -> np.ndarray:
        """The data of a batched node (a view into the buffer)."""
        return self.values[self.rec.slot_of(node)]

    def grad_row(self, node: Value) -> np.ndarray:
        """The gradient of a batched node (a view into the buffer)."""
        return self.grads[self.rec.slot_of(node)]

    def rows(self, nodes: Sequence[Value], grads: bool = False) -> Ref:
        """The data (or gradients) of batched ``nodes`` as one :class:`Ref` of shape
        ``(len(nodes), B)``: read with ``get()``, written with ``set()``; a view when
        their slots are regular (as the inputs' are, in their order)."""
        return Ref(self.grads if grads else self.values, [self.rec.slot_of(v) for v in nodes])

    def load(self, input_data, param_data=None) -> None:
        """Write the inputs and the parameters (``param_data``, else the Values' data)."""
        rec = self.rec
        for s, b, x in zip(rec._input_slots, rec._input_batched, input_data):
            if s >= 0:
                (self.values if b else self.scalars)[s] = x
        n = len(rec.param_slots)
        if not n:
            return
        if param_data is None:
            param_data = data_vector(rec._param_nodes)
        elif not rec.params_first:
            param_data = np.asarray(param_data, dtype=np.float64)[rec.param_index]
        if rec.params_first:
            self.scalars[:n] = param_data
        else:
            self.scalars[rec.param_slots] = param_data

    def forward(self) -> None:
        """Run every group, level by level."""
        for g in self.groups:
            g.forward()

    def backward(self, seed: bool = True) -> None:
        """Propagate gradients from the outputs to every node. ``seed=True``: the root's
        gradient is 1; else the caller wrote the outputs' gradients into
        :meth:`grad_row` (zero every other row first with :meth:`zero_grads`)."""
        if seed:
            self.zero_grads()
            s, _ = self.rec._output_slots[0]
            self.scalar_grads[s] = 1.0
        for g in self.backward_groups:
            g.backward()

    def zero_grads(self) -> None:
        """Prepare a backward: zero the gradients that add several contributions (the
        others are written once; an output's gradient is the caller's to write, with
        ``grad_row(node)[...] = ...``, after this call)."""
        rows = self.rec._accumulated_rows
        if rows.size == self.grads.shape[0]:
            self.grads.fill(0.0)
        elif rows.size:
            self.grads[rows] = 0.0
        self.scalar_grads.fill(0.0)

    def root_value(self) -> float:
        s, _ = self.rec._output_slots[0]
        return float(self.scalars[s])

    def param_data(self) -> np.ndarray:
        rec = self.rec
        if rec.params_first:
            return self.scalars[:len(rec.params)].copy()
        out = np.array([p.data for p in rec.params], dtype=np.float64)
        out[rec.param_index] = self.scalars[rec.param_slots]
        return out

    def param_grads(self) -> np.ndarray:
        """The gradient of every parameter (in the order of ``params``) as a new array."""
        rec = self.rec
        if rec.params_first:
            return self.scalar_grads[:len(rec.params)].copy()
        grads = np.zeros(len(rec.params))
        if len(rec.param_slots):
            grads[rec.param_index] = self.scalar_grads[rec.param_slots]
        return grads
