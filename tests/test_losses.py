"""Losses: values and gradients against numpy re-implementations, gradcheck and torch
float64; stability of the softmax family at +-1000; reductions; bad input."""
import math
import warnings

import numpy as np
import pytest

from micrograd_mlp import Value, anomaly_mode, gradcheck
from micrograd_mlp import losses as L
from micrograd_mlp.errors import DomainError, ShapeError
from micrograd_mlp.core.graph_walk import topological_order
from micrograd_mlp.errors import ArgumentError

RNG = np.random.default_rng(4)


@pytest.fixture
def strict_numpy():
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def columns(a):
    """A (N, k) array as k batched Values (one per output / class)."""
    return [Value(a[:, j].copy()) for j in range(a.shape[1])]


def grads(values):
    return np.stack([v.grad for v in values], axis=1)


# ---------------------------------------------------------------- regression


def test_mse_single_and_batch_against_numpy():
    yhat, y = Value(0.8), 1.0
    out = L.mse(yhat, y)
    out.backward()
    assert out.data == pytest.approx(0.04)
    assert yhat.grad == pytest.approx(2 * (0.8 - 1.0))

    P, Y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    preds = columns(P)
    out = L.mse(preds, Y)
    out.backward()
    assert out.data == pytest.approx(np.mean((Y - P) ** 2), rel=1e-14)
    np.testing.assert_allclose(grads(preds), 2 * (P - Y) / P.size, rtol=1e-13)


def test_mse_reductions():
    P, Y = RNG.normal(size=7), RNG.normal(size=7)
    assert L.mse(Value(P), Y, reduction="sum").data == pytest.approx(np.sum((P - Y) ** 2))
    np.testing.assert_allclose(L.mse(Value(P), Y, reduction="none").data, (P - Y) ** 2)
    with pytest.raises(ValueError, match="reduction"):
        L.mse(Value(P), Y, reduction="avg")
    # two outputs: "none" gives one term per output, "sum" adds all of them
    terms = L.mse([Value(P), Value(2 * P)], np.stack([Y, Y], 1), reduction="none")
    assert len(terms) == 2
    np.testing.assert_allclose(terms[1].data, (2 * P - Y) ** 2)
    total = L.mse([Value(P), Value(2 * P)], np.stack([Y, Y], 1), reduction="sum")
    assert total.data == pytest.approx(np.sum((P - Y) ** 2) + np.sum((2 * P - Y) ** 2))


def test_squared_error_is_half_the_sum():
    preds = [Value(0.4468745), Value(0.7354746)]
    out = L.squared_error(preds, [0.0, 1.0])
    out.backward()
    expected = 0.5 * (0.4468745 ** 2 + (0.7354746 - 1) ** 2)
    assert out.data == pytest.approx(expected, rel=1e-14)
    assert preds[0].grad == pytest.approx(0.4468745)          # dE/dyhat = yhat - y
    assert preds[1].grad == pytest.approx(0.7354746 - 1.0)


def test_targets_may_be_values_lists_or_arrays():
    p = [Value(1.0), Value(2.0)]
    a = L.mse(p, [0.0, 1.0]).data
    assert L.mse(p, np.array([0.0, 1.0])).data == a
    assert L.mse(p, [Value(0.0), Value(1.0)]).data == a
    # one batched output: a plain list of numbers is the batch of targets
    P = np.array([0.2, 0.9, 0.4])
    assert L.mse(Value(P), [0.0, 1.0, 1.0]).data == pytest.approx(np.mean((P - [0, 1, 1]) ** 2))
    with pytest.raises(ShapeError):
        L.mse(Value(P), [0.0, 1.0])
    y = Value(0.5, "y")  # a target that gets a gradient (seed 002's derivation)
    yhat = Value(2.0)
    L.squared_error(yhat, y).backward()
    assert y.grad == pytest.approx(-(2.0 - 0.5))


def test_gradcheck_regression_losses():
    p = Value(RNG.normal(size=5), "p")
    y = RNG.normal(size=5)
    assert gradcheck(lambda v: L.mse(v, y), [p])
    assert gradcheck(lambda v: L.squared_error(v, y), [p])
    assert gradcheck(lambda v: L.hinge(v, np.sign(y)), [Value(np.array([-2.0, 0.3, 0.5, 1.7, -0.2]))])


# ---------------------------------------------------------------- binary classification


def test_bce_against_numpy_and_gradcheck():
    P = RNG.uniform(0.05, 0.95, size=8)
    Y = (RNG.uniform(size=8) > 0.5).astype(float)
    p = Value(P.copy())
    out = L.binary_cross_entropy(p, Y)
    out.backward()
    ref = -np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    assert out.data == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(p.grad, (P - Y) / (P * (1 - P)) / P.size, rtol=1e-12)
    assert gradcheck(lambda v: L.binary_cross_entropy(v, Y), [Value(P.copy())])


