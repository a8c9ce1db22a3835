"""Learning-rate schedulers (micrograd_mlp.nets.lr_scheduler): the rates and the
parameter trajectories of fit(scheduler=...) against torch.optim.lr_scheduler over 50
epochs, closed forms, state dicts, and the refusals."""
import json
import math

import numpy as np
import pytest

from micrograd_mlp import MLP, fit
from micrograd_mlp.core.recorder import Recorded
from micrograd_mlp.errors import ArgumentError, CheckpointError, DataTypeError, DomainError
from micrograd_mlp.nets import lr_scheduler
from micrograd_mlp.nets.optim import SGD, Adam
from micrograd_mlp.nets.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR


def micrograd_demo_factor(k):
    """micrograd's demo schedule lr = 1 - 0.9 k / 100, as a factor of the base rate 1."""
    return 1.0 - 0.9 * k / 100


CONFIGS = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1, "gamma": 0.9}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),  # 2.5 periods: the bottom rule too
    ("CosineAnnealingLR", {"T_max": 50}),
    ("LambdaLR", {"lr_lambda": micrograd_demo_factor}),
    ("LambdaLR", {"lr_lambda": lambda k: 0.95 ** k}),
]
IDS = [f"{n}-{'-'.join(str(v) for v in kw.values() if not callable(v)) or i}"
       for i, (n, kw) in enumerate(CONFIGS)]


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1]


# ---------------------------------------------------------------- against torch


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_learning_rates_equal_torch_over_50_epochs(name, kw):
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.3)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    opt = SGD(MLP(1, [1], seed=0).parameters(), lr=0.3)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    for epoch in range(50):
        assert sched.last_epoch == tsched.last_epoch == epoch
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        assert opt.lr == sched.get_last_lr()[0]
        topt.step()
        tsched.step()
        sched.step()


def torch_trajectory(torch, model, X, y, make_opt, make_sched, epochs):
    """Full-batch training of the torch twin with the mean squared error; the weights
    and biases (out_in) after every epoch, and the rate every epoch used."""
    net = model.to_torch()
    opt = make_opt(net.parameters())
    sched = make_sched(opt)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    traj, rates = [], []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = ((net(Xt)[:, 0] - yt) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        traj.append([(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
                     for m in linears])
    return traj, rates


def our_trajectory(model, X, y, opt, make_sched, epochs, **kwargs):
    traj = []

    def record(epoch, logs):
        W, b = model.get_parameters()
        traj.append(list(zip(W, b)))

    h = fit(model, X, y, loss="mse", optimizer=opt, scheduler=make_sched, epochs=epochs,
            callbacks=[record], progress=False, metrics=(), **kwargs)
    return traj, h


OPTIMISERS = {
    "sgd-momentum": (lambda ps: SGD(ps, lr=0.05, momentum=0.9),
                     lambda torch, ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "adam": (lambda ps: Adam(ps, lr=0.05), lambda torch, ps: torch.optim.Adam(ps, lr=0.05)),
}


@pytest.mark.parametrize("opt_name", list(OPTIMISERS))
@pytest.mark.parametrize("name, kw", CONFIGS[::2] + CONFIGS[-1:], ids=IDS[::2] + IDS[-1:])
def test_fit_with_scheduler_follows_torch_trajectory(name, kw, opt_name):
    torch = pytest.importorskip("torch")
    X, y = data()
    model = MLP(2, [5, 1], activation="tanh", out_activation=None, seed=3)
    ours, theirs = OPTIMISERS[opt_name]
    cls, tcls = getattr(lr_scheduler, name), getattr(torch.optim.lr_scheduler, name)
    ttraj, trates = torch_trajectory(torch, model, X, y, lambda ps: theirs(torch, ps),
                                     lambda o: tcls(o, **kw), 50)
    traj, h = our_trajectory(model, X, y, ours(model.parameters()), lambda o: cls(o, **kw), 50)
    assert len(traj) == len(ttraj) == 50
    np.testing.assert_allclose(h.lr, trates, rtol=1e-12, atol=0)
    for epoch, (mine, tr) in enumerate(zip(traj, ttraj)):
        for (W, b), (tW, tb) in zip(mine, tr):
            np.testing.assert_allclose(W, tW, rtol=0, atol=1e-12, err_msg=f"epoch {epoch + 1}")
            np.testing.assert_allclose(b, tb, rtol=0, atol=1e-12, err_msg=f"epoch {epoch + 1}")


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("batch_size", [None, 4])
def test_replayed_fit_with_scheduler_equals_built_graph(name, kw, batch_size):
    X, y = data()
    cls = getattr(lr_scheduler, name)
    runs = []
    for replay in (True, False):
        model = MLP(2, [4, 1], activation="tanh", out_activation=None, seed=1)
        traj, h = our_trajectory(model, X, y, SGD(model.parameters(), lr=0.1, momentum=0.5),
                                 lambda o: cls(o, **kw), 50, replay=replay,
                                 batch_size=batch_size, seed=7)
        runs.append((traj, h))
    (t1, h1), (t2, h2) = runs
    assert h1.lr == h2.lr
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-12, atol=1e-15)
    for a, b in zip(t1, t2):
        for (W1, b1), (W2, b2) in zip(a, b):
            np.testing.assert_allclose(W1, W2, rtol=0, atol=1e-12)
            np.testing.assert_allclose(b1, b2, rtol=0, atol=1e-12)


def test_a_scheduler_does_not_record_the_graph_again(monkeypatch):
    """The replayed step reads the optimiser's lr at every step: changing it between
    epochs records nothing new."""
    made = []
    original = Recorded.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Recorded, "__init__", counting)
    X, y = data()
    counts = []
    for sched in (None, lambda o: StepLR(o, step_size=2, gamma=0.5)):
        made.clear()
        model = MLP(2, [4, 1], seed=0)
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=30,
            scheduler=sched, progress=False, replay=True, batch_size=8)
        counts.append(len(made))
    assert counts[0] >= 1 and counts[1] == counts[0]


