"""Neurons, layers and multi-layer perceptrons built from :class:`~micrograd_mlp.core.engine.Value`.

Notation (the one of the exercises, seed 001 Figure 1). Layer ``l`` (1-based) maps the
vector ``x^(l-1)`` to

    s^(l) = W^(l) x^(l-1) + b^(l)        x^(l) = f_l(s^(l))

where ``W^(l)`` has one *row* per neuron of layer ``l`` and one *column* per input
(the orientation of PyTorch's ``Linear.weight``). The parameters are Values labelled
``W1[i,j]`` (neuron ``i`` of layer 1, input ``j``, both 0-based) and ``b1[i]``; a forward
pass labels the nodes it creates ``x0[j]`` (inputs the model wrapped itself),
``s1[i]`` (pre-activations) and ``x1[i]`` (activations), and keeps them in
``model.intermediates`` so they can be printed after the call (``s`` and ``x`` of a
linear unit are one node, labelled ``s``).

A neuron is one n-ary ``sum`` node over ``w_j * x_j`` and ``b``, followed by its
activation composite; the nodes of a neuron are tagged with a ``neuron`` group inside a
``layer`` group so drawings can cluster them.

Calling a model with an ``(n, nin)`` numpy array runs all ``n`` samples in lockstep:
each input column becomes one batched leaf, parameters stay scalars and their
gradients are summed over the batch.

"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.engine import Value, sum_values
from ..core.validate import check_flag, check_int, check_seed
from ..errors import ArgumentError, CheckpointError, DataTypeError, DomainError, ShapeError
from ..functions import activations as _activations
from ..functions.composite import grouped
from .init import initialize

__all__ = ["Module", "Neuron", "Layer", "chains_its_layers"]

def _activation_name(spec) -> str:
    """The registry name of an activation spec, or "" for an unnamed callable."""
    if spec is None:
        return "identity"
    if isinstance(spec, str):
        fn = _activations.activation_named(spec)
        return fn.name
    if isinstance(spec, _activations.Activation):
        return spec.name
    name = getattr(spec, "composite_name", "")
    return name if name in _activations.ACTIVATIONS else ""


MAX_WIDTH = 10 ** 6  #: the largest layer width or number of inputs


def check_size(n, what):
    """``n`` as an int >= 1 (a layer width, a number of inputs), else a
    :class:`DataTypeError` (not an integer) or :class:`ArgumentError` (below 1)."""
    n = check_int(n, what)
    if n < 1:
        raise ArgumentError(f"{what} must be a positive integer, got {n}")
    if n > MAX_WIDTH:  # one Value per weight: beyond this a network cannot fit in memory
        raise ArgumentError(f"{what} is {n}; a scalar-Value network allows at most {MAX_WIDTH}")
    return n


def _as_input(x, label):
    if isinstance(x, Value):
        return x
    return Value(x, label, requires_grad=False)


def wrap_inputs(owner, x, nin: int, prefix: str) -> List[Value]:
    """The inputs of a forward pass as ``nin`` Values labelled ``{prefix}[j]``: from a
    list of numbers or Values (one sample), or from the columns of an ``(n, nin)``
    array (a lockstep batch)."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        if x.shape[1] != nin:
            raise ShapeError(f"{owner!r} expects {nin} input columns, got an array of shape {x.shape}")
        if x.shape[0] == 0:
            raise ShapeError(f"{owner!r} called with an empty batch (shape {x.shape})")
        if x.dtype.kind not in "biuf":
            raise DataTypeError(f"{owner!r}: input array of dtype {x.dtype} is not numeric")
        xf = np.asarray(x, dtype=np.float64)
        return [Value(np.ascontiguousarray(xf[:, j]), f"{prefix}[{j}]", requires_grad=False)
                for j in range(nin)]
    if isinstance(x, np.ndarray) and x.ndim > 2:
        raise ShapeError(f"{owner!r}: inputs must be a list of {nin} values or an "
                         f"(n, {nin}) array, got shape {x.shape}")
    if isinstance(x, (Value, str)) or not hasattr(x, "__len__"):
        if nin == 1 and not isinstance(x, str):
            x = [x]
        else:
            raise ShapeError(f"{owner!r} expects {nin} inputs (a list or an (n, {nin}) "
                             f"array), got {type(x).__name__}")
    xs = list(x)
    if len(xs) != nin:
        raise ShapeError(f"{owner!r} expects {nin} inputs, got {len(xs)}")
    return [_as_input(v, f"{prefix}[{j}]") for j, v in enumerate(xs)]


