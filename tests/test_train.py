"""Tests of micrograd_mlp.nets.train: fit, train_step, History, predict, accuracy, listing."""
import io

import numpy as np
import pytest

from micrograd_mlp.errors import ShapeError
from micrograd_mlp.errors import ArgumentError, DataTypeError, GradientError, MicrogradError
from micrograd_mlp.nets.mlp import MLP
from micrograd_mlp.nets.optim import SGD, Adam
from micrograd_mlp.nets.train import History, accuracy, fit, listing, predict

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def sq(pred, target):
    """Per-sample squared error, written inline (independent of losses.py)."""
    return (pred - target) ** 2


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def toy_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(float)


# ---------------------------------------------------------------- seed 001 Task 6


def test_task6_two_h_one_network_end_to_end(capsys):
    X, y = toy_data(20)
    model = MLP(2, [4, 1], activation="sigmoid", init="xavier_normal", seed=0)
    h = fit(model, X, y, loss="squared_error", lr=0.01, epochs=100, progress=False)
    assert h.epochs == 100 and not h.stopped_early
    assert h.loss[-1] < h.loss[0]
    assert np.all(np.diff(h.loss) < 0)  # a small lr on a full batch: the loss falls steadily
    model([0.5, -0.5])
    for key in ("s1", "x1", "s2", "x2"):
        print(key, [round(v.data, 6) for v in model.intermediates[key]])
    text = capsys.readouterr().out
    assert "s1 [" in text and "x2 [" in text
    # the seed's spelling: train(x, y, eta, iterations) is batch gradient descent
    again = MLP(2, [4, 1], seed=0)
    h2 = again.train(X, y, eta=0.01, iterations=100)
    assert h2.loss == h.loss and again.state_dict() == model.state_dict()


