"""Activation functions as composite nodes, with numpy closed forms for plotting.

Each activation is written with engine primitives (so the graph shows what it is made
of and the chain rule gives its derivative) and decorated once with :func:`register`,
which makes it a composite (drawings show it as one labelled group) and enters it in
the one registry of composites with its formula, its short name for ledgers
(``sigma``), its drawing symbol and vectorised numpy forms ``f(x)`` and ``df(x)`` (for
plots and to check the autodiff derivative). :data:`ACTIVATIONS` lists them.

Two rules keep every composite finite and exact, at ``x = +-1000`` as at ``x = 0``:

* no exponent is ever positive: the input is split as ``x = p + n`` with
  ``p = relu(x) >= 0`` and ``n = min0(x) = min(x, 0) <= 0``, and each formula is rewritten
  so that only ``e^-p``, ``e^n`` and the like appear (never clipping, which would change
  the gradient);
* never ``|x|`` or ``sign(x)`` for a smooth function: their derivative at 0 is 0, which
  would give a wrong derivative at ``x = 0``. With ``relu'(0) = 0`` the split above gives
  the derivative from the left at a kink, which for a smooth function is *the* derivative.

No composite branches in Python on a node's data, so all of them work on batched Values.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from .composite import COMPOSITES, Composite, tagged
from ..core.engine import Value, apply
from ..core.modes import current_group
from ..core.primitives import erf_array
from ..core.validate import check_choice, check_flag, check_real
from ..errors import ArgumentError, DataTypeError, DomainError, UnknownActivationError
from .targets import numeric_array

__all__ = [
    "Activation", "ACTIVATIONS", "UnknownActivationError", "activation_named", "register", "names",
    "relu", "sigmoid", "tanh", "identity", "silu", "swish", "prelu", "leaky_relu",
    "parametric_sigmoid", "softplus", "selu", "elish", "soboleva_tanh", "gelu",
    "evaluate", "SELU_ALPHA", "SELU_LAMBDA", "GELU_TANH_COEF",
]

#: SELU's constants (Klambauer et al. 2017) in full: rounded ones miss PyTorch by ~1e-5.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
#: The cubic coefficient of GELU's tanh approximation.
GELU_TANH_COEF = 0.044715
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)



#: An activation is a registered composite with numpy closed forms.
Activation = Composite


class _ActivationTable(Mapping):
    """The activations among :data:`~micrograd_mlp.functions.composite.COMPOSITES`
    (the one registry), by name, in registration order; read-only."""

    def __getitem__(self, name):
        entry = COMPOSITES[name]
        if entry.kind != "activation":
            raise KeyError(name)
        return entry

    def __iter__(self):
        return (name for name, entry in list(COMPOSITES.items()) if entry.kind == "activation")

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        return f"ACTIVATIONS({', '.join(self)})"


ACTIVATIONS = _ActivationTable()


def register(name, f, df, formula, derivative, alias_of="", short="", short_latex="",
             symbol="", output_derivative="", output_derivative_fn=None, output_range=None,
             **params):
    """Decorator registering an activation in the composite registry under ``name``:
    its numpy closed forms ``f``/``df``, ``formula`` and ``derivative`` as text, how a
    ledger and a drawing write it (``short``, ``short_latex``, ``symbol``) and its
    default ``params``; ``output_derivative``, ``output_derivative_fn`` and
    ``output_range`` as in :class:`~micrograd_mlp.functions.composite.Composite`. A plain function is made a composite (its nodes form a group
    called ``name``); an already registered composite (an alias such as ``"swish"``, or
    a variant with other ``params``) is registered again as it is."""

    def add(fn):
        if not hasattr(fn, "composite_name"):
            fn = tagged(name, fn)
        bound_f = functools.partial(f, **params) if params else f
        bound_df = functools.partial(df, **params) if params else df
        COMPOSITES[name] = Composite(name, fn, formula, derivative, short, short_latex,
                                     symbol, bound_f, bound_df, dict(params), alias_of,
                                     kind="activation", output_derivative=output_derivative,
                                     output_derivative_fn=output_derivative_fn,
                                     output_range=output_range)
        return fn

    return add


def names(aliases: bool = False):
    """The registered activation names, in registration order (aliases left out
    unless asked for)."""
    return [k for k, a in ACTIVATIONS.items() if aliases or not a.alias_of]


def activation_named(activation):
    """Turn an activation spec into a callable ``Value -> Value``: a registered name
    (``"sigmoid"``, case-insensitive), None or ``"none"``/``"linear"`` (identity), or any
    callable (returned as is). An unknown name raises :class:`UnknownActivationError`
    listing the known ones."""
    if activation is None:
        return ACTIVATIONS["identity"]
    if callable(activation):
        return activation
    if isinstance(activation, str):
        key = activation.lower()
        if key in ("none", "linear"):
            key = "identity"
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        raise UnknownActivationError(
            f"unknown activation {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    raise DataTypeError(f"activation must be a name, a callable or None, not {type(activation).__name__}")


def _as_value(x):
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


def _split(v):
    """``x = p + n`` with ``p = relu(x) = max(x, 0)`` and ``n = min0(x) = min(x, 0)``
    (two primitives). Their derivatives ``[x > 0]`` and ``[x <= 0]`` add up to 1 at every
    x, 0 included. ``n`` is not ``x - p``: at ``x = +inf`` that is ``inf - inf = NaN``,
    where ``n = 0`` keeps ``sigmoid(+inf) = 1`` and ``softplus(+inf) = inf``. A NaN x
    gives NaN in both (NaN propagates)."""
    return v.relu(), apply("min0", v)


def _combine(pairs, zero):
    """``sum_k coef_k * x_k`` over the ``(coef_k, x_k)`` pairs, leaving out the terms
    whose coefficient is the number 0: there ``x_k`` may be infinite and ``0 * inf`` is
    NaN, where the term is 0. ``zero`` is returned when every term is left out."""
    terms = [coef * x for coef, x in pairs if isinstance(coef, Value) or coef != 0]
    return functools.reduce(lambda s, t: s + t, terms) if terms else zero


def _note(**params):
    """Record the parameters in effect (defaults included) on the composite's group, so
    a drawing reads ``prelu(alpha=0.1)`` also when alpha was not passed. Values
    (trainable parameters) are drawn as nodes, so only plain numbers are noted."""
    group = current_group()
    if group is not None:
        for k, v in params.items():
            if isinstance(v, (int, float, str)) and not isinstance(v, bool):
                group.params.setdefault(k, v)


def _positive(name, value):
    """Check a plain-number parameter is > 0 (Values are trainable: not checked)."""
    if not isinstance(value, Value) and not check_real(value, name, finite=False) > 0:
        raise DomainError(f"{name} must be > 0, got {value!r}")


# ---------------------------------------------------------------- numpy closed forms
# Vectorised, and written (like the composites) so that no exponent is positive: they
# must stay finite and warning-free at x = +-1000 too.


def _arr(x):
    return np.asarray(x, dtype=float)


def _np_sigmoid(x):
    x = _arr(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_dsigmoid(x):
    # sigma (1 - sigma) = e / (1 + e)^2 with e = e^-|x|: 1 - sigma would round to 0
    e = np.exp(-np.abs(_arr(x)))
    return e / ((1.0 + e) * (1.0 + e))


def _np_silu(x):
    return _arr(x) * _np_sigmoid(x)


def _np_dsilu(x):
    x = _arr(x)
    return _np_sigmoid(x) + x * _np_dsigmoid(x)


def _np_prelu(x, alpha=0.1):
    x = _arr(x)
    return np.where(x > 0, x, alpha * x)


def _np_dprelu(x, alpha=0.1):
    return np.where(_arr(x) > 0, 1.0, alpha)


def _np_psigmoid(x, alpha=1.0):
    return _np_sigmoid(alpha * _arr(x))


def _np_dpsigmoid(x, alpha=1.0):
    return alpha * _np_dsigmoid(alpha * _arr(x))


def _np_softplus(x):
    x = _arr(x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _np_selu(x, lam=1.0, alpha=SELU_ALPHA):
    x = _arr(x)
    return lam * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _np_dselu(x, lam=1.0, alpha=SELU_ALPHA):
    x = _arr(x)
    return lam * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def _np_elish(x):
    x = _arr(x)
    return np.where(x >= 0, x, np.expm1(np.minimum(x, 0.0))) * _np_sigmoid(x)


def _np_delish(x):
    x, s, ds = _arr(x), _np_sigmoid(x), _np_dsigmoid(x)
    en = np.exp(np.minimum(x, 0.0))
    pos = s + x * ds
    neg = en * s + (en - 1.0) * ds
    return np.where(x >= 0, pos, neg)


def _soboleva_terms(x, a, b, c, d):
    """Numerator and denominator of Soboleva's tanh and their derivatives, all divided
    by ``e^(c p - d n)`` (the larger denominator term), so no exponent is positive
    when a <= c and b <= d."""
    x = _arr(x)
    p, n = np.maximum(x, 0.0), np.minimum(x, 0.0)
    zero = np.zeros_like(x)
    ea = np.exp(_combine([(a - c, p), (a + d, n)], zero))    # e^(a x)  / e^(c p - d n)
    eb = np.exp(_combine([(-(b + c), p), (d - b, n)], zero))  # e^(-b x) / ...
    ec = np.exp(_combine([(c + d, n)], zero))                 # e^(c x)  / ...
    ed = np.exp(_combine([(-(c + d), p)], zero))              # e^(-d x) / ...
    return ea - eb, ec + ed, a * ea + b * eb, c * ec - d * ed


def _np_soboleva(x, a=1.0, b=1.0, c=1.0, d=1.0):
    num, den, _, _ = _soboleva_terms(x, a, b, c, d)
    return num / den


def _np_dsoboleva(x, a=1.0, b=1.0, c=1.0, d=1.0):
    num, den, dnum, dden = _soboleva_terms(x, a, b, c, d)
    return (dnum * den - num * dden) / (den * den)


def _np_gelu(x, approximate="none"):
    x = _arr(x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + GELU_TANH_COEF * x ** 3)))
    return 0.5 * x * (1.0 + erf_array(x * _INV_SQRT_2))


def _np_dgelu(x, approximate="none"):
    x = _arr(x)
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + GELU_TANH_COEF * x ** 3))
        dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_COEF * x * x)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner
    return 0.5 * (1.0 + erf_array(x * _INV_SQRT_2)) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI


# ---------------------------------------------------------------- activations


@register("identity", lambda x: _arr(x) * 1.0, lambda x: np.ones_like(_arr(x)),
          "f(x) = x", "f'(x) = 1", short="id", short_latex="\\mathrm{id}")
def identity(v):
    """``f(x) = x`` (a linear unit: no activation)."""
    return _as_value(v)


@register("relu", lambda x: np.maximum(_arr(x), 0.0), lambda x: 1.0 - (_arr(x) <= 0),
          "ReLU(x) = max(0, x)", "ReLU'(x) = 1 if x > 0 else 0", short="ReLU",
          short_latex="\\mathrm{ReLU}", symbol="ReLU")
def relu(v):
    """``ReLU(x) = max(0, x)``; derivative 1 for ``x > 0``, else 0 (0 at x = 0, as in
    PyTorch)."""
    return _as_value(v).relu()


@register("sigmoid", _np_sigmoid, _np_dsigmoid,
          "sigma(x) = 1 / (1 + e^-x)", "sigma'(x) = sigma(x) (1 - sigma(x))", short="sigma",
          short_latex="\\sigma", symbol="σ", output_derivative="{out} * (1 - {out})",
          output_derivative_fn=lambda out: out * (1.0 - out), output_range=(0.0, 1.0))
def sigmoid(v):
    """``sigma(x) = 1 / (1 + e^-x)``, computed so that no exponent is positive:
    with ``p = relu(x)`` and ``n = min0(x) = min(x, 0)`` (so ``x = p + n``),
    ``sigma(x) = e^n / (e^-p + e^n)``. For x > 0 that is ``1 / (e^-x + 1)``, for x < 0
    ``e^x / (1 + e^x)``; the expression equals ``sigma(p + n)`` for every p and n, so the
    chain rule gives the true derivative everywhere, also 1/4 at x = 0."""
    v = _as_value(v)
    p, n = _split(v)
    en = n.exp()
    return en / ((-p).exp() + en)


@register("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
          "tanh(x) = (e^x - e^-x) / (e^x + e^-x)", "tanh'(x) = 1 - tanh(x)^2", short="tanh",
          short_latex="\\tanh", symbol="tanh", output_derivative="1 - {out}^2",
          output_derivative_fn=lambda out: 1.0 - out * out, output_range=(-1.0, 1.0))
def tanh(v):
    """``tanh(x) = (e^x - e^-x) / (e^x + e^-x)`` (one primitive)."""
    return _as_value(v).tanh()


@register("silu", _np_silu, _np_dsilu,
          "SiLU(x) = x sigma(x)", "SiLU'(x) = sigma(x) + SiLU(x) (1 - sigma(x))")
def silu(v):
    """SiLU, also called swish: ``f(x) = x * sigma(x)``, with
    ``f'(x) = sigma(x) + f(x) (1 - sigma(x))``. The sigmoid inside is the stable one."""
    v = _as_value(v)
    return v * sigmoid(v)


