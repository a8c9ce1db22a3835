"""The model part of a replayed training step, as a program over arrays.

Two programs compute a model's predictions ``(B, nout)`` for a batch ``X`` from the
parameter vector ``theta`` (in the order of ``model.parameters()``), and the gradient
of ``theta`` from the predictions' gradient ``G``:

* :class:`LayerProgram`, for a stack of dense layers (an :class:`~micrograd_mlp.nets.mlp.MLP`):
  the layer is the unit. Layer ``l`` reads its ``W`` ``(nout, nin)`` and ``b`` as
  strided views of ``theta`` (a neuron's weights then its bias, as
  ``model.parameters()`` lists them) and runs::

      S = X W^T + b                  (one matrix product into the activation's input row)
      A = f(S)                       (the activation's own graph, recorded from one node)
      dW = G_S^T X,  db = sum_n G_S,  G_X = G_S W      (core.recorder_groups.affine_gradients,
                                                        written straight into the views)

  The activation's graph is built once per layer on a single node: one primitive
  (relu, tanh ...) runs its own ``forward``, ``check`` and ``partials`` on the whole
  ``(B, nout)`` block; a composite (sigmoid ...) is recorded and replayed on the block
  with the primitives' own rules. The recording costs the same for a layer of 10 or
  10^5 weights and any batch.
* :class:`GraphProgram`, for any other model: the graph of one sample, recorded with
  :class:`~micrograd_mlp.core.recorder.Recorded` and replayed for every batch size.
"""
from __future__ import annotations

import operator
from typing import List, Optional

import numpy as np

from ..core.engine import Value
from ..core.graph_walk import leaves
from ..core.registry import PRIMITIVES
from ..core.recorder import Recorded
from ..core.recorder_groups import affine_gradients
from ..errors import DomainError, MicrogradError
from .layers import Layer, Neuron

__all__ = ["LayerProgram", "GraphProgram", "program_for"]


def _activation_graph(neuron):
    """``(prim, recording)`` for ``neuron.act`` applied to one batched node: ``(None,
    None)`` for the identity, ``(primitive, None)`` when it is one primitive node of
    that input (relu, tanh ...), else ``(None, recording)`` with the node as input.
    Raises LookupError when the activation holds a trainable leaf of its own."""
    u = Value(np.full(1, 0.5), "s")
    out = neuron.act(u)
    if out is u:
        return None, None
    if len(out.parents) == 1 and out.parents[0] is u:   # its only leaf is u
        return PRIMITIVES[out.op], None
    if any(n.requires_grad and n is not u for n in leaves(out)):
        raise LookupError("the activation has a trainable leaf")
    rec = Recorded([out], params=[], inputs=[u])
    rec.node_in, rec.node_out = u, out
    return None, rec


class _LayerPlan:
    """One dense layer: where its weights lie in ``theta`` and its activation."""

    def __init__(self, layer, offset):
        self.nin, self.nout, self.bias = layer.nin, layer.nout, layer.bias
        self.row = self.nin + int(self.bias)    # a neuron's weights, then its bias
        self.offset, self.size = offset, self.nout * self.row
        # an activation that is one primitive node (relu, tanh ...) runs that primitive's
        # own rules on the block directly, its result used where it lies (no copy)
        self.prim, self.act = _activation_graph(layer.neurons[0])
        # the labels the built graph gives the layer's outputs (s = x for a linear unit)
        linear = self.prim is None and self.act is None
        self.labels = [f"{'s' if linear else 'x'}{layer.index}[{j}]"
                       for j in range(self.nout)]

    def weights(self, theta):
        """``(W, b)`` as views of ``theta`` (``b`` None without biases)."""
        block = theta[self.offset:self.offset + self.size].reshape(self.nout, self.row)
        return block[:, :self.nin], (block[:, self.nin] if self.bias else None)


