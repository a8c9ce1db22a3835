"""micrograd_mlp: a scalar reverse-mode autodiff engine and a small MLP library for
learning and teaching backpropagation.

The package is built in layers, each importing only the ones before it (see
``docs/architecture.md``)::

    errors  <  core  <  functions  <  nets, views  <  cli, examples

The engine names are imported at once; everything else loads when first used, so
``import micrograd_mlp`` is fast and never loads matplotlib, graphviz, scikit-learn or
torch. The short module paths of the first version (``micrograd_mlp.engine``,
``micrograd_mlp.losses`` ...) stay importable: they are the same module objects as
their new homes (``micrograd_mlp.core.engine`` ...).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

from .core.engine import (
    Value, anomaly_mode, is_grad_enabled, max_values, no_grad, sum_values,
    topological_order, where,
)
from .core.gradcheck import gradcheck
from .errors import (
    AnomalyError, CheckpointError, DataTypeError, DomainError, GradcheckError,
    GradientError, MicrogradError, ShapeError,
)

__version__ = "0.1.0"

# the first version's module paths -> their homes now (the same module objects)
MOVED_MODULES = {
    "engine": "core.engine", "primitives": "core.primitives", "gradcheck": "core.gradcheck",
    "composite": "functions.composite", "activations": "functions.activations",
    "losses": "functions.losses",
    "optim": "nets.optim", "train": "nets.train", "data": "nets.data",
    "graph": "views.graph", "stepper": "views.stepper", "plots": "views.plots",
    "plots_training": "views.plots_training", "trace_cli": "cli.trace_cmd",
}

# name -> (module, attribute or None for the module itself); loaded on first access
_LAZY = {
    **{short: (home, None) for short, home in MOVED_MODULES.items()},
    "nn": ("nn", None), "trace": ("trace", None), "replay": ("replay", None),
    "examples": ("examples", None), "cli": ("cli", None),
    "Module": ("nets.layers", "Module"),
    "Neuron": ("nets.layers", "Neuron"),
    "Layer": ("nets.layers", "Layer"),
    "MLP": ("nets.mlp", "MLP"),
    "fit": ("nets.train", "fit"),
    "draw_dot": ("views.graph", "draw_dot"),
    "render": ("views.graph", "render"),
    "backward_steps": ("views.trace", "backward_steps"),
    "composite_fn": ("functions.composite", "composite"),
    "register_primitive": ("core.primitives", "register_primitive"),
    "unregister_primitive": ("core.primitives", "unregister_primitive"),
}

__all__ = [
    "Value", "no_grad", "anomaly_mode", "is_grad_enabled", "sum_values", "max_values",
    "where", "topological_order", "gradcheck", "GradcheckError", "CheckpointError",
    "MicrogradError", "DataTypeError", "DomainError", "ShapeError", "GradientError",
    "AnomalyError", *_LAZY,
]


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import micrograd_mlp.engine`` give ``micrograd_mlp.core.engine`` itself."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, short = fullname.rpartition(".")
        if package != __name__ or short not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        short = spec.name.rpartition(".")[2]
        return importlib.import_module(f"{__name__}.{MOVED_MODULES[short]}")

    def exec_module(self, module):
        pass  # already executed under its own name


sys.meta_path.insert(0, _MovedModuleFinder())
# The engine modules are loaded already: register their short paths now, so that
# importing ``micrograd_mlp.gradcheck`` never rebinds the ``gradcheck`` function here.
for _short in ("engine", "primitives", "gradcheck"):
    sys.modules[f"{__name__}.{_short}"] = sys.modules[f"{__name__}.{MOVED_MODULES[_short]}"]


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
