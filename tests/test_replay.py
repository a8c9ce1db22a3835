"""Replay (micrograd_mlp.replay) must give what a freshly built graph gives.

Reference: the same step built node by node and run with ``backward()`` (itself checked
against finite differences and torch in test_engine.py). Tolerance 1e-12 (replay adds in
another order: matrix products instead of a chain of sums).
"""
import numpy as np
import pytest

from micrograd_mlp import MLP, Value, losses, max_values, sum_values, where

from micrograd_mlp.nets import compiled_step
from micrograd_mlp.errors import DomainError, ShapeError
from micrograd_mlp.core.recorder import Recorded
from micrograd_mlp.nets.compiled_step import compile_step

TOL = 1e-12


def fresh(model, loss_fn, X, y):
    """Loss and parameter gradients of a freshly built graph."""
    for p in model.parameters():
        p.grad = 0.0
    loss = loss_fn(model(X), y)
    loss.backward()
    return loss.data, np.array([p.grad for p in model.parameters()])


def sgd(model, grads, lr):
    for p, g in zip(model.parameters(), grads):
        p.data = p.data - lr * g


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b) / (1.0 + np.abs(b))) <= TOL


def moons(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    return X, y


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "gelu", "prelu"])
def test_mse_steps_equal_fresh_graph(act):
    model = MLP(2, [6, 5, 1], activation=act, seed=3)
    step = compile_step(model, losses.mse)
    for t in range(3):
        X, y = moons(17, t)
        ref_loss, ref_grads = fresh(model, losses.mse, X, y)
        model.zero_grad()
        loss, grads = step(X, y)
        assert close(loss, ref_loss)
        assert close(grads, ref_grads)
        # and written into .grad like backward() does
        assert close([p.grad for p in model.parameters()], ref_grads)
        sgd(model, grads, 0.3)


def test_binary_cross_entropy_and_l2():
    model = MLP(2, [5, 1], activation="tanh", seed=0)
    # the last layer must end in a sigmoid for BCE; compose it in the loss
    from micrograd_mlp import activations

    def loss_fn(pred, y):
        p = activations.sigmoid(pred)
        return losses.binary_cross_entropy(p, y) + losses.l2(model, 0.1, 20)

    step = compile_step(model, loss_fn)
    for t in range(3):
        X, y = moons(20, 10 + t)
        ref_loss, ref_grads = fresh(model, loss_fn, X, y)
        model.zero_grad()
        loss, grads = step(X, y)
        assert close(loss, ref_loss) and close(grads, ref_grads)
        sgd(model, grads, 0.5)


def test_softmax_cross_entropy_integer_labels_change_every_step():
    """The loss turns integer labels into one-hot constants: they must follow the batch."""
    model = MLP(4, [7, 3], activation=["relu", None], seed=1)
    step = compile_step(model, losses.softmax_cross_entropy)
    rng = np.random.default_rng(5)
    for t in range(3):
        X = rng.normal(size=(12, 4))
        y = rng.integers(0, 3, size=12)
        ref_loss, ref_grads = fresh(model, losses.softmax_cross_entropy, X, y)
        model.zero_grad()
        loss, grads = step(X, y)
        assert close(loss, ref_loss) and close(grads, ref_grads)
        sgd(model, grads, 0.2)


def test_loss_constants_rebuilt_when_not_a_column_of_y():
    """A target transformed inside the loss (here 2y - 1) is refreshed by rebuilding the
    loss part on stand-in predictions."""
    model = MLP(2, [4, 1], activation="tanh", seed=2)

    def loss_fn(pred, y):
        return losses.mse(pred, 2.0 * np.asarray(y) - 1.0)

    step = compile_step(model, loss_fn)
    for t in range(2):
        X, y = moons(9, 20 + t)
        ref_loss, ref_grads = fresh(model, loss_fn, X, y)
        model.zero_grad()
        loss, grads = step(X, y)
        assert close(loss, ref_loss) and close(grads, ref_grads)