def _finite_float(x, what):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise CheckpointError(f"{what} must be a number, got {x!r:.40}")
    x = float(x)
    if not math.isfinite(x):
        raise CheckpointError(f"{what} is {x}, not a finite number")
    return x


# ---------------------------------------------------------------- modules


class Module:
    """Base class: something with named scalar parameters.

    Subclasses implement :meth:`named_parameters`; everything else derives from it."""

    def named_parameters(self) -> List[Tuple[str, Value]]:
        """``[(name, Value), ...]`` in a fixed order (layer by layer, neuron by
        neuron, weights before the bias)."""
        return []

    def parameters(self) -> List[Value]:
        """The parameter Values, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (leaf grads accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> Dict[str, float]:
        """``{name: value}`` of every parameter, as Python floats."""
        return {name: float(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state: Dict[str, float]) -> None:
        """Overwrite the parameters from ``{name: value}``. The names must be exactly
        this module's (otherwise :class:`CheckpointError` lists the missing and
        unexpected ones); nothing is changed when any check fails."""
        if not isinstance(state, dict):
            raise CheckpointError(f"a state dict must be a dict of name -> number, not {type(state).__name__}")
        named = self.named_parameters()
        names = [n for n, _ in named]
        missing = [n for n in names if n not in state]
        unexpected = [n for n in state if n not in set(names)]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} (e.g. {', '.join(missing[:4])})")
            if unexpected:
                parts.append(f"unexpected {len(unexpected)} (e.g. {', '.join(map(str, unexpected[:4]))})")
            raise CheckpointError(
                f"parameters do not fit {self!r}: " + "; ".join(parts))
        values = [_finite_float(state[n], f"parameter {n}") for n in names]
        for (_, p), v in zip(named, values):
            p.data = v


class Neuron(Module):
    """One unit: ``x_out = f(sum_j w_j x_j + b)``.

    ``nin`` inputs, ``activation`` a name (``"sigmoid"``, ``"relu"``, None = linear) or
    a callable ``Value -> Value``; ``bias=False`` drops ``b``. ``layer`` and ``index``
    only name the parameters (``W{layer}[{index},j]``, ``b{layer}[{index}]``) and the
    nodes. Weights are drawn with ``init`` (see :data:`INITIALIZERS`, with
    ``d_out = 1`` for a lone neuron) from ``np.random.default_rng(seed)``, unless
    ``weights`` (length ``nin``) is given; the bias starts at 0.
    """

    def __init__(self, nin: int, activation="sigmoid", bias: bool = True, *,
                 init="xavier_normal", seed=None, layer: int = 1, index: int = 0,
                 weights=None, rng: Optional[np.random.Generator] = None):
        self.nin = check_size(nin, "Neuron nin")
        bias = check_flag(bias, "Neuron bias")
        seed = check_seed(seed, "Neuron seed")
        self.activation = activation
        self.act = _activations.activation_named(activation)
        self.activation_name = _activation_name(activation)
        self.layer = check_int(layer, "Neuron layer", minimum=0)
        self.index = check_int(index, "Neuron index", minimum=0)
        if weights is None:
            rng = rng if rng is not None else np.random.default_rng(seed)
            weights = initialize(init, self.nin, 1, rng)[0]
        try:
            weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError) as e:
            raise DataTypeError(f"Neuron weights must be {self.nin} numbers: {e}") from None
        if not np.all(np.isfinite(weights)):
            raise DomainError(f"Neuron weights must be finite, got {weights!r:.60}")
        if weights.size != self.nin:
            raise ShapeError(f"Neuron with {self.nin} inputs got {weights.size} weights")
        self.w = [Value(float(wj), f"W{self.layer}[{self.index},{j}]")
                  for j, wj in enumerate(weights)]
        self.b = Value(0.0, f"b{self.layer}[{self.index}]") if bias else None

    @property
    def bias(self) -> bool:
        """True when the neuron has a bias ``b``."""
        return self.b is not None

    def named_parameters(self):
        out = [(w.label, w) for w in self.w]
        if self.b is not None:
            out.append((self.b.label, self.b))
        return out

    def parameters(self) -> List[Value]:
        # the list without a (name, Value) pair per weight: for 10^5 weights the pairs
        # cost more than the training step (each one is an object the collector tracks)
        if type(self).named_parameters is not Neuron.named_parameters:
            return super().parameters()
        return self.w + [self.b] if self.b is not None else list(self.w)

    def forward(self, xs: Sequence[Value]) -> Tuple[Value, Value]:
        """``(s, x)``: the pre-activation ``s = sum_j w_j x_j + b`` (one n-ary sum node,
        labelled ``s{layer}[{index}]``) and the activation ``x = f(s)`` (labelled
        ``x{layer}[{index}]``; the same node as ``s`` for a linear unit)."""
        with grouped("neuron", kind="module", title=f"neuron {self.layer}.{self.index}",
                     layer=self.layer, index=self.index):
            terms = [w * x for w, x in zip(self.w, xs)]
            if self.b is not None:
                terms.append(self.b)
            s = sum_values(terms)
            s.label = f"s{self.layer}[{self.index}]"
            x = self.act(s)
            if x is not s:
                x.label = f"x{self.layer}[{self.index}]"
        return s, x

    def __call__(self, x) -> Value:
        """The neuron's output ``f(w . x + b)`` for a list of ``nin`` numbers or Values
        (or an ``(n, nin)`` array: a batched Value)."""
        return self.forward(wrap_inputs(self, x, self.nin, f"x{self.layer - 1}"))[1]

    def __repr__(self):
        b = "" if self.bias else ", bias=False"
        return f"Neuron({self.nin}, {self.activation_name or self.act!r}{b})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs: ``x_out = f(W x + b)`` with
    ``W`` of shape ``(nout, nin)``. ``index`` is the layer number ``l`` used in names.
    Calling it returns a list of ``nout`` Values."""

    def __init__(self, nin: int, nout: int, activation="sigmoid", bias: bool = True, *,
                 init="xavier_normal", seed=None, index: int = 1,
                 rng: Optional[np.random.Generator] = None):
        self.nin = check_size(nin, "Layer nin")
        self.nout = check_size(nout, "Layer nout")
        bias = check_flag(bias, "Layer bias")
        seed = check_seed(seed, "Layer seed")
        self.index = check_int(index, "Layer index", minimum=0)
        rng = rng if rng is not None else np.random.default_rng(seed)
        W = initialize(init, self.nin, self.nout, rng)
        self.neurons = [Neuron(self.nin, activation, bias, layer=self.index, index=i,
                               weights=W[i]) for i in range(self.nout)]
        self.activation = activation
        self.activation_name = self.neurons[0].activation_name
        self.bias = bool(bias)

    def named_parameters(self):
        return [item for n in self.neurons for item in n.named_parameters()]

    def parameters(self) -> List[Value]:
        if type(self).named_parameters is not Layer.named_parameters:
            return super().parameters()
        return [p for n in self.neurons for p in n.parameters()]

    def forward(self, xs: Sequence[Value]) -> Tuple[List[Value], List[Value]]:
        """``(s, x)``: lists of the pre-activations and activations of every neuron."""
        ss, outs = [], []
        with grouped("layer", kind="module", title=f"layer {self.index}", layer=self.index):
            for n in self.neurons:
                s, x = n.forward(xs)
                ss.append(s)
                outs.append(x)
        return ss, outs

    def __call__(self, x) -> List[Value]:
        """The ``nout`` outputs for a list of ``nin`` numbers or Values (or an
        ``(n, nin)`` array: batched Values)."""
        return self.forward(wrap_inputs(self, x, self.nin, f"x{self.index - 1}"))[1]

    def weight_matrix(self) -> np.ndarray:
        """``W`` as a ``(nout, nin)`` array."""
        return np.array([[w.data for w in n.w] for n in self.neurons], dtype=np.float64)

    def bias_vector(self) -> Optional[np.ndarray]:
        """``b`` as a ``(nout,)`` array (None without biases)."""
        if not self.bias:
            return None
        return np.array([n.b.data for n in self.neurons], dtype=np.float64)

    def __repr__(self):
        b = "" if self.bias else ", bias=False"
        return f"Layer({self.nin} -> {self.nout} {self.activation_name or 'custom'}{b})"


def chains_its_layers(method):
    """Mark a model's ``forward`` or ``__call__`` whose graph is, by construction, its
    ``layers`` applied one after the other (the library's :class:`MLP` methods). Replay
    then takes the layer program without first building and comparing the two graphs
    of one sample; a method without the mark (a subclass's own) is compared."""
    if not callable(method):
        raise DataTypeError(f"chains_its_layers marks a method (a function), "
                            f"not {type(method).__name__}")
    method.chains_its_layers = True
    return method


SAME_ACTIVATION = object()  # out_activation default: the same as the hidden layers'


