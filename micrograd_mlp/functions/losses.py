"""Loss functions as composite nodes.

Every loss is a function of Values written with engine primitives and decorated with
:func:`~micrograd_mlp.functions.composite.composite`, so a drawing shows it as one labelled group
and the chain rule gives its gradient.

Shapes. ``pred`` is one Value (one output) or a list of Values (one per output or class).
Targets are read by one rule for every loss (:mod:`~micrograd_mlp.functions.targets`,
``docs/targets.md``): rows are samples, columns are outputs, so ``(k,)`` for one sample
and ``(N, k)`` for a batch of ``N``; class indices have one dimension fewer than the
logits; a list means what ``np.asarray`` of it means. On lockstep batches (Values
holding 1-D arrays) the loss is reduced by ``reduction``, as in PyTorch: ``"mean"`` (default), ``"sum"`` or
``"none"``. Elementwise losses (mse, the binary cross-entropies, hinge) take the mean or
sum over every output and sample, and ``"none"`` gives their terms (one Value, or a list
of one per output); per-sample losses (squared_error, softmax cross-entropy) are reduced
over the batch, ``"none"`` giving the batched per-sample loss.

Stability. Softmax and its cross-entropy go through log-sum-exp with the maximum taken
out (``lse(z) = m + ln sum_i e^(z_i - m)``, ``m = max_i z_i``); the logit form of binary
cross-entropy is ``softplus(z) - y z``. Nothing overflows at logits of +-1000.
"""
from __future__ import annotations

import numbers
from typing import List, Optional

import numpy as np

from . import activations
from .composite import composite
from ..core.validate import check_choice, check_real
from .targets import CLASSES, PER_OUTPUT, class_targets, per_output_targets
from ..core.engine import Value, apply, max_values, sum_values, where
from ..errors import ArgumentError, DataTypeError, DomainError, ShapeError, UnknownLossError

__all__ = [
    "mse", "squared_error", "sum_squared_error", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "logsumexp", "log_softmax", "softmax", "softmax_cross_entropy", "cross_entropy",
    "hinge", "l2", "weights_of", "LOSSES", "loss_named", "REDUCTIONS",
]

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- argument handling


def _value(x):
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


def _preds(pred, what) -> List[Value]:
    if isinstance(pred, Value):
        return [pred]
    if isinstance(pred, (list, tuple)):
        if not pred:
            raise ShapeError(f"{what}: no predictions given")
        return [_value(p) for p in pred]
    if isinstance(pred, (numbers.Real, np.ndarray)):
        return [_value(pred)]
    raise DataTypeError(f"{what}: predictions must be a Value or a list of Values, "
                    f"not {type(pred).__name__}")


def _batch_size(nodes) -> Optional[int]:
    """The batch size of the first batched Value among ``nodes`` (None: one sample)."""
    for v in nodes:
        if v.is_batched:
            return v.data.size
    return None


def _targets(target, preds: List[Value], what) -> List[Value]:
    """One target Value per prediction, read by the per-output rule of
    :mod:`~micrograd_mlp.functions.targets`."""
    items = per_output_targets(target, len(preds), _batch_size(preds), what)
    return [_value(t) for t in items]


def _check_batches(nodes, what):
    sizes = {v.data.size for v in nodes if v.is_batched}
    if len(sizes) > 1:
        raise ShapeError(f"{what}: batch lengths differ ({sorted(sizes)})")


def _reduce(loss: Value, reduction: str, what) -> Value:
    check_choice(reduction, f"{what}: reduction", REDUCTIONS)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ArgumentError(f"{what}: reduction must be one of {REDUCTIONS}, not {reduction!r:.40}")


def _check_unit_interval(v: Value, what, name):
    d = np.asarray(v.data)
    if not np.all((d >= 0.0) & (d <= 1.0)):  # also catches NaN
        bad = d[~((d >= 0.0) & (d <= 1.0))]
        label = f" ({v.label!r})" if v.label else ""
        raise DomainError(f"{what}: {name}{label} must lie in [0, 1]; got {float(bad.ravel()[0])!r}")


def _mean_of(terms: List[Value]) -> Value:
    total = sum_values(terms)
    return total if len(terms) == 1 else total * (1.0 / len(terms))


def _reduce_elementwise(terms: List[Value], reduction: str, what):
    """Reduce one loss term per output (each a scalar or a batch) like PyTorch: the mean
    or the sum over every output and sample, or (``"none"``) the terms themselves (one
    Value, or a list of one per output)."""
    check_choice(reduction, f"{what}: reduction", REDUCTIONS)
    if reduction == "mean":
        return _mean_of(terms).mean()
    if reduction == "sum":
        return sum_values(terms).sum()
    if reduction == "none":
        return terms[0] if len(terms) == 1 else terms
    raise ArgumentError(f"{what}: reduction must be one of {REDUCTIONS}, not {reduction!r:.40}")


