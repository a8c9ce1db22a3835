"""micrograd_mlp: a scalar reverse-mode autodiff engine and a small MLP library for
learning and teaching backpropagation.

The package is built in layers, each importing only the ones before it (see
``docs/architecture.md``)::

    errors  <  core  <  functions  <  nets, views  <  grading  <  cli, examples

Every module has one import path (``micrograd_mlp.core.engine``,
``micrograd_mlp.nets.mlp`` ...). This top level re-exports what a first hour needs:
the engine names at once, the rest (networks, training, drawings, the modules
``activations``, ``losses``, ``optim`` and ``data``) when first used, so
``import micrograd_mlp`` is fast and never loads matplotlib, graphviz, scikit-learn or
torch.
"""
from __future__ import annotations

import importlib

from .core.engine import Value, max_values, sum_values, where
from .core.graph_walk import topological_order
from .core.modes import anomaly_mode, is_grad_enabled, no_grad
from .core.gradcheck import gradcheck
from .errors import (
    AnomalyError, CheckpointError, DataTypeError, DomainError, GradcheckError,
    GradientError, MicrogradError, ShapeError,
)

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself); loaded on first access
_LAZY = {
    "activations": ("functions.activations", None),
    "losses": ("functions.losses", None),
    "optim": ("nets.optim", None),
    "data": ("nets.data", None),
    "Module": ("nets.layers", "Module"),
    "Neuron": ("nets.layers", "Neuron"),
    "Layer": ("nets.layers", "Layer"),
    "MLP": ("nets.mlp", "MLP"),
    "fit": ("nets.train", "fit"),
    "draw_dot": ("views.graph", "draw_dot"),
    "render": ("views.graph", "render"),
    "backward_steps": ("views.trace", "backward_steps"),
    "register_primitive": ("core.registry", "register_primitive"),
    "unregister_primitive": ("core.registry", "unregister_primitive"),
}

__all__ = [
    "Value", "no_grad", "anomaly_mode", "is_grad_enabled", "sum_values", "max_values",
    "where", "topological_order", "gradcheck", "GradcheckError", "CheckpointError",
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
