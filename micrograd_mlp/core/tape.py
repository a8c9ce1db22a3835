"""The compiled tape: a recorded graph as a flat program run by compiled kernels.

:class:`~micrograd_mlp.core.recorder.Recorded` takes a graph apart once. With numba
installed (the ``compiled`` extra) and every primitive of the graph holding compiled
rules, it becomes a :class:`Tape`:

* every node gets a row of one value buffer ``V`` and one gradient buffer ``G``, both
  ``(n_nodes, B)``: row ``i`` is node ``i`` of the topological order, one column per
  sample (a scalar node, such as a weight, holds its value in every column);
* every operation is one entry of four index arrays: its op code, the row it writes,
  and the rows it reads (``args[ptr[k]:ptr[k + 1]]``).

The kernels (:mod:`micrograd_mlp.core.tape_kernels`, generated from the primitives
table) run the operations in order (forward) and in reverse (backward), the samples in
the innermost loop. The chain rule is the engine's,

    G[input, b]  +=  G[node, b] * d node/d input (at sample b)

so a scalar node collects its gradient spread over the columns: its gradient is the
sum of its row (the sum over the batch a weight receives). A batch sum ``sum_n u[n]``
adds the columns of ``u`` and sends the sum of its own row's gradients back to each.
Every check of a primitive runs on every operation and sample: the kernel stops at the
first operation outside its domain and Python raises the built graph's
:class:`~micrograd_mlp.errors.DomainError`, naming the node.

A primitive without compiled rules makes its graphs replay with numpy (said once per
primitive, with a :class:`SlowReplayWarning`); so does a graph recorded without numba
(silently: the numbers are the same).
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

from ..errors import ArgumentError, DomainError, ShapeError
from .node_validation import describe
from .registry import PRIMITIVES
from .recorder_groups import Ref
from .tape_kernels import REFUSED, available, kernels

__all__ = ["Tape", "TapeBinding", "SlowReplayWarning", "choose_engine", "ENGINES"]

ndarray = np.ndarray

#: the replay engines: "auto" (the tape when it can run, else numpy), "compiled" (the
#: tape or an error), "numpy" (the level-by-level groups of core.recorder)
ENGINES = ("auto", "compiled", "numpy")


class SlowReplayWarning(UserWarning):
    """A recorded graph replays with numpy instead of the compiled tape (a primitive
    without compiled rules)."""


_WARNED = set()


def choose_engine(engine: str, order) -> str:
    """``"compiled"`` or ``"numpy"`` for a graph whose nodes are ``order``."""
    if engine not in ENGINES:
        raise ArgumentError(f"Recorded: engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "numpy":
        return "numpy"
    if not available():
        if engine == "compiled":
            raise ArgumentError("Recorded(engine='compiled') needs numba (pip install numba, "
                                "or the package's `compiled` extra)")
        return "numpy"
    ops = {n.op for n in order if n.parents}
    missing = _missing(ops)
    if not missing:
        try:
            kernels(ops)   # loaded (or compiled) here: a rule numba refuses is found now
        except Exception as err:  # noqa: BLE001 - numba's errors have many classes
            if engine == "compiled":
                raise
            _warn_once("", f"the compiled tape is unavailable ({type(err).__name__}: {err}); "
                           f"recorded graphs replay with numpy")
            return "numpy"
        missing = _missing(ops)
    if not missing:
        return "compiled"
    if engine == "compiled":
        raise ArgumentError(f"Recorded(engine='compiled'): no compiled rules for "
                            f"{', '.join(map(repr, missing))}")
    for op in missing:
        if op in PRIMITIVES:
            why = (f"numba refused its compiled rules ({REFUSED[op]})" if op in REFUSED else
                   "it has no compiled rules (compiled_forward, compiled_partials)")
            _warn_once(op, f"the primitive {op!r}: {why}; graphs using it replay with numpy "
                           f"(the same numbers, more slowly)")
    return "numpy"


def _missing(ops):
    """The primitives of ``ops`` the tape cannot run, sorted."""
    return sorted(op for op in ops
                  if op not in PRIMITIVES or not PRIMITIVES[op].compiled or op in REFUSED)


def _warn_once(key, message):
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, SlowReplayWarning, stacklevel=5)


class Tape:
    """The flat program of a graph: ``order`` (its nodes, parents first), ``position``
    (node id -> row), ``batched`` (per node: holds a batch), the parameters' and inputs'
    rows, and the index arrays of the operations (see the module docstring)."""

    def __init__(self, order, position, batched, params, inputs, outputs):
        self.kernels = kernels({n.op for n in order if n.parents})
        self.position = position
        self.n = len(order)
        code_of = self.kernels.codes
        copy_code = self.kernels.copy_code
        codes, outs, ptr, args, needs, rg, nodes = [], [], [0], [], [], [], []
        for i, node in enumerate(order):
            parents = node.parents
            if not parents:
                continue
            code = code_of[node.op]
            rows = [position[id(p)] for p in parents]
            if code == code_of.get("batch_sum") and not batched[rows[0]]:
                code = copy_code       # the batch sum of a scalar is the scalar
            codes.append(code)
            outs.append(i)
            args += rows
            needs += [p.requires_grad for p in parents]
            ptr.append(len(args))
            rg.append(node.requires_grad)
            nodes.append(node)
        self.codes = np.array(codes, dtype=np.int64)
        self.outs = np.array(outs, dtype=np.int64)
        self.ptr = np.array(ptr, dtype=np.int64)
        self.args = np.array(args, dtype=np.int64)
        self.needs = np.array(needs, dtype=np.bool_)
        self.rg = np.array(rg, dtype=np.bool_)
        self.nodes = nodes      # the operations' nodes, to name one in an error
        present = [p for p in params if id(p) in position]
        self.param_rows = np.array([position[id(p)] for p in present], dtype=np.int64)
        self.param_index = np.array([i for i, p in enumerate(params) if id(p) in position],
                                    dtype=np.int64)
        self.param_nodes = present
        self.all_params = len(present) == len(params)
        self.input_rows = [position.get(id(v), -1) for v in inputs]
        self.output_rows = [position[id(v)] for v in outputs]
        fed = {id(v) for v in list(params) + list(inputs)}
        self.constants = [(i, n.data) for i, n in enumerate(order)
                          if not n.parents and id(n) not in fed]

    @property
    def n_ops(self) -> int:
        """The number of operations (nodes made by a primitive)."""
        return int(self.codes.size)

    def arrays(self):
        """``(codes, outs, ptr, args, needs, rg)``: the program as index arrays, with
        ``names`` (op code -> primitive) in :attr:`kernels` (what the benchmark's C tape
        reads)."""
        return self.codes, self.outs, self.ptr, self.args, self.needs, self.rg

    def domain_error(self, k: int, b: int, V: np.ndarray) -> DomainError:
        """The built graph's error for operation ``k`` at sample ``b``: the primitive's
        own check on the inputs there names the problem."""
        node = self.nodes[k]
        prim = PRIMITIVES[node.op]
        xs = [float(V[self.args[j], b]) for j in range(self.ptr[k], self.ptr[k + 1])]
        problem = (prim.check(*xs) if prim.check is not None else None) or \
            "the inputs are outside the domain"
        names = ", ".join(describe(p) for p in node.parents)
        return DomainError(f"{node.op}({names}): {problem}")


class TapeBinding:
    """A :class:`Tape` laid out for one batch size: ``values`` and ``grads``, both
    ``(n_nodes, B)``. The interface of :class:`~micrograd_mlp.core.recorder.BoundRecording`:
    rows read and written in place, :meth:`load`, :meth:`forward`, :meth:`backward` ..."""

    def __init__(self, rec, tape: Tape, batch_size: int):
        self.rec = rec
        self.tape = tape
        self.batch_size = batch_size
        self.values = np.zeros((tape.n, batch_size))
        self.grads = np.zeros_like(self.values)
        for i, data in tape.constants:
            if data.__class__ is ndarray and data.size != batch_size:
                raise ShapeError(f"Recorded: the graph holds a batched constant of "
                                 f"{data.size} samples; it cannot replay batches of "
                                 f"{batch_size} (feed it as an input)")
            self.values[i] = data

    def row(self, node) -> np.ndarray:
        """The data of a node (a view into the buffer; a scalar node's row holds its
        value in every column)."""
        return self.values[self.rec.slot_of(node)]

    def grad_row(self, node) -> np.ndarray:
        """The gradient of a node (a view into the buffer)."""
        return self.grads[self.rec.slot_of(node)]

    def rows(self, nodes: Sequence, grads: bool = False) -> Ref:
        """The data (or gradients) of ``nodes`` as one :class:`Ref` ``(len(nodes), B)``."""
        return Ref(self.grads if grads else self.values, [self.rec.slot_of(v) for v in nodes])

    def load(self, input_data, param_data=None) -> None:
        """Write the inputs and the parameters (``param_data``, else the Values' data)."""
        tape, V = self.tape, self.values
        for r, x in zip(tape.input_rows, input_data):
            if r >= 0:
                V[r] = x
        if not tape.param_rows.size:
            return
        if param_data is None:
            param_data = np.array([p.data for p in tape.param_nodes], dtype=np.float64)
        else:
            param_data = np.asarray(param_data, dtype=np.float64)
            if not tape.all_params:
                param_data = param_data[tape.param_index]
        if V.shape[1] == 1:
            V[tape.param_rows, 0] = param_data
        else:
            V[tape.param_rows] = param_data[:, None]

    def forward(self) -> None:
        """Run every operation in order (the kernel stops at a domain error)."""
        t = self.tape
        run = t.kernels.single()[0] if self.batch_size == 1 else t.kernels.forward
        k, b = run(t.codes, t.outs, t.ptr, t.args, self.values)
        if k >= 0:
            raise t.domain_error(k, b, self.values)

    def backward(self, seed: bool = True) -> None:
        """Propagate gradients from the outputs to every node. ``seed=True``: the root's
        gradient is 1; else the caller wrote the outputs' gradients (after
        :meth:`zero_grads`)."""
        t = self.tape
        if seed:
            self.grads.fill(0.0)
            # the root is a scalar held in every column: its gradient 1 is spread evenly
            # (1/B each), so that no column multiplies a zero by an infinite local
            # derivative where the built graph multiplies the whole gradient by it
            self.grads[t.output_rows[0], :] = 1.0 / self.grads.shape[1]
        run = t.kernels.single()[1] if self.batch_size == 1 else t.kernels.backward
        run(t.codes, t.outs, t.ptr, t.args, t.needs, t.rg, self.values, self.grads)

    def zero_grads(self) -> None:
        """Prepare a backward whose outputs' gradients the caller writes."""
        self.grads.fill(0.0)

    def root_value(self) -> float:
        """The value of the (first) output after :meth:`forward`."""
        return float(self.values[self.tape.output_rows[0], 0])

    def param_data(self) -> np.ndarray:
        """The parameter values (in the order of ``params``) the last forward used."""
        t = self.tape
        out = np.array([p.data for p in self.rec.params], dtype=np.float64) \
            if not t.all_params else np.empty(len(self.rec.params))
        out[t.param_index] = self.values[t.param_rows, 0]
        return out

    def param_grads(self) -> np.ndarray:
        """The gradient of every parameter (in the order of ``params``): the sum of its
        row (a weight's gradient summed over the batch)."""
        t = self.tape
        G = self.grads
        rows = G[t.param_rows, 0] if G.shape[1] == 1 else G[t.param_rows].sum(axis=1)
        if t.all_params:
            return rows
        grads = np.zeros(len(self.rec.params))
        grads[t.param_index] = rows
        return grads


def tape_or_none(engine: Optional[str], order, *args) -> Optional[Tape]:
    """A :class:`Tape` when ``engine`` chooses it for this graph, else None."""
    if choose_engine(engine, order) != "compiled":
        return None
    return Tape(order, *args)
