"""fit's options as Keras and PyTorch users type them (validation_split, verbose, Keras's
loss names), the hint when a probability loss meets an output layer that is no sigmoid,
the three steps behind fit's one loop, and the BLAS thread limit of overlapping fits."""
import threading

import numpy as np
import pytest

from micrograd_mlp import MLP, fit
from micrograd_mlp.errors import ArgumentError, DataTypeError, DomainError, UnknownLossError
from micrograd_mlp.functions import losses
from micrograd_mlp.nets import optim
from micrograd_mlp.nets.fit_steps import BuiltStep, PerSampleStep, ReplayedStep, make_step


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] > 0).astype(float)


# ---------------------------------------------------------------- Keras's names


@pytest.mark.parametrize("keras, ours", [("binary_crossentropy", "binary_cross_entropy"),
                                         ("mean_squared_error", "mse")])
def test_keras_loss_names_train_as_the_same_loss(keras, ours):
    X, y = _data()
    runs = []
    for name in (keras, ours):
        model = MLP(2, [3, 1], seed=4)
        runs.append(fit(model, X, y, loss=name, lr=0.2, epochs=3, progress=False).loss)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_keras_probability_cross_entropies_point_to_softmax_cross_entropy(name):
    """Keras's categorical cross-entropies read probabilities; ours reads logits: not an
    alias, but the error says which loss to use."""
    X, _ = _data()
    with pytest.raises(UnknownLossError, match="loss='softmax_cross_entropy'.*from_logits=True"):
        fit(MLP(2, [3, 3], seed=0), X, np.zeros(20, dtype=int), loss=name, epochs=1,
            progress=False)


def test_validation_split_holds_out_the_last_fraction_as_keras():
    X, y = _data(10)
    split = fit(MLP(2, [3, 1], seed=1), X, y, lr=0.1, epochs=3, validation_split=0.2,
                shuffle=False, progress=False)
    given = fit(MLP(2, [3, 1], seed=1), X[:8], y[:8], lr=0.1, epochs=3,
                validation=(X[8:], y[8:]), shuffle=False, progress=False)
    assert split.loss == given.loss and split.val_loss == given.val_loss
    assert len(split.val_loss) == 3
    # 7 samples, 0.3: Keras keeps ceil(7 * 0.7) = 5 for training, 2 for validation
    odd = fit(MLP(2, [3, 1], seed=1), X[:7], y[:7], lr=0.1, epochs=1, validation_split=0.3,
              shuffle=False, progress=False)
    ref = fit(MLP(2, [3, 1], seed=1), X[:5], y[:5], lr=0.1, epochs=1,
              validation=(X[5:7], y[5:7]), shuffle=False, progress=False)
    assert odd.val_loss == ref.val_loss


@pytest.mark.parametrize("split, error, message", [
    (0.0, ArgumentError, "leaves 0 of 10 samples for validation"),
    (1.0, ArgumentError, "and 0 for training"),
    (0.01, ArgumentError, "leaves 0 of 10"),
    (1.5, ArgumentError, "validation_split must be <= 1"),
    (float("nan"), ArgumentError, "validation_split"),
    ("0.2", DataTypeError, "validation_split"),
])
def test_validation_split_refuses_what_leaves_a_part_empty(split, error, message):
    X, y = _data(10)
    with pytest.raises(error, match=message):
        fit(MLP(2, [3, 1], seed=1), X, y, epochs=1, validation_split=split, progress=False)


def test_validation_split_and_validation_together_are_refused():
    X, y = _data(10)
    with pytest.raises(ArgumentError, match="not both"):
        fit(MLP(2, [3, 1]), X, y, epochs=1, validation=(X, y), validation_split=0.2,
            progress=False)


def test_verbose_as_keras(capsys):
    X, y = _data()
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=3, verbose=0)
    assert capsys.readouterr() == ("", "")
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"], ["epoch", "3"]]
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=3, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == "" and "0/3 [" in captured.err  # the progress bar, on stderr
    for bad, error in ((3, ArgumentError), (-1, ArgumentError), ("1", DataTypeError)):
        with pytest.raises(error, match="verbose"):
            fit(MLP(2, [3, 1]), X, y, epochs=1, verbose=bad)
    with pytest.raises(ArgumentError, match="not both"):
        fit(MLP(2, [3, 1]), X, y, epochs=1, verbose=1, progress=False)


# ---------------------------------------------------------------- a ReLU output and BCE


@pytest.mark.parametrize("replay", [None, False])
def test_bce_on_a_relu_output_says_what_to_change(replay):
    X, y = _data()
    model = MLP(2, [16, 16, 1], activation="relu", seed=0)
    with pytest.raises(DomainError) as info:
        fit(model, X, y, loss="bce", epochs=5, progress=False, replay=replay)
    text = str(info.value)
    assert "output layer is relu" in text
    assert "out_activation='sigmoid'" in text and "loss='bce_with_logits'" in text
    assert "np.float64" not in text and "got 1.22170053130317" in text


def test_bce_on_a_sigmoid_output_adds_no_hint_to_a_bad_target():
    X, y = _data()
    y[3] = 2.0
    with pytest.raises(DomainError) as info:
        fit(MLP(2, [3, 1], seed=0), X, y, loss="bce", epochs=1, progress=False)
    assert "output layer" not in str(info.value)