# ---------------------------------------------------------------- regression losses


@composite("mse", "MSE = 1/k sum_j (y_j - yhat_j)^2", "dMSE/dyhat_j = 2/k (yhat_j - y_j)")
def mse(pred, target, reduction="mean"):
    """Mean squared error ``1/n sum_i (y_i - yhat_i)^2`` over the ``n`` samples (seed 000)
    and the ``k`` outputs (``n k`` terms), as ``torch.nn.functional.mse_loss``; gradient
    ``2 (yhat_i - y_i) / (n k)``. ``reduction="sum"`` drops the ``1/(n k)``."""
    preds = _preds(pred, "mse")
    targets = _targets(target, preds, "mse")
    _check_batches(preds + targets, "mse")
    terms = [(y - yhat) ** 2 for yhat, y in zip(preds, targets)]
    return _reduce_elementwise(terms, reduction, "mse")


@composite("squared_error", "E = 1/2 sum_j (yhat_j - y_j)^2", "dE/dyhat_j = yhat_j - y_j",
           term="1/2 * ({out} - {target})^2",
           term_fn=lambda out, target: 0.5 * (out - target) ** 2,
           output_gradient="{out} - {target}",
           output_gradient_fn=lambda out, target: out - target)
def squared_error(pred, target, reduction="mean"):
    """Half the squared error ``E = 1/2 sum_j (yhat_j - y_j)^2`` (the loss of the
    hand-worked example, whose gradient is simply ``yhat_j - y_j``), then the batch
    ``reduction``."""
    preds = _preds(pred, "squared_error")
    targets = _targets(target, preds, "squared_error")
    _check_batches(preds + targets, "squared_error")
    loss = 0.5 * sum_values([(yhat - y) ** 2 for yhat, y in zip(preds, targets)])
    return _reduce(loss, reduction, "squared_error")


@composite("sum_squared_error", "E = sum_j (yhat_j - y_j)^2", "dE/dyhat_j = 2 (yhat_j - y_j)",
           term="({out} - {target})^2",
           term_fn=lambda out, target: (out - target) ** 2,
           output_gradient="2 * ({out} - {target})",
           output_gradient_fn=lambda out, target: 2.0 * (out - target))
def sum_squared_error(preds, targets):
    """The squared error without the 1/2, ``E = sum_j (yhat_j - y_j)^2``, whose gradient
    is ``2 (yhat_j - y_j)`` (the Task 5 variant ``loss="full"``); ``preds`` and
    ``targets`` are sequences of Values or numbers of the same length."""
    preds = _preds(preds, "sum_squared_error")
    targets = _targets(targets, preds, "sum_squared_error")
    _check_batches(preds + targets, "sum_squared_error")
    return sum_values([(yhat - y) ** 2 for yhat, y in zip(preds, targets)])


# ---------------------------------------------------------------- binary classification



def _binary_inputs(pred, target, what):
    """Predictions and targets of a binary cross-entropy, with matching batches and
    every target in [0, 1]."""
    preds = _preds(pred, what)
    targets = _targets(target, preds, what)
    _check_batches(preds + targets, what)
    for y in targets:
        _check_unit_interval(y, what, "target y")
    return preds, targets


@composite("binary_cross_entropy", "BCE = -(y ln p + (1 - y) ln(1 - p))",
           "dBCE/dp = (p - y) / (p (1 - p))")
def binary_cross_entropy(p, target, reduction="mean"):
    """Binary cross-entropy of probabilities ``p`` in [0, 1] against targets ``y`` in
    [0, 1]: ``-(y ln p + (1 - y) ln(1 - p))``, averaged over outputs, then the batch
    ``reduction``. Gradient ``(p - y) / (p (1 - p))``. As in PyTorch each logarithm is
    clamped at -100, so a saturated sigmoid (p exactly 0 or 1) gives a finite loss, and
    the gradient divides by ``max(p (1 - p), 1e-12)`` (-1e12 at p = 0, y = 1): each term
    is one ``bce`` primitive (see :mod:`~micrograd_mlp.core.primitives`). Prefer :func:`binary_cross_entropy_with_logits` after a sigmoid:
    it is exact where this one saturates."""
    what = "binary_cross_entropy"
    preds, targets = _binary_inputs(p, target, what)
    for q in preds:
        _check_unit_interval(q, what, "probability p")
    terms = [apply("bce", q, y) for q, y in zip(preds, targets)]
    return _reduce_elementwise(terms, reduction, what)


