"""Check a hand-written (numpy) backward pass of an MLP against autodiff, and say how
it is wrong.

:func:`gradients` computes the true gradients of ``loss(model(X), y)`` with the engine,
takes the student's (a dict ``{"W1": ..., "b1": ..., ...}``, or a function returning
one), and gives each parameter a verdict. A wrong one is diagnosed, the first fitting
explanation winning:

* transposed: the student's matrix is ``G^T`` (``(out, in)`` where ``(in, out)`` is
  used, or a square matrix the other way round);
* a constant factor ``c`` (``S = c G``): ``-1`` is a wrong sign, ``n`` (the batch size)
  a missing ``1/n`` of the mean, ``1/n`` one too many, ``2`` and ``1/2`` the square's
  2 or the loss's 1/2;
* a wrong activation derivative in layer ``l``: backward recomputed in numpy with
  ``f'(s_l)`` replaced by ``1`` (left out), by ``f'(x_l)`` (taken at the output), or by
  another registered activation's derivative, gives the student's numbers;
* wrong in some rows only (some neurons, or some inputs, right and others not).

Layouts: a weight gradient may be ``(out, in)`` (rows = neurons, seed 001, PyTorch) or
``(in, out)`` (the ``x @ W`` of seed 004); ``layout="auto"`` reads it from the shapes.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ..core.validate import check_array, check_choice, check_real
from ..errors import ArgumentError, DataTypeError, ShapeError
from ..functions import activations, losses
from ..nets.mlp import MLP

__all__ = ["ParameterVerdict", "GradientReport", "gradients", "LAYOUTS"]

LAYOUTS = ("auto", "in_out", "out_in")


@dataclass
class ParameterVerdict:
    """The check of one parameter's gradient: ``status`` ``"right"``, ``"wrong"``,
    ``"missing"`` (not given) or ``"unknown"`` (no such parameter); ``slip`` names the
    diagnosis (``"transposed"``, ``"factor"``, ``"sign"``, ``"activation"``, ``"rows"``,
    ``"shape"``, ``"not finite"``, ``"zeros"`` or ``""``); ``message`` explains it; ``expected``
    is the autodiff gradient in the student's layout, ``given`` the student's."""

    name: str
    status: str
    slip: str = ""
    message: str = ""
    expected: Optional[np.ndarray] = None
    given: Optional[np.ndarray] = None
    max_error: float = float("nan")
    factor: Optional[float] = None

    def line(self) -> str:
        """One line of the report."""
        shape = "" if self.given is None else str(tuple(np.shape(self.given)))
        head = f"  {self.name:<4} {shape:<9} {self.status.upper() if self.status != 'right' else 'right'}"
        if self.status == "right":
            return f"{head}   (max |error| {self.max_error:.1e})"
        return f"{head}   {self.message}"


@dataclass
class GradientReport:
    """The result of :func:`gradients`: one :class:`ParameterVerdict` per parameter
    (``verdicts["W1"]`` ...), the ``layout`` used, the batch size ``n`` and the
    ``loss``. ``ok`` is True when every gradient is right; ``str()`` is the report."""

    verdicts: Dict[str, ParameterVerdict]
    layout: str
    n: int
    loss: str
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every parameter's gradient is right."""
        return all(v.status == "right" for v in self.verdicts.values())

    def wrong(self) -> List[str]:
        """Names of the parameters whose gradient is not right."""
        return [k for k, v in self.verdicts.items() if v.status != "right"]

    def __getitem__(self, name: str) -> ParameterVerdict:
        return self.verdicts[name]

    def __str__(self) -> str:
        shape = "(in, out)" if self.layout == "in_out" else "(out, in)"
        lines = [f"Backward check against autodiff: loss {self.loss}, batch of n = {self.n}, "
                 f"weights as {shape}"]
        lines += [v.line() for v in self.verdicts.values()]
        lines += [f"  note: {n}" for n in self.notes]
        bad = self.wrong()
        lines.append("All gradients right." if not bad else
                     f"{len(bad)} of {len(self.verdicts)} wrong: {', '.join(bad)}.")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- autodiff truth


