"""The studio's state as JSON-ready data: what ``GET /api/state`` answers.

Every number comes from the library's engine: the views run a *scratch* copy of the
network (same architecture, the parameters of the moment shown) so that reading never
touches the training network's values or gradients.

* ``loss`` and ``gradients``: the mean loss over all training points at these
  parameters and its gradient (the replayed full-batch step of
  :mod:`~micrograd_mlp.nets.compiled_step`: the numbers of a ``backward()``);
* ``example``: the selected point sent through the graph, its vectors in the
  exercises' notation (``x0, s1, x1, ...``), the per-sample loss ``E`` and every
  ``dE/d...`` (one ``backward()`` from ``E``);
* ``views``: the network's output over a grid of the input plane (the decision
  boundary, or the fitted curve for one input) and each hidden neuron's output there.
"""
from __future__ import annotations

import base64
import math
from typing import Dict, Optional

import numpy as np

from ..core.engine import Value
from ..core.modes import no_grad
from ..nets.checkpoint import checkpoint_document
from ..nets.mlp import MLP
from ..views.steps import exercise_steps
from .netspec import CHOICES

__all__ = ["build", "checkpoint_of", "GRID", "NEURON_GRID", "CURVE"]

GRID = 32         #: the decision boundary's grid is GRID x GRID
NEURON_GRID = 16  #: each hidden neuron's map is NEURON_GRID x NEURON_GRID
CURVE = 120       #: points of a fitted curve (one input)


def _mean(L: Value) -> Value:
    return L.mean() if L.is_batched else L


def _scratch(session) -> MLP:
    """A network of the session's architecture, made once per network."""
    model = session.model
    held = getattr(session, "scratch", None)
    if held is None or held[0] is not model:
        copy = MLP(model.nin, model.sizes, activation=model.activations)
        session.scratch = held = (model, copy)
    return held[1]


