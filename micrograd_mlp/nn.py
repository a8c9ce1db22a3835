"""Neurons, layers and multi-layer perceptrons built from :class:`~micrograd_mlp.engine.Value`.

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

Saving (:meth:`MLP.save`) writes JSON, see :data:`CHECKPOINT_VERSION` and
:func:`save_checkpoint` for the format.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import activations as _activations
from .composite import grouped
from .engine import DataTypeError, MicrogradError, ShapeError, Value, sum_values

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "CheckpointError", "INITIALIZERS", "initialize",
    "xavier_normal", "xavier_uniform", "he_normal", "uniform",
    "save_checkpoint", "load_checkpoint", "CHECKPOINT_VERSION",
]


class CheckpointError(MicrogradError, ValueError):
    """A saved model cannot be read or does not fit: corrupt or truncated file, unknown
    format version, or parameters of another architecture."""


# ---------------------------------------------------------------- initialisers
# Each returns a (d_out, d_in) array: row i holds the weights of neuron i.


def xavier_normal(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot normal: ``w ~ N(0, sigma^2)`` with ``sigma = sqrt(2 / (d_in + d_out))``."""
    return rng.normal(0.0, math.sqrt(2.0 / (d_in + d_out)), size=(d_out, d_in))


def xavier_uniform(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot uniform: ``w ~ U(-a, a)`` with ``a = sqrt(6 / (d_in + d_out))`` (the same
    variance ``2 / (d_in + d_out)`` as :func:`xavier_normal`)."""
    a = math.sqrt(6.0 / (d_in + d_out))
    return rng.uniform(-a, a, size=(d_out, d_in))


def he_normal(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """He (Kaiming) normal for ReLU units: ``w ~ N(0, 2 / d_in)``."""
    return rng.normal(0.0, math.sqrt(2.0 / d_in), size=(d_out, d_in))


def uniform(d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """``w ~ U(-1, 1)`` (micrograd's choice)."""
    return rng.uniform(-1.0, 1.0, size=(d_out, d_in))


INITIALIZERS: Dict[str, Callable] = {
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "uniform": uniform,
}


def initialize(init, d_in: int, d_out: int, rng: np.random.Generator) -> np.ndarray:
    """The ``(d_out, d_in)`` weight matrix of scheme ``init`` (a name in
    :data:`INITIALIZERS` or a callable ``(d_in, d_out, rng) -> array``). Biases are
    always initialised to zero."""
    fn = init if callable(init) else INITIALIZERS.get(init)
    if fn is None:
        raise ValueError(f"unknown initialiser {init!r}; known: {', '.join(INITIALIZERS)}")
    w = np.asarray(fn(d_in, d_out, rng), dtype=np.float64)
    if w.shape != (d_out, d_in):
        raise ShapeError(f"initialiser {init!r} returned shape {w.shape}, expected {(d_out, d_in)}")
    return w


# ---------------------------------------------------------------- helpers


def _activation_name(spec) -> str:
    """The registry name of an activation spec, or "" for an unnamed callable."""
    if spec is None:
        return "identity"
    if isinstance(spec, str):
        fn = _activations.get(spec)
        return fn.name
    if isinstance(spec, _activations.Activation):
        return spec.name
    name = getattr(spec, "composite_name", "")
    return name if name in _activations.ACTIVATIONS else ""


def _check_size(n, what):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataTypeError(f"{what} must be a positive integer, not {n!r}")
    if n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n}")
    return int(n)


def _as_input(x, label):
    if isinstance(x, Value):
        return x
    return Value(x, label, requires_grad=False)


def _wrap_inputs(owner, x, nin: int, prefix: str) -> List[Value]:
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
        self.nin = _check_size(nin, "Neuron nin")
        self.activation = activation
        self.act = _activations.get(activation)
        self.activation_name = _activation_name(activation)
        self.layer, self.index = int(layer), int(index)
        if weights is None:
            rng = rng if rng is not None else np.random.default_rng(seed)
            weights = initialize(init, self.nin, 1, rng)[0]
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
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
        return self.forward(_wrap_inputs(self, x, self.nin, f"x{self.layer - 1}"))[1]

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
        self.nin = _check_size(nin, "Layer nin")
        self.nout = _check_size(nout, "Layer nout")
        self.index = int(index)
        rng = rng if rng is not None else np.random.default_rng(seed)
        W = initialize(init, self.nin, self.nout, rng)
        self.neurons = [Neuron(self.nin, activation, bias, layer=self.index, index=i,
                               weights=W[i]) for i in range(self.nout)]
        self.activation = activation
        self.activation_name = self.neurons[0].activation_name
        self.bias = bool(bias)

    def named_parameters(self):
        return [item for n in self.neurons for item in n.named_parameters()]

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
        return self.forward(_wrap_inputs(self, x, self.nin, f"x{self.index - 1}"))[1]

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


_SAME = object()  # out_activation default: the same as the hidden layers'


class MLP(Module):
    """A multi-layer perceptron ``nin -> sizes[0] -> ... -> sizes[-1]``.

    * ``sizes``: the width of every layer, the output layer last (``MLP(3, [1])`` has no
      hidden layer: a linear or logistic model).
    * ``activation``: a name, a callable or None (linear) for the hidden layers, or a
      list with one entry per layer (then ``out_activation`` must not be given).
    * ``out_activation``: the output layer's; by default the same as ``activation``
      (seed 001 and seed 003 use sigmoid everywhere). Pass None for a linear output.
    * ``init``: ``"xavier_normal"`` (default), ``"xavier_uniform"``, ``"he_normal"``,
      ``"uniform"`` or a callable; biases start at 0. ``seed`` seeds
      ``np.random.default_rng`` (the global numpy state is never used).
    * ``bias=False``: weights only (seed 000 ex. 2).

    ``model(x)`` takes a list of ``nin`` numbers or Values (one sample) or an
    ``(n, nin)`` array (a lockstep batch) and returns a Value for one output, else a
    list of Values. ``model.intermediates`` then holds ``{"x0": [...], "s1": [...],
    "x1": [...], ...}``.
    """

    def __init__(self, nin: int, sizes: Sequence[int], activation="sigmoid",
                 out_activation=_SAME, init="xavier_normal", seed=None, bias: bool = True):
        self.nin = _check_size(nin, "MLP nin")
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
            sizes = [sizes]
        sizes = list(sizes)
        if not sizes:
            raise ValueError("MLP sizes is empty: give the width of each layer, the output layer "
                             "last, e.g. MLP(2, [8, 1])")
        self.sizes = [_check_size(n, f"MLP layer {i + 1} size") for i, n in enumerate(sizes)]
        if isinstance(activation, (list, tuple)):
            if out_activation is not _SAME:
                raise ValueError("give either a list of activations (one per layer) or "
                                 "activation + out_activation, not both")
            if len(activation) != len(self.sizes):
                raise ValueError(f"{len(activation)} activations for {len(self.sizes)} layers")
            acts = list(activation)
        else:
            out = activation if out_activation is _SAME else out_activation
            acts = [activation] * (len(self.sizes) - 1) + [out]
        for a in acts:
            _activations.get(a)  # fail now, not at the first call
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.seed = seed
        self.bias = bool(bias)
        rng = np.random.default_rng(seed)
        widths = [self.nin] + self.sizes
        self.layers = [Layer(widths[l], widths[l + 1], acts[l], bias, init=init, index=l + 1,
                             rng=rng) for l in range(len(self.sizes))]
        self.intermediates: Dict[str, List[Value]] = {}

    # ------------------------------------------------------------ structure

    @property
    def nout(self) -> int:
        """Width of the output layer."""
        return self.sizes[-1]

    @property
    def activations(self) -> List[str]:
        """Registry name of each layer's activation ("" for an unnamed callable)."""
        return [layer.activation_name for layer in self.layers]

    def named_parameters(self):
        return [item for layer in self.layers for item in layer.named_parameters()]

    def __repr__(self):
        parts = [str(self.nin)]
        for layer in self.layers:
            parts.append(f"[{layer.nout} {layer.activation_name or 'custom'}]")
        b = "" if self.bias else ", bias=False"
        return f"MLP({' -> '.join(parts)}{b})"

    # ------------------------------------------------------------ forward

    @property
    def cache(self) -> Dict[str, List[Value]]:
        """Alias of ``intermediates``: the labelled nodes of the last forward pass."""
        return self.intermediates

    def forward(self, x) -> List[Value]:
        """The list of output Values (always a list), recording ``intermediates``."""
        xs = _wrap_inputs(self, x, self.nin, "x0")
        cache = {"x0": xs}
        for layer in self.layers:
            ss, xs = layer.forward(xs)
            cache[f"s{layer.index}"] = ss
            cache[f"x{layer.index}"] = xs
        self.intermediates = cache
        return xs

    def __call__(self, x):
        """Forward pass: a Value for a one-output network, else a list of Values."""
        out = self.forward(x)
        return out[0] if len(out) == 1 else out

    # ------------------------------------------------------------ parameters by hand

    def set_parameters(self, weights=None, biases=None, layout: str = "out_in") -> "MLP":
        """Overwrite weights and/or biases from numpy arrays, one per layer.

        ``layout="out_in"`` (default): ``weights[l]`` has shape ``(nout, nin)``, row =
        neuron (seed 001, PyTorch). ``layout="in_out"``: shape ``(nin, nout)``, the
        ``x . W`` convention of seeds 000/002/004. A matrix is never transposed by
        guessing; a shape that does not fit raises :class:`ShapeError` (with a hint
        when the other layout would fit). ``biases[l]`` has ``nout`` entries. All
        shapes are checked before anything is changed. Returns the model."""
        if layout not in ("out_in", "in_out"):
            raise ValueError(f"layout must be 'out_in' (rows = neurons) or 'in_out' (x . W), not {layout!r}")
        nl = len(self.layers)
        new_w, new_b = [None] * nl, [None] * nl
        if weights is not None:
            weights = list(weights)
            if len(weights) != nl:
                raise ShapeError(f"{len(weights)} weight matrices for {nl} layers of {self!r}")
            for l, (layer, W) in enumerate(zip(self.layers, weights)):
                W = np.asarray(W, dtype=np.float64)
                if W.ndim == 1 and layer.nout == 1 and W.size == layer.nin:
                    W = W.reshape(1, -1) if layout == "out_in" else W.reshape(-1, 1)
                want = (layer.nout, layer.nin) if layout == "out_in" else (layer.nin, layer.nout)
                if W.shape != want:
                    hint = ""
                    if W.shape == want[::-1]:
                        other = "in_out" if layout == "out_in" else "out_in"
                        hint = f" (this shape fits layout={other!r}; pass it explicitly if meant)"
                    raise ShapeError(f"weights of layer {l + 1}: expected shape {want} for "
                                     f"layout={layout!r}, got {W.shape}{hint}")
                if not np.all(np.isfinite(W)):
                    raise ValueError(f"weights of layer {l + 1} contain NaN or inf")
                new_w[l] = W if layout == "out_in" else W.T
        if biases is not None:
            biases = list(biases)
            if len(biases) != nl:
                raise ShapeError(f"{len(biases)} bias vectors for {nl} layers of {self!r}")
            for l, (layer, b) in enumerate(zip(self.layers, biases)):
                if b is None:
                    continue
                if not layer.bias:
                    raise ValueError(f"layer {l + 1} has no biases (bias=False)")
                b = np.asarray(b, dtype=np.float64)
                if b.size != layer.nout or (b.ndim == 2 and 1 not in b.shape) or b.ndim > 2:
                    raise ShapeError(f"biases of layer {l + 1}: expected {layer.nout} values, "
                                     f"got shape {b.shape}")
                if not np.all(np.isfinite(b)):
                    raise ValueError(f"biases of layer {l + 1} contain NaN or inf")
                new_b[l] = b.reshape(-1)
        for layer, W, b in zip(self.layers, new_w, new_b):
            for i, n in enumerate(layer.neurons):
                if W is not None:
                    for j, w in enumerate(n.w):
                        w.data = float(W[i, j])
                if b is not None:
                    n.b.data = float(b[i])
        return self

    def get_parameters(self, layout: str = "out_in"):
        """``(weights, biases)``: lists of numpy arrays, one per layer, in ``layout``
        (see :meth:`set_parameters`); ``biases[l]`` is None without biases."""
        if layout not in ("out_in", "in_out"):
            raise ValueError(f"layout must be 'out_in' or 'in_out', not {layout!r}")
        ws = [layer.weight_matrix() for layer in self.layers]
        if layout == "in_out":
            ws = [W.T.copy() for W in ws]
        return ws, [layer.bias_vector() for layer in self.layers]

    # ------------------------------------------------------------ training shortcut

    def train(self, x, y, eta: float = 0.01, iterations: int = 100, **kwargs):
        """Batch gradient descent with the squared loss ``1/2 (yhat - y)^2`` (seed 001
        Task 6): ``iterations`` full-batch steps of plain SGD with learning rate
        ``eta``. Returns the :class:`~micrograd_mlp.train.History`; more options as in
        :func:`~micrograd_mlp.train.fit`."""
        from .train import fit

        kwargs.setdefault("loss", "squared_error")
        kwargs.setdefault("progress", False)
        return fit(self, x, y, lr=eta, epochs=iterations, **kwargs)

    # ------------------------------------------------------------ save / load

    def architecture(self) -> Dict:
        """What is needed to rebuild the network: ``nin``, ``sizes``, activation names,
        ``bias``."""
        names = self.activations
        for l, n in enumerate(names):
            if not n:
                raise CheckpointError(f"layer {l + 1} uses an unregistered activation "
                                      f"callable, which cannot be saved by name")
        return {"nin": self.nin, "sizes": list(self.sizes), "activations": names,
                "bias": self.bias}

    @classmethod
    def from_architecture(cls, arch: Dict) -> "MLP":
        """A fresh network (zero biases, seed-0 weights) of the given architecture."""
        try:
            return cls(arch["nin"], arch["sizes"], activation=list(arch["activations"]),
                       bias=bool(arch.get("bias", True)), seed=0)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"invalid architecture {arch!r:.200}: {e}") from e

    def save(self, path, optimizer=None) -> None:
        """Write the network (and optionally ``optimizer``'s state) to ``path`` as JSON,
        atomically (see :func:`save_checkpoint`)."""
        save_checkpoint(path, self, optimizer)

    @classmethod
    def load(cls, path) -> "MLP":
        """Read a network written by :meth:`save`. Raises :class:`CheckpointError`
        for a corrupt, truncated or foreign file."""
        return load_checkpoint(path)[0]

    def load_parameters(self, path, optimizer=None) -> "MLP":
        """Load the parameters saved in ``path`` into this network (the architectures
        must match, else :class:`CheckpointError`), and the optimiser state into
        ``optimizer`` when given. Returns the model."""
        doc = _read_checkpoint(path)
        saved = doc["architecture"]
        mine = self.architecture()
        if saved != mine:
            raise CheckpointError(f"{path}: saved architecture {saved} does not match {mine}")
        self.load_state_dict(doc["parameters"])
        if optimizer is not None:
            if doc.get("optimizer") is None:
                raise CheckpointError(f"{path} holds no optimiser state")
            optimizer.load_state_dict(doc["optimizer"])
        return self

    # ------------------------------------------------------------ torch bridge

    def to_torch(self):
        """An equivalent ``torch.nn.Sequential`` (float64 ``Linear`` layers followed by
        activation modules; identity layers get none). Needs torch."""
        return _to_torch(self)

    @classmethod
    def from_torch(cls, seq) -> "MLP":
        """Read a ``torch.nn.Sequential`` of ``Linear`` and activation modules."""
        return _from_torch(seq, cls)


