"""The bridge to PyTorch: an MLP as a ``torch.nn.Sequential`` and back.

torch is imported inside these functions only: it is optional and slow to import."""
from __future__ import annotations

from ..core.validate import check_callable
from ..errors import ArgumentError, DataTypeError, ShapeError
from .layers import Module

__all__ = ["to_torch", "from_torch"]

# activation name -> (torch.nn class name, keyword arguments): the activations whose
# registered definition is exactly that torch module's (None: no module at all).
_TORCH_ACTS = {
    "identity": None,
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


def to_torch(model):
    """An equivalent ``torch.nn.Sequential`` of float64 ``Linear`` layers and activation
    modules (identity layers get none)."""
    if not (isinstance(model, Module) and hasattr(model, "layers")):
        raise DataTypeError(f"to_torch needs an MLP, not {type(model).__name__} ({model!r:.40})")
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
        if name not in _TORCH_ACTS:
            raise ArgumentError(f"layer {layer.index}: activation {name or 'custom'!r} has no "
                             f"torch.nn equivalent here; known: {', '.join(sorted(_TORCH_ACTS))}")
        if _TORCH_ACTS[name] is None:   # a linear unit: no module
            continue
        cls_name, kw = _TORCH_ACTS[name]
        mods.append(getattr(torch.nn, cls_name)(**kw))
    return torch.nn.Sequential(*mods)


def from_torch(seq, cls):
    """A ``cls`` (an MLP class) equal to a ``torch.nn.Sequential`` of ``Linear`` and
    activation modules."""
    check_callable(cls, "cls")
    import torch
    if not isinstance(seq, torch.nn.Module):
        raise DataTypeError(f"from_torch needs a torch.nn.Sequential (or one Linear), not "
                            f"{type(seq).__name__} ({seq!r:.40})")

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
            raise ArgumentError(f"from_torch: expected Linear before {type(m).__name__}; the "
                             f"Sequential must alternate Linear and (optional) activation")
        name = reverse.get(type(m).__name__)
        if isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.01:
            name = "leaky_relu"
        if isinstance(m, torch.nn.GELU):
            name = {"none": "gelu", "tanh": "gelu_tanh"}.get(m.approximate)
        if isinstance(m, torch.nn.Softplus) and (m.beta != 1 or m.threshold != 20):
            name = None
        if name is None:
            raise ArgumentError(f"from_torch: no equivalent activation for {m!r}")
        acts[-1] = name
    if not linears:
        raise ArgumentError("from_torch: the Sequential holds no Linear layer")
    has_bias = {lin.bias is not None for lin in linears}
    if len(has_bias) != 1:
        raise ArgumentError("from_torch: some Linear layers have biases and others not")
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
