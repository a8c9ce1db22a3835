"""Ready worked examples whose every node can be checked against a hand solution.

* :func:`task5` -- the network of Figure 1 of seed 001, Task 5: a 2-3-2
  :class:`~micrograd_mlp.nets.mlp.MLP` with sigmoid everywhere, weights set by hand, input
  ``x0 = (1, 2)``, target ``y = (0, 1)`` and loss ``E = 1/2 ||x2 - y||^2``
  (``loss="full"``: ``E = ||x2 - y||^2``, every gradient doubles).
* :func:`seed002` -- the derivation of seed 002 section 3:
  ``z1 = x . W1``, ``z2 = z1 + b1``, ``z3 = sigmoid(z2)``, ``z4 = z3 . W2``,
  ``yhat = z4 + b2``, ``l = (y - yhat)^2``, with the target ``y`` a Value so that
  ``dl/dy`` is traced too.

Each returns an :class:`Example`: the root Value (the loss, after a forward pass, no
backward yet), the named nodes, and the numbers it was built from.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Dict, List


from .core.validate import check_text
from .core.engine import Value, sum_values
from .core.graph_walk import topological_order
from .errors import ArgumentError, UnknownExampleError
from .functions.activations import sigmoid
from .functions.losses import squared_error, sum_squared_error
from .nets.mlp import MLP

__all__ = ["Example", "task5", "seed002", "EXAMPLES", "example_named", "TASK5"]

# The numbers of seed 001 Task 5 (Figure 1); weights are rows = neurons.
TASK5 = {
    "x0": [1.0, 2.0],
    "y": [0.0, 1.0],
    "W1": [[0.2, -0.3], [0.1, -1.2], [0.4, 0.3]],
    "b1": [0.3, -0.1, 1.2],
    "W2": [[0.4, 0.2, 0.2], [0.1, 0.3, 0.5]],
    "b2": [-0.6, 0.5],
}

# Small numbers of our own for seed 002's derivation (x . W convention: W1 is
# inputs x hidden units, W2 hidden units x 1).
SEED002 = {
    "x": [0.5, -1.0],
    "W1": [[0.3, -0.2, 0.8], [0.5, 0.4, -0.6]],
    "b1": [0.1, -0.3, 0.2],
    "W2": [[0.7], [-0.5], [0.9]],
    "b2": [0.05],
    "y": 1.0,
}


@dataclass
class Example:
    """A ready example: ``root`` (the loss Value), ``nodes`` (label -> Value for every
    labelled node), ``title``, ``description``, the ``numbers`` it was built from and
    the ``model`` when it is an MLP."""

    name: str
    title: str
    root: Value
    nodes: Dict[str, Value]
    numbers: Dict
    description: str = ""
    model: object = None
    inputs: List[Value] = field(default_factory=list)

    def backward(self) -> "Example":
        """Run ``root.backward()`` (gradients into every ``Value.grad``)."""
        self.root.backward()
        return self


def _labelled(root: Value) -> Dict[str, Value]:
    return {n.label: n for n in topological_order(root, all_nodes=True) if n.label}




def task5(loss: str = "half") -> Example:
    """The Task 5 network of seed 001 (Figure 1) after its forward pass.

    ``MLP(2, [3, 2], activation="sigmoid")`` with ``W1, b1, W2, b2`` set by hand
    (rows = neurons). Nodes are labelled in the exercise's notation: inputs
    ``x0[j]`` (Values that require a gradient, so ``dE/dx0`` is traced), weights
    ``W1[i,j]``, biases ``b1[i]``, pre-activations ``s1[i]``, activations ``x1[i]``,
    outputs ``x2[k]``, targets ``y[k]`` (constants) and the loss ``E``.
    ``loss="half"``: ``E = 1/2 sum_k (x2[k] - y[k])^2``; ``loss="full"``: without 1/2.
    """

    if not isinstance(loss, str) or loss not in ("half", "full"):
        check_text(loss, "loss")
        raise ArgumentError(f"loss must be 'half' (1/2 ||x2 - y||^2) or 'full' (||x2 - y||^2), "
                            f"not {loss!r:.40}")
    n = TASK5
    model = MLP(2, [3, 2], activation="sigmoid")
    model.set_parameters(weights=[n["W1"], n["W2"]], biases=[n["b1"], n["b2"]], layout="out_in")
    x0 = [Value(v, f"x0[{j}]") for j, v in enumerate(n["x0"])]
    y = [Value(v, f"y[{k}]", requires_grad=False) for k, v in enumerate(n["y"])]
    x2 = model(x0)
    E = squared_error(x2, y) if loss == "half" else sum_squared_error(x2, y)
    E.label = "E"
    what = "1/2 ||x2 - y||^2" if loss == "half" else "||x2 - y||^2"
    return Example("task5", "Seed 001, Task 5: a 2-3-2 sigmoid network", E, _labelled(E),
                   dict(n, loss=loss), f"x0 -> W1 x + b1 -> sigma -> W2 x + b2 -> sigma -> E = {what}",
                   model, x0)


def seed002() -> Example:
    """Seed 002 section 3: a one-hidden-layer regression network written out node by
    node, so each derivative of the derivation is a node's gradient:

    ``z1[j] = sum_i x[i] W1[i,j]``, ``z2[j] = z1[j] + b1[j]``, ``z3[j] = sigmoid(z2[j])``,
    ``z4 = sum_j z3[j] W2[j,0]``, ``yhat = z4 + b2``, ``l = (y - yhat)^2``.
    The input ``x`` and the target ``y`` are Values requiring gradients."""
    n = SEED002
    x = [Value(v, f"x[{i}]") for i, v in enumerate(n["x"])]
    W1 = [[Value(w, f"W1[{i},{j}]") for j, w in enumerate(row)] for i, row in enumerate(n["W1"])]
    b1 = [Value(b, f"b1[{j}]") for j, b in enumerate(n["b1"])]
    W2 = [[Value(w, f"W2[{j},{k}]") for k, w in enumerate(row)] for j, row in enumerate(n["W2"])]
    b2 = Value(n["b2"][0], "b2")
    y = Value(n["y"], "y")
    hidden = len(b1)
    z1, z2, z3 = [], [], []
    for j in range(hidden):
        a = sum_values([x[i] * W1[i][j] for i in range(len(x))])
        a.label = f"z1[{j}]"
        b = a + b1[j]
        b.label = f"z2[{j}]"
        c = sigmoid(b)
        c.label = f"z3[{j}]"
        z1.append(a)
        z2.append(b)
        z3.append(c)
    z4 = sum_values([z3[j] * W2[j][0] for j in range(hidden)])
    z4.label = "z4"
    yhat = z4 + b2
    yhat.label = "yhat"
    l = (y - yhat) ** 2
    l.label = "l"
    return Example("seed002", "Seed 002, section 3: the derivation of a one-hidden-layer network",
                   l, _labelled(l), dict(n),
                   "z1 = x.W1, z2 = z1 + b1, z3 = sigmoid(z2), z4 = z3.W2, yhat = z4 + b2, "
                   "l = (y - yhat)^2", None, x)


EXAMPLES: Dict[str, Callable[..., Example]] = {"task5": task5, "seed002": seed002}


def example_named(name: str, **kwargs) -> Example:
    """Build the ready example called ``name`` (``"task5"`` or ``"seed002"``)."""
    if check_text(name, "name") not in EXAMPLES:
        raise UnknownExampleError(f"unknown example {name!r:.40}; known: {', '.join(EXAMPLES)}")
    builder = EXAMPLES[name]
    try:
        inspect.signature(builder).bind(**kwargs)
    except TypeError:
        takes = ", ".join(inspect.signature(builder).parameters) or "no options"
        raise ArgumentError(f"example {name!r} takes {takes}, not {', '.join(kwargs)}") from None
    return builder(**kwargs)