def test_bce_saturated_probability_is_finite():
    assert L.binary_cross_entropy(Value(1.0), 1.0).data == 0.0
    assert L.binary_cross_entropy(Value(0.0), 1.0).data == pytest.approx(100.0)  # clamp at -100


def test_bce_with_logits_stable_and_exact(strict_numpy):
    for z, y in [(1000.0, 0.0), (1000.0, 1.0), (-1000.0, 1.0), (-1000.0, 0.0), (0.0, 1.0)]:
        v = Value(z)
        with anomaly_mode():
            out = L.binary_cross_entropy_with_logits(v, y)
            out.backward()
        true = max(z, 0) - y * z + math.log1p(math.exp(-abs(z)))
        assert out.data == pytest.approx(true, rel=1e-14, abs=1e-300)
        sig = 1 / (1 + math.exp(-z)) if z > -700 else 0.0
        assert v.grad == pytest.approx(sig - y, abs=1e-15)
    assert gradcheck(lambda v: L.binary_cross_entropy_with_logits(v, np.array([0.0, 1.0, 1.0])),
                     [Value(np.array([-2.0, 0.0, 3.0]))])


def test_hinge_against_numpy():
    S = np.array([-2.0, 0.3, 0.5, 1.7, -0.2])
    Y = np.array([1.0, 1.0, -1.0, 1.0, -1.0])
    s = Value(S.copy())
    out = L.hinge(s, Y)
    out.backward()
    assert out.data == pytest.approx(np.mean(np.maximum(0, 1 - Y * S)))
    np.testing.assert_allclose(s.grad, np.where(Y * S < 1, -Y, 0.0) / S.size)


# ---------------------------------------------------------------- softmax


def np_log_softmax(Z):
    m = Z.max(axis=1, keepdims=True)
    return Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))


def test_softmax_and_log_softmax_against_numpy():
    Z = RNG.normal(size=(5, 4)) * 3
    z = columns(Z)
    ls = L.log_softmax(z)
    sm = L.softmax(z)
    np.testing.assert_allclose(np.stack([v.data for v in ls], 1), np_log_softmax(Z), atol=1e-14)
    np.testing.assert_allclose(np.stack([v.data for v in sm], 1), np.exp(np_log_softmax(Z)), atol=1e-15)
    assert L.logsumexp([Value(1000.0), Value(1000.0)]).data == pytest.approx(1000 + math.log(2))


@pytest.mark.parametrize("label", [0, 1, 2, [0.0, 0.0, 1.0], [0.2, 0.5, 0.3]])
def test_cross_entropy_single_sample_gradcheck(label):
    z = [Value(0.5), Value(-1.2), Value(2.0)]
    assert gradcheck(lambda a, b, c: L.softmax_cross_entropy([a, b, c], label), z)


def test_cross_entropy_batch_against_numpy():
    Z = RNG.normal(size=(6, 3))
    lab = RNG.integers(0, 3, size=6)
    z = columns(Z)
    out = L.softmax_cross_entropy(z, lab)
    out.backward()
    ls = np_log_softmax(Z)
    assert out.data == pytest.approx(-np.mean(ls[np.arange(6), lab]), rel=1e-13)
    onehot = np.eye(3)[lab]
    np.testing.assert_allclose(grads(z), (np.exp(ls) - onehot) / 6, atol=1e-15)
    # one-hot rows as an (N, k) array give the same loss
    assert L.softmax_cross_entropy(columns(Z), onehot).data == pytest.approx(out.data, rel=1e-14)


def test_cross_entropy_extreme_logits(strict_numpy):
    z = [Value(1000.0), Value(-1000.0), Value(0.0)]
    for label, loss, grad in [(0, 0.0, [0, 0, 0]), (1, 2000.0, [1, -1, 0]), (2, 1000.0, [1, 0, -1])]:
        for v in z:
            v.grad = 0.0
        with anomaly_mode():
            out = L.softmax_cross_entropy(z, label)
            out.backward()
        assert out.data == pytest.approx(loss, abs=1e-12)
        np.testing.assert_allclose([v.grad for v in z], grad, atol=1e-15)
    with anomaly_mode():
        sm = L.softmax(z)
    np.testing.assert_allclose([v.data for v in sm], [1.0, 0.0, 0.0])
    # the same on a batch
    zb = [Value(np.array([1000.0, -1000.0])), Value(np.array([-1000.0, 1000.0])), Value(np.zeros(2))]
    with anomaly_mode():
        out = L.softmax_cross_entropy(zb, np.array([1, 1]))
        out.backward()
    assert out.data == pytest.approx(1000.0)