def test_one_full_batch_step_matches_numpy_backprop():
    X, y = toy_data(9, seed=1)
    model = MLP(2, [3, 1], seed=2)
    (W1, W2), (b1, b2) = model.get_parameters()
    fit(model, X, y, loss=sq, lr=0.5, epochs=1, progress=False)
    # reference: the matrix form of backprop (seed 001 Task 5 formulas), mean over samples
    n = len(X)
    s1 = X @ W1.T + b1
    x1 = sigmoid(s1)
    s2 = x1 @ W2.T + b2
    x2 = sigmoid(s2)[:, 0]
    d2 = (2 * (x2 - y) / n * x2 * (1 - x2))[:, None]
    d1 = (d2 @ W2) * x1 * (1 - x1)
    W2n, b2n = W2 - 0.5 * d2.T @ x1, b2 - 0.5 * d2.sum(0)
    W1n, b1n = W1 - 0.5 * d1.T @ X, b1 - 0.5 * d1.sum(0)
    (V1, V2), (c1, c2) = model.get_parameters()
    for got, want in [(V1, W1n), (V2, W2n), (c1, b1n), (c2, b2n)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- XOR (seed 003 settings)


def test_xor_reaches_full_accuracy_and_stops_early(capsys):
    model = MLP(2, [8, 1], activation="sigmoid", seed=0)
    h = fit(model, XOR_X, XOR_Y, loss="mse", lr=5.0, epochs=5000, epsilon=0.005,
            progress=False, print_every=100)
    assert h.stopped_early and h.epochs < 5000
    assert h.loss[-1] < 0.005 and all(v >= 0.005 for v in h.loss[:-1])
    assert h.metrics["accuracy"][-1] == 1.0
    assert accuracy(model, XOR_X, XOR_Y) == 1.0
    lines = listing(model, XOR_X, XOR_Y, show=True)
    out = capsys.readouterr().out
    assert "epoch    100" in out and "loss" in out
    assert len(lines) == 5 and all("correct" in line for line in lines[:4])
    assert "ground truth 1" in lines[1] and "100.00%" in lines[-1]
    assert lines[0] in out


def test_batched_and_per_sample_training_agree():
    a, b = MLP(2, [8, 1], seed=3), MLP(2, [8, 1], seed=3)
    ha = fit(a, XOR_X, XOR_Y, loss=sq, lr=1.0, epochs=10, progress=False)
    hb = fit(b, XOR_X, XOR_Y, loss=sq, lr=1.0, epochs=10, progress=False, per_sample=True)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert v == pytest.approx(w, abs=1e-12), k
    assert a.state_dict() != MLP(2, [8, 1], seed=3).state_dict()


def test_mini_batches_lockstep_equal_per_sample_and_are_shuffled_by_seed():
    X, y = toy_data(10)
    runs = []
    for per_sample, seed in [(False, 4), (True, 4), (False, 5)]:
        m = MLP(2, [3, 1], seed=1)
        fit(m, X, y, loss=sq, lr=0.5, epochs=3, batch_size=4, seed=seed, per_sample=per_sample,
            progress=False)
        runs.append(m.state_dict())
    for k in runs[0]:
        assert runs[0][k] == pytest.approx(runs[1][k], abs=1e-12)
    assert runs[0] != runs[2]


def test_batch_size_one_is_sgd_per_sample():
    X, y = toy_data(5)
    m = MLP(2, [3, 1], seed=6)
    fit(m, X, y, loss=sq, lr=0.3, epochs=2, batch_size=1, shuffle=False, progress=False)
    ref = MLP(2, [3, 1], seed=6)
    params = ref.parameters()
    for _ in range(2):
        for xi, yi in zip(X, y):
            ref.zero_grad()
            sq(ref(list(xi)), yi).backward()
            for p in params:
                p.data -= 0.3 * p.grad
    for k, v in ref.state_dict().items():
        assert m.state_dict()[k] == pytest.approx(v, abs=1e-13)


def test_per_sample_cross_entropy_with_labels_equals_lockstep():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2))
    y = np.array([0, 1, 2, 2, 1, 0])
    a = MLP(2, [4, 3], activation="relu", out_activation=None, seed=2)
    b = MLP(2, [4, 3], activation="relu", out_activation=None, seed=2)
    ha = fit(a, X, y, loss="cross_entropy", lr=0.5, epochs=5, progress=False)
    hb = fit(b, X, y, loss="cross_entropy", lr=0.5, epochs=5, progress=False, per_sample=True)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    for k, v in a.state_dict().items():
        assert v == pytest.approx(b.state_dict()[k], abs=1e-12)


# ---------------------------------------------------------------- options


def test_softmax_classifier_with_integer_labels_and_validation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)  # 3 classes
    model = MLP(2, [6, 3], activation="tanh", out_activation=None, seed=0)
    h = fit(model, X[:20], y[:20], loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.05),
            epochs=150, batch_size=5, seed=0, validation=(X[20:], y[20:]), progress=False)
    assert len(h.loss) == len(h.val_loss) == len(h.val_metrics["accuracy"]) == 150
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.loss[0] == pytest.approx(np.log(3), abs=0.5)
    assert h.metrics["accuracy"][-1] >= 0.9
    P = predict(model, X)
    assert P.shape == (30, 3)
    assert accuracy(P[20:], y[20:]) == h.val_metrics["accuracy"][-1]
    # validation loss = the cross-entropy computed with numpy
    Z = P[20:]
    lse = np.log(np.exp(Z).sum(1))
    assert h.val_loss[-1] == pytest.approx(np.mean(lse - Z[np.arange(10), y[20:]]), rel=1e-12)


def test_regression_targets_skip_accuracy_and_accept_columns():
    X, _ = toy_data(8)
    Y = np.column_stack([X.sum(1), X[:, 0] - X[:, 1]])
    model = MLP(2, [2], activation=None, seed=0)
    h = fit(model, X, Y, loss="mse", optimizer="adam", lr=0.1, epochs=200, progress=False)
    assert h.metrics == {}
    assert h.loss[-1] < 1e-3
    W, b = model.get_parameters()
    np.testing.assert_allclose(W[0], [[1, 1], [1, -1]], atol=0.05)