# ---------------------------------------------------------------- closed forms


def rates(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.step()
    return np.array(out)


def new_opt(lr=0.3):
    return SGD(MLP(1, [1], seed=0).parameters(), lr=lr)


def test_closed_forms_of_the_recursive_rates():
    t = np.arange(60)
    np.testing.assert_allclose(rates(StepLR(new_opt(), 7, 0.5), 60), 0.3 * 0.5 ** (t // 7),
                               rtol=1e-13)
    np.testing.assert_allclose(rates(ExponentialLR(new_opt(), 0.93), 60), 0.3 * 0.93 ** t,
                               rtol=1e-12)
    cosine = 0.001 + (0.3 - 0.001) * (1 + np.cos(np.pi * t / 10)) / 2
    np.testing.assert_allclose(rates(CosineAnnealingLR(new_opt(), 10, 0.001), 60), cosine,
                               rtol=1e-12, atol=1e-15)


def test_micrograd_demo_schedule_through_fit():
    """micrograd's demo: lr = 1.0 - 0.9 k / 100 at step k, one full-batch step per epoch."""
    X, y = data(8)
    model = MLP(2, [3, 1], seed=0)
    h = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=1.0), epochs=100,
            scheduler=lambda o: LambdaLR(o, micrograd_demo_factor), progress=False)
    np.testing.assert_allclose(h.lr, 1.0 - 0.9 * np.arange(100) / 100, rtol=1e-15)


def test_scheduler_is_stepped_once_per_epoch_after_the_epoch():
    X, y = data(12)
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.2)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    h = fit(model, X, y, loss="mse", optimizer=opt, scheduler=sched, epochs=7, batch_size=4,
            progress=False)
    assert sched.last_epoch == h.epochs == 7
    np.testing.assert_allclose(h.lr, [0.2] * 3 + [0.02] * 3 + [0.002], rtol=1e-13)
    assert opt.lr == pytest.approx(0.002)  # the rate of epoch 7 (index 7 // 3 = 2)



# ---------------------------------------------------------------- state


@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, 4, 0.5), lambda o: ExponentialLR(o, 0.9),
    lambda o: CosineAnnealingLR(o, 6, 0.01), lambda o: LambdaLR(o, lambda k: 1 / (1 + k)),
])
def test_state_dict_resumes_the_same_rates(make):
    opt = new_opt()
    sched = make(opt)
    rates(sched, 9)
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    saved_opt = json.loads(json.dumps(opt.state_dict()))
    expected = rates(sched, 20)
    opt2 = new_opt(lr=0.7)
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)   # as with torch: the optimiser holds the rate
    sched2.load_state_dict(saved_sched)
    assert sched2.last_epoch == 9 and "optimizer" not in saved_sched
    assert opt2.initial_lr == 0.3  # the base rate of the run, not the 0.7 it was made with
    np.testing.assert_array_equal(rates(sched2, 20), expected)


