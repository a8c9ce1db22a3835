"""Replay refuses exactly what the built graph refuses, and computes what it computes.

The reference is always the same step built node by node (``model(X)``, the loss,
``backward()``). Each case runs both on the same batch and requires the same outcome:
the same numbers (to 1e-12, NaN where NaN) or the same error class.
"""
import numpy as np
import pytest

from micrograd_mlp import MLP, activations, losses
from micrograd_mlp.errors import MicrogradError
from micrograd_mlp.nets.compiled_step import compile_step
from micrograd_mlp.nets.replay_heads import BuiltHead, RecordedHead
from micrograd_mlp.nets.replay_programs import GraphProgram, LayerProgram

TOL = 1e-12


def built(model, loss_fn, X, y):
    """``(loss, grads)`` of the freshly built graph, or the error it raises."""
    for p in model.parameters():
        p.grad = 0.0
    try:
        loss = loss_fn(model(X), y)
        if isinstance(loss.data, np.ndarray):
            loss = loss.mean()
        loss.backward()
    except Exception as err:  # noqa: BLE001 - the class is the outcome compared
        return err
    return loss.data, np.array([p.grad for p in model.parameters()])


def replayed(step, X, y):
    try:
        return step(X, y, accumulate=False)
    except Exception as err:  # noqa: BLE001
        return err


def same_outcome(a, b):
    if isinstance(a, Exception) or isinstance(b, Exception):
        assert type(a) is type(b), f"replay gave {a!r}, the built graph {b!r}"
        assert isinstance(a, MicrogradError), f"not an error of the library: {a!r}"
        return
    for x, y in zip(a, b):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        assert np.array_equal(np.isnan(x), np.isnan(y))
        ok = ~np.isnan(y)
        assert np.all(np.abs(x[ok] - y[ok]) <= TOL * (1.0 + np.abs(y[ok])))


def bce_after_sigmoid(pred, y):
    return losses.binary_cross_entropy(activations.sigmoid(pred) if not isinstance(pred, list)
                                       else [activations.sigmoid(p) for p in pred], y)


def with_l2(model):
    def loss_fn(pred, y):
        return losses.mse(pred, y) + losses.l2(model, 0.3, 10)
    return loss_fn


def targets_for(loss, rng, B, k):
    if loss == "ce_int":
        return rng.integers(0, k, size=B)
    if loss == "ce_onehot":
        return np.eye(k)[rng.integers(0, k, size=B)]
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], size=(B, k) if k > 1 else B)
    if loss in ("bce", "bce_logits"):
        return rng.integers(0, 2, size=(B, k) if k > 1 else B).astype(float)
    return rng.normal(size=(B, k) if k > 1 else B)


