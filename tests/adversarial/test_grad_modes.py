"""PyTorch habits (issue 12, class 4): ``grad = None`` is "no gradient yet", grad modes
belong to a thread, and a leaf whose ``.data`` changed between forward and backward is
reported at ``backward()`` (PyTorch's version counter) instead of mixing two values."""
import threading

import numpy as np
import pytest

from micrograd_mlp import MLP, Value, anomaly_mode, no_grad
from micrograd_mlp.core.modes import current_group, is_anomaly_enabled, is_grad_enabled
from micrograd_mlp.errors import (
    AnomalyError, DataTypeError, DomainError, GradientError, ShapeError,
)
from micrograd_mlp.functions import activations as A
from micrograd_mlp.functions.composite import grouped
from micrograd_mlp.nets import optim

torch = pytest.importorskip("torch")
NAN = float("nan")


# ---------------------------------------------------------------- grad = None


@pytest.mark.parametrize("batched", [False, True])
def test_backward_fills_a_grad_of_none(batched):
    a = Value(np.array([2.0, -1.0]) if batched else 2.0, "a")
    a.grad = None
    out = a * a * a
    out.backward(np.ones(2) if batched else None)
    assert np.all(a.grad == 3 * np.asarray(a.data) ** 2)
    out.backward(np.ones(2) if batched else None)  # and accumulates from there
    assert np.all(a.grad == 6 * np.asarray(a.data) ** 2)


def test_backward_from_a_leaf_whose_grad_is_none():
    a = Value(3.0)
    a.grad = None
    a.backward()
    assert a.grad == 1.0


def test_a_scalar_weight_of_none_feeding_a_batch_gets_the_batch_sum():
    w = Value(0.5, "w")
    w.grad = None
    x = Value(np.array([1.0, 2.0, 3.0]), requires_grad=False)
    (w * x).sum().backward()
    assert w.grad == 6.0


def test_a_grad_that_is_not_a_number_is_a_clear_error():
    a = Value(1.0, "a")
    a.grad = "zero"
    with pytest.raises(GradientError, match="grad of node 'a' is a str"):
        (a * 2.0).backward()


def test_a_grad_array_of_the_wrong_length_is_a_clear_error():
    x = Value(np.array([1.0, 2.0]), "x")
    x.grad = np.zeros(3)
    with pytest.raises(GradientError, match=r"grad of node 'x' is an array of shape \(3,\)"):
        (x * x).sum().backward()


def test_repr_shows_a_grad_of_none():
    a = Value(1.5, "a")
    a.grad = None
    assert repr(a) == "Value('a', data=1.5, grad=None)"


def _torch_twin(params, cls, kwargs):
    tp = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in params]
    return tp, {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}[cls](tp, **kwargs)


OPTIMISERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.9), "maximize": True}),
]


@pytest.mark.parametrize("cls, kwargs", OPTIMISERS, ids=lambda x: str(x))
def test_step_skips_parameters_whose_grad_is_none_exactly_as_torch(cls, kwargs):
    """Each step some parameters have no gradient (None): they keep their data and
    their state; torch's per-parameter step counts make Adam's bias correction differ
    per parameter afterwards. Same trajectory as torch.optim (to rounding: torch's SGD
    fuses b*m + (1-d)*g, so the last bit may differ even with every grad present)."""
    params = [Value(v, f"p{i}") for i, v in enumerate([1.0, -2.0, 0.5, 3.0])]
    opt = getattr(optim, cls)(params, **kwargs)
    tp, topt = _torch_twin(params, cls, kwargs)
    rng = np.random.default_rng(1)
    for step in range(8):
        opt.zero_grad(set_to_none=True)
        topt.zero_grad(set_to_none=True)
        for i, (p, t) in enumerate(zip(params, tp)):
            if (step + i) % 3 and not (i == 3 and step < 4):  # p3 has no grad for 4 steps
                g = float(rng.normal())
                p.grad = g
                t.grad = torch.tensor(g, dtype=torch.float64)
        before = [p.data for p in params]
        opt.step()
        topt.step()
        for p, t, b in zip(params, tp, before):
            assert p.data == pytest.approx(t.item(), rel=1e-14, abs=1e-15)
            if p.grad is None:
                assert p.data == b  # untouched, bit for bit


@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_step_with_no_gradient_at_all_changes_nothing(cls):
    params = [Value(1.0), Value(2.0)]
    opt = getattr(optim, cls)(params, lr=0.1, **({"momentum": 0.9} if cls == "SGD" else {}))
    opt.zero_grad(set_to_none=True)
    state = opt.state_dict()
    opt.step()
    assert [p.data for p in params] == [1.0, 2.0]
    assert opt.state_dict() == state