def _autodiff(model, X, y, loss, reduction):
    """True gradients ``(out, in)``, the forward arrays ``s_l``, ``x_l`` and dL/dx_L,
    without changing the model's ``grad`` fields (they are put back)."""
    params = model.parameters()
    saved = [p.grad for p in params]
    try:
        model.zero_grad()
        out = model.forward(X)
        L = losses.loss_named(loss)(out, y, reduction=reduction)
        L.backward()
        ws, bs = model.get_gradients("out_in")
        inter = model.intermediates
        arrays = {k: np.column_stack([np.broadcast_to(v.data, (len(X),)) for v in vs])
                  for k, vs in inter.items()}
        dout = np.column_stack([np.broadcast_to(np.asarray(o.grad, dtype=float), (len(X),))
                                for o in out])
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    return ws, bs, arrays, dout


def _numpy_backward(model, arrays, dout, layer: int = -1, derivative=None):
    """Backward in numpy from dL/dx_L, with layer ``layer``'s activation derivative
    replaced by ``derivative`` (an array); returns weight and bias gradients ``(out, in)``."""
    ws, bs = [None] * len(model.layers), [None] * len(model.layers)
    dx = dout
    for l in reversed(range(len(model.layers))):
        s = arrays[f"s{l + 1}"]
        if l == layer:
            deriv = derivative
        else:
            act = activations.ACTIVATIONS.get(model.layers[l].activation_name)
            if act is None:
                return None  # an unnamed activation: no closed-form derivative
            deriv = act.df(s)
        ds = dx * deriv
        ws[l] = ds.T @ arrays[f"x{l}"]
        bs[l] = ds.sum(axis=0)
        dx = ds @ model.layers[l].weight_matrix()
    return ws, bs


def _derivative_slips(model, arrays, layer: int):
    """``(description, derivative array)`` of the usual wrong derivatives of a layer."""
    name = model.layers[layer].activation_name
    act = activations.ACTIVATIONS.get(name)
    if act is None:
        return
    s, x = arrays[f"s{layer + 1}"], arrays[f"x{layer + 1}"]
    right = act.df(s)
    tried = [right]
    options = [(f"{name}' left out (taken as 1)", np.ones_like(s)),
               (f"{name}' taken at the output x{layer + 1} instead of s{layer + 1}", act.df(x))]
    for other in activations.names():
        if other != name:
            entry = activations.ACTIVATIONS[other]
            options.append((f"the derivative of {other} ({entry.derivative}) instead of "
                            f"{name}' ({act.derivative})", entry.df(s)))
    for text, deriv in options:
        deriv = np.asarray(deriv, dtype=float)
        if deriv.shape != s.shape or any(np.allclose(deriv, t) for t in tried):
            continue
        tried.append(deriv)
        yield text, deriv


# ---------------------------------------------------------------- the student's side


def _student_grads(student, model, X, y, layout: str) -> Dict:
    if isinstance(student, dict):
        return student
    if not callable(student):
        raise DataTypeError(f"student must be a dict of gradients or a function returning "
                            f"one, not {type(student).__name__}")
    ws, bs = model.get_parameters("in_out" if layout != "out_in" else "out_in")
    params = {}
    for l, (W, b) in enumerate(zip(ws, bs), 1):
        params[f"W{l}"] = W.copy()
        if b is not None:
            params[f"b{l}"] = b.copy()
    try:
        signature = inspect.signature(student)
    except (TypeError, ValueError):
        signature = None
    arity = 3 if signature is None else len(signature.parameters)
    if signature is not None and arity not in (0, 2):
        try:
            signature.bind(params, X, y)
        except TypeError:
            raise ArgumentError(f"the student's function takes {arity} parameters; it is "
                                f"called as f(), f(X, y) or f(params, X, y)") from None
    got = student() if arity == 0 else student(X, y) if arity == 2 else student(params, X, y)
    if not isinstance(got, dict):
        raise DataTypeError(f"the student's function returned {type(got).__name__}, not a "
                            f"dict of gradients such as {{'W1': ..., 'b1': ...}}")
    return got