swish = silu
register("swish", _np_silu, _np_dsilu, "swish(x) = x sigma(x)",
         "swish'(x) = sigma(x) + swish(x) (1 - sigma(x))", alias_of="silu")(silu)


@register("prelu", _np_prelu, _np_dprelu, "PReLU(x) = x if x > 0 else alpha x",
          "PReLU'(x) = 1 if x > 0 else alpha", alpha=0.1)
def prelu(v, alpha=0.1):
    """Parametric ReLU: ``x`` for ``x > 0``, ``alpha * x`` otherwise (default 0.1).

    Built as ``p + alpha * n`` with ``p = relu(x)``, ``n = min0(x) = min(x, 0)``: the derivative is 1
    for x > 0 and ``alpha`` for x <= 0 (as PyTorch). ``alpha`` may be a number or a Value
    (then it is trainable: ``d f/d alpha = min(x, 0)``)."""
    _note(alpha=alpha)
    v = _as_value(v)
    p, n = _split(v)
    return p + alpha * n


@register("leaky_relu", _np_prelu, _np_dprelu, "LeakyReLU(x) = x if x > 0 else 0.01 x",
          "LeakyReLU'(x) = 1 if x > 0 else 0.01", alpha=0.01)
def leaky_relu(v, alpha=0.01):
    """Leaky ReLU: :func:`prelu` with a small fixed slope ``alpha = 0.01``."""
    _note(alpha=alpha)
    return prelu(v, alpha=alpha)


