"""fit(callbacks=[...]): what a callback receives, how it stops training, and
EarlyStopping with Keras's meaning (patience, min_delta, baseline, mode, restoring the
best weights), on the built graph and on replay."""
import numpy as np
import pytest

from micrograd_mlp import MLP, fit
from micrograd_mlp.errors import ArgumentError, DataTypeError
from micrograd_mlp.nets.callbacks import Callback, EarlyStopping, LambdaCallback
from micrograd_mlp.nets.optim import SGD
from micrograd_mlp.nets.lr_scheduler import ExponentialLR
from micrograd_mlp.nets.train import predict


def xor_like(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(float)


def keras_stop_epoch(values, patience, min_delta=0.0, mode="min", baseline=None, start=0):
    """Keras's EarlyStopping rule written out on a list of monitored values (epochs
    counted from 1 here); returns (stopped epoch or 0, best epoch)."""
    sign = 1.0 if mode == "min" else -1.0
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, v in enumerate(values, start=1):
        if epoch <= start:
            continue
        best_epoch = best_epoch or epoch
        wait += 1
        if sign * v < best - min_delta:
            best, best_epoch = sign * v, epoch
            if baseline is None or sign * v < sign * baseline - min_delta:
                wait = 0
            continue
        if wait >= patience and epoch > 1:
            return epoch, best_epoch
    return 0, best_epoch


class Model:
    """A stand-in model with two parameters, for driving EarlyStopping by hand."""

    class P:
        def __init__(self, v):
            self.data = v

    def __init__(self):
        self.ps = [self.P(0.0), self.P(0.0)]

    def parameters(self):
        return self.ps


def drive(stopper, values, key="val_loss"):
    model = Model()
    stopper.set_model(model)
    stopper.on_train_begin({})
    for epoch, v in enumerate(values, start=1):
        for p in model.ps:
            p.data = float(epoch)  # the weights "of epoch k" are k
        if stopper.on_epoch_end(epoch, {key: v}):
            return epoch, model
    return 0, model


SEQUENCES = [
    [5, 4, 4.5, 4.2, 3.9, 4.0, 4.1, 4.0, 3.95, 3.8],
    [1.0, 0.9, 0.85, 0.84, 0.835, 0.834, 0.8339, 0.8338, 0.7, 0.69],
    [3, 3, 3, 3, 3],
    [2, 1, float("nan"), 0.5, 0.6, 0.7, 0.8],
]


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize("patience, min_delta", [(0, 0.0), (1, 0.0), (2, 0.0), (2, 0.01), (3, 0.05)])
def test_early_stopping_follows_keras_rule(values, patience, min_delta):
    want, want_best = keras_stop_epoch(values, patience, min_delta)
    stopper = EarlyStopping(patience=patience, min_delta=min_delta, restore_best_weights=True)
    got, model = drive(stopper, values)
    assert got == want
    assert stopper.stopped_epoch == want
    if want:
        assert stopper.best_epoch == want_best
        assert [p.data for p in model.ps] == [float(want_best)] * 2  # restored
        assert "weights restored from epoch" in stopper.stop_reason


def test_early_stopping_by_hand():
    # best 5 then 4 (epoch 2); 4.5 and 4.2 do not improve: patience 2 is used up at epoch 4
    stopper = EarlyStopping(patience=2)
    assert drive(stopper, SEQUENCES[0])[0] == 4 and stopper.best_epoch == 2
    # with min_delta 0.15, 3.9 (epoch 5) is no improvement on 4 either
    assert drive(EarlyStopping(patience=3, min_delta=0.15), SEQUENCES[0])[0] == 5
    assert drive(EarlyStopping(patience=3), SEQUENCES[0])[0] == 8


def test_early_stopping_mode_baseline_and_start():
    acc = [0.5, 0.6, 0.6, 0.6, 0.7]
    got, _ = drive(EarlyStopping(monitor="val_accuracy", patience=2), acc, key="val_accuracy")
    assert got == 4  # "auto" reads an accuracy as higher-is-better
    got, _ = drive(EarlyStopping(monitor="val_accuracy", patience=2, mode="min"), acc,
                   key="val_accuracy")
    assert got == 3
    # improvements that miss the baseline do not reset the count
    values = [1.0, 0.9, 0.8, 0.7, 0.6]
    assert drive(EarlyStopping(patience=2, baseline=0.5), values)[0] == 0  # improving: never stops
    assert keras_stop_epoch([1.0, 1.0, 1.0], 2, baseline=0.5)[0] == drive(
        EarlyStopping(patience=2, baseline=0.5), [1.0, 1.0, 1.0])[0] == 2
    # the first epochs are not counted
    assert drive(EarlyStopping(patience=1, start_from_epoch=3), [3, 3, 3, 3, 3, 3])[0] == 5


def test_without_improvement_the_first_weights_come_back():
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    got, model = drive(stopper, [1.0, 1.0, 1.0, 1.0])
    assert got == 3 and stopper.best_epoch == 1
    assert [p.data for p in model.ps] == [1.0, 1.0]


def test_bad_early_stopping_arguments():
    with pytest.raises(ArgumentError):
        EarlyStopping(patience=-1)
    with pytest.raises(ArgumentError):
        EarlyStopping(mode="lower")
    with pytest.raises(DataTypeError):
        EarlyStopping(monitor=None)
    with pytest.raises(ArgumentError):
        EarlyStopping(min_delta=float("nan"))


# ---------------------------------------------------------------- inside fit


def test_callback_sees_every_epoch_with_its_logs():
    X, y = xor_like()
    seen = []
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.5)
    h = fit(model, X, y, loss="bce", optimizer=opt, epochs=6, progress=False,
            validation=(X[:8], y[:8]), scheduler=lambda o: ExponentialLR(o, 0.5),
            callbacks=[lambda epoch, logs: seen.append((epoch, logs))])
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert set(seen[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    for k, (_, logs) in enumerate(seen):
        assert logs["loss"] == h.loss[k] and logs["val_loss"] == h.val_loss[k]
        assert logs["accuracy"] == h.metrics["accuracy"][k]
        assert logs["lr"] == pytest.approx(0.5 * 0.5 ** k, rel=1e-15)


@pytest.mark.parametrize("how", ["return", "flag"])
def test_a_callback_stops_training(how):
    X, y = xor_like()

    class StopAt3(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                if how == "flag":
                    self.stop_training = True
                    return None
                return True

    cb = StopAt3()
    h = fit(MLP(2, [3, 1], seed=0), X, y, loss="mse", epochs=50, progress=False, callbacks=[cb])
    assert h.epochs == 3 and h.stopped_early
    assert "StopAt3" in h.stop_reason
    # the flag is reset for the next fit, as Keras resets model.stop_training
    h2 = fit(MLP(2, [3, 1], seed=0), X, y, loss="mse", epochs=2, progress=False,
             callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: None)])
    assert h2.epochs == 2 and not h2.stopped_early


@pytest.mark.parametrize("replay", [True, False])
def test_callbacks_read_the_epochs_parameters(replay):
    """On replay the parameters live in a vector between steps: a callback must still
    read each epoch's final values (those the built graph has)."""
    X, y = xor_like()
    got = []
    model = MLP(2, [3, 1], seed=2)
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.3), epochs=5,
        batch_size=6, seed=1, progress=False, replay=replay,
        callbacks=[lambda e, logs: got.append(np.concatenate(model.get_parameters()[0][0]))])
    want = []
    for epochs in range(1, 6):  # fresh runs of 1..5 epochs, same shuffling seed
        m = MLP(2, [3, 1], seed=2)
        fit(m, X, y, loss="mse", optimizer=SGD(m.parameters(), lr=0.3), epochs=epochs,
            batch_size=6, seed=1, progress=False, replay=False)
        want.append(np.concatenate(m.get_parameters()[0][0]))
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=0, atol=1e-12)