# ---------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "micrograd_mlp.MLP"
CHECKPOINT_VERSION = 1


def save_checkpoint(path, model: MLP, optimizer=None) -> None:
    """Write ``model`` (and ``optimizer.state_dict()`` when given) to ``path``.

    Format (JSON, UTF-8)::

        {"format": "micrograd_mlp.MLP", "version": 1,
         "architecture": {"nin": 2, "sizes": [8, 1],
                          "activations": ["sigmoid", "sigmoid"], "bias": true},
         "parameters": {"W1[0,0]": 0.12, ..., "b2[0]": 0.0},
         "optimizer": null | {"type": "Adam", ...}}

    Floats are written with ``repr`` precision, so a load gives bit-identical
    parameters. The text goes to a temporary file in the same folder which then
    replaces ``path`` with ``os.replace`` (atomic), so a failure never leaves a
    half-written file: the previous file, if any, stays intact.
    """
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": model.architecture(),
        "parameters": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
    }
    for name, v in doc["parameters"].items():
        if not math.isfinite(v):
            raise CheckpointError(f"parameter {name} is {v}; refusing to save a non-finite model")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_checkpoint(path) -> Dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path} is not a micrograd_mlp checkpoint (not UTF-8 text: {e})") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is corrupt or truncated (invalid JSON: {e})") from e
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a micrograd_mlp checkpoint (no format "
                              f"{CHECKPOINT_FORMAT!r} field)")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has format version {doc.get('version')!r}; this "
                              f"library reads version {CHECKPOINT_VERSION}")
    for key in ("architecture", "parameters"):
        if not isinstance(doc.get(key), dict):
            raise CheckpointError(f"{path}: the {key!r} entry is missing or not an object")
    return doc