def test_cross_entropy_group_structure():
    z = [Value(0.1, "z0"), Value(0.2, "z1")]
    out = L.softmax_cross_entropy(z, 1)
    assert out.group.name == "softmax_cross_entropy"
    inner = [n for n in topological_order(out, all_nodes=True) if n.parents]
    assert any(n.group.name == "logsumexp" and n.group.parent is out.group for n in inner)


# ---------------------------------------------------------------- L2


def test_l2_value_and_true_gradient():
    W = [Value(0.5), Value(-1.5), Value(2.0)]
    lam, n = 0.3, 10
    out = L.l2(W, lam, n)
    out.backward()
    assert out.data == pytest.approx(lam / (2 * n) * (0.25 + 2.25 + 4.0))
    for w in W:  # (lam / n) w, not the lam * ||w|| that seed 004 prints
        assert w.grad == pytest.approx(lam / n * w.data)
    assert gradcheck(lambda a, b, c: L.l2([a, b, c], lam, n), [Value(0.5), Value(-1.5), Value(2.0)])


class TinyModel:
    """Stands in for an MLP: named parameters W... and b..."""

    def __init__(self):
        self.params = {"W1[0,0]": Value(1.0), "W1[0,1]": Value(-2.0), "b1[0]": Value(5.0),
                       "W2[0,0]": Value(0.5), "b2[0]": Value(-3.0)}

    def named_parameters(self):
        return list(self.params.items())


def test_l2_of_a_model_excludes_biases():
    model = TinyModel()
    out = L.l2(model, lam=1.0, n=2)
    out.backward()
    assert out.data == pytest.approx(1.0 / 4 * (1 + 4 + 0.25))
    assert model.params["b1[0]"].grad == 0.0 and model.params["b2[0]"].grad == 0.0
    assert model.params["W1[0,1]"].grad == pytest.approx(-1.0)
    assert L.weights_of(model.params) == L.weights_of(model)


def test_l2_bad_input():
    with pytest.raises(ArgumentError, match="lam must be >= 0.0"):
        L.l2([Value(1.0)], lam=-1.0, n=3)
    with pytest.raises(ArgumentError, match="n .the number of samples. must be > 0.0"):
        L.l2([Value(1.0)], lam=1.0, n=0)
    with pytest.raises(ShapeError):
        L.l2([], lam=1.0, n=3)
    with pytest.raises(TypeError):
        L.l2([1.0, 2.0], lam=1.0, n=3)


# ---------------------------------------------------------------- bad input


def test_label_out_of_range():
    z = [Value(0.0), Value(1.0), Value(2.0)]
    with pytest.raises(DomainError, match="out of range for 3 classes"):
        L.softmax_cross_entropy(z, 3)
    with pytest.raises(DomainError, match="out of range"):
        L.softmax_cross_entropy(z, -1)
    zb = [Value(np.zeros(2)) for _ in range(3)]
    with pytest.raises(DomainError, match="label 7"):
        L.softmax_cross_entropy(zb, np.array([0, 7]))
    assert isinstance(DomainError("x"), ValueError)