def test_print_every_and_quiet_progress(capsys):
    out = io.StringIO()
    fit(MLP(2, [2, 1], seed=0), XOR_X, XOR_Y, loss=sq, lr=0.1, epochs=10, print_every=3,
        file=out)
    lines = out.getvalue().splitlines()
    assert [int(line.split()[1]) for line in lines] == [3, 6, 9, 10]
    assert all("accuracy" in line for line in lines)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # stderr is not a terminal: no bar


def test_divergence_stops_with_a_warning():
    model = MLP(1, [1], activation=None, seed=0)
    X = np.array([[1e3], [2e3]])
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = fit(model, X, np.array([1.0, 2.0]), loss=sq, lr=10.0, epochs=500, progress=False)
    assert h.stopped_early and not np.isfinite(h.loss[-1])


@pytest.mark.slow
def test_plot_history_writes_png_and_svg(tmp_path):
    from micrograd_mlp.views.plots_training import plot_history, plot_learning_curves

    h = fit(MLP(2, [2, 1], seed=0), XOR_X, XOR_Y, loss=sq, lr=1.0, epochs=20, progress=False,
            validation=(XOR_X, XOR_Y))
    fig = plot_history(h, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "epoch"
    loss_ax, metric_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "train loss", "validation loss"]
    assert [t.get_text() for t in metric_ax.get_legend().get_texts()] == [
        "train accuracy", "validation accuracy"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), h.loss)
    assert isinstance(h, History) and "20 epochs" in repr(h)
    # a History given to plot_learning_curves: its loss curves on one axes
    one = plot_learning_curves(h)
    np.testing.assert_array_equal(one.axes[0].lines[1].get_ydata(), h.val_loss)
    with pytest.raises(ValueError, match="empty"):
        plot_history(History())


# ---------------------------------------------------------------- evaluation helpers


def test_predict_and_accuracy_forms():
    m = MLP(2, [3, 1], seed=0)
    P = predict(m, XOR_X)
    assert P.shape == (4,)
    np.testing.assert_allclose(P, [m(list(x)).data for x in XOR_X], rtol=1e-14)
    assert predict(m, [0.0, 1.0]).shape == (1,)
    assert accuracy(np.array([0.2, 0.7, 0.9, 0.4]), XOR_Y) == 1.0
    assert accuracy(np.array([0.6, 0.7, 0.9, 0.4]), XOR_Y) == 0.75
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0, 1], [0, 1]])) == 0.5
    with pytest.raises(ValueError, match="0/1"):
        accuracy(np.array([0.1, 0.2]), np.array([0.5, 2.0]))
    with pytest.raises((TypeError, MicrogradError), match="targets y are missing"):
        accuracy(m, XOR_X)


# ---------------------------------------------------------------- bad input


