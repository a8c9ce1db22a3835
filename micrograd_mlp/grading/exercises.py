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

import hashlib
import re
from fractions import Fraction
from typing import Dict, List, Optional

import numpy as np

from ..core.validate import check_int, check_text
from ..core.engine import Value
from ..errors import ArgumentError
from ..functions import activations
from ..functions.composite import COMPOSITES
from ..functions.losses import squared_error, sum_squared_error
from .hand_solution import round_half_away, rounded_carry
from .slips import Catalog
from ..nets.mlp import MLP
from .exercise_text import Exercise
from ..views.steps import exercise_steps

__all__ = ["make_exercise", "parse_net", "variant_seed", "Exercise", "MAX_WIDTH", "MAX_TRIES"]

MAX_WIDTH = 8       # widest layer of an exercise (a hand solution beyond that is no exercise)
MAX_LAYERS = 4      # most weight layers
# the loss an exercise asks for: "half" E = 1/2 ||x - y||^2, "full" E = ||x - y||^2
_LOSSES = {"half": squared_error, "full": sum_squared_error}


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
    """Targets the output can reach: the ends of the activation's declared output
    range (0/1 for a sigmoid, -1/1 for tanh; read from its registry entry), else
    numbers with one decimal."""
    entry = COMPOSITES.get(activation)
    span = entry.output_range if entry is not None else None
    if span is not None and all(np.isfinite(span)):
        return np.asarray(span, dtype=float)[rng.integers(0, 2, size=n)]
    return _one_decimal(rng, n, -10, 10)


def variant_seed(assignment: str, student: str) -> int:
    """The seed of a student's variant: a stable hash (SHA-256, the same on every
    machine and run, unlike Python's ``hash``) of the assignment and the student's id,
    so a teacher can regenerate any student's exercise."""
    assignment = check_text(assignment, "assignment").strip()
    student = check_text(student, "student").strip()
    if not assignment or not student:
        raise ArgumentError("a variant needs an assignment name and a student id (not empty)")
    digest = hashlib.sha256(f"{assignment}\x00{student}".encode("utf-8")).hexdigest()
    return int(digest[:12], 16)


MAX_TRIES = 500  # candidate draws per exercise before giving up


def _draw(rng, widths, activation):
    """One candidate: weights, biases (one decimal, never 0), an input of distinct
    magnitudes (equal ones would make two columns of dE/dW1 equal) and a target."""
    weights = [_one_decimal(rng, (widths[l + 1], widths[l])) for l in range(len(widths) - 1)]
    biases = [_one_decimal(rng, widths[l + 1]) for l in range(len(widths) - 1)]
    top = max(3, widths[0] + 1)
    magnitudes = rng.permutation(np.arange(1, top + 1))[:widths[0]]
    x = magnitudes * rng.choice([-1.0, 1.0], size=widths[0])
    y = _targets(rng, activation, widths[-1])
    return weights, biases, x, y


def _first_layer_exact(weights, biases, x) -> List[Fraction]:
    """The first layer's pre-activations in exact arithmetic (tenths times integers)."""
    W = [[Fraction(int(round(w * 10)), 10) for w in row] for row in weights[0]]
    b = [Fraction(int(round(v * 10)), 10) for v in biases[0]]
    xs = [Fraction(int(v)) for v in x]
    return [sum((w * xv for w, xv in zip(row, xs)), Fraction(0)) + bv for row, bv in zip(W, b)]


SMALLEST = 5  # a nonzero answer is at least this many units of the last decimal


def _problem(model, cat: Catalog, digits: int, carried: Dict[str, float]) -> str:
    """Why a candidate is no good exercise ("" when it is): a pre-activation at 0 (a
    kink for the ReLU family, whose hand answer and float answer can differ), or an
    answer (full precision or rounded-carry) so small that it rounds to 0 or keeps
    fewer than :data:`SMALLEST` units of the last decimal without being exactly 0."""
    for name, nodes in model.intermediates.items():
        if name.startswith("s") and any(abs(float(n.data)) < 1e-9 for n in nodes):
            return f"{name} has an entry at 0"
    for layer in model.layers:  # a layer whose every weight gets gradient 0: nothing to do
        keys = [cat.grad_key.get(w) for n in layer.neurons for w in n.w]
        if all(k is None or cat.scalars[k].value == 0.0 for k in keys):
            return f"layer {layer.index} gets no gradient"
    least = SMALLEST * 10.0 ** -digits
    for key, q in cat.scalars.items():
        if q.node is cat.root and q.kind == "gradient" or (q.kind == "forward" and
                                                             not q.node.parents):
            continue  # dE/dE = 1 and the given numbers
        shown = round_half_away(carried[key], digits)
        if q.value != 0.0 and (abs(q.value) < least or abs(shown) < least):
            return f"{q.name} is too small"
    return ""


