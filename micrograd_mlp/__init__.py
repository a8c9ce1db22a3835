"""micrograd_mlp: a scalar reverse-mode autodiff engine and a small MLP library for
learning and teaching backpropagation.

The engine names are imported at once; everything that needs matplotlib, graphviz,
scikit-learn or torch loads only when first used, so ``import micrograd_mlp`` is fast.
"""
from __future__ import annotations

import importlib

from .engine import (
    AnomalyError, DataTypeError, DomainError, GradientError, MicrogradError, ShapeError,
    Value, anomaly_mode, is_grad_enabled, max_values, no_grad, sum_values,
    topological_order, where,
)
from .gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself); loaded on first access
_LAZY = {
    "activations": ("activations", None),
    "losses": ("losses", None),
    "composite": ("composite", None),
    "primitives": ("primitives", None),
    "nn": ("nn", None),
    "optim": ("optim", None),
    "train": ("train", None),
    "data": ("data", None),
    "graph": ("graph", None),
    "trace": ("trace", None),
    "plots": ("plots", None),
    "examples": ("examples", None),
    "replay": ("replay", None),
    "stepper": ("stepper", None),
    "plots_training": ("plots_training", None),
    "Module": ("nn", "Module"),
    "Neuron": ("nn", "Neuron"),
    "Layer": ("nn", "Layer"),
    "MLP": ("nn", "MLP"),
    "fit": ("train", "fit"),
    "draw_dot": ("graph", "draw_dot"),
    "render": ("graph", "render"),
    "backward_steps": ("trace", "backward_steps"),
    "composite_fn": ("composite", "composite"),
}

__all__ = [
    "Value", "no_grad", "anomaly_mode", "is_grad_enabled", "sum_values", "max_values",
    "where", "topological_order", "gradcheck", "GradcheckError",
    "MicrogradError", "DataTypeError", "DomainError", "ShapeError", "GradientError",
    "AnomalyError", *_LAZY,
]


def __getattr__(name):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'micrograd_mlp' has no attribute {name!r}") from None
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