def test_resuming_with_last_epoch_equals_torch():
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=0.3)
    topt.param_groups[0]["initial_lr"] = 0.5
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=8, last_epoch=4)
    opt = new_opt(0.3)
    opt.initial_lr = 0.5
    sched = CosineAnnealingLR(opt, T_max=8, last_epoch=4)
    for _ in range(20):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        topt.step()
        tsched.step()
        sched.step()


def test_bad_states_are_checkpoint_errors():
    sched = StepLR(new_opt(), 3)
    good = sched.state_dict()
    with pytest.raises(CheckpointError, match="ExponentialLR"):
        sched.load_state_dict(ExponentialLR(new_opt(), 0.5).state_dict())
    for broken in ({k: v for k, v in good.items() if k != "last_epoch"},
                   {**good, "step_size": 0}, {**good, "base_lrs": [float("nan")]},
                   {**good, "_last_lr": [0.1, 0.2]}, "not a dict"):
        with pytest.raises(CheckpointError):
            sched.load_state_dict(broken)
    assert sched.state_dict() == good  # nothing changed by a refused load


# ---------------------------------------------------------------- refusals


def test_bad_arguments_are_refused():
    opt = new_opt()
    with pytest.raises(DataTypeError):
        StepLR(object(), 3)
    with pytest.raises(ArgumentError):
        StepLR(opt, 0)
    with pytest.raises(DataTypeError):
        StepLR(opt, 2.5)
    with pytest.raises(ArgumentError):
        ExponentialLR(opt, float("nan"))
    with pytest.raises(ArgumentError):
        ExponentialLR(opt, -0.5)
    with pytest.raises(ArgumentError):
        CosineAnnealingLR(opt, 0)
    with pytest.raises(DataTypeError):
        LambdaLR(opt, 0.5)
    with pytest.raises(ArgumentError, match="initial_lr"):
        StepLR(new_opt(), 3, last_epoch=5)


def test_a_lambda_giving_no_usable_rate_is_refused():
    opt = new_opt()
    sched = LambdaLR(opt, lambda k: 1.0 if k < 2 else math.nan)
    sched.step()
    with pytest.raises(DomainError, match="epoch 2"):
        sched.step()
    assert opt.lr == 0.3 and sched.last_epoch == 1  # a refused step changes nothing
    with pytest.raises(DataTypeError):
        LambdaLR(new_opt(), lambda k: "fast")
    with pytest.raises(DomainError):
        LambdaLR(new_opt(), lambda k: -1.0)


def test_fit_refuses_a_scheduler_of_another_optimiser():
    X, y = data(8)
    model = MLP(2, [1], seed=0)
    other = StepLR(SGD(MLP(2, [1], seed=1).parameters(), lr=0.1), 2)
    with pytest.raises(ArgumentError, match="another optimiser"):
        fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), scheduler=other,
            progress=False)
    with pytest.raises(ArgumentError, match="function making the scheduler"):
        fit(model, X, y, optimizer="sgd", lr=0.1, scheduler=other, progress=False)
    with pytest.raises(DataTypeError):
        fit(model, X, y, scheduler=3, progress=False)


def test_a_failing_schedule_fails_alike_on_replay_and_built_graph():
    """The same error, and the same parameters left behind (replay writes its vector
    back into the Values even when training stops on an error)."""
    X, y = data()
    left = []
    for replay in (True, False):
        model = MLP(2, [4, 1], seed=2)
        with pytest.raises(DomainError, match="epoch 3"):
            fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=10,
                batch_size=5, seed=0, replay=replay, progress=False,
                scheduler=lambda o: LambdaLR(o, lambda k: 1.0 if k < 3 else float("inf")))
        left.append([p.data for p in model.parameters()])
    np.testing.assert_allclose(left[0], left[1], rtol=0, atol=1e-12)
    assert left[0] != [p.data for p in MLP(2, [4, 1], seed=2).parameters()]  # it trained