class _LayerBuffers:
    """The arrays of one layer for one batch size: ``S`` and ``A`` (its input and
    output) and their gradients ``gS``, ``gA``. For a recorded activation they are rows
    of the recording; for one primitive, ``A`` and the local derivative are the
    primitive's results and ``gS`` is ``gA`` multiplied in place."""

    def __init__(self, plan: _LayerPlan, B: int):
        shape = (B, plan.nout)
        self.bound, self.prim = None, plan.prim
        self.ones = np.ones(B)    # db = 1^T G_S: one product, cheaper than a reduction
        if plan.prim is not None:
            self.S, self.gA = np.zeros(shape), np.zeros(shape)
            self.A = self.gS = None
        elif plan.act is None:
            self.S = self.A = np.zeros(shape)
            self.gS = self.gA = np.zeros(shape)
        else:
            act = plan.act
            self.bound = act.bind(B * plan.nout)
            self.S = self.bound.row(act.node_in).reshape(shape)
            self.A = self.bound.row(act.node_out).reshape(shape)
            self.gS = self.bound.grad_row(act.node_in).reshape(shape)
            self.gA = self.bound.grad_row(act.node_out).reshape(shape)

    def activate(self):
        """``A = f(S)``, with the primitive's own domain check."""
        prim = self.prim
        if prim is not None:
            if prim.check is not None:
                problem = prim.check(self.S)
                if problem:
                    raise DomainError(f"replay: {prim.name}: {problem}")
            self.A = prim.forward(self.S)
        elif self.bound is not None:
            self.bound.forward()

    def prepare_backward(self):
        """Zero the activation's accumulated gradients before ``gA`` is written."""
        if self.bound is not None:
            self.bound.zero_grads()

    def derive(self):
        """``gS = gA * f'(S)`` (chain rule through the activation)."""
        prim = self.prim
        if prim is not None:
            if prim.off_where is not None:   # derivative 1, or 0 (a mask) where off
                self.gS = self.gA
                np.copyto(self.gA, 0.0, where=prim.off_where(self.A, self.S))
                return
            (d,) = prim.partials(self.A, self.S)
            if prim.piecewise:   # core.engine.contribution, in place: a zero is a mask
                # masked first, so the product never meets 0 * inf (a piecewise
                # primitive's derivative is 0, 1 or NaN)
                np.copyto(self.gA, 0.0, where=(d == 0.0))
                self.gS = np.multiply(self.gA, d, out=self.gA)
            else:
                with np.errstate(invalid="ignore"):
                    self.gS = np.multiply(self.gA, d, out=self.gA)
        elif self.bound is not None:
            self.bound.backward(seed=False)