def _normalise(grads: Dict) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """Keys as ``W1``/``b1`` (``w1``, ``B1`` accepted); unknown keys listed apart."""
    out, odd = {}, []
    for key, value in grads.items():
        k = str(key)
        name = ("W" + k[1:]) if k[:1] in "wW" else ("b" + k[1:]) if k[:1] in "bB" else k
        if not name[1:].isdigit():
            odd.append(k)
            continue
        out[name] = check_array(value, f"the gradient {k!r}", dtype=float)
    return out, odd


def _layout_of(given: Dict[str, np.ndarray], model, layout: str, notes: List[str],
               default: str, truths: List[np.ndarray]) -> str:
    """The layout of the student's weight gradients: from the shapes when ``auto``;
    with square matrices only, the layout under which more of them are right (else
    ``default``)."""
    if layout != "auto":
        return layout
    votes = []
    for l, layer in enumerate(model.layers, 1):
        g = given.get(f"W{l}")
        if g is None or layer.nin == layer.nout:
            continue
        if g.shape == (layer.nin, layer.nout):
            votes.append("in_out")
        elif g.shape == (layer.nout, layer.nin):
            votes.append("out_in")
    if not votes:
        right = {"out_in": 0, "in_out": 0}
        for l, W in enumerate(truths, 1):
            g = given.get(f"W{l}")
            if g is not None and g.shape == W.shape:
                right["out_in"] += bool(_close(g, W, 1e-5, 1e-8).all())
                right["in_out"] += bool(_close(g, W.T, 1e-5, 1e-8).all())
        if right["out_in"] != right["in_out"]:
            return max(right, key=right.get)
        if any(f"W{l}" in given for l in range(1, len(truths) + 1)):
            shape = "(in, out)" if default == "in_out" else "(out, in)"
            notes.append(f"square weight matrices only: their shapes do not tell the layout; "
                         f"{shape} assumed (pass layout='in_out' or 'out_in' to say)")
        return default
    if len(set(votes)) > 1:
        notes.append("the weight gradients mix (in, out) and (out, in); the output layer's "
                     "layout is taken as meant")
    return votes[-1]


# ---------------------------------------------------------------- diagnosis