def test_one_recording_serves_every_batch_size():
    model = MLP(2, [3, 1], activation="sigmoid", seed=4)
    step = compile_step(model, losses.mse)
    program = None
    for n in (8, 5, 1, 8):
        X, y = moons(n, n)
        ref_loss, ref_grads = fresh(model, losses.mse, X, y)
        model.zero_grad()
        loss, grads = step(X, y)
        assert close(loss, ref_loss) and close(grads, ref_grads)
        program = program or step.program
        assert step.program is program          # recorded once


def test_recorded_graph_replays_other_batch_sizes_and_refuses_ragged_inputs():
    x = Value(np.arange(1.0, 4.0), requires_grad=False)
    z = Value(np.ones(3), requires_grad=False)
    w = Value(0.5, "w")
    rec = Recorded((w * x * z).sum(), [w], [x, z])
    x4 = np.array([1.0, -2.0, 3.0, 0.5])
    loss, grads = rec.run([x4, np.full(4, 2.0)], accumulate=False)
    assert loss == pytest.approx(0.5 * 2 * x4.sum(), rel=1e-15)
    assert grads[0] == pytest.approx(2 * x4.sum(), rel=1e-15)
    with pytest.raises(ShapeError, match="batch sizes differ"):
        rec.run([np.ones(4), np.ones(5)])
    with pytest.raises(ShapeError, match="1-D"):
        rec.run([np.ones((4, 1)), np.ones(4)])


def test_general_graph_shared_nodes_and_many_primitives():
    """Not an MLP: nodes used twice, scalar-only parts, max, where, div, log, powers."""
    rng = np.random.default_rng(0)
    a, b, c = (Value(float(v), n) for v, n in zip(rng.normal(size=3), "abc"))
    x = Value(rng.normal(size=6), "x", requires_grad=False)
    z = Value(rng.uniform(0.5, 2.0, size=6), "z", requires_grad=False)

    def build(xd, zd):
        x.data, z.data = xd, zd
        u = a * x + b            # a, b scalar beside a batch
        v = u * u + (c * c)      # u used twice, c*c scalar-only
        w = max_values([u, v, x]) / (z + 1.0)
        q = where(u, w.exp(), (-w).tanh())
        r = (v + 1.0).log() + q ** 2 + abs(u) + u.relu() + (a ** c.abs())
        s = sum_values([r, u, v, c])
        return s.mean() + (a * b).tanh()

    root = build(x.data, z.data)
    rec = Recorded(root, [a, b, c], [x, z])
    for t in range(3):
        xd, zd = rng.normal(size=6), rng.uniform(0.5, 2.0, size=6)
        for p in (a, b, c):
            p.grad = 0.0
        ref = build(xd, zd)
        ref.backward()
        ref_grads = [a.grad, b.grad, c.grad]
        loss, grads = rec.run([xd, zd], accumulate=False)
        assert close(loss, ref.data)
        assert close(grads, ref_grads)
        for p in (a, b, c):
            p.data = p.data - 0.01 * p.grad


def test_domain_error_on_replay():
    x = Value(np.array([1.0, 2.0]), requires_grad=False)
    w = Value(1.0, "w")
    rec = Recorded((w * x).log().sum(), [w], [x])
    with pytest.raises(DomainError, match="log"):
        rec.run([np.array([1.0, -2.0])])


def test_matches_torch_float64():
    torch = pytest.importorskip("torch")
    model = MLP(3, [4, 2], activation=["tanh", None], seed=7)
    X = np.random.default_rng(1).normal(size=(10, 3))
    y = np.random.default_rng(2).normal(size=(10, 2))
    loss, grads = compile_step(model, losses.mse)(X, y)
    tm = model.to_torch().double()
    tl = torch.nn.functional.mse_loss(tm(torch.tensor(X)), torch.tensor(y))
    tl.backward()
    tg = []
    for layer in tm:
        if isinstance(layer, torch.nn.Linear):
            tg.append(np.concatenate([layer.weight.grad.numpy(), layer.bias.grad.numpy()[:, None]], axis=1).ravel())
    assert abs(loss - tl.item()) < 1e-12
    assert np.allclose(np.sort(grads), np.sort(np.concatenate(tg)), rtol=1e-10, atol=1e-13)


