"""The table of primitive operations: each one's forward rule and its local derivatives.

Every node of a computational graph is made by one primitive. A primitive is written
once, here, as data:

* ``name``     -- the key stored in ``Value.op``;
* ``symbol``   -- what a drawing shows in the operation node;
* ``expr``     -- the operation as text, in the input names ``u, v, w`` (``c`` for a
  constant exponent, ``u_i`` for the n inputs of an n-ary op);
* ``forward``  -- ``forward(*xs) -> out`` on the inputs' data;
* ``partials`` -- ``partials(out, *xs) -> (d out/d x_1, ..., d out/d x_n)``, the local
  derivatives, evaluated on the same data (``out`` is passed so a rule such as
  ``d tanh(u)/du = 1 - tanh(u)^2`` reuses the forward result);
* ``dexprs``   -- those derivatives as text, one per input, for traces (R22);
* ``check``    -- optional ``check(*xs) -> message or None``: the inputs outside the
  operation's domain (``log`` of a non-positive number ...).

The engine (building and ``backward()``), the graph drawing, the step-by-step trace and
the replay of a recorded graph all read this one table, so they cannot disagree.

``forward`` and ``partials`` accept Python floats (the scalar path, kept on ``math``
for speed) and numpy arrays of any shape (lockstep batches, and replay which stacks
many nodes of one op into one array).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

ndarray = np.ndarray

SQRT_PI = math.sqrt(math.pi)
TWO_OVER_SQRT_PI = 2.0 / SQRT_PI

try:  # scipy comes with scikit-learn; a vectorised erf when it is there
    from scipy.special import erf as _erf_array
except Exception:  # pragma: no cover - depends on the environment
    _erf_array = np.vectorize(math.erf, otypes=[float])


@dataclass(frozen=True)
class Primitive:
    """One operation of the engine: its forward rule and its local derivatives."""

    name: str
    symbol: str
    expr: str
    forward: Callable
    partials: Callable
    dexprs: Tuple[str, ...]
    check: Optional[Callable] = None
    arity: Optional[int] = None  # None = any number of inputs

    def formula(self, i: int = 0) -> str:
        """The local derivative with respect to input ``i`` as text, e.g.
        ``d tanh(u)/du = 1 - tanh(u)^2``."""
        if self.arity is None:
            return f"d {self.expr}/du_i = {self.dexprs[0]}"
        var = _VARS[self.arity][i]
        return f"d {self.expr}/d{var} = {self.dexprs[i]}"

    def formulas(self) -> Tuple[str, ...]:
        """All local-derivative formulas of this primitive, one per input."""
        if self.arity is None:
            return (self.formula(0),)
        return tuple(self.formula(i) for i in range(self.arity))

    def variables(self) -> Tuple[str, ...]:
        """The names the texts use for the inputs (``u``, ``v`` ...)."""
        return ("u_i",) if self.arity is None else _VARS[self.arity]


_VARS = {1: ("u",), 2: ("u", "v"), 3: ("c", "u", "v")}

PRIMITIVES: Dict[str, Primitive] = {}


def primitive(name, symbol, expr, dexprs, arity, check=None):
    """Register ``forward``/``partials`` given as a pair of functions (decorator on
    a function returning ``(forward, partials)``)."""

    def register(make):
        forward, partials = make()
        PRIMITIVES[name] = Primitive(name, symbol, expr, forward, partials,
                                     tuple(dexprs), check, arity)
        return PRIMITIVES[name]

    return register


# ---------------------------------------------------------------- helpers


def _any(cond) -> bool:
    return bool(np.any(cond)) if cond.__class__ is ndarray else bool(cond)


def _overflowing(math_fn, numpy_fn):
    """A forward rule on floats (``math``, fast) and arrays (numpy) that gives inf on
    overflow in both, as numpy and torch do, instead of raising OverflowError."""

    def forward(u):
        if u.__class__ is float:
            try:
                return math_fn(u)
            except OverflowError:
                return math.inf
        with np.errstate(over="ignore"):
            return numpy_fn(u)

    return forward


_exp = _overflowing(math.exp, np.exp)


def _indicator(cond):
    """1.0 where ``cond`` holds, else 0.0 (float or float array)."""
    if cond.__class__ is ndarray:
        return cond.astype(float)
    return 1.0 if cond else 0.0


# ---------------------------------------------------------------- arithmetic


@primitive("add", "+", "u + v", ("1", "1"), 2)
def _add():
    return (lambda u, v: u + v), (lambda out, u, v: (1.0, 1.0))


@primitive("sub", "-", "u - v", ("1", "-1"), 2)
def _sub():
    return (lambda u, v: u - v), (lambda out, u, v: (1.0, -1.0))


@primitive("mul", "*", "u * v", ("v", "u"), 2)
def _mul():
    return (lambda u, v: u * v), (lambda out, u, v: (v, u))


def _check_div(u, v):
    if _any(v == 0):
        return "division by zero: the divisor is 0"
    return None


@primitive("div", "/", "u / v", ("1 / v", "-u / v^2"), 2, check=_check_div)
def _div():
    return (lambda u, v: u / v), (lambda out, u, v: (1.0 / v, -out / v))


@primitive("neg", "neg", "-u", ("-1",), 1)
def _neg():
    return (lambda u: -u), (lambda out, u: (-1.0,))


def _check_powc(u, c):
    c_is_int = float(c).is_integer() if c.__class__ is not ndarray else bool(np.all(np.mod(c, 1) == 0))
    if not c_is_int and _any(u < 0):
        return f"a negative base to the non-integer power {c} has no real value"
    if _any(c < 0) and _any(u == 0):
        return f"0 to the negative power {c} is a division by zero"
    return None


def _pow_float(u, c):
    if u.__class__ is float and c.__class__ is float:
        try:
            return u ** c
        except OverflowError:
            return math.inf
        except ZeroDivisionError:  # 0 to a negative power, as in d sqrt(u)/du at u = 0
            return math.inf
    with np.errstate(over="ignore"):
        return np.power(u, c)


@primitive("powc", "^c", "u^c", ("c * u^(c-1)", "0 (c is a constant)"), 2, check=_check_powc)
def _powc():
    # u ** c with a constant exponent c (the second input, a constant node)
    def partials(out, u, c):
        if c.__class__ is float:
            if c == 0.0:
                return (0.0, 0.0)
            if c == 2.0:  # the square of every squared error: u^1 = u exactly
                return (2.0 * u, 0.0)
        return (c * _pow_float(u, c - 1.0), 0.0)

    return _pow_float, partials


def _check_pow(u, v):
    if _any(u < 0):
        return "a negative base with a Value exponent: d(u^v)/dv = u^v ln(u) is undefined for u < 0"
    if _any((u == 0) & (v <= 0)) if u.__class__ is ndarray or v.__class__ is ndarray else (u == 0 and v <= 0):
        return "0 to a non-positive power is undefined"
    return None


@primitive("pow", "^", "u^v", ("v * u^(v-1)", "u^v * ln(u)"), 2, check=_check_pow)
def _pow():
    def partials(out, u, v):
        du = v * _pow_float(u, v - 1.0) if not (v.__class__ is float and v == 0.0) else 0.0
        if u.__class__ is ndarray or v.__class__ is ndarray:
            u_arr = np.broadcast_to(u, np.broadcast(u, v).shape)
            safe = np.where(u_arr > 0, u_arr, 1.0)
            dv = np.where(u_arr > 0, out * np.log(safe), 0.0)  # limit u^v ln u -> 0 as u -> 0+
        else:
            dv = out * math.log(u) if u > 0 else 0.0
        return (du, dv)

    return _pow_float, partials


# ---------------------------------------------------------------- elementary functions


@primitive("exp", "exp", "exp(u)", ("exp(u)",), 1)
def _exp_prim():
    return _exp, (lambda out, u: (out,))


def _check_log(u):
    if _any(u <= 0):
        return "log of a non-positive number"
    return None


@primitive("log", "log", "ln(u)", ("1 / u",), 1, check=_check_log)
def _log():
    def forward(u):
        return math.log(u) if u.__class__ is float else np.log(u)

    return forward, (lambda out, u: (1.0 / u,))


def _check_log1p(u):
    if _any(u <= -1):
        return "log1p of a number <= -1 (log of a non-positive number)"
    return None


@primitive("log1p", "log1p", "ln(1 + u)", ("1 / (1 + u)",), 1, check=_check_log1p)
def _log1p():
    def forward(u):
        return math.log1p(u) if u.__class__ is float else np.log1p(u)

    return forward, (lambda out, u: (1.0 / (1.0 + u),))


@primitive("expm1", "expm1", "exp(u) - 1", ("exp(u)",), 1)
def _expm1():
    return _overflowing(math.expm1, np.expm1), (lambda out, u: (out + 1.0,))


@primitive("tanh", "tanh", "tanh(u)", ("1 - tanh(u)^2",), 1)
def _tanh():
    def forward(u):
        return math.tanh(u) if u.__class__ is float else np.tanh(u)

    return forward, (lambda out, u: (1.0 - out * out,))


@primitive("relu", "relu", "max(0, u)", ("1 if u > 0 else 0",), 1)
def _relu():
    def forward(u):
        if u.__class__ is float:
            return u if u > 0.0 else 0.0
        return np.maximum(u, 0.0)

    return forward, (lambda out, u: (_indicator(u > 0),))


@primitive("abs", "|u|", "|u|", ("sign(u)",), 1)
def _abs():
    def forward(u):
        return abs(u) if u.__class__ is float else np.abs(u)

    def partials(out, u):
        if u.__class__ is float:
            return ((u > 0) - (u < 0) + 0.0,)
        return (np.sign(u),)

    return forward, partials


@primitive("erf", "erf", "erf(u)", ("2/sqrt(pi) * exp(-u^2)",), 1)
def _erf():
    def forward(u):
        return math.erf(u) if u.__class__ is float else _erf_array(u)

    def partials(out, u):
        return (TWO_OVER_SQRT_PI * _exp(-(u * u)),)

    return forward, partials


# ---------------------------------------------------------------- selection and sums


@primitive("where", "where", "(u if c > 0 else v)", ("0", "1 if c > 0 else 0", "0 if c > 0 else 1"), 3)
def _where():
    def forward(c, u, v):
        if c.__class__ is float and u.__class__ is float and v.__class__ is float:
            return u if c > 0.0 else v
        return np.where(c > 0, u, v) + 0.0

    def partials(out, c, u, v):
        take = _indicator(c > 0)
        return (0.0, take, 1.0 - take)

    return forward, partials


@primitive("sum", "Σ", "Σ u_i", ("1",), None)
def _sum():
    def forward(*xs):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total

    return forward, (lambda out, *xs: (1.0,) * len(xs))


@primitive("max", "max", "max_i u_i", ("1 for the first largest u_i, else 0",), None)
def _max():
    def forward(*xs):
        if all(x.__class__ is float for x in xs):
            return max(xs)
        return np.maximum.reduce(np.broadcast_arrays(*xs)) + 0.0

    def partials(out, *xs):
        taken = 0.0
        parts = []
        for x in xs:
            # the first input equal to the max takes the whole derivative
            hit = _indicator(x == out) * (1.0 - taken)
            taken = taken + hit
            parts.append(hit)
        return tuple(parts)

    return forward, partials


@primitive("bsum", "Σ_batch", "Σ_n u[n]", ("1",), 1)
def _bsum():
    def forward(u):
        return float(np.sum(u)) if u.__class__ is ndarray else u

    def partials(out, u):
        return (np.ones_like(u) if u.__class__ is ndarray else 1.0,)

    return forward, partials


def get(name: str) -> Primitive:
    """The primitive called ``name``; a clear error lists the known ones."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise KeyError(f"unknown primitive {name!r}; known: {', '.join(sorted(PRIMITIVES))}") from None