@composite("binary_cross_entropy_with_logits", "BCE(sigma(z), y) = softplus(z) - y z",
           "dBCE/dz = sigma(z) - y")
def binary_cross_entropy_with_logits(z, target, reduction="mean"):
    """Binary cross-entropy of ``sigma(z)`` computed from the logit ``z``:
    ``-(y ln sigma(z) + (1 - y) ln(1 - sigma(z))) = (1 - y) z + softplus(-z)``, finite
    for any finite z (the stable softplus), gradient ``sigma(z) - y``. Averaged (or
    summed, by ``reduction``) over outputs and samples; targets in [0, 1]. The formula
    is PyTorch's, so an infinite logit gives what PyTorch gives (``z = +inf, y = 0``:
    inf; ``z = +inf, y = 1``: NaN, as ``0 * inf``)."""
    what = "binary_cross_entropy_with_logits"
    preds, targets = _binary_inputs(z, target, what)
    terms = [(1.0 - y) * zz + activations.softplus(-zz) for zz, y in zip(preds, targets)]
    return _reduce_elementwise(terms, reduction, what)


@composite("hinge", "hinge = max(0, margin - y s)", "dhinge/ds = -y if y s < margin else 0")
def hinge(score, label, margin=1.0, reduction="mean"):
    """Max-margin (hinge) loss ``max(0, margin - y s)`` for scores ``s`` and labels
    ``y`` in {-1, +1} (margin default 1), averaged (or summed, by ``reduction``) over
    outputs and samples. Gradient ``-y`` while the margin is violated, else 0."""
    what = "hinge"
    preds = _preds(score, what)
    labels = _targets(label, preds, what)
    _check_batches(preds + labels, what)
    for y in labels:
        d = np.asarray(y.data)
        if not np.all((d == 1.0) | (d == -1.0)):
            bad = d[~((d == 1.0) | (d == -1.0))].ravel()[0]
            raise DomainError(f"hinge: labels must be -1 or +1, got {bad!r} "
                              "(turn 0/1 labels into -1/+1 with 2*y - 1)")
    terms = [(margin - y * s).relu() for s, y in zip(preds, labels)]
    return _reduce_elementwise(terms, reduction, what)


# ---------------------------------------------------------------- softmax


def _logits(logits, what) -> List[Value]:
    if isinstance(logits, Value) or not isinstance(logits, (list, tuple)):
        raise DataTypeError(f"{what}: logits must be a list of Values, one per class "
                        f"(got {type(logits).__name__})")
    if not logits:
        raise ShapeError(f"{what}: no logits given")
    nodes = [_value(z) for z in logits]
    _check_batches(nodes, what)
    return nodes


@composite("logsumexp", "lse(z) = m + ln sum_i e^(z_i - m), m = max_i z_i",
           "dlse/dz_i = softmax(z)_i")
def logsumexp(logits):
    """``ln sum_i e^(z_i)``, computed as ``m + ln sum_i e^(z_i - m)`` with
    ``m = max_i z_i`` so that no exponent is positive; gradient ``softmax(z)``."""
    z = _logits(logits, "logsumexp")
    m = max_values(z)
    return m + sum_values([(zi - m).exp() for zi in z]).log()


@composite("log_softmax", "log_softmax(z)_i = z_i - lse(z)",
           "d log_softmax_i/dz_j = [i = j] - softmax(z)_j")
def log_softmax(logits):
    """``log_softmax(z)_i = z_i - ln sum_j e^(z_j)`` for each class (a list of Values),
    stable through :func:`logsumexp`."""
    z = _logits(logits, "log_softmax")
    lse = logsumexp(z)
    return [zi - lse for zi in z]


@composite("softmax", "softmax(z)_i = e^(z_i - m) / sum_j e^(z_j - m)",
           "d softmax_i/dz_j = softmax_i ([i = j] - softmax_j)")
def softmax(logits):
    """``softmax(z)_i = e^(z_i) / sum_j e^(z_j)`` for each class (a list of Values),
    computed with the maximum ``m`` taken out of every exponent."""
    z = _logits(logits, "softmax")
    m = max_values(z)
    e = [(zi - m).exp() for zi in z]
    total = sum_values(e)
    return [ei / total for ei in e]


@composite("softmax_cross_entropy", "CE = lse(z) - z_y = -ln softmax(z)_y",
           "dCE/dz_i = softmax(z)_i - [i = y]")
