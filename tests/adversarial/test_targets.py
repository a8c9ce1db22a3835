"""One rule for targets (issue 12, class 2): rows are samples, class indices have one
dimension fewer than the logits, a list means what np.asarray of it means, and a
target whose meaning would depend on a coincidence of sizes is refused with a message
saying what to pass. References: numpy closed forms and torch."""
import numpy as np
import pytest

from micrograd_mlp import MLP, Value, fit
from micrograd_mlp import losses as L
from micrograd_mlp.errors import DataTypeError, DomainError, MicrogradError, ShapeError

RNG = np.random.default_rng(12)


def columns(Z):
    return [Value(np.ascontiguousarray(Z[:, j])) for j in range(Z.shape[1])]


def log_softmax(Z):
    m = Z.max(axis=1, keepdims=True)
    return Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))


def ce_reference(Z, labels):
    return -np.mean(log_softmax(Z)[np.arange(len(labels)), labels])


def loss_and_grads(fn, Z, target):
    z = columns(Z)
    out = fn(z, target)
    out.backward()
    return out.data, np.stack([v.grad for v in z], axis=1)


# ---------------------------------------------------------------- softmax cross-entropy


def test_issue_example_batch_of_three_and_three_classes():
    Z = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3], [1.0, 0.0, -1.0]])
    want = ce_reference(Z, np.array([0, 1, 0]))
    for labels in ([0, 1, 0], (0, 1, 0), np.array([0, 1, 0]), np.array([0, 1, 0], dtype=np.int8),
                   np.array([0.0, 1.0, 0.0]), [0.0, 1.0, 0.0]):
        value, _ = loss_and_grads(L.softmax_cross_entropy, Z, labels)
        assert value == pytest.approx(want, rel=1e-13), labels


@pytest.mark.parametrize("B, k", [(3, 3), (4, 4), (2, 5), (6, 3), (1, 4)])
def test_labels_one_hot_lists_and_arrays_agree(B, k):
    Z = RNG.normal(size=(B, k)) * 2
    labels = RNG.integers(0, k, size=B)
    onehot = np.eye(k)[labels]
    want = ce_reference(Z, labels)
    want_grad = (np.exp(log_softmax(Z)) - onehot) / B
    for target in (labels, labels.tolist(), onehot, onehot.tolist(), onehot.astype(int),
                   onehot.astype(int).tolist(), onehot.astype(bool)):
        value, grad = loss_and_grads(L.softmax_cross_entropy, Z, target)
        assert value == pytest.approx(want, rel=1e-13)
        np.testing.assert_allclose(grad, want_grad, atol=1e-15)


def test_cross_entropy_matches_torch_for_indices_and_probabilities():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    Z = RNG.normal(size=(5, 5))
    labels = RNG.integers(0, 5, size=5)
    probs = RNG.dirichlet(np.ones(5), size=5)
    for target, ref_target in ((labels.tolist(), torch.tensor(labels)),
                               (probs.tolist(), torch.tensor(probs))):
        t = torch.tensor(Z, requires_grad=True)
        ref = F.cross_entropy(t, ref_target)
        ref.backward()
        value, grad = loss_and_grads(L.softmax_cross_entropy, Z, target)
        assert value == pytest.approx(ref.item(), rel=1e-13)
        np.testing.assert_allclose(grad, t.grad.numpy(), atol=1e-15)


def test_one_sample_reads_a_one_dimensional_target_as_probabilities():
    z = [Value(0.5), Value(-1.2), Value(2.0)]
    by_index = L.softmax_cross_entropy(z, 1).data
    for target in ([0, 1, 0], [0.0, 1.0, 0.0], np.array([0, 1, 0]), (False, True, False)):
        assert L.softmax_cross_entropy(z, target).data == pytest.approx(by_index, rel=1e-15)
    assert L.softmax_cross_entropy(z, 1.0).data == by_index  # a whole float is an index


def test_one_class_for_every_sample_of_a_batch():
    Z = RNG.normal(size=(4, 3))
    value, _ = loss_and_grads(L.softmax_cross_entropy, Z, 2)
    assert value == pytest.approx(ce_reference(Z, np.full(4, 2)), rel=1e-13)