class LayerProgram:
    """Predictions and gradients of a stack of dense layers, one array operation per
    layer and step (see the module docstring)."""

    def __init__(self, model):
        self.plans: List[_LayerPlan] = []
        offset = 0
        for layer in model.layers:
            self.plans.append(_LayerPlan(layer, offset))
            offset += self.plans[-1].size
        self.n_params = offset
        self.nin, self.nout = self.plans[0].nin, self.plans[-1].nout
        self.single = self.nout == 1        # the model returns one Value, not a list
        self.output_labels = self.plans[-1].labels
        self._buffers = {}
        self._views = {}   # id(vector) -> (vector, its per-layer (W, b) views), the last few

    def _buffers_for(self, B):
        bufs = self._buffers.get(B)
        if bufs is None:
            if len(self._buffers) >= 4:        # bounded memory: forget the oldest size
                self._buffers.pop(next(iter(self._buffers)))
            bufs = self._buffers[B] = [_LayerBuffers(p, B) for p in self.plans]
        return bufs

    def forward(self, X: np.ndarray, theta: np.ndarray, keep: bool = False) -> np.ndarray:
        """The predictions ``(B, nout)`` (a view, valid until the next forward);
        ``keep``: ``theta`` is a buffer the caller reuses (its views are kept)."""
        bufs = self._buffers_for(X.shape[0])
        weights = self._views_of(theta, keep)
        self._last = (X, weights, bufs)
        for (W, b), buf in zip(weights, bufs):
            np.matmul(X, W.T, out=buf.S)
            if b is not None:
                buf.S += b
            buf.activate()
            X = buf.A
        return X

    def backward(self, G: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The gradient of every parameter, from ``G = d loss/d predictions`` (written
        into ``out`` when given: every entry is set)."""
        X0, weights, bufs = self._last
        grads = np.empty(self.n_params) if out is None else out
        views = self._views_of(grads, keep=out is not None)
        last = bufs[-1]
        last.prepare_backward()
        last.gA[...] = G
        for l in range(len(self.plans) - 1, -1, -1):
            buf = bufs[l]
            buf.derive()
            gW, gb = views[l]
            below = bufs[l - 1] if l else None
            if below is not None:
                below.prepare_backward()
            affine_gradients(buf.gS, below.A if l else X0, weights[l][0], True, l > 0,
                             gb is not None, out_w=gW, out_x=below.gA if l else None,
                             out_b=gb, ones=buf.ones)
        return grads

    def _views_of(self, vector: np.ndarray, keep: bool):
        """The layers' ``(W, b)`` views of a parameter-shaped vector, made once for the
        vectors a step keeps (the parameter and gradient buffers: the last four)."""
        hit = self._views.get(id(vector))
        if hit is not None and hit[0] is vector:
            return hit[1]
        views = [plan.weights(vector) for plan in self.plans]
        if keep:
            self._views[id(vector)] = (vector, views)
            while len(self._views) > 4:
                self._views.pop(next(iter(self._views)))
        return views


class GraphProgram:
    """Predictions and gradients of any model, by replaying the graph of one sample
    (recorded on the first batch) for batches of every size."""

    def __init__(self, model, params, X: np.ndarray):
        xs = [Value(np.ascontiguousarray(X[:1, j]), f"x0[{j}]", requires_grad=False)
              for j in range(X.shape[1])]
        pred = model(xs)
        outs = [pred] if isinstance(pred, Value) else list(pred)
        self.rec = Recorded(outs, params, xs)
        self.outputs = outs
        self.single = isinstance(pred, Value)
        self.output_labels = [o.label for o in outs]
        self.n_params = len(params)
        self.nin, self.nout = X.shape[1], len(outs)

    def forward(self, X: np.ndarray, theta: np.ndarray, keep: bool = False) -> np.ndarray:
        bound = self.rec.bind(X.shape[0])
        self._bound = bound
        bound.load(list(X.T), theta)
        bound.forward()
        preds = np.empty((X.shape[0], self.nout))
        for j, o in enumerate(self.outputs):
            preds[:, j] = bound.row(o) if o.data.__class__ is np.ndarray else o.data
        return preds

    def backward(self, G: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        bound = self._bound
        bound.zero_grads()
        written = set()
        for j, o in enumerate(self.outputs):
            if o.data.__class__ is np.ndarray:
                row = bound.grad_row(o)
                if id(o) in written:     # one node given twice as an output
                    row += G[:, j]
                else:
                    row[...] = G[:, j]
                    written.add(id(o))
        bound.backward(seed=False)
        grads = bound.param_grads()
        if out is None:
            return grads
        out[...] = grads
        return out


def program_for(model, params, X: np.ndarray):
    """``(program, params)``: a :class:`LayerProgram` when ``model`` is a plain stack of
    dense layers (its ``forward`` chains the layers' own, unchanged) whose parameters
    are ``params`` in their order (None: all of them), else a :class:`GraphProgram`
    (``params`` None: ``model.parameters()``)."""
    stack = _layer_stack_parameters(model)
    if stack is not None and (params is None or (
            len(stack) == len(params) and all(map(operator.is_, stack, params)))):
        try:
            return LayerProgram(model), stack
        except LookupError:
            pass
    params = list(model.parameters()) if params is None else params
    return GraphProgram(model, params, X), params


def _layer_stack_parameters(model) -> Optional[List[Value]]:
    """The parameters of a plain stack of :class:`Layer` of :class:`Neuron` (each neuron
    with one activation per layer), in ``model.parameters()`` order, when the model's
    graph is the stack's: ``model.parameters()`` lists exactly these, and the model
    applied to one sample builds, node for node, the graph its layers build chained
    (the same primitives, the same parameters in the same places). Else None. The
    route is chosen from the graph, whatever the model's methods are called."""
    layers = getattr(model, "layers", None)
    if not (isinstance(layers, list) and layers
            and all(type(layer) is Layer for layer in layers)):
        return None
    params = []
    for layer in layers:
        first = layer.neurons[0]
        for n in layer.neurons:
            if type(n) is not Neuron or n.act is not first.act:
                return None
            params += n.w
            if n.b is not None:
                params.append(n.b)
    listed = list(model.parameters())
    if len(listed) != len(params) or not all(map(operator.is_, listed, params)):
        return None
    if _chains_by_construction(model):
        return params
    return params if _builds_the_stack_graph(model, layers) else None


def _chains_by_construction(model) -> bool:
    """True when the model's ``__call__`` and ``forward`` are methods marked
    :func:`~micrograd_mlp.nets.layers.chains_its_layers` and no instance attribute
    replaces ``forward``: its graph is then the stack's without building it (building
    the one-sample graph costs a scalar node per weight: seconds for 10^5 weights)."""
    cls = type(model)
    return ("forward" not in vars(model)
            and getattr(getattr(cls, "__call__", None), "chains_its_layers", False)
            and getattr(getattr(cls, "forward", None), "chains_its_layers", False))


def _builds_the_stack_graph(model, layers) -> bool:
    """True when ``model`` applied to one sample builds the graph that ``layers``
    build chained on the same sample (compared node by node, see :func:`_graph_shape`).
    The model is left as it was (a forward pass may record its intermediates)."""
    xs = [Value(0.25 + 0.5 * j / max(1, layers[0].nin), f"x0[{j}]", requires_grad=False)
          for j in range(layers[0].nin)]
    saved = dict(vars(model))
    try:
        out = model(xs)
    except MicrogradError:   # the model refuses this sample: the general route will say why
        return False
    finally:
        vars(model).clear()
        vars(model).update(saved)
    chained = xs
    for layer in layers:
        chained = layer(chained)
    outs = [out] if isinstance(out, Value) else out
    return isinstance(outs, list) and _graph_shape(outs) == _graph_shape(chained)


def _graph_shape(outputs) -> list:
    """The graph behind ``outputs`` as comparable data: per node (inputs first) its
    primitive, its parents' positions, and for a leaf its identity (a parameter, an
    input) or, for a constant, its value."""
    order, position = [], {}
    stack = [(o, False) for o in reversed(outputs)]
    while stack:
        node, done = stack.pop()
        if id(node) in position:
            continue
        if done or not node.parents:
            position[id(node)] = len(order)
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in position)
    shape = []
    for node in order:
        if node.parents:
            shape.append((node.op, tuple(position[id(p)] for p in node.parents)))
        elif node.requires_grad or node.label:
            shape.append(("leaf", id(node)))
        else:
            shape.append(("constant", np.asarray(node.data).tobytes()))
    return shape + [("out", position[id(o)]) for o in outputs]