@register("parametric_sigmoid", _np_psigmoid, _np_dpsigmoid,
          "sigma_alpha(x) = 1 / (1 + e^(-alpha x))",
          "sigma_alpha'(x) = alpha sigma_alpha(x) (1 - sigma_alpha(x))", alpha=1.0)
def parametric_sigmoid(v, alpha=1.0):
    """``f(x) = 1 / (1 + e^(-alpha x)) = sigma(alpha x)`` (alpha default 1), with
    ``f'(x) = alpha f(x) (1 - f(x))``; ``alpha`` may be a number or a Value."""
    _note(alpha=alpha)
    return sigmoid(alpha * _as_value(v))


@register("softplus", _np_softplus, _np_sigmoid,
          "softplus(x) = ln(1 + e^x)", "softplus'(x) = sigma(x)")
def softplus(v):
    """``softplus(x) = ln(1 + e^x)``, derivative ``sigma(x)``.

    Computed as ``p + ln(1 + e^(n - p))`` with ``p = relu(x)``, ``n = min0(x) = min(x, 0)``:
    ``n - p = -|x|``, so the exponent is never positive, and at x = 0 the chain rule
    sees ``d(n - p)/dx = 1`` (not ``sign(0) = 0``) and gives the true 1/2."""
    v = _as_value(v)
    p, n = _split(v)
    return p + (n - p).exp().log1p()