def _close(a, b, rtol, atol) -> np.ndarray:
    """Entrywise ``|a - b| <= floor + rtol * |b|`` (the rule of ``np.allclose``): each
    entry against its own size, with an absolute floor ``atol + rtol * rms(b) / 100``
    taken from the gradient's typical size, so float round-off on an entry near 0 is
    forgiven but a small entry never filled in (an input scaled small) is not."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rms = float(np.sqrt(np.mean(b * b))) if np.size(b) else 0.0
    floor = atol + rtol * rms / 100.0
    return np.abs(a - b) <= floor + rtol * np.abs(b)


def _factor_name(c: float, n: int) -> Optional[str]:
    named = [(-1.0, "a wrong sign"),
             (float(n), "n, the batch size: the 1/n of the mean is missing"),
             (1.0 / n, "1/n: divided by the batch size once too often"),
             (2.0, "the 1/2 of the loss is lost"), (0.5, "the 2 of the square is lost"),
             (-float(n), "-n: a wrong sign and the 1/n of the mean missing"),
             (-1.0 / n, "-1/n: a wrong sign and one 1/n too many")]
    for value, text in named:
        if abs(c - value) <= 1e-6 * max(1.0, abs(value)):
            return text
    return None


def _diagnose(name, S, G, ctx) -> ParameterVerdict:
    """One parameter: ``S`` the student's gradient, ``G`` the truth in the same layout."""
    rtol, atol, n = ctx["rtol"], ctx["atol"], ctx["n"]
    err = float(np.max(np.abs(S - G))) if S.shape == G.shape else float("inf")
    verdict = ParameterVerdict(name, "wrong", expected=G, given=S, max_error=err)
    if S.shape == G.shape and _close(S, G, rtol, atol).all():
        verdict.status, verdict.slip = "right", ""
        return verdict
    if not np.all(np.isfinite(S)):
        verdict.slip, verdict.message = "not finite", "holds NaN or inf"
        return verdict
    if S.shape == G.T.shape and G.ndim == 2 and _close(S.T, G, rtol, atol).all():
        verdict.slip = "transposed"
        verdict.message = (f"transposed: expected shape {G.shape}, yours is its transpose "
                           f"{S.shape} with the same numbers")
        return verdict
    if S.size == G.size and S.shape != G.shape and 1 in S.shape + G.shape:
        S = S.reshape(G.shape)  # a (k, 1) bias or a (1, k) row is the same vector
        verdict.given = S
        if _close(S, G, rtol, atol).all():
            verdict.status, verdict.max_error = "right", float(np.max(np.abs(S - G)))
            return verdict
    if S.shape != G.shape:
        verdict.slip = "shape"
        verdict.message = f"wrong shape: expected {G.shape}, got {S.shape}"
        return verdict
    if not S.any():
        verdict.slip = "zeros"
        verdict.message = "all zeros: this gradient is never filled in (an np.zeros left as it was?)"
        return verdict
    denom = float(np.sum(G * G))
    if denom > 0:
        c = float(np.sum(S * G)) / denom
        if abs(c) > 1e-12 and _close(S, c * G, rtol, atol).all():
            why = _factor_name(c, n)
            verdict.factor = c
            verdict.slip = "sign" if why == "a wrong sign" else "factor"
            verdict.message = ("wrong sign: yours is -1 x the right gradient" if verdict.slip == "sign"
                               else f"off by a constant factor {c:.6g}" + (f" = {why}" if why else ""))
            return verdict
    found = _activation_slip(name, S, ctx)
    if found:
        verdict.slip, verdict.message = "activation", found
        return verdict
    rows = _rows_message(S, G, rtol, atol, ctx["layout"])
    if rows:
        verdict.slip, verdict.message = "rows", rows
        return verdict
    verdict.message = (f"wrong (max |error| {err:.3g}); no usual slip explains it: compare "
                       f"with verdicts[{name!r}].expected")
    return verdict


def _activation_slip(name, S, ctx) -> str:
    model, layer_of = ctx["model"], int(name[1:]) - 1
    for layer in range(len(model.layers) - 1, layer_of - 1, -1):
        for text, deriv in _derivative_slips(model, ctx["arrays"], layer):
            result = _numpy_backward(model, ctx["arrays"], ctx["dout"], layer, deriv)
            if result is None:
                return ""
            ws, bs = result
            cand = ws[layer_of] if name[0] == "W" else bs[layer_of]
            if cand is None:
                continue
            cand = cand.T if name[0] == "W" and ctx["layout"] == "in_out" else cand
            if cand.shape == S.shape and _close(S, cand, ctx["rtol"], ctx["atol"]).all():
                return f"wrong activation derivative in layer {layer + 1}: yours follows from {text}"
    return ""