def test_zero_grad_default_is_zero_and_set_to_none_is_none():
    params = [Value(1.0), Value(2.0)]
    opt = optim.SGD(params, lr=0.1)
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]
    opt.zero_grad(set_to_none=True)
    assert [p.grad for p in params] == [None, None]


def test_a_grad_of_the_wrong_type_in_step_is_a_clear_error():
    params = [Value(1.0), Value(2.0)]
    params[0].grad = "zero"
    with pytest.raises(DataTypeError, match="grad must be a number, or None"):
        optim.SGD(params, lr=0.1).step()
    assert params[1].data == 2.0


def test_skipped_steps_survive_a_state_dict_round_trip():
    """Resuming from state_dict after a skipped parameter continues exactly."""
    def run(split):
        params = [Value(1.0), Value(-1.0)]
        opt = optim.Adam(params, lr=0.1)
        for step in range(6):
            if step == split:
                state = opt.state_dict()
                params = [Value(p.data) for p in params]
                opt = optim.Adam(params, lr=0.1)
                opt.load_state_dict(state)
            params[0].grad = 0.3 * (step + 1)
            params[1].grad = None if step < 2 else -0.2
            opt.step()
        return [p.data for p in params]

    assert run(split=3) == run(split=99)


def test_model_params_not_reached_by_backward_are_skipped():
    """zero_grad(set_to_none=True), then a loss that uses only the first output: the
    second output neuron's parameters get no grad and stay where they are."""
    model = MLP(2, [3, 2], activation="tanh", seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    opt.zero_grad(set_to_none=True)
    out = model([0.3, -0.7])
    (out[0] ** 2).backward()
    second = [p for name, p in model.named_parameters() if name.startswith(("W2[1,", "b2[1]"))]
    before = [p.data for p in second]
    assert second and all(p.grad is None for p in second)
    opt.step()
    assert [p.data for p in second] == before


# ---------------------------------------------------------------- threads


def _in_thread(target):
    """Run ``target`` in a thread; re-raise what it raised."""
    box = {}

    def run():
        try:
            box["value"] = target()
        except BaseException as e:  # pragma: no cover - only when the test fails
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, box


def test_no_grad_in_one_thread_does_not_break_anothers_backward():
    barrier = threading.Barrier(2, timeout=10)

    def quiet():
        with no_grad():
            barrier.wait()  # inside no_grad ...
            barrier.wait()  # ... while the other thread builds and runs backward
            v = Value(2.0) * Value(3.0)
            return v.requires_grad, is_grad_enabled()

    def trainer():
        barrier.wait()
        x = Value(1.5, "x")
        out = A.sigmoid(x * x)
        out.backward()
        barrier.wait()
        return is_grad_enabled(), out.requires_grad, x.grad

    t1, b1 = _in_thread(quiet)
    t2, b2 = _in_thread(trainer)
    t1.join(10)
    t2.join(10)
    assert "error" not in b1 and "error" not in b2
    s = 1 / (1 + np.exp(-2.25))
    assert b2["value"][:2] == (True, True)
    assert b2["value"][2] == pytest.approx(s * (1 - s) * 3.0, rel=1e-12)
    assert b1["value"] == (False, False)


def test_anomaly_mode_in_one_thread_leaves_another_alone():
    barrier = threading.Barrier(2, timeout=10)

    def strict():
        with anomaly_mode():
            barrier.wait()
            barrier.wait()
            try:
                Value(NAN) * 2.0
            except AnomalyError:
                return "raised"
            return "silent"

    def relaxed():
        barrier.wait()
        out = Value(NAN) * 2.0  # NaN, but this thread asked for no checks
        enabled = is_anomaly_enabled()
        barrier.wait()
        return np.isnan(out.data), enabled

    t1, b1 = _in_thread(strict)
    t2, b2 = _in_thread(relaxed)
    t1.join(10)
    t2.join(10)
    assert b1["value"] == "raised"
    assert b2["value"] == (True, False)


def test_a_new_thread_starts_with_grad_enabled_while_the_main_thread_is_in_no_grad():
    with no_grad(), anomaly_mode():
        t, box = _in_thread(lambda: (is_grad_enabled(), is_anomaly_enabled(), current_group()))
        t.join(10)
        assert not is_grad_enabled()
    assert box["value"] == (True, False, None)
    assert is_grad_enabled() and not is_anomaly_enabled()


def test_composite_groups_do_not_leak_between_threads():
    """A thread building inside a composite group must not tag another thread's nodes."""
    barrier = threading.Barrier(2, timeout=10)

    def composite_builder():
        with grouped("sigmoid"):
            barrier.wait()
            barrier.wait()
            return (Value(1.0) * 2.0).group.name

    def plain_builder():
        barrier.wait()
        node = Value(1.0) * 3.0
        barrier.wait()
        return node.group

    t1, b1 = _in_thread(composite_builder)
    t2, b2 = _in_thread(plain_builder)
    t1.join(10)
    t2.join(10)
    assert b1["value"] == "sigmoid"
    assert b2["value"] is None


def test_modes_are_restored_after_an_exception_inside_the_block():
    with pytest.raises(DomainError):
        with no_grad(), anomaly_mode():
            Value(-1.0).log()
    assert is_grad_enabled() and not is_anomaly_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()  # nested blocks restore the outer state
    assert is_grad_enabled()


# ---------------------------------------------------------------- version counter


@pytest.mark.parametrize("batched", [False, True])
def test_changing_a_leaf_between_forward_and_backward_is_refused(batched):
    """a^3 with a = 2, then a.data = 3: the old code gave the mixed gradient 22
    (3 a_new^2 would be 27, 3 a_old^2 is 12); now backward() refuses."""
    a = Value(np.array([2.0]) if batched else 2.0, "a")
    out = a * a * a
    a.data = np.array([3.0]) if batched else 3.0
    with pytest.raises(GradientError, match=r"\.data of node 'a' was assigned after"):
        out.backward(np.ones(1) if batched else None)


def test_changing_an_input_batch_is_refused_too():
    w = Value(0.5, "w")
    x = Value(np.array([1.0, 2.0]), "x", requires_grad=False)
    loss = (w * x).sum()
    x.data = np.array([5.0, 6.0])
    with pytest.raises(GradientError, match="node 'x'"):
        loss.backward()


def test_changing_an_intermediate_node_is_refused_at_its_consumer():
    a = Value(2.0, "a")
    b = a * 3.0
    b.label = "b"
    c = b * b
    b.data = 10.0
    with pytest.raises(GradientError, match="node 'b'"):
        c.backward()


def test_step_between_backward_calls_stays_legal():
    """forward, backward, step, forward, backward: the usual loop raises nothing and
    each gradient belongs to its own forward pass."""
    w = Value(1.0, "w")
    opt = optim.SGD([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        loss = (w * w - 4.0) ** 2
        loss.backward()
        assert w.grad == pytest.approx(4 * w.data * (w.data ** 2 - 4.0), rel=1e-12)
        opt.step()


def test_rebuilding_after_the_change_gives_the_new_gradient():
    a = Value(2.0, "a")
    _ = a * a * a
    a.data = 3.0
    out = a * a * a
    out.backward()
    assert a.grad == 27.0


def test_a_leaf_changed_only_after_backward_is_fine_and_an_unused_leaf_does_not_matter():
    a, b = Value(2.0, "a"), Value(5.0, "b")
    out = a * a
    b.data = 7.0  # not in the graph
    out.backward()
    assert a.grad == 4.0


def test_the_mlp_training_step_with_the_step_before_backward_is_refused():
    """The classic slip: optimiser step between forward and backward."""
    model = MLP(2, [2, 1], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = (model([0.5, -0.5]) - 1.0) ** 2
    for p in model.parameters():
        p.grad = 0.1
    opt.step()
    with pytest.raises(GradientError, match="assigned after"):
        loss.backward()


@pytest.mark.parametrize("bad, error", [
    ([1.0, 2.0], DataTypeError), ("3", DataTypeError), (10 ** 400, DomainError),
    (np.zeros((2, 2)), ShapeError), (np.array([], dtype=float), ShapeError),
])
def test_assigning_data_is_checked_like_the_constructor_and_a_refusal_changes_nothing(bad, error):
    a = Value(2.0, "a")
    out = a * a
    with pytest.raises(error):
        a.data = bad
    assert a.data == 2.0
    out.backward()  # the refused assignment did not count as a change
    assert a.grad == 4.0


def test_assigned_numbers_are_stored_as_float():
    a = Value(1.0)
    a.data = 3
    assert a.data == 3.0 and type(a.data) is float
    a.data = np.float32(0.5)
    assert type(a.data) is float