def _selu_constants(lam, alpha, standard):
    if check_flag(standard, "selu: standard"):
        # standard=True replaces the seed's default lam = 1; another explicit lam conflicts
        if lam not in (None, 1.0, SELU_LAMBDA):
            raise ArgumentError(f"selu(standard=True) fixes lam = {SELU_LAMBDA!r}; got lam={lam!r}")
        return SELU_LAMBDA, alpha
    return (1.0 if lam is None else lam), alpha


@register("selu", _np_selu, _np_dselu, "SELU(x) = lam x if x > 0 else lam alpha (e^x - 1)",
          "SELU'(x) = lam if x > 0 else lam alpha e^x", lam=1.0, alpha=SELU_ALPHA)
def selu(v, lam=None, alpha=SELU_ALPHA, standard=False):
    """Scaled exponential linear unit: ``lam * x`` for x > 0, ``lam * alpha * (e^x - 1)``
    otherwise; derivative ``lam`` for x > 0, ``lam * alpha * e^x`` for x <= 0 (as
    PyTorch). Seed 000's default ``lam = 1``; ``standard=True`` (or the registered
    ``"selu_standard"``) selects the self-normalising ``lam = 1.0507009873554805``, which
    equals ``torch.nn.functional.selu``. ``alpha = 1.6732632423543772``.

    Computed as ``lam * (p + alpha * expm1(n))`` with ``p = relu(x)``, ``n = min(x, 0)``:
    no positive exponent, and ``expm1`` keeps small negative inputs accurate."""
    lam, alpha = _selu_constants(lam, alpha, standard)
    _note(lam=lam, alpha=alpha)
    v = _as_value(v)
    p, n = _split(v)
    return lam * (p + alpha * n.expm1())