def _rows_message(S, G, rtol, atol, layout) -> str:
    """Where the wrong entries are, as they are: whole rows (neurons), whole columns
    (inputs), or single entries."""
    ok = _close(S, G, rtol, atol)
    if S.ndim == 1:
        bad = np.flatnonzero(~ok)
        return f"wrong in entries {', '.join(map(str, bad))} only" if 0 < len(bad) < len(S) else ""
    if S.ndim != 2 or ok.all():
        return ""
    neuron_axis = 1 if layout == "in_out" else 0
    bad = ~ok
    rows = np.flatnonzero(bad.all(axis=1))
    cols = np.flatnonzero(bad.all(axis=0))
    parts = []
    covered = np.zeros_like(bad)
    if len(rows) and len(rows) < S.shape[0]:
        covered[rows, :] = True
    if len(cols) and len(cols) < S.shape[1]:
        covered[:, cols] = True
    single = [tuple(int(i) for i in ij) for ij in np.argwhere(bad & ~covered)]
    for axis, idx in ((0, rows), (1, cols)):
        if len(idx) and len(idx) < S.shape[axis]:
            what = "neurons" if axis == neuron_axis else "inputs"
            where = "rows" if axis == 0 else "columns"
            parts.append(f"{what} {', '.join(map(str, idx))} only ({where} "
                         f"{', '.join(map(str, idx))} of your matrix)")
    if single:
        shown = ", ".join(f"[{i},{j}]" for i, j in single[:8]) + (" ..." if len(single) > 8 else "")
        parts.append(f"the single entries {shown} of your matrix")
    if not parts or bad.sum() == bad.size:
        return ""
    return "wrong for " + " and ".join(parts) + "; the others are right"


def gradients(student: Union[Dict, Callable], model, X, y, loss: str = "cross_entropy",
              layout: str = "auto", reduction: str = "mean", rtol: float = 1e-5,
              atol: float = 1e-8) -> GradientReport:
    """Compare the student's gradients of ``L = loss(model(X), y)`` with autodiff.

    ``student``: a dict ``{"W1": ..., "b1": ..., "W2": ...}`` of numpy arrays, or a
    function returning one, called as ``f()``, ``f(X, y)`` or ``f(params, X, y)`` (then
    ``params`` holds the model's weights in ``layout``, ``(in, out)`` for ``"auto"``;
    the layout of the returned gradients is read from their shapes).
    ``X`` is an ``(n, nin)`` array; ``y`` the targets as the loss takes them (class
    indices for ``cross_entropy``). A gradient is right when every entry is, by the
    rule of ``np.allclose``: ``|S - G| <= floor + rtol * |G|`` entrywise, the floor
    ``atol + rtol * rms(G) / 100`` taken from the gradient's typical size. The model's ``grad`` fields are left
    as they were. Returns a :class:`GradientReport`."""
    check_choice(layout, "layout", LAYOUTS)
    if not isinstance(model, MLP):
        raise DataTypeError(f"model must be an MLP, not {type(model).__name__} ({model!r:.40})")
    rtol, atol = check_real(rtol, "rtol", 0.0), check_real(atol, "atol", 0.0)
    X = check_array(X, "X", finite=True, dtype=float)
    if X.ndim != 2 or X.shape[1] != model.nin or not len(X):
        raise ShapeError(f"X must be an (n, {model.nin}) array, got shape {np.shape(X)}")
    ws, bs, arrays, dout = _autodiff(model, X, y, loss, reduction)
    given, odd = _normalise(_student_grads(student, model, X, y, layout))
    notes: List[str] = []
    # a function given the weights as (in, out) most likely returns that layout
    used = _layout_of(given, model, layout, notes,
                      "in_out" if callable(student) and not isinstance(student, dict) else "out_in",
                      ws)
    ctx = dict(model=model, arrays=arrays, dout=dout, rtol=rtol, atol=atol, n=len(X), layout=used)
    verdicts: Dict[str, ParameterVerdict] = {}
    for l, (W, b) in enumerate(zip(ws, bs), 1):
        for name, truth in ((f"W{l}", W.T if used == "in_out" else W), (f"b{l}", b)):
            if truth is None:
                continue
            if name not in given:
                verdicts[name] = ParameterVerdict(name, "missing", "", "not given", truth)
                continue
            verdicts[name] = _diagnose(name, given[name], truth, ctx)
    for name in sorted(set(given) - set(verdicts)) + odd:
        verdicts[name] = ParameterVerdict(name, "unknown", "", "the model has no such parameter")
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    return GradientReport(verdicts, used, len(X), loss_name, notes)