def test_fit_rejects_bad_input():
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="learning rate"):
        fit(m, XOR_X, XOR_Y, lr=-0.1)
    with pytest.raises(ShapeError, match=r"\(n, 2\)"):
        fit(m, np.zeros((4, 3)), XOR_Y)
    with pytest.raises(ShapeError, match="4 samples"):
        fit(m, XOR_X, np.zeros(3))
    with pytest.raises(ShapeError, match="one output"):
        fit(m, XOR_X, np.zeros((4, 2)))
    m3 = MLP(2, [3, 3], seed=0)
    with pytest.raises(ShapeError, match="integer class labels"):
        fit(m3, XOR_X, np.array([0.5, 1, 2, 0]))
    with pytest.raises(ValueError, match="0..2"):
        fit(m3, XOR_X, np.array([0, 1, 3, 0]))
    with pytest.raises(ShapeError, match=r"\(4, 3\)"):
        fit(m3, XOR_X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="lr was given"):
        fit(m, XOR_X, XOR_Y, optimizer=SGD(m.parameters(), lr=0.1), lr=0.1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(m, XOR_X, XOR_Y, batch_size=0)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(m, XOR_X, XOR_Y, loss="nonesuch")
    with pytest.raises(ValueError, match="unknown optimiser"):
        fit(m, XOR_X, XOR_Y, optimizer="rmsprop")
    with pytest.raises(ValueError, match="NaN"):
        fit(m, np.array([[0, np.nan]]), [1.0])


# ---------------------------------------------------------------- -1/+1 labels, metrics


def test_accuracy_of_raw_scores_against_minus_one_plus_one_labels():
    scores = np.array([0.3, -0.2, 0.1, -0.5, 0.2])
    y = np.array([1, -1, -1, -1, -1])
    assert accuracy(scores, y) == 3 / 5           # thresholded at 0, class +1 when > 0
    assert accuracy(scores, y.astype(float)) == 3 / 5
    assert accuracy(scores, (y + 1) // 2) == 4 / 5  # the same scores as 0/1: threshold 0.5
    assert accuracy(scores, y, threshold=0.25) == 5 / 5
    with pytest.raises(ValueError, match="-1/\\+1"):
        accuracy(scores, np.array([1, 2, 1, 1, 1]))
    # several outputs: labels are 0..k-1; -1 would never match an argmax
    two = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="0..1"):
        accuracy(two, np.array([-1, 1]))


def test_hinge_fit_reports_accuracy_of_the_sign():
    X, y01 = toy_data(16)
    y = 2 * y01 - 1
    model = MLP(2, [6, 1], activation="tanh", out_activation=None, seed=0)
    h = fit(model, X, y, loss="hinge", optimizer="adam", lr=0.05, epochs=40, progress=False,
            validation=(X[:6], y[:6]))
    assert len(h.metrics["accuracy"]) == len(h.val_metrics["accuracy"]) == 40
    assert h.val_metrics["accuracy"][-1] == np.mean(np.sign(predict(model, X[:6])) == y[:6])
    # all labels +1: still the hinge's sign rule (threshold 0), not 0.5
    ones = np.ones(len(X))
    model2 = MLP(2, [1], activation=None, seed=0)
    model2.set_parameters(weights=[[[0.0, 0.0]]], biases=[[0.3]])
    h2 = fit(model2, X, ones, loss="hinge", lr=0.0, epochs=1, progress=False)
    assert h2.metrics["accuracy"] == [1.0]   # every score is 0.3 > 0


def test_accuracy_asked_for_real_targets_is_refused_not_dropped():
    X, _ = toy_data(8)
    y = X.sum(1)
    with pytest.raises(ArgumentError, match="class labels"):
        fit(MLP(2, [1], seed=0), X, y, metrics=("accuracy",), epochs=1, progress=False)
    with pytest.raises(ArgumentError, match="unknown metric"):
        fit(MLP(2, [1], seed=0), X, y, metrics=("f1",), epochs=1, progress=False)
    # validation targets that are not labels while training ones are
    X01, y01 = toy_data(8)
    with pytest.raises(ArgumentError, match="validation targets"):
        fit(MLP(2, [1], seed=0), X01, y01, validation=(X01, y01 + 0.5), metrics="accuracy",
            epochs=1, progress=False)


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    fit(MLP(2, [1], seed=0), XOR_X, XOR_Y, epochs=3)      # stderr is captured: no bar
    assert capsys.readouterr().err == ""
    fit(MLP(2, [1], seed=0), XOR_X, XOR_Y, epochs=3, progress=True)
    assert "/3 [" in capsys.readouterr().err   # a tqdm bar of 3 epochs


# ---------------------------------------------------------------- gradients per matrix, l2


def numpy_backward(W1, b1, W2, b2, x, t):
    """Sigmoid 2-layer network, E = 1/2 (x2 - t)^2 summed over outputs, written out."""
    s1 = W1 @ x + b1
    x1 = 1 / (1 + np.exp(-s1))
    s2 = W2 @ x1 + b2
    x2 = 1 / (1 + np.exp(-s2))
    d2 = (x2 - t) * x2 * (1 - x2)
    d1 = (W2.T @ d2) * x1 * (1 - x1)
    return np.outer(d1, x), d1, np.outer(d2, x1), d2


def test_get_gradients_per_matrix_in_both_layouts():
    from micrograd_mlp.functions.losses import squared_error

    model = MLP(3, [4, 2], seed=4)
    x, t = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0])
    E = squared_error(model(list(x)), list(t), reduction="sum")
    E.backward()
    (W1, W2), (b1, b2) = model.get_parameters()
    dW1, db1, dW2, db2 = numpy_backward(W1, b1, W2, b2, x, t)
    (gW1, gW2), (gb1, gb2) = model.get_gradients()
    np.testing.assert_allclose(gW1, dW1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gW2, dW2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gb1, db1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gb2, db2, rtol=1e-12, atol=1e-15)
    (tW1, tW2), _ = model.get_gradients(layout="in_out")
    assert tW1.shape == (3, 4) and np.array_equal(tW1, gW1.T) and np.array_equal(tW2, gW2.T)
    with pytest.raises(ArgumentError):
        model.get_gradients(layout="rows")
    model.layers[0].neurons[0].w[0].grad = None
    with pytest.raises(GradientError, match="backward"):
        model.get_gradients()