@pytest.mark.parametrize("target, error, message", [
    (np.array([True, False, True]), DataTypeError, "boolean class labels"),
    (np.array([0.5, 1.0, 0.0]), DomainError, "whole numbers"),
    (np.array([0.0, np.nan, 1.0]), DomainError, "whole numbers"),
    ([0, 1, 3], DomainError, "out of range"),
    ([0, -1, 2], DomainError, "out of range"),
    ([0, 1], ShapeError, "2 labels for a batch of 3"),
    (np.eye(3)[:2], ShapeError, "2 one-hot rows for a batch of 3"),
    (np.eye(4)[[0, 1, 2]], ShapeError, "rows of length 4"),
    ([[0.5, 0.6, 0.0]] * 3, DomainError, "sum to 1"),
    ([[1.5, -0.5, 0.0]] * 3, DomainError, "lie in \\[0, 1\\]"),
    (np.zeros((3, 3, 3)), ShapeError, "does not fit"),
    ("abc", DataTypeError, "numbers"),
    (None, DataTypeError, "NoneType"),
    ([0, None, 1], DataTypeError, "NoneType"),
    ([[1, 0], [0]], DataTypeError, "rectangular"),
    ([Value(1.0), 0, 0], DataTypeError, "not Values"),
])
def test_bad_class_targets_on_a_batch_of_three(target, error, message):
    z = columns(RNG.normal(size=(3, 3)))
    with pytest.raises(error, match=message):
        L.softmax_cross_entropy(z, target)


def test_probability_columns_given_as_rows_are_refused_with_the_transpose_hint():
    z = columns(RNG.normal(size=(4, 3)))
    with pytest.raises(ShapeError, match="pass its transpose"):
        L.softmax_cross_entropy(z, np.eye(3)[[0, 1, 2, 0]].T)


def test_one_sample_with_a_batch_of_labels_says_the_logits_must_be_batched():
    z = [Value(0.5), Value(-1.2), Value(2.0)]
    with pytest.raises(ShapeError, match="batched logits"):
        L.softmax_cross_entropy(z, [0, 1])


# ---------------------------------------------------------------- per-output losses


def mse_reference(P, Y):
    return np.mean((P - Y) ** 2)


@pytest.mark.parametrize("B, k", [(3, 3), (4, 2), (2, 4), (1, 3)])
def test_mse_rows_lists_arrays_and_value_columns_agree(B, k):
    P, Y = RNG.normal(size=(B, k)), RNG.normal(size=(B, k))
    want = mse_reference(P, Y)
    want_grad = 2 * (P - Y) / (B * k)
    for target in (Y, Y.tolist(), [Value(Y[:, j].copy(), requires_grad=False) for j in range(k)]):
        value, grad = loss_and_grads(L.mse, P, target)
        assert value == pytest.approx(want, rel=1e-13)
        np.testing.assert_allclose(grad, want_grad, atol=1e-15)


def test_mse_matches_torch_with_a_target_of_the_inputs_shape():
    torch = pytest.importorskip("torch")
    P, Y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    t = torch.tensor(P, requires_grad=True)
    ref = torch.nn.functional.mse_loss(t, torch.tensor(Y))
    ref.backward()
    value, grad = loss_and_grads(L.mse, P, Y.tolist())
    assert value == pytest.approx(ref.item(), rel=1e-14)
    np.testing.assert_allclose(grad, t.grad.numpy(), atol=1e-16)


