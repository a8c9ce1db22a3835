"""The studio's way of writing a network's widths: ``"2-8-8-1"`` (inputs, hidden
layers, one output)."""
from __future__ import annotations

from typing import List

from ..errors import ArgumentError, DataTypeError
from .datasets import NAMES

__all__ = ["parse_studio_net", "MAX_WIDTH", "MAX_LAYERS", "CHOICES"]

CHOICES = {
    "data": NAMES,
    "activation": ("tanh", "relu", "sigmoid", "leaky_relu", "silu", "gelu", "softplus",
                   "identity"),
    "loss": ("mse", "squared_error", "binary_cross_entropy", "bce_with_logits"),
    "optimizer": ("sgd", "adam"),
}  #: the choices of each setting that has a list of them

MAX_WIDTH = 64   #: the widest layer the studio draws
MAX_LAYERS = 6   #: the most layers (hidden + output) the studio draws


def parse_studio_net(text) -> List[int]:
    """``[2, 8, 8, 1]`` from ``"2-8-8-1"``: the input width (1 or 2), each hidden
    layer's width (1..64), and one output; a clear :class:`ArgumentError` otherwise."""
    if not isinstance(text, str):
        raise DataTypeError(f"net must be text such as '2-8-8-1', not {type(text).__name__}")
    parts = text.strip().split("-")
    if not (2 <= len(parts) <= MAX_LAYERS + 1) or not all(p.strip().isdigit() for p in parts):
        raise ArgumentError(f"net must be widths joined by '-' such as '2-8-8-1' (at most "
                            f"{MAX_LAYERS} layers), not {text!r:.40}")
    if any(len(p.strip()) > 7 for p in parts):
        raise ArgumentError(f"net {text!r:.40}: a layer of more than {MAX_WIDTH} neurons")
    widths = [int(p) for p in parts]
    if widths[0] not in (1, 2):
        raise ArgumentError(f"net {text!r:.40}: the studio draws 1 or 2 inputs, not {widths[0]}")
    if widths[-1] != 1:
        raise ArgumentError(f"net {text!r:.40}: the studio's network has one output, not {widths[-1]}")
    for w in widths[1:-1]:
        if not 1 <= w <= MAX_WIDTH:
            raise ArgumentError(f"net {text!r:.40}: a hidden layer of {w} neurons; the studio "
                                f"draws 1 to {MAX_WIDTH}")
    return widths
