"""The multi-layer perceptron: layers stacked, with training, saving and the torch
bridge as methods (each a thin call into its own module)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from ..core.engine import Value
from ..core.validate import check_flag, check_seed
from ..errors import ArgumentError, CheckpointError, DataTypeError, DomainError, GradientError, ShapeError
from . import optim
from .checkpoint import check_architecture, read_checkpoint, save_checkpoint
from ..functions import activations as _activations
from .layers import SAME_ACTIVATION, Layer, Module, chains_its_layers, check_size, wrap_inputs
from .torch_bridge import from_torch, to_torch
from .train import fit

__all__ = ["MLP", "load_checkpoint"]

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
                 out_activation=SAME_ACTIVATION, init="xavier_normal", seed=None, bias: bool = True):
        self.nin = check_size(nin, "MLP nin")
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
            sizes = [sizes]
        if not isinstance(sizes, (list, tuple, range, np.ndarray)):
            raise DataTypeError(f"MLP sizes must be a list of layer widths, e.g. [8, 1], "
                                f"not {type(sizes).__name__} ({sizes!r:.40})")
        sizes = list(np.asarray(sizes).ravel()) if isinstance(sizes, np.ndarray) else list(sizes)
        if not sizes:
            raise ArgumentError("MLP sizes is empty: give the width of each layer, the output "
                                "layer last, e.g. MLP(2, [8, 1])")
        self.sizes = [check_size(n, f"MLP layer {i + 1} size") for i, n in enumerate(sizes)]
        if isinstance(activation, (list, tuple)):
            if out_activation is not SAME_ACTIVATION:
                raise ArgumentError("give either a list of activations (one per layer) or "
                                    "activation + out_activation, not both")
            if len(activation) != len(self.sizes):
                raise ArgumentError(f"{len(activation)} activations for {len(self.sizes)} layers")
            acts = list(activation)
        else:
            out = activation if out_activation is SAME_ACTIVATION else out_activation
            acts = [activation] * (len(self.sizes) - 1) + [out]
        for a in acts:
            _activations.activation_named(a)  # fail now, not at the first call
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.seed = check_seed(seed, "MLP seed")
        self.bias = check_flag(bias, "MLP bias")
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

    def parameters(self) -> List[Value]:
        """The parameter Values, in the order of :meth:`named_parameters` (layer by
        layer, neuron by neuron, weights before the bias)."""
        if type(self).named_parameters is not MLP.named_parameters:
            return super().parameters()
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        parts = [str(self.nin)]
        for layer in self.layers:
            parts.append(f"[{layer.nout} {layer.activation_name or 'custom'}]")
        b = "" if self.bias else ", bias=False"
        return f"MLP({' -> '.join(parts)}{b})"

    # ------------------------------------------------------------ forward

    @chains_its_layers
    def forward(self, x) -> List[Value]:
        """The list of output Values (always a list), recording ``intermediates``."""
        xs = wrap_inputs(self, x, self.nin, "x0")
        cache = {"x0": xs}
        for layer in self.layers:
            ss, xs = layer.forward(xs)
            cache[f"s{layer.index}"] = ss
            cache[f"x{layer.index}"] = xs
        self.intermediates = cache
        return xs

    @chains_its_layers
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
            raise ArgumentError(f"layout must be 'out_in' (rows = neurons) or 'in_out' (x . W), not {layout!r}")
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
                    raise DomainError(f"weights of layer {l + 1} contain NaN or inf")
                new_w[l] = W if layout == "out_in" else W.T
        if biases is not None:
            biases = list(biases)
            if len(biases) != nl:
                raise ShapeError(f"{len(biases)} bias vectors for {nl} layers of {self!r}")
            for l, (layer, b) in enumerate(zip(self.layers, biases)):
                if b is None:
                    continue
                if not layer.bias:
                    raise ArgumentError(f"layer {l + 1} has no biases (bias=False)")
                b = np.asarray(b, dtype=np.float64)
                if b.size != layer.nout or (b.ndim == 2 and 1 not in b.shape) or b.ndim > 2:
                    raise ShapeError(f"biases of layer {l + 1}: expected {layer.nout} values, "
                                     f"got shape {b.shape}")
                if not np.all(np.isfinite(b)):
                    raise DomainError(f"biases of layer {l + 1} contain NaN or inf")
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
            raise ArgumentError(f"layout must be 'out_in' or 'in_out', not {layout!r}")
        ws = [layer.weight_matrix() for layer in self.layers]
        if layout == "in_out":
            ws = [W.T.copy() for W in ws]
        return ws, [layer.bias_vector() for layer in self.layers]

    def get_gradients(self, layout: str = "out_in"):
        """``(weight_grads, bias_grads)``: the ``grad`` of every weight and bias as numpy
        arrays, one per layer, shaped as :meth:`get_parameters` gives the values
        (``dE/dW[l]`` of shape ``(nout, nin)`` for ``layout="out_in"``, ``(nin, nout)``
        for ``"in_out"``; ``bias_grads[l]`` None without biases). Raises
        :class:`GradientError` when a gradient is not known yet (``grad`` is None)."""
        if layout not in ("out_in", "in_out"):
            raise ArgumentError(f"layout must be 'out_in' or 'in_out', not {layout!r}")
        grads = [p.grad for p in self.parameters()]
        if any(g is None for g in grads):
            raise GradientError("some gradients are not computed yet (grad is None): call "
                                "backward() on a loss of this model first")
        ws, bs = [], []
        for layer in self.layers:
            ws.append(np.array([[w.grad for w in n.w] for n in layer.neurons], dtype=np.float64))
            bs.append(np.array([n.b.grad for n in layer.neurons], dtype=np.float64)
                      if layer.bias else None)
        if layout == "in_out":
            ws = [W.T.copy() for W in ws]
        return ws, bs

    # ------------------------------------------------------------ training shortcut

    def train(self, x, y, eta: float = 0.01, iterations: int = 100, **kwargs):
        """Batch gradient descent with the squared loss ``1/2 (yhat - y)^2`` (seed 001
        Task 6): ``iterations`` full-batch steps of plain SGD with learning rate
        ``eta``. Returns the :class:`~micrograd_mlp.nets.history.History`; more options as in
        :func:`~micrograd_mlp.nets.train.fit`."""
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
        """A fresh network (zero biases, seed-0 weights) of the given architecture
        (checked first by :func:`~micrograd_mlp.nets.checkpoint.check_architecture`)."""
        if not isinstance(arch, dict):
            raise CheckpointError(f"invalid architecture {arch!r:.100}: not an object")
        check_architecture(arch)
        try:
            return cls(arch["nin"], arch["sizes"], activation=list(arch["activations"]),
                       bias=arch.get("bias", True), seed=0)
        except (KeyError, TypeError, ValueError) as e:  # an unknown activation name
            raise CheckpointError(f"invalid architecture {arch!r:.200}: {e}") from e

    def save(self, path, optimizer=None) -> None:
        """Write the network (and optionally ``optimizer``'s state, which must be over
        exactly this network's parameters) to ``path`` as JSON, atomically, keeping the
        file's mode and following a symlink (see :func:`save_checkpoint`). What could
        not be loaded back raises :class:`CheckpointError` before the file is touched."""
        save_checkpoint(path, self, optimizer, verify=from_document)

    @classmethod
    def load(cls, path) -> "MLP":
        """Read a network written by :meth:`save`. Raises :class:`CheckpointError`
        for a corrupt, truncated or foreign file."""
        return load_checkpoint(path)[0]

    def load_parameters(self, path, optimizer=None) -> "MLP":
        """Load the parameters saved in ``path`` into this network (the architectures
        must match, else :class:`CheckpointError`), and the optimiser state into
        ``optimizer`` when given. Returns the model."""
        doc = read_checkpoint(path)
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
        return to_torch(self)

    @classmethod
    def from_torch(cls, seq) -> "MLP":
        """Read a ``torch.nn.Sequential`` of ``Linear`` and activation modules."""
        return from_torch(seq, cls)


# ---------------------------------------------------------------- checkpoints


def load_checkpoint(path):
    """``(model, optimizer)`` from a file written by :func:`save_checkpoint`;
    ``optimizer`` is rebuilt (same type, settings and state, over the new model's
    parameters) when one was saved, else None."""
    return from_document(read_checkpoint(path))


def from_document(doc):
    """``(model, optimizer)`` from a checked checkpoint document (see
    :func:`~micrograd_mlp.nets.checkpoint.parse_checkpoint`); any part that does not
    fit raises :class:`CheckpointError`."""
    model = MLP.from_architecture(doc["architecture"])
    model.load_state_dict(doc["parameters"])
    opt = None
    if doc.get("optimizer") is not None:
        opt = optim.from_state_dict(model.parameters(), doc["optimizer"])
    return model, opt