register("selu_standard", _np_selu, _np_dselu,
         "SELU(x) = lam x if x > 0 else lam alpha (e^x - 1), lam = 1.0507",
         "SELU'(x) = lam if x > 0 else lam alpha e^x", lam=SELU_LAMBDA, alpha=SELU_ALPHA)(selu)


@register("elish", _np_elish, _np_delish,
          "ELiSH(x) = x sigma(x) if x >= 0 else (e^x - 1) sigma(x)",
          "ELiSH'(x) = sigma + x sigma (1 - sigma) if x >= 0 else "
          "e^x sigma + (e^x - 1) sigma (1 - sigma)")
def elish(v):
    """Exponential linear sigmoid squashing: ``x * sigma(x)`` for x >= 0 and
    ``(e^x - 1) * sigma(x)`` for x < 0, computed as ``(p + expm1(n)) * sigma(x)`` with
    ``p = relu(x)``, ``n = min(x, 0)``. Both pieces have value 0 and slope 1/2 at 0, so
    the function is smooth there and the chain rule gives ``f'(0) = 1/2``."""
    v = _as_value(v)
    p, n = _split(v)
    return (p + n.expm1()) * sigmoid(v)


@register("soboleva_tanh", _np_soboleva, _np_dsoboleva,
          "f(x) = (e^(a x) - e^(-b x)) / (e^(c x) + e^(-d x))",
          "f'(x) = ((a e^(ax) + b e^(-bx)) D - N (c e^(cx) - d e^(-dx))) / D^2",
          a=1.0, b=1.0, c=1.0, d=1.0)
def soboleva_tanh(v, a=1.0, b=1.0, c=1.0, d=1.0):
    """Soboleva's modified hyperbolic tangent
    ``f(x) = (e^(a x) - e^(-b x)) / (e^(c x) + e^(-d x))``, parameters > 0 (all 1 gives
    tanh). Numerator and denominator are divided by ``e^(c p - d n)`` (``p = relu(x)``,
    ``n = min(x, 0)``; the larger denominator term), which leaves the exponents
    ``(a - c) p + (a + d) n``, ``-(b + c) p + (d - b) n``, ``(c + d) n`` and
    ``-(c + d) p``: none positive when a <= c and b <= d (then f is bounded), so no
    overflow wherever the value is finite. The rewritten expression equals ``f(p + n)``
    for every p and n, so the derivative is exact at 0 too."""
    for name, value in (("a", a), ("b", b), ("c", c), ("d", d)):
        _positive(f"soboleva_tanh: parameter {name}", value)
    _note(a=a, b=b, c=c, d=d)
    v = _as_value(v)
    p, n = _split(v)
    zero = Value(0.0, requires_grad=False)
    num = (_combine([(a - c, p), (a + d, n)], zero).exp()
           - _combine([(-(b + c), p), (d - b, n)], zero).exp())
    den = _combine([(c + d, n)], zero).exp() + _combine([(-(c + d), p)], zero).exp()
    return num / den


@register("gelu", _np_gelu, _np_dgelu, "GELU(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2))",
          "GELU'(x) = Phi(x) + x phi(x)", approximate="none")
def gelu(v, approximate="none"):
    """Gaussian error linear unit ``x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))``, derivative
    ``Phi(x) + x * phi(x)`` (``phi`` the standard normal density). With
    ``approximate="tanh"``: ``x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, as
    ``torch.nn.functional.gelu(x, approximate="tanh")``."""
    check_choice(approximate, "gelu: approximate", ("none", "tanh"))
    _note(approximate=approximate)
    v = _as_value(v)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (v + GELU_TANH_COEF * v * v * v)
        return 0.5 * v * (1.0 + inner.tanh())
    return 0.5 * v * (1.0 + (v * _INV_SQRT_2).erf())


register("gelu_tanh", _np_gelu, _np_dgelu,
         "GELU(x) ~ x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
         "d/dx of the tanh approximation", approximate="tanh")(gelu)


def evaluate(activation, x, **params):
    """Run an activation (a name, an :class:`Activation` or a composite) through the
    engine on the points ``x`` as one batch, and return ``(f(x), f'(x))`` as numpy arrays,
    the derivative from ``backward()`` (for plots, and to compare with ``df``)."""
    act = activation_named(activation)
    xs = np.atleast_1d(numeric_array(x, "evaluate: x").astype(float))
    v = Value(xs.copy())
    out = act(v, **params)
    out.backward()
    return np.array(out.data, dtype=float) * np.ones_like(xs), np.array(v.grad, dtype=float)