@pytest.mark.parametrize("replay", [True, False])
def test_early_stopping_in_fit_restores_the_best_validation_weights(replay):
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(12, 1))
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.normal(size=12)   # few noisy points: it overfits
    Xv = np.linspace(-1, 1, 40).reshape(-1, 1)
    yv = np.sin(3 * Xv[:, 0])
    snapshots = []
    model = MLP(1, [16, 1], activation="tanh", out_activation=None, seed=0)
    stopper = EarlyStopping(patience=15, min_delta=1e-4, restore_best_weights=True)
    h = fit(model, X, y, loss="mse", optimizer="adam", lr=0.05, epochs=3000, progress=False,
            validation=(Xv, yv), replay=replay,
            callbacks=[lambda e, logs: snapshots.append([p.data for p in model.parameters()]),
                       stopper])
    want, best = keras_stop_epoch(h.val_loss, 15, 1e-4)
    assert h.stopped_early and want == h.epochs == stopper.stopped_epoch < 3000
    assert stopper.best_epoch == best
    assert [p.data for p in model.parameters()] == snapshots[best - 1]
    # the restored model's validation loss, measured with numpy, is the best epoch's
    mse = np.mean((predict(model, Xv) - yv) ** 2)
    assert mse == pytest.approx(h.val_loss[best - 1], rel=1e-12)
    assert "EarlyStopping" in h.stop_reason and f"epoch {best}" in h.stop_reason


def test_early_stopping_without_validation_says_what_to_pass():
    X, y = xor_like()
    with pytest.raises(ArgumentError, match="validation="):
        fit(MLP(2, [1], seed=0), X, y, epochs=3, progress=False,
            callbacks=[EarlyStopping()])


def test_a_callback_must_be_usable():
    X, y = xor_like()
    with pytest.raises(DataTypeError):
        fit(MLP(2, [1], seed=0), X, y, epochs=1, progress=False, callbacks=[42])