LOSSES = {
    "mse": lambda m: losses.mse,
    "squared_error": lambda m: losses.squared_error,
    "bce": lambda m: bce_after_sigmoid,
    "bce_logits": lambda m: losses.binary_cross_entropy_with_logits,
    "ce_int": lambda m: losses.softmax_cross_entropy,
    "ce_onehot": lambda m: losses.softmax_cross_entropy,
    "hinge": lambda m: losses.hinge,
    "mse+l2": with_l2,
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
def test_every_loss_equals_the_built_graph_step_after_step(loss, act):
    k = 3
    rng = np.random.default_rng(hash((loss, act)) % 2**32)
    model = MLP(4, [6, 5, k], activation=[act, act, None], seed=1)
    loss_fn = LOSSES[loss](model)
    step = compile_step(model, loss_fn)
    for B in (9, 4, 9):
        X = rng.normal(size=(B, 4))
        y = targets_for(loss, rng, B, k)
        ref = built(model, loss_fn, X, y)
        out = replayed(step, X, y)
        same_outcome(out, ref)
        assert not isinstance(out, Exception)
        for p, g in zip(model.parameters(), out[1]):   # a step of SGD: the next batch
            p.data -= 0.1 * g                          # sees other parameters
    assert isinstance(step.program, LayerProgram)


@pytest.mark.parametrize("nin,sizes,loss,B", [
    (2, [16, 16, 1], "mse", 10),
    (64, [64, 64, 10], "ce_int", 6),
    (64, [256, 256, 10], "ce_int", 3),
    (784, [128, 128, 10], "ce_int", 2),
    (3072, [100, 10], "ce_int", 2),
])
def test_the_benchmark_networks_equal_the_built_graph(nin, sizes, loss, B):
    """Every row of the scaling benchmark (its batch scaled down; the row with a batch
    of 2048 is the third network)."""
    rng = np.random.default_rng(nin)
    model = MLP(nin, sizes, activation=["relu"] * (len(sizes) - 1) + [None], seed=0)
    loss_fn = LOSSES[loss](model)
    X = rng.normal(size=(B, nin))
    y = targets_for(loss, rng, B, sizes[-1])
    step = compile_step(model, loss_fn, X[:1])   # recorded from one sample
    same_outcome(replayed(step, X, y), built(model, loss_fn, X, y))


def test_a_model_that_is_not_a_layer_stack_replays_its_one_sample_graph():
    class Doubled(MLP):
        def forward(self, x):
            return [2.0 * o for o in super().forward(x)]

    rng = np.random.default_rng(3)
    model = Doubled(3, [4, 2], activation=["tanh", None], seed=2)
    step = compile_step(model, losses.softmax_cross_entropy)
    for B in (5, 1, 8):
        X, y = rng.normal(size=(B, 3)), rng.integers(0, 2, size=B)
        same_outcome(replayed(step, X, y), built(model, losses.softmax_cross_entropy, X, y))
    assert isinstance(step.program, GraphProgram)


def test_the_loss_part_is_recorded_only_for_losses_checked_by_their_target_rule():
    model = MLP(2, [3, 2], activation=["relu", None], seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 2))
    for loss_fn, y, kind in [(losses.softmax_cross_entropy, rng.integers(0, 2, 6), RecordedHead),
                             (losses.mse, rng.normal(size=(6, 2)), RecordedHead),
                             (losses.hinge, np.ones((6, 2)), BuiltHead),
                             (losses.binary_cross_entropy_with_logits, np.ones((6, 2)), BuiltHead)]:
        step = compile_step(model, loss_fn)
        step(X, y)
        step(X, y)
        assert isinstance(step.head.head_of(6), kind)


# ---------------------------------------------------------------- corrupted batches


def corrupt(rng, X, y, loss):
    """One random corruption of a batch: a NaN or an infinity in X, a target out of the
    loss's domain, a NaN target, a label out of range, a wrong shape or dtype."""
    X, y = X.copy(), np.array(y, copy=True)
    kind = rng.integers(0, 8)
    i = rng.integers(0, X.shape[0])
    if kind == 0:
        X[i, rng.integers(0, X.shape[1])] = np.nan
    elif kind == 1:
        X[i, 0] = rng.choice([np.inf, -np.inf])
    elif kind == 2:   # out of the domain: probabilities, hinge labels, class indices
        if y.dtype.kind in "iu":
            y[i] = rng.choice([-1, 3, 7])
        else:
            y = y.astype(float)
            y.flat[rng.integers(0, y.size)] = rng.choice([3.5, -0.5, 0.0, 2.0])
    elif kind == 3 and y.dtype.kind == "f":
        y.flat[rng.integers(0, y.size)] = np.nan
    elif kind == 4:
        y = y[:-1]                                   # one target short
    elif kind == 5:
        X = X[:, :-1]                                # one input column short
    elif kind == 6:
        y = np.stack([y, y], axis=-1) if y.ndim == 1 else y[:, :1]   # wrong width
    else:
        y = y.astype(str)                            # not numbers
    return X, y


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_corrupted_batches_give_the_same_outcome_as_the_built_graph(loss):
    k = 2
    rng = np.random.default_rng(sum(map(ord, loss)))
    model = MLP(3, [4, k], activation=["tanh", None], seed=5)
    loss_fn = LOSSES[loss](model)
    step = compile_step(model, loss_fn)
    outcomes = set()
    for trial in range(25):
        B = int(rng.integers(2, 7))
        X = rng.normal(size=(B, 3))
        y = targets_for(loss, rng, B, k)
        same_outcome(replayed(step, X, y), built(model, loss_fn, X, y))   # a clean batch
        Xc, yc = corrupt(rng, X, y, loss)
        ref = built(model, loss_fn, Xc, yc)
        same_outcome(replayed(step, Xc, yc), ref)
        outcomes.add(type(ref).__name__ if isinstance(ref, Exception) else
                     "nan" if np.isnan(ref[0]) else "number")
    # the corruptions reach both refusals and numbers (NaN included)
    assert "ShapeError" in outcomes and outcomes & {"nan", "number"}, outcomes
    assert len(outcomes) >= 3, outcomes