def load_checkpoint(path):
    """``(model, optimizer)`` from a file written by :func:`save_checkpoint`;
    ``optimizer`` is rebuilt (same type, settings and state, over the new model's
    parameters) when one was saved, else None."""
    doc = _read_checkpoint(path)
    model = MLP.from_architecture(doc["architecture"])
    model.load_state_dict(doc["parameters"])
    opt = None
    if doc.get("optimizer") is not None:
        from . import optim

        opt = optim.from_state_dict(model.parameters(), doc["optimizer"])
    return model, opt


# ---------------------------------------------------------------- torch bridge
# torch is imported inside these functions only: it is optional and slow to import.

# activation name -> (torch.nn class name, keyword arguments): the activations whose
# registered definition is exactly that torch module's.
_TORCH_ACTS = {
    "sigmoid": ("Sigmoid", {}),
    "relu": ("ReLU", {}),
    "tanh": ("Tanh", {}),
    "silu": ("SiLU", {}),
    "swish": ("SiLU", {}),
    "softplus": ("Softplus", {}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": 0.01}),
    "gelu": ("GELU", {"approximate": "none"}),
    "gelu_tanh": ("GELU", {"approximate": "tanh"}),
    "selu_standard": ("SELU", {}),
}


def _to_torch(model: MLP):
    import torch

    mods = []
    for layer in model.layers:
        lin = torch.nn.Linear(layer.nin, layer.nout, bias=layer.bias, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.weight_matrix()))
            if layer.bias:
                lin.bias.copy_(torch.from_numpy(layer.bias_vector()))
        mods.append(lin)
        name = layer.activation_name
        if name == "identity":
            continue
        if name not in _TORCH_ACTS:
            raise ValueError(f"layer {layer.index}: activation {name or 'custom'!r} has no "
                             f"torch.nn equivalent here; known: {', '.join(sorted(_TORCH_ACTS))}")
        cls_name, kw = _TORCH_ACTS[name]
        mods.append(getattr(torch.nn, cls_name)(**kw))
    return torch.nn.Sequential(*mods)