def make_exercise(net: str = "2-3-2", activation: str = "sigmoid", seed: int = 0,
                  loss: str = "half", digits: int = 4, assignment: Optional[str] = None,
                  student: Optional[str] = None) -> Exercise:
    """A Task-5-style exercise: ``MLP`` with widths ``net`` (``"2-3-2"``), the same
    ``activation`` in every layer, weights and biases with one decimal, an input of
    small integers and a target; ``loss="half"``: ``E = 1/2 ||x_L - y||^2``,
    ``"full"``: ``E = ||x_L - y||^2``. ``digits``: decimals of the solution.

    ``assignment`` and ``student`` (both or neither): the student's own variant, its
    seed :func:`variant_seed` (``seed`` is then ignored). Only good exercises are made:
    candidates are drawn (from ``seed``, then ``[seed, 1]``, ``[seed, 2]`` ...) until
    none of :func:`_problem`'s faults is found (the number of extra draws is kept in
    the spec as ``draw``). The written solution shows the
    rounded-carry numbers (each step from the previous steps' rounded numbers)."""
    widths = parse_net(net)
    digits = check_int(digits, "digits", minimum=1, maximum=10)
    if (assignment is None) != (student is None):
        raise ArgumentError("give both assignment and student (a student's variant), or neither")
    if assignment is not None:
        seed = variant_seed(assignment, student)
    seed = check_int(seed, "seed", minimum=0)
    if check_text(loss, "loss") not in _LOSSES:
        raise ArgumentError(f"loss must be 'half' (1/2 ||x - y||^2) or 'full' (||x - y||^2), "
                            f"not {loss!r:.40}")
    activations.activation_named(activation)  # an unknown name fails here, listing the known ones
    for attempt in range(MAX_TRIES):
        rng = np.random.default_rng(seed if attempt == 0 else [seed, attempt])
        weights, biases, x, y = _draw(rng, widths, activation)
        if any(v == 0 for v in _first_layer_exact(weights, biases, x)):
            continue
        model = MLP(widths[0], widths[1:], activation=activation)
        model.set_parameters(weights=weights, biases=biases, layout="out_in")
        x0 = [Value(float(v), f"x0[{j}]", requires_grad=False) for j, v in enumerate(x)]
        ys = [Value(float(v), f"y[{k}]", requires_grad=False) for k, v in enumerate(y)]
        outs = model.forward(x0)
        E = _LOSSES[loss](outs, ys)
        E.label = "E"
        cat = Catalog(E)
        carry = rounded_carry(cat, digits)
        if _problem(model, cat, digits, carry):
            continue
        steps = exercise_steps(E, model, digits)
        shown = _shown(cat, carry, digits)
        spec = {"net": "-".join(map(str, widths)), "activation": activation, "seed": seed,
                "loss": loss, "digits": digits}
        if assignment is not None:
            spec.update(assignment=assignment.strip(), student=student.strip())
        if attempt:
            spec["draw"] = attempt
        return Exercise(spec, steps, E, exercise_steps(E, model, digits, shown=shown))
    raise ArgumentError(f"no good {net} {activation} exercise in {MAX_TRIES} draws from seed "
                        f"{seed}: try another seed or more digits")


def _shown(cat: Catalog, carry: Dict[str, float], digits: int) -> Dict:
    """The rounded-carry numbers by graph node, for :func:`exercise_steps` (``shown``)."""
    shown = {}
    for node, key in cat.value_key.items():
        shown[("value", node)] = round_half_away(carry[key], digits)
    for node, key in cat.grad_key.items():
        shown[("grad", node)] = round_half_away(carry[key], digits)
    for node, key in cat.local_key.items():
        shown[("local", node)] = round_half_away(carry[key], digits)
    return shown
