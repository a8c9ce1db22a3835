"""The engine's own operations, one row each: the one place where an operation is described.

Every node of a computational graph is made by one primitive. A primitive is one
:class:`~micrograd_mlp.core.registry.Primitive` row of the table
:data:`~micrograd_mlp.core.registry.PRIMITIVES`, and everything else reads that row:

* the engine builds nodes with ``forward`` (``Value.__mul__`` is ``apply("mul", ...)``)
  and runs the chain rule with ``partials``; ``piecewise`` rows give masks;
* the trace, the ledger and the stepper write the expression and each local
  derivative from the text and LaTeX templates, parenthesised by the precedences;
* a drawing shows ``symbol`` in the operation node;
* the replay of a recorded graph runs ``forward`` and ``partials`` on stacked arrays
  (or the row's ``batched`` rule, when it has one);
* the trace command's expression language knows every row with a ``method``.

``core.registry.register_primitive`` adds a row (``sin``, say) and makes it available
in all of these at once, a ``Value`` method too; ``unregister_primitive`` takes it away.

``forward`` and ``partials`` accept Python floats (the scalar path, kept on ``math``
for speed) and numpy arrays of any shape (lockstep batches, and replay which stacks
many nodes of one op into one array). Beside them, each row holds the same rules on
single floats for the compiled tape (``compiled_forward``, ``compiled_partials``,
``compiled_check``: plain ``math`` that numba compiles; see
:mod:`micrograd_mlp.core.tape`).
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .registry import DEFAULT_VARIABLES, Primitive, add_row, seal_built_ins

__all__ = ["erf_array", "BCE_EPSILON"]

ndarray = np.ndarray

SQRT_PI = math.sqrt(math.pi)
TWO_OVER_SQRT_PI = 2.0 / SQRT_PI

try:  # scipy comes with scikit-learn; a vectorised erf when it is there
    from scipy.special import erf as erf_array
except Exception:  # pragma: no cover - depends on the environment
    erf_array = np.vectorize(math.erf, otypes=[float])


def primitive(name: str, **row):
    """Decorator for the built-in rows below: the decorated function returns the pair
    ``(forward, partials)``, the keyword arguments are the rest of the row."""

    def register(make):
        forward, partials = make()
        if partials is None:   # a derivative that is 1 except where the row says 0
            off = row["off_where"]
            partials = lambda out, u: (1.0 - _indicator(off(out, u)),)  # noqa: E731
        variables = row.get("variables") or DEFAULT_VARIABLES[row["arity"]]
        row.setdefault("local_latex", row["local_text"])
        row.setdefault("method", "")
        if "text" not in row:  # a function call: name(u)
            row["text"] = f"{name}({{{variables[0]}}})"
        return add_row(Primitive(name, forward=forward, partials=partials, **row))

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


# The compiled rules (``_c_*`` and the rows' lambdas): the rows' rules on single floats,
# for numba. They run with numpy's floating-point rules (x / 0 is inf, an overflow is
# inf), as the rows' numpy branches do; each mirrors its row's NaN choices.


def _c_add(u, v):
    return u + v


def _c_add_partials(out, u, v):
    return (1.0, 1.0)


@primitive("add", symbol="+", arity=2, text="{u} + {v}", latex="{u} + {v}",
           local_text=("1", "1"), precedence=1, operand_precedence=(1, 1),
           compiled_forward=_c_add, compiled_partials=_c_add_partials)
def _add():
    return operator.add, (lambda out, u, v: (1.0, 1.0))  # forward: u + v


def _c_sub(u, v):
    return u - v


def _c_sub_partials(out, u, v):
    return (1.0, -1.0)


@primitive("sub", symbol="-", arity=2, text="{u} - {v}", latex="{u} - {v}",
           local_text=("1", "-1"), precedence=1, operand_precedence=(1, 2),
           compiled_forward=_c_sub, compiled_partials=_c_sub_partials)
def _sub():
    return operator.sub, (lambda out, u, v: (1.0, -1.0))  # forward: u - v


def _c_mul(u, v):
    return u * v


def _c_mul_partials(out, u, v):
    return (v, u)


@primitive("mul", symbol="*", arity=2, text="{u} * {v}", latex="{u} \\cdot {v}",
           local_text=("{v}", "{u}"), precedence=2, operand_precedence=(2, 3), bilinear=True,
           compiled_forward=_c_mul, compiled_partials=_c_mul_partials)
def _mul():
    return operator.mul, (lambda out, u, v: (v, u))  # forward: u * v


def _check_div(u, v):
    if _any(v == 0):
        return "division by zero: the divisor is 0"
    return None


@primitive("div", symbol="/", arity=2, text="{u} / {v}", latex="\\frac{{{u}}}{{{v}}}",
           local_text=("1/{v}", "-{u}/{v}^2"),
           local_latex=("\\frac{{1}}{{{v}}}", "-\\frac{{{u}}}{{{v}^2}}"),
           precedence=2, operand_precedence=(2, 3), check=_check_div,
           compiled_forward=lambda u, v: u / v,
           compiled_partials=lambda out, u, v: (1.0 / v, -out / v),
           compiled_check=lambda u, v: v == 0.0)
def _div():
    return (lambda u, v: u / v), (lambda out, u, v: (1.0 / v, -out / v))


@primitive("neg", symbol="neg", arity=1, text="-{u}", latex="-{u}", local_text=("-1",),
           precedence=3, operand_precedence=(4,),
           compiled_forward=lambda u: -u, compiled_partials=lambda out, u: (-1.0,))
def _neg():
    return operator.neg, (lambda out, u: (-1.0,))  # forward: -u


def _check_pow_const(u, c):
    if c.__class__ is ndarray:
        # replay stacks nodes with different exponents: each base against its own
        # exponent (u^3 of a negative u is fine beside a u^0.5 of a positive one)
        if np.any((np.mod(c, 1) != 0) & (u < 0)):
            return f"a negative base to the non-integer power {c} has no real value"
        if np.any((c < 0) & (u == 0)):
            return f"0 to the negative power {c} is a division by zero"
        return None
    if not float(c).is_integer() and _any(u < 0):
        return f"a negative base to the non-integer power {c} has no real value"
    if c < 0 and _any(u == 0):
        return f"0 to the negative power {c} is a division by zero"
    return None


def _c_check_pow_const(u, c):
    return (c % 1.0 != 0.0 and u < 0.0) or (c < 0.0 and u == 0.0)   # inf, NaN: not integers


def _c_pow_const_partials(out, u, c):
    if c == 0.0:
        return (0.0, 0.0)
    if c == 2.0:
        return (2.0 * u, 0.0)
    return (c * u ** (c - 1.0), 0.0)


def _pow_const_local(c: float):
    """The local derivatives of ``u^c`` with the number ``c`` put in, as text and
    LaTeX templates: ``2 * {u}`` for a square, else ``c * {u}^(c - 1)``."""
    if c == 2.0:
        return ("2 * {u}", "0"), ("2 {u}", "0")
    if c == 1.0:
        return ("1", "0"), ("1", "0")
    lower = f"{c - 1.0:g}"
    return ((f"{c:g} * {{u}}^{lower}", "0"),
            (f"{c:g} \\cdot {{u}}^{{{{{lower}}}}}", "0"))


def _pow_float(u, c):
    if u.__class__ is float and c.__class__ is float:
        try:
            return u ** c
        except OverflowError:  # numpy gives the signed infinity: (-1e200)^3 = -inf
            with np.errstate(over="ignore"):
                return float(np.power(u, c))
        except ZeroDivisionError:  # 0 to a negative power, as in d sqrt(u)/du at u = 0
            return math.inf
    with np.errstate(over="ignore"):
        return np.power(u, c)


@primitive("pow_const", symbol="^c", arity=2, variables=("u", "c"), text="{u}^{c}",
           latex="{u}^{{{c}}}", local_text=("{c} * {u}^({c} - 1)", "0"),
           local_latex=("{c} \\cdot {u}^{{{c} - 1}}", "0"), precedence=4,
           operand_precedence=(5, 5), constant_input=1, constant_symbol="^{c}",
           constant_local=_pow_const_local, check=_check_pow_const,
           compiled_forward=lambda u, c: u ** c, compiled_partials=_c_pow_const_partials,
           compiled_check=_c_check_pow_const)
def _pow_const():
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


def _c_check_pow(u, v):
    return u < 0.0 or (u == 0.0 and v <= 0.0)


def _c_pow_partials(out, u, v):
    du = 0.0 if v == 0.0 else v * u ** (v - 1.0)   # d(u^0)/du = 0, also at u = NaN
    dv = 0.0 if u == 0.0 else out * math.log(u)   # the limit of u^v ln u as u -> 0+
    return (du, dv)


@primitive("pow", symbol="^", arity=2, text="{u}^{v}", latex="{u}^{{{v}}}",
           local_text=("{v} * {u}^({v} - 1)", "{u}^{v} * ln({u})"),
           local_latex=("{v} \\cdot {u}^{{{v} - 1}}", "{u}^{{{v}}} \\ln {u}"),
           precedence=4, operand_precedence=(5, 5), check=_check_pow,
           compiled_forward=lambda u, v: u ** v, compiled_partials=_c_pow_partials,
           compiled_check=_c_check_pow)
def _pow():
    def partials(out, u, v):
        du = v * _pow_float(u, v - 1.0) if not (v.__class__ is float and v == 0.0) else 0.0
        if u.__class__ is ndarray or v.__class__ is ndarray:
            du = np.where(v == 0, 0.0, du)  # d(u^0)/du = 0, also at u = NaN (as PyTorch)
            u_arr = np.broadcast_to(u, np.broadcast(u, v).shape)
            safe = np.where(u_arr == 0, 1.0, u_arr)  # the check refused u < 0
            dv = np.where(u_arr == 0, 0.0, out * np.log(safe))  # limit u^v ln u -> 0 as u -> 0+
        else:
            dv = 0.0 if u == 0.0 else out * math.log(u)  # NaN stays NaN
        return (du, dv)

    return _pow_float, partials


# ---------------------------------------------------------------- elementary functions


@primitive("exp", symbol="exp", arity=1, latex="e^{{{u}}}", local_text=("exp({u})",),
           local_latex=("e^{{{u}}}",), method="exp", doc="``e^u``.",
           compiled_forward=lambda u: math.exp(u), compiled_partials=lambda out, u: (out,))
def _exp_prim():
    return _exp, (lambda out, u: (out,))


def _check_log(u):
    if _any(u <= 0):
        return "log of a non-positive number"
    return None


@primitive("log", symbol="log", arity=1, text="ln({u})", latex="\\ln({u})",
           local_text=("1/{u}",), local_latex=("\\frac{{1}}{{{u}}}",), check=_check_log,
           method="log", doc="Natural log ``ln(u)``; raises DomainError for ``u <= 0``.",
           compiled_forward=lambda u: math.log(u), compiled_partials=lambda out, u: (1.0 / u,),
           compiled_check=lambda u: u <= 0.0)
def _log():
    def forward(u):
        return math.log(u) if u.__class__ is float else np.log(u)

    return forward, (lambda out, u: (1.0 / u,))


def _check_log1p(u):
    if _any(u <= -1):
        return "log1p of a number <= -1 (log of a non-positive number)"
    return None


@primitive("log1p", symbol="log1p", arity=1, text="ln(1 + {u})", latex="\\ln(1 + {u})",
           local_text=("1/(1 + {u})",), local_latex=("\\frac{{1}}{{1 + {u}}}",),
           check=_check_log1p, method="log1p", doc="``ln(1 + u)``, accurate for small ``u``.",
           compiled_forward=lambda u: math.log1p(u),
           compiled_partials=lambda out, u: (1.0 / (1.0 + u),),
           compiled_check=lambda u: u <= -1.0)
def _log1p():
    def forward(u):
        return math.log1p(u) if u.__class__ is float else np.log1p(u)

    return forward, (lambda out, u: (1.0 / (1.0 + u),))


@primitive("expm1", symbol="expm1", arity=1, text="exp({u}) - 1", latex="e^{{{u}}} - 1",
           local_text=("exp({u})",), local_latex=("e^{{{u}}}",), precedence=1,
           method="expm1", doc="``e^u - 1``, accurate for small ``u``.",
           compiled_forward=lambda u: math.expm1(u),
           compiled_partials=lambda out, u: (out + 1.0,))
def _expm1():
    return _overflowing(math.expm1, np.expm1), (lambda out, u: (out + 1.0,))


@primitive("tanh", symbol="tanh", arity=1, latex="\\tanh({u})",
           local_text=("1 - tanh({u})^2",), local_latex=("1 - \\tanh^2({u})",),
           method="tanh", doc="``tanh(u)``.", compiled_forward=lambda u: math.tanh(u),
           compiled_partials=lambda out, u: (1.0 - out * out,))
def _tanh():
    def forward(u):
        return math.tanh(u) if u.__class__ is float else np.tanh(u)

    return forward, (lambda out, u: (1.0 - out * out,))


@primitive("relu", symbol="relu", arity=1, latex="\\operatorname{{relu}}({u})",
           local_text=("[{u} > 0]",), method="relu", piecewise=True,
           # 0 where u <= 0 and 1 elsewhere, NaN included (PyTorch's threshold rule)
           off_where=lambda out, u: u <= 0,
           doc="``max(0, u)`` (derivative 0 at 0, as in PyTorch).",
           compiled_forward=lambda u: 0.0 if u <= 0.0 else u,
           compiled_partials=lambda out, u: (0.0 if u <= 0.0 else 1.0,))
def _relu():
    def forward(u):
        if u.__class__ is float:
            return 0.0 if u <= 0.0 else u  # `u > 0.0` would turn NaN into 0
        return np.maximum(u, 0.0)

    return forward, None   # partials from the row's off_where: 1 - [u <= 0]


@primitive("min0", symbol="min0", arity=1, text="min({u}, 0)", latex="\\min({u}, 0)",
           local_text=("[{u} <= 0]",), local_latex=("[{u} \\le 0]",), piecewise=True,
           doc="``min(u, 0)``, the partner of ``relu``: ``u = relu(u) + min0(u)`` and their "
               "derivatives ``[u > 0]`` and ``[u <= 0]`` add up to 1 at every u, 0 included. "
               "Composites split their input with the pair so no exponent is positive; "
               "``u - relu(u)`` would be ``inf - inf = NaN`` at ``u = +inf``.",
           compiled_forward=lambda u: 0.0 if u > 0.0 else u,
           compiled_partials=lambda out, u: (1.0 if u <= 0.0 else (0.0 if u > 0.0 else math.nan),))
def _min0():
    def forward(u):
        if u.__class__ is float:
            return 0.0 if u > 0.0 else u  # NaN stays NaN
        return np.minimum(u, 0.0)

    def partials(out, u):
        # [u <= 0], and NaN at u = NaN: relu'(NaN) = 1 follows PyTorch's relu, and
        # PyTorch's piecewise activations disagree on NaN (leaky_relu'(NaN) = alpha), so
        # a composite split with this pair answers NaN there rather than a branch
        if u.__class__ is float:
            return (1.0 if u <= 0.0 else (0.0 if u > 0.0 else math.nan),)
        return (np.heaviside(-u, 1.0),)  # 1 for u <= 0, 0 for u > 0, NaN for NaN

    return forward, partials


@primitive("abs", symbol="|u|", arity=1, text="|{u}|", latex="\\lvert {u} \\rvert",
           local_text=("sign({u})",), local_latex=("\\operatorname{{sign}}({u})",),
           method="abs", doc="``|u|`` (derivative 0 at 0, as in PyTorch).",
           compiled_forward=lambda u: abs(u),
           compiled_partials=lambda out, u: (1.0 if u > 0.0 else (-1.0 if u < 0.0 else 0.0),))
def _abs():
    def forward(u):
        return abs(u) if u.__class__ is float else np.abs(u)

    def partials(out, u):
        if u.__class__ is float:
            return ((u > 0) - (u < 0) + 0.0,)
        return ((u > 0) * 1.0 - (u < 0),)  # not np.sign: 0 (not NaN) at NaN, as PyTorch

    return forward, partials


@primitive("erf", symbol="erf", arity=1, latex="\\operatorname{{erf}}({u})",
           local_text=("2/sqrt(pi) * exp(-{u}^2)",),
           local_latex=("\\tfrac{{2}}{{\\sqrt{{\\pi}}}} e^{{-{u}^2}}",), method="erf",
           doc="The error function ``erf(u) = 2/sqrt(pi) * int_0^u e^(-t^2) dt``.",
           compiled_forward=lambda u: math.erf(u),
           compiled_partials=lambda out, u: (TWO_OVER_SQRT_PI * math.exp(-(u * u)),))
def _erf():
    def forward(u):
        return math.erf(u) if u.__class__ is float else erf_array(u)

    def partials(out, u):
        return (TWO_OVER_SQRT_PI * _exp(-(u * u)),)

    return forward, partials


# ---------------------------------------------------------------- a loss PyTorch fuses

#: float32's 1e-12: PyTorch's binary cross-entropy divides by ``max(p (1 - p), this)``.
BCE_EPSILON = float(np.float32(1e-12))


def _check_bce(p, y):
    if not bool(np.all((np.asarray(p) >= 0.0) & (np.asarray(p) <= 1.0))):
        return "the probability p must lie in [0, 1]"
    return None


def _as_float_if_scalar(x):
    return float(x) if x.ndim == 0 else x


def _c_check_bce(p, y):
    return not (p >= 0.0 and p <= 1.0)   # NaN too


def _c_bce(p, y):
    # each log clamped at -100 as PyTorch does (ln 0 = -inf -> -100); p is in [0, 1]
    log_p = -100.0 if p <= 0.0 else max(math.log(p), -100.0)
    log_q = -100.0 if p >= 1.0 else max(math.log1p(-p), -100.0)
    return 0.0 - (y * log_p + (1.0 - y) * log_q)


def _c_bce_partials(out, p, y):
    dp = (p - y) / max((1.0 - p) * p, BCE_EPSILON)
    log_q = -math.inf if p >= 1.0 else math.log1p(-p)
    log_p = -math.inf if p <= 0.0 else math.log(p)
    return (dp, log_q - log_p)


@primitive("bce", symbol="BCE", arity=2, variables=("p", "y"), text="bce({p}, {y})",
           latex="\\operatorname{{BCE}}({p}, {y})",
           local_text=("({p} - {y}) / max({p} (1 - {p}), 1e-12)", "ln(1 - {p}) - ln({p})"),
           local_latex=("\\frac{{{p} - {y}}}{{\\max({p} (1 - {p}), 10^{{-12}})}}",
                        "\\ln(1 - {p}) - \\ln {p}"),
           check=_check_bce, compiled_forward=_c_bce, compiled_partials=_c_bce_partials,
           compiled_check=_c_check_bce,
           doc="Binary cross-entropy of one probability ``p`` and target ``y`` as PyTorch "
               "computes it: ``-(y max(ln p, -100) + (1 - y) max(ln(1 - p), -100))`` (each "
               "log clamped at -100, so p = 0 or 1 is finite), with PyTorch's gradient "
               "``(p - y) / max(p (1 - p), 1e-12)`` (-1e12 at p = 0, y = 1) and "
               "``ln(1 - p) - ln(p)`` for the target.")
def _bce():
    def forward(p, y):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-np.asarray(p, dtype=float)), -100.0)
        return _as_float_if_scalar(np.asarray(0.0 - (y * log_p + (1.0 - y) * log_q)))

    def partials(out, p, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            dp = (p - y) / np.maximum((1.0 - p) * p, BCE_EPSILON)
            dy = np.log1p(-np.asarray(p, dtype=float)) - np.log(p)
        return (_as_float_if_scalar(np.asarray(dp)), _as_float_if_scalar(np.asarray(dy)))

    return forward, partials


# ---------------------------------------------------------------- selection and sums


def _c_where(c, u, v):
    return u if c > 0.0 else (v if c <= 0.0 else math.nan)


def _c_where_partials(out, c, u, v):
    take = 1.0 if c > 0.0 else (0.0 if c <= 0.0 else math.nan)
    return (0.0, take, 1.0 - take)


@primitive("where", symbol="where", arity=3, text="where({c} > 0, {u}, {v})",
           latex="\\operatorname{{where}}({c} > 0, {u}, {v})",
           local_text=("0", "[{c} > 0]", "[{c} <= 0]"),
           local_latex=("0", "[{c} > 0]", "[{c} \\le 0]"), piecewise=True,
           compiled_forward=_c_where, compiled_partials=_c_where_partials)
def _where():
    def forward(c, u, v):
        if c.__class__ is float and u.__class__ is float and v.__class__ is float:
            return u if c > 0.0 else (v if c <= 0.0 else math.nan)
        return np.where(c > 0, u, np.where(c <= 0, v, np.nan))

    def partials(out, c, u, v):
        # 1 where u was taken, 0 where v was, NaN where c is NaN (neither was)
        if c.__class__ is float:
            take = 1.0 if c > 0.0 else (0.0 if c <= 0.0 else math.nan)
        else:
            take = np.where(c > 0, 1.0, np.where(c <= 0, 0.0, np.nan))
        return (0.0, take, 1.0 - take)

    return forward, partials


@primitive("sum", symbol="Σ", arity=None, text="{args}", latex="{args}", joiner=" + ",
           local_text=("1",), precedence=1, operand_precedence=(1,), batched="n_ary_sum",
           compiled_forward="sum")
def _sum():
    def forward(*xs):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total

    return forward, (lambda out, *xs: (1.0,) * len(xs))


@primitive("max", symbol="max", arity=None, text="max({args})", latex="\\max({args})",
           local_text=("[{u_i} = max]",), local_latex=("[{u_i} = \\max]",),
           batched="n_ary_max", compiled_forward="max", piecewise=True)
def _max():
    def forward(*xs):
        if all(x.__class__ is float for x in xs):
            for x in xs:
                if x != x:  # NaN: Python's max() would skip it unless it came first
                    return math.nan
            return max(xs)
        return np.maximum.reduce(np.broadcast_arrays(*xs)) + 0.0

    def partials(out, *xs):
        taken = 0.0
        parts = []
        for x in xs:
            # the first input equal to the max (or the first NaN, when the max is
            # NaN, as PyTorch's max) takes the whole derivative
            hit = _indicator((x == out) | (x != x)) * (1.0 - taken)
            taken = taken + hit
            parts.append(hit)
        return tuple(parts)

    return forward, partials


@primitive("batch_sum", symbol="Σ_batch", arity=1, text="sum_n {u}", latex="\\sum_n {u}",
           local_text=("1",), precedence=1, batched="batch_sum",
           compiled_forward="batch_sum")
def _batch_sum():
    def forward(u):
        return float(np.sum(u)) if u.__class__ is ndarray else u

    def partials(out, u):
        return (np.ones_like(u) if u.__class__ is ndarray else 1.0,)

    return forward, partials


seal_built_ins()