def test_train_step_twin_of_train_train_step():
    """compiled_step.replayed_train_step gives the loss, predictions and updated parameters of
    train.train_step (lockstep graph), step after step, for a 3-class softmax model."""
    from micrograd_mlp import optim
    from micrograd_mlp.nets import train

    rng = np.random.default_rng(3)
    X = rng.normal(size=(15, 4))
    y = rng.integers(0, 3, size=15)
    m_ref = MLP(4, [5, 3], activation=["tanh", None], seed=0)
    m_rep = MLP(4, [5, 3], activation=["tanh", None], seed=0)
    o_ref = optim.SGD(m_ref.parameters(), lr=0.3, momentum=0.9)
    o_rep = optim.SGD(m_rep.parameters(), lr=0.3, momentum=0.9)
    step = compile_step(m_rep, losses.softmax_cross_entropy)
    for _ in range(3):
        v_ref, p_ref = train.train_step(m_ref, X, y, losses.softmax_cross_entropy, o_ref)
        v_rep, p_rep = compiled_step.replayed_train_step(step, X, y, o_rep)
        assert close(v_rep, v_ref) and close(p_rep, p_ref)
    assert close([p.data for p in m_rep.parameters()], [p.data for p in m_ref.parameters()])


@pytest.mark.parametrize("loss,batch_size", [("mse", None), ("softmax_cross_entropy", 8)])
def test_fit_with_replay_equals_fit_without(loss, batch_size):
    from micrograd_mlp.nets.train import fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    nout = 1 if loss == "mse" else 3
    y = rng.normal(size=20) if loss == "mse" else rng.integers(0, 3, size=20)
    runs = []
    for replay in (True, False):
        model = MLP(3, [4, nout], activation=["sigmoid", None], seed=1)
        h = fit(model, X, y, loss=loss, lr=0.1, epochs=4, batch_size=batch_size, seed=0,
                progress=False, replay=replay)
        runs.append((h.loss, [p.data for p in model.parameters()]))
    assert close(runs[0][0], runs[1][0]) and close(runs[0][1], runs[1][1])


# ---------------------------------------------------------------- the fast paths


def test_regular_views_equal_fancy_indexing():
    """Slots on a regular grid (ascending or descending, strided, 2-D) are read through a
    view equal to fancy indexing, and writes through it land in the same entries;
    irregular or repeated slots give no view."""
    from micrograd_mlp.core.recorder_groups import Ref as _Ref, regular_view as _regular_view

    buf = np.arange(60.0).reshape(30, 2)
    for idx in ([3, 4, 5], [9, 6, 3, 0], [[1, 2], [4, 5], [7, 8]], [[20, 19], [10, 9]], [7]):
        idx = np.array(idx)
        view = _regular_view(buf, idx)
        assert view is not None and np.array_equal(view, buf[idx])
        mine, ref = buf.copy(), buf.copy()
        r = _Ref(mine, idx)
        r.add(np.ones(idx.shape + (2,)))
        np.add.at(ref, idx, 1.0)
        assert np.array_equal(mine, ref)
    for idx in ([1, 2, 4], [3, 3], [[0, 1], [5, 7]]):
        assert _regular_view(buf, np.array(idx)) is None


