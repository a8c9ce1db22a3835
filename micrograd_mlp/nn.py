"""The first version's ``micrograd_mlp.nn``: modules, initialisers, checkpoints, gathered
from their homes in :mod:`micrograd_mlp.nets` so old imports keep working."""
from .errors import CheckpointError
from .nets.checkpoint import CHECKPOINT_VERSION, read_checkpoint, save_checkpoint
from .nets.init import INITIALIZERS, he_normal, initialize, uniform, xavier_normal, xavier_uniform
from .nets.layers import Layer, Module, Neuron
from .nets.mlp import MLP, load_checkpoint

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "CheckpointError", "INITIALIZERS", "initialize",
    "xavier_normal", "xavier_uniform", "he_normal", "uniform",
    "save_checkpoint", "load_checkpoint", "read_checkpoint", "CHECKPOINT_VERSION",
]