def test_l2_with_and_without_biases_against_the_closed_form():
    from micrograd_mlp.functions.losses import l2

    model = MLP(2, [3, 1], seed=1)
    lam, n = 0.3, 5
    (W1, W2), (b1, b2) = model.get_parameters()
    for include_biases in (False, True):
        model.zero_grad()
        R = l2(model, lam, n, include_biases=include_biases)
        squares = (W1 ** 2).sum() + (W2 ** 2).sum()
        if include_biases:
            squares += (b1 ** 2).sum() + (b2 ** 2).sum()
        assert R.data == pytest.approx(lam / (2 * n) * squares, rel=1e-14)
        R.backward()
        (gW1, gW2), (gb1, gb2) = model.get_gradients()
        np.testing.assert_allclose(gW1, lam / n * W1, rtol=1e-14)
        np.testing.assert_allclose(gW2, lam / n * W2, rtol=1e-14)
        want_b = lam / n if include_biases else 0.0
        np.testing.assert_allclose(gb1, want_b * b1, rtol=1e-14)
        np.testing.assert_allclose(gb2, want_b * b2, rtol=1e-14)
    # micrograd's demo penalty alpha * sum(p^2) over every parameter
    alpha = 1e-4
    micrograd_penalty = alpha * sum(p.data ** 2 for p in model.parameters())
    assert l2(model, 2 * alpha, 1, include_biases=True).data == pytest.approx(
        micrograd_penalty, rel=1e-14)
    with pytest.raises(DataTypeError):
        l2(model, lam, n, include_biases="yes")


def test_a_callable_loss_is_replayed_by_default_with_the_same_numbers_and_checks(monkeypatch):
    from micrograd_mlp import DomainError, losses as L
    from micrograd_mlp.nets import fit_steps

    compiled = []
    real_compile = fit_steps.compile_step
    monkeypatch.setattr(fit_steps, "compile_step",
                        lambda *a, **k: compiled.append(1) or real_compile(*a, **k))

    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2))
    y = (X[:, 0] > 0).astype(float)

    def my_loss(pred, target):  # a user's own loss: squared error plus a target-derived scale
        scale = float(np.mean(np.asarray(target))) + 1.0
        return L.mse(pred, target) * scale

    runs = []
    for replay in (None, False):
        m = MLP(2, [4, 1], seed=1)
        h = fit(m, X, y, loss=my_loss, lr=0.3, epochs=5, batch_size=4, shuffle=False,
                progress=False, metrics=(), replay=replay)
        runs.append((h.loss, m.get_parameters()[0]))
    assert len(compiled) == 1  # the default run replayed, the replay=False one did not
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=0, atol=1e-12)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)

    bad = y.copy()
    bad[9] = 3.5  # a probability out of range, only in the third batch
    for replay in (None, False):
        with pytest.raises(DomainError):
            fit(MLP(2, [4, 1], seed=1), X, bad, loss=lambda p, t: L.binary_cross_entropy(p, t),
                lr=0.1, epochs=1, batch_size=4, shuffle=False, progress=False, metrics=(),
                replay=replay)
