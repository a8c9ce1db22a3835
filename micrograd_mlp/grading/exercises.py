"""Exercises for teachers: a small network with random one-decimal weights, the way
seed 001 Task 5 is posed, with its full solution.

    >>> from micrograd_mlp.grading.exercises import make_exercise
    >>> ex = make_exercise("2-3-2", activation="sigmoid", seed=7)
    >>> print(ex.question("markdown"))          # doctest: +SKIP
    >>> print(ex.solution("markdown"))          # doctest: +SKIP

The same arguments always give the same exercise (the numbers come from
``numpy.random.default_rng(seed)``). Every number of the solution is read from the
network's graph (forward values and autodiff gradients), see
:mod:`micrograd_mlp.views.steps`; :mod:`micrograd_mlp.grading.exercise_text` writes the text.
"""
from __future__ import annotations

import re
from typing import List

import numpy as np

from ..core.validate import check_int, check_text
from ..core.engine import Value
from ..errors import ArgumentError
from ..functions import activations
from ..functions.composite import COMPOSITES
from ..functions.losses import squared_error, sum_squared_error
from ..nets.mlp import MLP
from .exercise_text import Exercise
from ..views.steps import exercise_steps

__all__ = ["make_exercise", "parse_net", "Exercise", "MAX_WIDTH"]

MAX_WIDTH = 8       # widest layer of an exercise (a hand solution beyond that is no exercise)
MAX_LAYERS = 4      # most weight layers


def parse_net(spec: str) -> List[int]:
    """``"2-3-2"`` -> ``[2, 3, 2]``: the input width, then each layer's width (1 to
    :data:`MAX_WIDTH`; 2 to :data:`MAX_LAYERS` + 1 numbers)."""
    if not isinstance(spec, str) or not re.fullmatch(r"\s*\d+(\s*-\s*\d+)+\s*", spec):
        raise ArgumentError(f"--net must look like 2-3-2 (input width, then each layer's "
                            f"width), not {spec!r}")
    widths = [int(w) for w in spec.replace(" ", "").split("-")]
    if len(widths) - 1 > MAX_LAYERS:
        raise ArgumentError(f"--net {spec}: at most {MAX_LAYERS} layers in an exercise")
    for w in widths:
        if not 1 <= w <= MAX_WIDTH:
            raise ArgumentError(f"--net {spec}: every width must be between 1 and {MAX_WIDTH}")
    return widths


def _one_decimal(rng, shape, low: int = -12, high: int = 12) -> np.ndarray:
    """Random numbers with one decimal in [low/10, high/10], never 0 (a zero weight
    makes a step of the exercise trivial)."""
    tenths = rng.integers(1, max(-low, high) + 1, size=shape) * rng.choice([-1, 1], size=shape)
    return np.clip(tenths, low, high) / 10.0


def _targets(rng, activation: str, n: int) -> np.ndarray:
    """Targets the output can reach: either end of the activation's declared output
    range (0/1 for sigmoid, -1/1 for tanh), else numbers with one decimal."""
    entry = COMPOSITES.get(activation)
    bounds = entry.output_range if entry is not None else None
    if bounds is not None and all(np.isfinite(bounds)):
        return np.array(bounds, dtype=float)[rng.integers(0, 2, size=n)]
    return _one_decimal(rng, n, -10, 10)


def make_exercise(net: str = "2-3-2", activation: str = "sigmoid", seed: int = 0,
                  loss: str = "half", digits: int = 4) -> Exercise:
    """A Task-5-style exercise: ``MLP`` with widths ``net`` (``"2-3-2"``), the same
    ``activation`` in every layer, weights and biases with one decimal, an input of
    small integers and a target; ``loss="half"``: ``E = 1/2 ||x_L - y||^2``,
    ``"full"``: ``E = ||x_L - y||^2``. ``digits``: decimals of the solution."""
    widths = parse_net(net)
    seed = check_int(seed, "seed", minimum=0)
    digits = check_int(digits, "digits", minimum=1, maximum=10)
    if check_text(loss, "loss") not in ("half", "full"):
        raise ArgumentError(f"loss must be 'half' (1/2 ||x - y||^2) or 'full' (||x - y||^2), "
                            f"not {loss!r:.40}")
    activations.activation_named(activation)  # an unknown name fails here, listing the known ones
    rng = np.random.default_rng(seed)
    weights = [_one_decimal(rng, (widths[l + 1], widths[l])) for l in range(len(widths) - 1)]
    biases = [_one_decimal(rng, widths[l + 1]) for l in range(len(widths) - 1)]
    x = rng.integers(1, 3, size=widths[0]) * rng.choice([-1.0, 1.0], size=widths[0])
    y = _targets(rng, activation, widths[-1])
    model = MLP(widths[0], widths[1:], activation=activation)
    model.set_parameters(weights=weights, biases=biases, layout="out_in")
    x0 = [Value(float(v), f"x0[{j}]", requires_grad=False) for j, v in enumerate(x)]
    ys = [Value(float(v), f"y[{k}]", requires_grad=False) for k, v in enumerate(y)]
    outs = model.forward(x0)
    E = squared_error(outs, ys) if loss == "half" else sum_squared_error(outs, ys)
    E.label = "E"
    spec = {"net": "-".join(map(str, widths)), "activation": activation, "seed": seed,
            "loss": loss, "digits": digits}
    return Exercise(spec, exercise_steps(E, model, digits), E)