def _from_torch(seq, cls=MLP) -> MLP:
    import torch

    reverse = {"Sigmoid": "sigmoid", "ReLU": "relu", "Tanh": "tanh", "SiLU": "silu",
               "Softplus": "softplus", "Identity": "identity", "SELU": "selu_standard"}
    mods = list(seq.children()) if isinstance(seq, torch.nn.Sequential) else [seq]
    linears, acts = [], []
    for m in mods:
        if isinstance(m, torch.nn.Linear):
            linears.append(m)
            acts.append("identity")
            continue
        if not linears or acts[-1] != "identity":
            raise ValueError(f"from_torch: expected Linear before {type(m).__name__}; the "
                             f"Sequential must alternate Linear and (optional) activation")
        name = reverse.get(type(m).__name__)
        if isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.01:
            name = "leaky_relu"
        if isinstance(m, torch.nn.GELU):
            name = {"none": "gelu", "tanh": "gelu_tanh"}.get(m.approximate)
        if isinstance(m, torch.nn.Softplus) and (m.beta != 1 or m.threshold != 20):
            name = None
        if name is None:
            raise ValueError(f"from_torch: no equivalent activation for {m!r}")
        acts[-1] = name
    if not linears:
        raise ValueError("from_torch: the Sequential holds no Linear layer")
    has_bias = {lin.bias is not None for lin in linears}
    if len(has_bias) != 1:
        raise ValueError("from_torch: some Linear layers have biases and others not")
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise ShapeError(f"from_torch: Linear({a.in_features}, {a.out_features}) is "
                             f"followed by Linear({b.in_features}, {b.out_features})")
    model = cls(linears[0].in_features, [lin.out_features for lin in linears],
                activation=acts, bias=has_bias.pop(), seed=0)
    weights = [lin.weight.detach().to(torch.float64).cpu().numpy() for lin in linears]
    biases = [None if lin.bias is None else lin.bias.detach().to(torch.float64).cpu().numpy()
              for lin in linears]
    return model.set_parameters(weights, biases if model.bias else None)