@pytest.mark.parametrize("loss", [L.mse, L.squared_error, L.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("target", [[0, 1, 0], np.array([0.0, 1.0, 0.0]), (1, 1, 0)])
def test_one_dimensional_target_on_a_batch_of_several_outputs_is_refused(loss, target):
    P = RNG.uniform(0.1, 0.9, size=(3, 3))  # batch == outputs == 3: the coincidence
    with pytest.raises(ShapeError, match=r"pass a \(3, 3\) array, one row per sample"):
        loss(columns(P), target)


def test_transposed_targets_are_refused_with_a_hint():
    P, Y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    with pytest.raises(ShapeError, match="pass its transpose"):
        L.mse(columns(P), Y.T)
    with pytest.raises(ShapeError, match="4 target rows for a batch of 3|batch"):
        L.mse(columns(P[:3]), Y)


def test_one_output_list_array_and_column_agree():
    p, y = RNG.normal(size=6), RNG.normal(size=6)
    want = np.mean((p - y) ** 2)
    for target in (y, y.tolist(), y.reshape(-1, 1), y.reshape(-1, 1).tolist()):
        assert L.mse(Value(p.copy()), target).data == pytest.approx(want, rel=1e-14)


def test_one_sample_of_several_outputs_list_and_array_agree():
    preds = [Value(0.2), Value(-0.4), Value(1.0)]
    y = [0.5, 0.0, 1.5]
    want = np.mean((np.array([0.2, -0.4, 1.0]) - y) ** 2)
    for target in (y, np.array(y), np.array([y]), tuple(y)):
        assert L.mse(preds, target).data == pytest.approx(want, rel=1e-15)


def test_bool_targets_count_as_zero_and_one():
    p = np.array([0.2, 0.7, 0.9])
    b = np.array([False, True, True])
    assert L.binary_cross_entropy(Value(p.copy()), b).data == \
        L.binary_cross_entropy(Value(p.copy()), b.astype(float)).data


@pytest.mark.parametrize("target, error", [
    (None, DataTypeError), ("1", DataTypeError), ([1, "a"], DataTypeError),
    (10 ** 400, DomainError), ([1.0, 10 ** 400], DomainError), (1 + 2j, DataTypeError),
])
def test_non_numeric_targets_are_library_errors(target, error):
    with pytest.raises(error):
        L.mse(Value(np.array([0.5, 0.5])), target)


def test_hinge_reads_lists_and_arrays_alike():
    s = RNG.normal(size=(4, 2))
    y = np.where(RNG.normal(size=(4, 2)) > 0, 1.0, -1.0)
    want = np.mean(np.maximum(0, 1 - y * s))
    for target in (y, y.tolist(), y.astype(int)):
        assert L.hinge(columns(s), target).data == pytest.approx(want, rel=1e-14)


# ---------------------------------------------------------------- fit


X6 = RNG.normal(size=(6, 2))
LABELS6 = np.array([0, 1, 2, 1, 0, 2])


def history(y, loss, **kw):
    kw.setdefault("batch_size", 3)
    return fit(MLP(2, [3], seed=0), X6, y, loss=loss, epochs=3, progress=False, shuffle=False,
               **kw).loss


def test_fit_refuses_integer_labels_for_a_per_output_loss():
    with pytest.raises(ShapeError, match=r"np.eye\(3\)\[y\]"):
        fit(MLP(2, [3]), X6, LABELS6, loss="mse", batch_size=3, progress=False)
    with pytest.raises(ShapeError, match="softmax_cross_entropy"):
        fit(MLP(2, [3]), X6, LABELS6.tolist(), loss="bce_with_logits", progress=False)


def test_fit_with_one_hot_rows_is_the_same_for_lists_arrays_replay_and_per_sample():
    onehot = np.eye(3)[LABELS6]
    ref = history(onehot, "mse", replay=False)
    assert history(onehot, "mse") == pytest.approx(ref, rel=1e-12)
    assert history(onehot.tolist(), "mse") == pytest.approx(ref, rel=1e-12)
    assert history(onehot, "mse", per_sample=True) == pytest.approx(ref, rel=1e-12)
    # a full batch's first loss is numpy's mse of the untrained model's outputs
    m = MLP(2, [3], seed=0)
    out = np.column_stack([o.data for o in m.forward(X6)])
    full = history(onehot.tolist(), "mse", batch_size=None)
    assert full[0] == pytest.approx(mse_reference(out, onehot), rel=1e-13)


def test_fit_cross_entropy_labels_floats_and_one_hot_rows_agree():
    ref = history(LABELS6, "ce", replay=False)
    for y in (LABELS6.tolist(), LABELS6.astype(float), np.eye(3)[LABELS6],
              np.eye(3)[LABELS6].tolist()):
        assert history(y, "ce") == pytest.approx(ref, rel=1e-12)
    m = MLP(2, [3], seed=0)
    Z = np.column_stack([o.data for o in m.forward(X6)])
    full = history(LABELS6.astype(float).tolist(), "ce", batch_size=None)
    assert full[0] == pytest.approx(ce_reference(Z, LABELS6), rel=1e-13)


@pytest.mark.parametrize("y, error", [
    (LABELS6.astype(bool), DataTypeError),
    (LABELS6 + 0.5, ShapeError),
    (np.where(LABELS6 == 2, 3, LABELS6), DomainError),
    (np.array(["a"] * 6), DataTypeError),
    ([0, 1, 2, 1, 0, None], DataTypeError),
])
def test_fit_refuses_bad_class_labels_with_library_errors(y, error):
    with pytest.raises(error):
        fit(MLP(2, [3]), X6, y, loss="ce", epochs=1, progress=False)


def test_fit_bool_targets_for_one_output_are_zero_one():
    y = np.array([True, False, True, True, False, False])
    a = fit(MLP(2, [1], seed=1), X6, y, loss="bce", epochs=2, progress=False).loss
    b = fit(MLP(2, [1], seed=1), X6, y.astype(float), loss="bce", epochs=2, progress=False).loss
    assert a == b


def test_every_target_error_is_of_the_library_family():
    z = columns(RNG.normal(size=(3, 3)))
    bad = [[0, 1], np.eye(3)[:2], "x", None, np.zeros((3, 3, 3)), [0.5, 0.5, 0.5]]
    for loss in (L.mse, L.softmax_cross_entropy, L.hinge, L.binary_cross_entropy):
        for target in bad:
            with pytest.raises(MicrogradError):
                loss(z, target)


# ---------------------------------------------------------------- one sample vs a batch

PAIRS = {
    "mse": (L.mse, lambda rng: rng.normal(size=(5, 3)), lambda rng: rng.normal(size=(5, 3))),
    "squared_error": (L.squared_error, lambda rng: rng.normal(size=(5, 3)),
                      lambda rng: rng.normal(size=(5, 3))),
    "bce": (L.binary_cross_entropy, lambda rng: rng.uniform(0.05, 0.95, size=(5, 2)),
            lambda rng: rng.integers(0, 2, size=(5, 2)).astype(float)),
    "bce_logits": (L.binary_cross_entropy_with_logits, lambda rng: rng.normal(size=(5, 2)),
                   lambda rng: rng.uniform(0, 1, size=(5, 2))),
    "hinge": (L.hinge, lambda rng: rng.normal(size=(5, 2)),
              lambda rng: np.where(rng.normal(size=(5, 2)) > 0, 1.0, -1.0)),
    "ce_labels": (L.softmax_cross_entropy, lambda rng: rng.normal(size=(5, 3)),
                  lambda rng: rng.integers(0, 3, size=5)),
    "ce_onehot": (L.softmax_cross_entropy, lambda rng: rng.normal(size=(5, 3)),
                  lambda rng: np.eye(3)[rng.integers(0, 3, size=5)]),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_one_sample_at_a_time_equals_the_batch(name):
    """The scalar path (row by row, targets as lists) and the batched path (one graph,
    targets as an array) read the same rows: the same mean loss and gradients."""
    loss, make_p, make_y = PAIRS[name]
    rng = np.random.default_rng(7)
    P, Y = make_p(rng), make_y(rng)
    batch, grad = loss_and_grads(loss, P, Y)
    per_row, per_grad = [], []
    for i in range(P.shape[0]):
        z = [Value(float(v)) for v in P[i]]
        target = Y[i].tolist() if Y.ndim == 2 else int(Y[i])
        out = loss(z, target)
        out.backward()
        per_row.append(out.data)
        per_grad.append([v.grad for v in z])
    assert batch == pytest.approx(np.mean(per_row), rel=1e-13)
    np.testing.assert_allclose(grad, np.array(per_grad) / P.shape[0], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, bad_row", [("bce", [1.5, 0.0]), ("hinge", [0.0, 1.0]),
                                           ("ce_onehot", [0.5, 0.6, 0.0]), ("ce_labels", 3)])
def test_a_bad_target_is_the_same_error_on_both_paths(name, bad_row):
    loss, make_p, make_y = PAIRS[name]
    rng = np.random.default_rng(8)
    P, Y = make_p(rng), make_y(rng).astype(float if name != "ce_labels" else int)
    Y[2] = bad_row
    with pytest.raises(MicrogradError) as on_batch:
        loss(columns(P), Y)
    with pytest.raises(MicrogradError) as on_sample:
        loss([Value(float(v)) for v in P[2]], Y[2].tolist() if Y.ndim == 2 else int(Y[2]))
    assert type(on_batch.value) is type(on_sample.value)


@pytest.mark.parametrize("y, loss", [
    (np.array([0, 1, 2, 1, 0, 5]), "ce"),                    # a label out of range, last batch
    (np.array([0, 1, 2, 1, 0, 1.5]), "ce"),                  # not a whole number
    (np.eye(3)[LABELS6] * np.array([1, 1, 1, 1, 1, 2])[:, None], "ce"),  # a row summing to 2
    (LABELS6, "mse"),                                        # labels for a per-output loss
])
def test_replay_and_the_built_graph_refuse_the_same_targets(y, loss):
    """fit checks every target before the first step, so both paths give the same error."""
    outcomes = []
    for replay in (True, False):
        with pytest.raises(MicrogradError) as info:
            fit(MLP(2, [3], seed=0), X6, y, loss=loss, batch_size=3, epochs=2, replay=replay,
                progress=False)
        outcomes.append((type(info.value), str(info.value)))
    assert outcomes[0] == outcomes[1]