def test_lists_of_different_lengths():
    with pytest.raises(ShapeError, match="2 prediction"):
        L.mse([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="one-hot"):
        L.softmax_cross_entropy([Value(0.0), Value(1.0)], [0.0, 0.0, 1.0])
    with pytest.raises(ShapeError):
        L.mse(Value(np.zeros(3)), np.zeros(4))
    with pytest.raises(ShapeError):
        L.softmax_cross_entropy([Value(np.zeros(3)), Value(np.zeros(3))], np.array([0, 1]))


def test_probability_outside_unit_interval():
    with pytest.raises(DomainError, match=r"probability p.*\[0, 1\]"):
        L.binary_cross_entropy(Value(1.2), 1.0)
    with pytest.raises(DomainError, match=r"\[0, 1\]"):
        L.binary_cross_entropy(Value(np.array([0.5, -0.1])), np.array([1.0, 0.0]))
    with pytest.raises(DomainError, match="target"):
        L.binary_cross_entropy(Value(0.5), 2.0)
    with pytest.raises(DomainError, match="sum to 1"):
        L.softmax_cross_entropy([Value(0.0), Value(1.0)], [0.5, 0.7])
    with pytest.raises(DomainError, match="-1 or \\+1"):
        L.hinge(Value(0.3), 0.0)


def test_loss_registry():
    assert L.loss_named("MSE") is L.mse
    assert L.loss_named("cross_entropy") is L.softmax_cross_entropy
    with pytest.raises(KeyError, match="known"):
        L.loss_named("mae")


# ---------------------------------------------------------------- torch oracle


def test_losses_match_torch_float64():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    N, k = 7, 4
    Z = RNG.normal(size=(N, k)) * 2
    lab = RNG.integers(0, k, size=N)
    P = RNG.uniform(0.02, 0.98, size=(N, 2))
    Y = RNG.uniform(size=(N, 2))
    T = RNG.normal(size=(N, 2))

    def check(ours, inputs, theirs):
        ours.backward()
        tin = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
        ref = theirs(tin)
        ref.backward(torch.ones_like(ref))
        return ref, tin

    # log_softmax: compare values and the gradient of a weighted sum
    Wt = RNG.normal(size=(N, k))
    z = columns(Z)
    ls = L.log_softmax(z)
    total = sum((Value(Wt[:, j]) * ls[j]).sum() for j in range(k))
    total.backward()
    tz = torch.tensor(Z, requires_grad=True)
    tls = F.log_softmax(tz, dim=1)
    (tls * torch.tensor(Wt)).sum().backward()
    np.testing.assert_allclose(np.stack([v.data for v in ls], 1), tls.detach().numpy(), atol=1e-9)
    np.testing.assert_allclose(grads(z), tz.grad.numpy(), atol=1e-9)

    for reduction in ("mean", "sum"):
        z = columns(Z)
        out = L.softmax_cross_entropy(z, lab, reduction=reduction)
        ref, tz = check(out, Z, lambda t: F.cross_entropy(t, torch.tensor(lab), reduction=reduction))
        assert out.data == pytest.approx(ref.item(), abs=1e-9)
        np.testing.assert_allclose(grads(z), tz.grad.numpy(), atol=1e-9)

        p = columns(P)
        out = L.binary_cross_entropy(p, Y, reduction=reduction)
        ref, tp = check(out, P, lambda t: F.binary_cross_entropy(t, torch.tensor(Y), reduction=reduction))
        assert out.data == pytest.approx(ref.item(), abs=1e-9)
        np.testing.assert_allclose(grads(p), tp.grad.numpy(), atol=1e-9)

        zz = columns(T)
        out = L.binary_cross_entropy_with_logits(zz, Y, reduction=reduction)
        ref, tt = check(out, T, lambda t: F.binary_cross_entropy_with_logits(
            t, torch.tensor(Y), reduction=reduction))
        assert out.data == pytest.approx(ref.item(), abs=1e-9)
        np.testing.assert_allclose(grads(zz), tt.grad.numpy(), atol=1e-9)

        # mse over every element (N samples x 2 outputs), as torch
        q = columns(T)
        out = L.mse(q, Y, reduction=reduction)
        ref, tq = check(out, T, lambda t: F.mse_loss(t, torch.tensor(Y), reduction=reduction))
        assert out.data == pytest.approx(ref.item(), abs=1e-9)
        np.testing.assert_allclose(grads(q), tq.grad.numpy(), atol=1e-9)

    # cross-entropy with probability targets
    probs = np.exp(np_log_softmax(RNG.normal(size=(N, k))))
    z = columns(Z)
    out = L.softmax_cross_entropy(z, probs)
    ref, tz = check(out, Z, lambda t: F.cross_entropy(t, torch.tensor(probs)))
    assert out.data == pytest.approx(ref.item(), abs=1e-9)
    np.testing.assert_allclose(grads(z), tz.grad.numpy(), atol=1e-9)


def test_binary_cross_entropy_at_the_clamps_matches_torch():
    """At p = 0 or 1 PyTorch clamps each log at -100 and divides the gradient by
    max(p (1 - p), 1e-12): the loss and both gradients as PyTorch's, batched too."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    P = np.array([0.0, 1.0, 0.0, 1.0, 1e-13, 0.3, 1.0 - 1e-13])
    Y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.6, 0.25])
    for reduction in ("mean", "sum"):
        p, y = Value(P.copy()), Value(Y.copy())
        loss = L.binary_cross_entropy(p, y, reduction=reduction)
        loss.backward()
        pt = torch.tensor(P, dtype=torch.float64, requires_grad=True)
        yt = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
        lt = F.binary_cross_entropy(pt, yt, reduction=reduction)
        lt.backward()
        assert loss.data == pytest.approx(lt.item(), rel=1e-13)
        np.testing.assert_allclose(p.grad, pt.grad.numpy(), rtol=1e-13)
        np.testing.assert_allclose(y.grad, yt.grad.numpy(), rtol=1e-13)
    assert p.grad[0] < -1e11      # p = 0, y = 1: a steep push up, not 0
    for q, target in ((0.0, 1.0), (1.0, 0.0)):   # the scalar path, one sample
        v = Value(q)
        L.binary_cross_entropy(v, target).backward()
        vt = torch.tensor(q, dtype=torch.float64, requires_grad=True)
        F.binary_cross_entropy(vt, torch.tensor(target, dtype=torch.float64)).backward()
        assert v.grad == pytest.approx(vt.grad.item(), rel=1e-13)