def test_repeated_slots_accumulate():
    from micrograd_mlp.core.recorder_groups import Ref as _Ref

    G = np.zeros((5, 3))
    idx = np.array([[4, 1], [1, 4], [2, 4]])
    c = np.random.default_rng(0).normal(size=(3, 2, 3))
    _Ref(G, idx).add(c)
    ref = np.zeros((5, 3))
    np.add.at(ref, idx, c)
    assert np.allclose(G, ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name,kwargs", [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(lr=0.1, maximize=True)),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
])
def test_vector_step_identical_to_value_step(name, kwargs):
    """optimizer.step(grad, theta) (vectors handed in, as replayed training does) gives
    exactly the numbers of step() reading the Values, step after step."""
    rng = np.random.default_rng(0)
    a = [Value(float(v)) for v in rng.normal(size=7)]
    b = [Value(p.data) for p in a]
    from micrograd_mlp import optim

    oa, ob = optim.optimizer_named(name, a, **kwargs), optim.optimizer_named(name, b, **kwargs)
    for _ in range(4):
        g = rng.normal(size=7)
        for p, gi in zip(a, g):
            p.grad = float(gi)
        oa.step()
        ob.step(g, np.array([p.data for p in b]))
        assert [p.data for p in a] == [p.data for p in b]


def test_vector_step_checks_shapes():
    from micrograd_mlp import optim

    opt = optim.SGD([Value(1.0), Value(2.0)], lr=0.1)
    with pytest.raises(ShapeError, match="grad must have shape"):
        opt.step(np.zeros(3), np.zeros(2))


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_replayed_train_step_with_optimiser_vectors_equals_train_step(opt_name):
    """compiled_step.replayed_train_step hands the vectors to the optimiser: same losses and parameters
    as train.train_step, and .grad holds the last gradient as after backward()."""
    from micrograd_mlp import optim
    from micrograd_mlp.nets import train

    rng = np.random.default_rng(4)
    m_ref = MLP(3, [6, 6, 1], activation=["relu", "tanh", None], seed=2)
    m_rep = MLP(3, [6, 6, 1], activation=["relu", "tanh", None], seed=2)
    o_ref = optim.optimizer_named(opt_name, m_ref.parameters(), lr=0.05)
    o_rep = optim.optimizer_named(opt_name, m_rep.parameters(), lr=0.05)
    step = compile_step(m_rep, losses.mse)
    for _ in range(4):
        X, y = rng.normal(size=(11, 3)), rng.normal(size=11)
        v_ref, p_ref = train.train_step(m_ref, X, y, losses.mse, o_ref)
        v_rep, p_rep = compiled_step.replayed_train_step(step, X, y, o_rep)
        assert close(v_rep, v_ref) and close(p_rep, p_ref)
        assert close([p.grad for p in m_rep.parameters()], [p.grad for p in m_ref.parameters()])
    assert close([p.data for p in m_rep.parameters()], [p.data for p in m_ref.parameters()])


def test_replayed_train_step_with_a_foreign_optimiser_order():
    """An optimiser over the parameters in another order takes the Value path: still right."""
    from micrograd_mlp import optim
    from micrograd_mlp.nets import train

    rng = np.random.default_rng(5)
    m_ref = MLP(2, [4, 1], activation="tanh", seed=1)
    m_rep = MLP(2, [4, 1], activation="tanh", seed=1)
    o_ref = optim.SGD(m_ref.parameters()[::-1], lr=0.2, momentum=0.5)
    o_rep = optim.SGD(m_rep.parameters()[::-1], lr=0.2, momentum=0.5)
    step = compile_step(m_rep, losses.mse)
    for _ in range(3):
        X, y = rng.normal(size=(9, 2)), rng.normal(size=9)
        train.train_step(m_ref, X, y, losses.mse, o_ref)
        compiled_step.replayed_train_step(step, X, y, o_rep)
    assert close([p.data for p in m_rep.parameters()], [p.data for p in m_ref.parameters()])