@pytest.mark.parametrize("loss,bad", [("bce", 3.5), ("hinge", 0.0), ("bce_with_logits", -0.5)])
def test_fit_refuses_a_bad_later_batch_as_without_replay(loss, bad):
    """Issue 12: the second batch holds a target outside the loss's domain."""
    from micrograd_mlp.nets.train import fit

    X = np.array([[0.1, 0.2], [0.3, -0.1], [0.5, 0.5], [-0.2, 0.4]])
    y = np.array([1.0, 0.0, bad, 1.0]) if loss != "hinge" else np.array([1.0, -1.0, bad, 1.0])
    errors = []
    for rep in (True, False):
        model = MLP(2, [3, 1], activation=["tanh", "sigmoid" if loss == "bce" else None], seed=0)
        with pytest.raises(MicrogradError) as info:
            fit(model, X, y, loss=loss, batch_size=2, epochs=2, shuffle=False, progress=False,
                metrics=(), replay=rep)
        errors.append(type(info.value))
    assert errors[0] is errors[1]


def test_compiled_step_refuses_a_bad_prediction_probability_like_the_built_graph():
    """binary_cross_entropy checks its predictions (not only its targets): a linear
    output above 1 is refused by replay as by the built graph."""
    model = MLP(2, [1], activation=None, seed=0)
    for p in model.parameters():
        p.data = 2.0
    X, y = np.array([[1.0, 1.0], [0.0, 0.1]]), np.array([1.0, 0.0])
    ref = built(model, losses.binary_cross_entropy, X, y)
    assert isinstance(ref, MicrogradError)
    same_outcome(replayed(compile_step(model, losses.binary_cross_entropy), X, y), ref)


def test_an_activation_with_a_domain_check_is_checked_on_every_batch():
    """A one-primitive activation (log) runs that primitive's own check in replay: a
    batch with a non-positive pre-activation is refused as by the built graph."""
    def log_act(v):
        return v.log()

    model = MLP(2, [3, 1], activation=[log_act, None], seed=0)
    for n in model.layers[0].neurons:
        for w in n.w:
            w.data = abs(w.data)
    step = compile_step(model, losses.mse)
    good = np.array([[1.0, 2.0], [0.5, 0.25]]), np.array([0.1, 0.2])
    bad = np.array([[1.0, 2.0], [-3.0, -1.0]]), np.array([0.1, 0.2])
    same_outcome(replayed(step, *good), built(model, losses.mse, *good))
    ref = built(model, losses.mse, *bad)
    assert isinstance(ref, MicrogradError)
    same_outcome(replayed(step, *bad), ref)
    assert step.program.plans[0].prim is not None     # run as one primitive


@pytest.mark.parametrize("first_classes", [[0, 1, 2, 3], [0, 1, 1, 0]])
def test_the_loss_recording_reads_the_right_target_columns_whichever_classes_come_first(
        first_classes):
    """The loss part is recorded from the first batch's built loss when each of its
    constants is one class's column, else (a class absent from the first batch, its
    column all zeros like another's) from stand-in targets; the later batches, with
    every class, give the built graph's numbers either way."""
    rng = np.random.default_rng(len(set(first_classes)))
    model = MLP(3, [5, 4], activation=["relu", None], seed=2)
    step = compile_step(model, losses.softmax_cross_entropy)
    ys = [np.array(first_classes), np.array([3, 2, 1, 0]), np.array([2, 2, 3, 1])]
    for y in ys:
        X = rng.normal(size=(4, 3))
        same_outcome(replayed(step, X, y), built(model, losses.softmax_cross_entropy, X, y))
    head = step.head.head_of(4)
    assert isinstance(head, RecordedHead)
    assert sorted({arg for _, arg in head.recipes}) == [0, 1, 2, 3]