def softmax_cross_entropy(logits, label, reduction="mean"):
    """Softmax cross-entropy ``-ln softmax(z)_y = lse(z) - z_y`` of the logits ``z`` (a
    list of Values, one per class) and the class ``y``: an int, an integer numpy array
    (one class per sample of a batch), or one-hot / probability targets ``t`` (a list
    of k numbers, or an ``(N, k)`` array) giving ``lse(z) - sum_i t_i z_i``. Gradient
    ``softmax(z) - t``. Log-sum-exp keeps logits like (1000, -1000, 0) finite. Reduced
    over a batch by ``reduction`` (mean by default, as ``torch.nn.functional.cross_entropy``)."""
    what = "softmax_cross_entropy"
    z = _logits(logits, what)
    t = class_targets(label, len(z), _batch_size(z), what)
    lse = logsumexp(z)
    if isinstance(t, int):
        loss = lse - z[t]
    else:
        # where(t_i > 0, t_i z_i, 0): a class of probability 0 adds nothing, also when its
        # logit is -inf (0 * -inf would be NaN where PyTorch's class index gives a number)
        loss = lse - sum_values([where(ti, ti * zi, 0.0) for ti, zi in zip(t, z)])
    return _reduce(loss, reduction, what)


cross_entropy = softmax_cross_entropy

for _loss in (mse, squared_error, binary_cross_entropy, binary_cross_entropy_with_logits, hinge):
    _loss.target_rule = PER_OUTPUT  # how the loss reads its targets (see functions/targets.py)
softmax_cross_entropy.target_rule = CLASSES


# ---------------------------------------------------------------- regularisation


def weights_of(params, include_biases: bool = False) -> List[Value]:
    """The parameters to regularise: a model (anything with ``named_parameters()``
    giving names like ``"W1[0,1]"``, ``"b1[0]"``) gives its parameters whose names start
    with ``"W"`` (biases excluded; all of them with ``include_biases``); a dict
    ``{name: Value}`` likewise; a list of Values is taken as it is (the caller chose)."""
    if hasattr(params, "named_parameters"):
        pairs = list(params.named_parameters())
    elif isinstance(params, dict):
        pairs = list(params.items())
    else:
        pairs = None
    if pairs is not None:
        return [v for name, v in pairs if include_biases or str(name).startswith("W")]
    if isinstance(params, (Value, str, bytes)) or not hasattr(params, "__iter__"):
        raise DataTypeError(f"l2: params must be a model, a dict or a list of Values, not "
                            f"{type(params).__name__}")
    weights = list(params)
    for w in weights:
        if not isinstance(w, Value):
            raise DataTypeError(f"l2: expected Values (the weights), got {type(w).__name__}")
    return weights


@composite("l2", "L2 = lam / (2n) * sum_W w^2", "dL2/dw = (lam / n) w")
def l2(params, lam, n, include_biases: bool = False):
    """L2 regularisation ``lam / (2 n) * (||W1||^2 + ||W2||^2 + ...)`` over the weights
    only (see :func:`weights_of`: biases are excluded), with ``n`` the number of training
    samples. Its gradient is ``(lam / n) * w`` for each weight (not the
    ``lam * ||w||`` that seed 004 prints).

    ``include_biases=True`` sums the squares of every parameter, biases too, as
    micrograd's demo does: its penalty ``alpha * sum(p * p for p in model.parameters())``
    is ``l2(model, lam=2 * alpha, n=1, include_biases=True)``, gradient ``2 alpha p``."""
    lam = check_real(lam, "l2: lam", 0.0)
    n = check_real(n, "l2: n (the number of samples)", 0.0, above=True)
    if not isinstance(include_biases, (bool, np.bool_)):
        raise DataTypeError(f"l2: include_biases must be True or False, not {include_biases!r}")
    weights = weights_of(params, bool(include_biases))
    if not weights:
        raise ShapeError("l2: no weights to regularise (a model's weights are the "
                         "parameters named 'W...')")
    return (lam / (2.0 * n)) * sum_values([w ** 2 for w in weights])


# ---------------------------------------------------------------- registry

#: Loss functions by name (for training code that takes a name).
LOSSES = {
    "mse": mse,
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "bce": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "bce_with_logits": binary_cross_entropy_with_logits,
    "softmax_cross_entropy": softmax_cross_entropy,
    "cross_entropy": softmax_cross_entropy,
    "hinge": hinge,
}


def loss_named(loss):
    """A loss function from its name (see :data:`LOSSES`: only the losses, not the other
    functions of this module) or a callable (returned as is); anything else raises
    :class:`UnknownLossError` listing the names."""
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return LOSSES[loss.lower()]
    raise UnknownLossError(f"unknown loss {loss!r:.40}; known: {', '.join(sorted(LOSSES))}")