def test_unsynced_steps_keep_parameters_as_a_vector_until_sync():
    """train_step(sync=False) leaves the Values alone; sync() (or a plain step call)
    writes what sync=True would have written after each step."""
    from micrograd_mlp import optim

    rng = np.random.default_rng(6)
    batches = [(rng.normal(size=(10, 2)), rng.normal(size=10)) for _ in range(3)]
    m_a = MLP(2, [5, 1], activation="tanh", seed=3)
    m_b = MLP(2, [5, 1], activation="tanh", seed=3)
    s_a, s_b = compile_step(m_a, losses.mse), compile_step(m_b, losses.mse)
    o_a = optim.Adam(m_a.parameters(), lr=0.05)
    o_b = optim.Adam(m_b.parameters(), lr=0.05)
    start = [p.data for p in m_b.parameters()]
    for X, y in batches:
        v_a, _ = compiled_step.replayed_train_step(s_a, X, y, o_a, sync=True)
        v_b, _ = compiled_step.replayed_train_step(s_b, X, y, o_b, sync=False)
        assert v_a == v_b
    assert [p.data for p in m_b.parameters()] == start          # untouched so far
    s_b.sync()
    assert [p.data for p in m_b.parameters()] == [p.data for p in m_a.parameters()]
    assert [p.grad for p in m_b.parameters()] == [p.grad for p in m_a.parameters()]
    # a plain call after unsynced steps sees the trained parameters
    compiled_step.replayed_train_step(s_b, *batches[0], o_b, sync=False)
    compiled_step.replayed_train_step(s_a, *batches[0], o_a, sync=True)
    X, y = batches[1]
    ref_loss, _ = fresh(m_a, losses.mse, X, y)
    loss, _ = s_b(X, y, accumulate=False)
    assert close(loss, ref_loss)


def test_fit_replay_with_validation_and_a_short_last_batch():
    """Mini-batches of 7 over 17 samples (two recorded batch sizes), validation every
    epoch (needs the Values synced), Adam: the same as fit without replay."""
    from micrograd_mlp.nets.train import fit

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(17, 3)), rng.integers(0, 3, size=17)
    Xv, yv = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    runs = []
    for replay in (True, False):
        model = MLP(3, [5, 3], activation=["relu", None], seed=4)
        h = fit(model, X, y, loss="softmax_cross_entropy", optimizer="adam", lr=0.05,
                epochs=3, batch_size=7, seed=1, validation=(Xv, yv), progress=False,
                replay=replay)
        runs.append((h.loss, h.val_loss, [p.data for p in model.parameters()],
                     [p.grad for p in model.parameters()]))
    for a, b in zip(*runs):
        assert close(a, b)


def test_single_threaded_blas_restores_the_limit():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from micrograd_mlp.core.blas_threads import single_threaded_blas

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with single_threaded_blas():
        inside = blas_threads()
    assert all(n == 1 for n in inside)
    assert blas_threads() == before


def test_several_batch_sums_in_one_group_and_the_rows_name_their_rules():
    """Two batch sums at one level run as one group (the rule the batch-sum row names);
    every rule a primitive row names is registered."""
    from micrograd_mlp.core.registry import PRIMITIVES
    from micrograd_mlp.core.recorder import BATCHED_RULES
    from micrograd_mlp.core.recorder_groups import BatchSumGroup

    for prim in PRIMITIVES.values():
        if prim.batched is not None:
            assert prim.batched in BATCHED_RULES, prim.name
    rng = np.random.default_rng(1)
    a, b = Value(0.7, "a"), Value(-1.3, "b")
    x = Value(rng.normal(size=5), "x", requires_grad=False)
    root = (a * x).sum() * (b * x * x).sum() + (a * b * x).sum()
    rec = Recorded(root, [a, b], [x], engine="numpy")   # the numpy groups are inspected
    for B in (5, 3):
        xd = rng.normal(size=B)
        x.data = xd
        ref = (a * x).sum() * (b * x * x).sum() + (a * b * x).sum()
        a.grad = b.grad = 0.0
        ref.backward()
        loss, grads = rec.run([xd], accumulate=False)
        assert close(loss, ref.data) and close(grads, [a.grad, b.grad])
    assert any(isinstance(g, BatchSumGroup) and g.out.idx.size == 2 for g in rec.last.groups)