def test_the_suggested_fixes_train():
    X, y = _data()
    for act, loss in (("sigmoid", "bce"), (None, "bce_with_logits")):
        model = MLP(2, [16, 16, 1], activation="relu", out_activation=act, seed=0)
        h = fit(model, X, y, loss=loss, epochs=5, progress=False)
        assert np.all(np.isfinite(h.loss))


# ---------------------------------------------------------------- the three steps


def _step_run(kind, X, y, loss_fn):
    model = MLP(2, [4, 2], activation="tanh", out_activation=None, seed=3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    out = []
    with make_step(kind, model, loss_fn, opt) as step:
        for _ in range(3):
            out.append(step.run(X, y))
    return out, [p.data for p in model.parameters()]


@pytest.mark.parametrize("loss_fn, y", [
    (losses.softmax_cross_entropy, np.array([0, 1, 1, 0, 1, 0])),
    (losses.mse, np.random.default_rng(8).normal(size=(6, 2))),
])
def test_the_three_steps_give_the_same_numbers(loss_fn, y):
    X = np.random.default_rng(7).normal(size=(6, 2))
    ref_runs, ref_params = _step_run("built", X, y, loss_fn)
    for kind in ("replayed", "per_sample"):
        runs, params = _step_run(kind, X, y, loss_fn)
        for (v, p), (v0, p0) in zip(runs, ref_runs):
            assert v == pytest.approx(v0, rel=1e-12, abs=1e-14)
            np.testing.assert_allclose(p, p0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(params, ref_params, rtol=1e-12, atol=1e-14)


def test_the_three_steps_refuse_a_bad_target_alike():
    X = np.random.default_rng(7).normal(size=(6, 2))
    bad = np.array([0, 1, 5, 0, 1, 0])  # label 5 for two outputs
    for kind in ("built", "replayed", "per_sample"):
        model = MLP(2, [4, 2], out_activation=None, seed=3)
        opt = optim.SGD(model.parameters(), lr=0.1)
        with pytest.raises(DomainError, match="5"):
            with make_step(kind, model, losses.softmax_cross_entropy, opt) as step:
                step.run(X, bad)


def test_make_step_names_the_kinds():
    model = MLP(2, [3, 1])
    opt = optim.SGD(model.parameters())
    kinds = {"built": BuiltStep, "per_sample": PerSampleStep, "replayed": ReplayedStep}
    for kind, cls in kinds.items():
        assert type(make_step(kind, model, losses.mse, opt)) is cls
    with pytest.raises(ArgumentError, match="'replayed', 'built' or 'per_sample'"):
        make_step("fast", model, losses.mse, opt)


# ---------------------------------------------------------------- BLAS threads


def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """BLAS on two threads for the test (so that one thread is visible), restored after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl controls")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield


@pytest.mark.parametrize("first_out", ["first_in", "second_in"])
def test_overlapping_limits_restore_the_original_whatever_the_order(two_blas_threads, first_out):
    from micrograd_mlp.core.blas_threads import single_threaded_blas
    before = _blas_threads()
    assert all(n == 2 for n in before)
    inside, leave = {}, {name: threading.Event() for name in ("first_in", "second_in")}
    entered = {name: threading.Event() for name in leave}

    def user(name):
        with single_threaded_blas():
            entered[name].set()
            leave[name].wait(10)
            inside[name] = _blas_threads()

    threads = {name: threading.Thread(target=user, args=(name,)) for name in leave}
    threads["first_in"].start()
    assert entered["first_in"].wait(10)
    threads["second_in"].start()
    assert entered["second_in"].wait(10)
    second_out = "second_in" if first_out == "first_in" else "first_in"
    leave[first_out].set()
    threads[first_out].join(10)
    assert all(n == 1 for n in _blas_threads())  # the other one still runs: still one thread
    leave[second_out].set()
    threads[second_out].join(10)
    assert all(n == 1 for n in inside["first_in"] + inside["second_in"])
    assert _blas_threads() == before


def test_two_overlapping_fits_leave_blas_as_it_was(two_blas_threads):
    """Two replayed fits in threads, the second starting inside the first and the first
    ending first: the process keeps its BLAS threads after both."""
    before = _blas_threads()
    X, y = _data(16)
    go_on, second_started = threading.Event(), threading.Event()
    errors = []

    def first():
        def wait_for_second(epoch, logs):
            if epoch == 1:
                go_on.wait(10)
        try:
            fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False,
                callbacks=[wait_for_second])
        except Exception as e:  # reported below: a thread's error is not the test's
            errors.append(e)

    def second():
        def hold(epoch, logs):
            if epoch == 1:
                second_started.set()
                finished_first.wait(10)
        try:
            fit(MLP(2, [3, 1], seed=1), X, y, epochs=2, progress=False, callbacks=[hold])
        except Exception as e:
            errors.append(e)

    finished_first = threading.Event()
    t1 = threading.Thread(target=first)
    t1.start()
    t2 = threading.Thread(target=second)
    t2.start()
    assert second_started.wait(10)
    go_on.set()
    t1.join(10)
    finished_first.set()
    t2.join(10)
    assert errors == []
    assert _blas_threads() == before