def _rounded(a, digits=5):
    """Nested lists of ``a`` rounded to ``digits`` significant digits (JSON size)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        mag = np.where(np.isfinite(a) & (a != 0), np.floor(np.log10(np.abs(np.where(a == 0, 1, a)))), 0)
        scale = 10.0 ** (digits - 1 - mag)
        out = np.where(np.isfinite(a), np.round(a * scale) / scale, a)
    return _finite_lists(out)


def _finite_lists(a):
    """``a.tolist()`` with NaN and infinities as None (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return _none_for_nan(a.tolist())


def _none_for_nan(x):
    if isinstance(x, list):
        return [_none_for_nan(v) for v in x]
    return x if math.isfinite(x) else None


MAX_CURVE_POINTS = 400  #: epochs of the loss history sent (evenly spread, the last kept)


def _thinned(history: Dict, n: int) -> Dict:
    """The first ``n`` epochs of the loss history, at most :data:`MAX_CURVE_POINTS` of
    them (every k-th, and the last), so a long run's state stays small."""
    step = max(1, -(-n // MAX_CURVE_POINTS))
    keep = list(range(0, n, step))
    if n and keep[-1] != n - 1:
        keep.append(n - 1)
    return {k: _finite_lists([v[i] if v[i] is not None else math.nan for i in keep])
            if k != "epoch" else [v[i] for i in keep] for k, v in history.items()}


def _number(x) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None


def _bounds(session):
    """``(low, high)`` per input coordinate: the data's span padded by 15%."""
    both = np.vstack([session.X, session.X_val])
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = np.maximum((hi - lo) * 0.15, 0.25)
    return lo - pad, hi + pad


def _grid_views(model, session) -> Dict:
    lo, hi = _bounds(session)
    L = len(model.layers)
    if model.nin == 1:
        xs = np.linspace(lo[0], hi[0], CURVE)
        with no_grad():
            out = model.forward(xs[:, None])
            cache = model.intermediates
        hidden = {f"x{l}": [_rounded(np.broadcast_to(n.data, xs.shape)) for n in cache[f"x{l}"]]
                  for l in range(1, L)}
        return {"kind": "curve", "x": _rounded(xs), "output": _rounded(np.broadcast_to(out[0].data, xs.shape)),
                "hidden": hidden, "bounds": [[lo[0], hi[0]]]}
    gx = np.linspace(lo[0], hi[0], GRID)
    gy = np.linspace(lo[1], hi[1], GRID)
    XX, YY = np.meshgrid(gx, gy)  # row = y, column = x
    pts = np.column_stack([XX.ravel(), YY.ravel()])
    with no_grad():
        out = model.forward(pts)
        cache = model.intermediates
    shape = (GRID, GRID)
    step = GRID // NEURON_GRID
    hidden = {}
    for l in range(1, L):
        hidden[f"x{l}"] = [_packed(np.broadcast_to(n.data, (pts.shape[0],)).reshape(shape)[::step, ::step])
                           for n in cache[f"x{l}"]]
    return {"kind": "plane", "output": _packed(np.broadcast_to(out[0].data, (pts.shape[0],)).reshape(shape)),
            "hidden": hidden, "bounds": [[lo[0], hi[0]], [lo[1], hi[1]]]}


def _packed(grid) -> Dict:
    """A grid of values for a picture, small: ``{"n": rows, "lo": min, "hi": max,
    "q": base64 of one byte per value}``, value = lo + q / 255 * (hi - lo), rows from
    the lowest second coordinate up, each row from the lowest first coordinate."""
    a = np.asarray(grid, dtype=np.float64)
    finite = np.isfinite(a)
    lo = float(a[finite].min()) if finite.any() else 0.0
    hi = float(a[finite].max()) if finite.any() else 0.0
    span = hi - lo if hi > lo else 1.0
    q = np.where(finite, np.round((a - lo) / span * 255), 0).astype(np.uint8)
    return {"n": int(a.shape[0]), "lo": lo, "hi": hi,
            "q": base64.b64encode(q.tobytes()).decode("ascii")}


def _example(model, session, formulas: bool) -> Dict:
    i = session.selected
    x = [float(v) for v in session.X[i]]
    target = session.targets.sample(i)
    model.zero_grad()
    xs = [Value(v, f"x0[{j}]") for j, v in enumerate(x)]
    out = model.forward(xs)
    cache = dict(model.intermediates)
    E = _mean(session.loss_fn(out[0], target))
    E.label = "E"
    E.backward()
    ex = {"index": i, "target": target}
    grads = {}
    for key, nodes in cache.items():
        ex[key] = [_number(n.data) for n in nodes]
        grads[key] = [_number(n.grad or 0.0) for n in nodes]
    ex["E"] = _number(E.data)
    grads["E"] = 1.0
    W, b = model.get_parameters()
    gW, gb = model.get_gradients()
    for l in range(len(W)):
        grads[f"W{l + 1}"] = _finite_lists(gW[l])
        grads[f"b{l + 1}"] = _finite_lists(gb[l])
    ex["gradients"] = grads
    if formulas:
        ex["formulas"] = _formulas(E, model)
    return ex


def _formulas(E, model) -> Dict[str, str]:
    """``{number's name: its line}``: how each number of the example is computed, as
    the exercise-level steps write it (``s1[0] = W1[0,0]*x0[0] + ... = 0.1234``)."""
    try:
        steps = exercise_steps(E, model)
    except Exception as err:  # a loss the hand-worked steps do not cover: say so
        return {"*": f"no formula for this loss ({type(err).__name__}: {err})"}
    out = {}
    for step in steps:
        for entry in step.entries:
            out[entry.name] = entry.line(4)
    return out


def build(session, snapshot: Optional[int], formulas: bool) -> Dict:
    """The state (see the module docstring) now, or at the ``snapshot``-th kept
    snapshot of the run."""
    model = _scratch(session)
    if snapshot is None:
        theta = [p.data for p in session.model.parameters()]
        step, epoch, nhist = session.step_count, session.epoch, len(session.history["epoch"])
    else:
        snap = session.snapshots[snapshot]
        theta, step, epoch, nhist = snap["theta"].tolist(), snap["step"], snap["epoch"], snap["history"]
    for p, v in zip(model.parameters(), theta):
        p.data = float(v)
    finite = all(math.isfinite(v) for v in theta)
    # the full-batch loss and gradient by the replayed step (the numbers of a
    # backward() over all points, see nets.compiled_step), at these parameters
    with np.errstate(all="ignore"):
        loss, grads, preds = session.compiled.run(
            session.X, session.targets.batch(np.arange(session.X.shape[0])),
            np.asarray(theta, dtype=np.float64))
        val = (session.compiled.run(session.X_val, np.ascontiguousarray(session.y_val, dtype=np.float64),
                                    np.asarray(theta, dtype=np.float64))[0] if finite else None)
    for p, g in zip(model.parameters(), grads.tolist()):
        p.grad = g
    preds = np.asarray(preds, dtype=np.float64).reshape(-1)
    W, b = model.get_parameters()
    gW, gb = model.get_gradients()
    names = [f"{k}{l + 1}" for l in range(len(W)) for k in "Wb"]
    params = {n: _finite_lists(a) for n, a in zip(names, [m for pair in zip(W, b) for m in pair])}
    gradients = {n: _finite_lists(a) for n, a in zip(names, [m for pair in zip(gW, gb) for m in pair])}
    h = session.history
    state = {
        "version": session.version,
        "step": step, "epoch": epoch, "snapshot": snapshot,
        "loss": _number(loss),
        "val_loss": None if val is None else _number(val),
        "history": _thinned(h, nhist),
        "settings": dict(session.settings),
        "kind": session.kind,
        "activations": model.activations,
        "message": session.message,
        "data": {"X": session.X.tolist(), "y": session.y.tolist()},
        "validation": {"X": session.X_val.tolist(), "y": session.y_val.tolist()},
        "predictions": _rounded(preds),
        "parameters": params,
        "gradients": gradients,
        "choices": {k: list(v) for k, v in CHOICES.items()},
        "snapshots": [{"step": s["step"], "epoch": s["epoch"]} for s in session.snapshots],
    }
    if session.kind == "classification":
        thr = 0.0 if session.settings["loss"] == "bce_with_logits" else 0.5
        state["accuracy"] = float(np.mean((preds > thr).astype(int) == session.y))
    state["views"] = _grid_views(model, session) if finite else None
    state["example"] = _example(model, session, formulas) if finite else None
    return state


def checkpoint_of(session) -> Dict:
    """The library's checkpoint document of the session's network and optimiser."""
    return checkpoint_document(session.model, session.optimizer)
