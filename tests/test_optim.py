"""Tests of micrograd_mlp.nets.optim: hand-computed updates, torch.optim trajectories, state."""
import numpy as np
import pytest

from micrograd_mlp import Value
from micrograd_mlp.errors import DataTypeError, ShapeError
from micrograd_mlp.nets.mlp import MLP
from micrograd_mlp.errors import CheckpointError
from micrograd_mlp.nets.optim import SGD, Adam, from_state_dict

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.3, -0.4]])
Y = np.array([0.0, 1.0, 1.0, 0.0, 0.5])


def loss_of(model):
    return ((model(X) - Y) ** 2).mean()


def params_with_grads(values, grads):
    ps = [Value(v, f"p{i}") for i, v in enumerate(values)]
    for p, g in zip(ps, grads):
        p.grad = g
    return ps


# ---------------------------------------------------------------- hand-computed updates


def test_sgd_plain_and_weight_decay_by_hand():
    ps = params_with_grads([1.0, -2.0], [0.5, -0.25])
    SGD(ps, lr=0.1).step()
    assert [p.data for p in ps] == pytest.approx([1.0 - 0.05, -2.0 + 0.025])
    ps = params_with_grads([1.0, -2.0], [0.5, -0.25])
    SGD(ps, lr=0.1, weight_decay=0.2).step()
    assert [p.data for p in ps] == pytest.approx([1 - 0.1 * (0.5 + 0.2), -2 - 0.1 * (-0.25 - 0.4)])
    ps = params_with_grads([1.0], [0.5])
    SGD(ps, lr=0.1, maximize=True).step()
    assert ps[0].data == pytest.approx(1.05)


def test_sgd_momentum_and_nesterov_by_hand():
    ps = params_with_grads([1.0], [1.0])
    opt = SGD(ps, lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()                       # b = g = 1
    assert ps[0].data == pytest.approx(0.9)
    ps[0].grad = 2.0
    opt.step()                       # b = 0.9 * 1 + 0.5 * 2 = 1.9
    assert ps[0].data == pytest.approx(0.9 - 0.19)
    ps = params_with_grads([1.0], [1.0])
    opt = SGD(ps, lr=0.1, momentum=0.9, nesterov=True)
    opt.step()                       # b = 1, g + 0.9 b = 1.9
    assert ps[0].data == pytest.approx(1 - 0.19)
    ps[0].grad = 2.0
    opt.step()                       # b = 0.9 + 2 = 2.9, g + 0.9 b = 4.61
    assert ps[0].data == pytest.approx(1 - 0.19 - 0.461)


def test_adam_first_step_is_minus_lr_sign_g():
    grads = [3.0, -0.02, 1e-3, -500.0]
    ps = params_with_grads([0.5, 0.5, 0.5, 0.5], grads)
    Adam(ps, lr=0.01).step()
    # m_hat = g, v_hat = g^2: step = -lr g / (|g| + eps)
    for p, g in zip(ps, grads):
        assert p.data - 0.5 == pytest.approx(-0.01 * np.sign(g), rel=1e-4)


def test_adam_two_steps_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    ps = params_with_grads([0.0], [1.0])
    opt = Adam(ps, lr=lr)
    opt.step()
    ps[0].grad = -3.0
    opt.step()
    m1, v1 = (1 - b1) * 1.0, (1 - b2) * 1.0
    m2, v2 = b1 * m1 + (1 - b1) * -3.0, b2 * v1 + (1 - b2) * 9.0
    theta1 = -lr * 1.0 / (1.0 + eps)
    theta2 = theta1 - lr * (m2 / (1 - b1 ** 2)) / (np.sqrt(v2 / (1 - b2 ** 2)) + eps)
    assert ps[0].data == pytest.approx(theta2, rel=1e-12)


# ---------------------------------------------------------------- torch trajectories


SGD_OPTIONS = [
    {}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3}, {"momentum": 0.8, "nesterov": True},
    {"weight_decay": 0.05}, {"maximize": True}, {"momentum": 0.5, "weight_decay": 0.1, "maximize": True},
]
ADAM_OPTIONS = [
    {}, {"weight_decay": 0.05}, {"amsgrad": True}, {"maximize": True}, {"betas": (0.8, 0.99)},
    {"eps": 1e-3}, {"amsgrad": True, "weight_decay": 0.01, "betas": (0.5, 0.9)},
]


def _trajectories(torch, opt_name, options, lr, steps=20):
    model = MLP(2, [3, 1], activation="tanh", out_activation="sigmoid", seed=11)
    seq = model.to_torch()
    ours = (SGD if opt_name == "SGD" else Adam)(model.parameters(), lr=lr, **options)
    theirs = getattr(torch.optim, opt_name)(seq.parameters(), lr=lr, **options)
    xt, yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(steps):
        ours.zero_grad()
        loss_of(model).backward()
        ours.step()
        theirs.zero_grad()
        ((seq(xt)[:, 0] - yt) ** 2).mean().backward()
        theirs.step()
    return model, MLP.from_torch(seq)


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=str)
def test_sgd_matches_torch_for_20_steps(options):
    torch = pytest.importorskip("torch")
    ours, theirs = _trajectories(torch, "SGD", options, lr=0.3)
    a, b = ours.state_dict(), theirs.state_dict()
    start = MLP(2, [3, 1], activation="tanh", out_activation="sigmoid", seed=11).state_dict()
    assert max(abs(a[k] - start[k]) for k in a) > 1e-3  # the parameters really moved
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-12), k


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_matches_torch_for_20_steps(options):
    torch = pytest.importorskip("torch")
    ours, theirs = _trajectories(torch, "Adam", options, lr=0.05)
    a, b = ours.state_dict(), theirs.state_dict()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-12), k


# ---------------------------------------------------------------- state and errors


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.2, momentum=0.9, nesterov=True),
    lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
])
def test_state_dict_resumes_the_same_trajectory(make):
    def run(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            loss_of(model).backward()
            opt.step()

    a = MLP(2, [3, 1], seed=3)
    oa = make(a.parameters())
    run(a, oa, 10)
    b = MLP(2, [3, 1], seed=99)
    b.load_state_dict(a.state_dict())
    ob = from_state_dict(b.parameters(), oa.state_dict())
    assert ob.settings() == oa.settings()
    run(a, oa, 5)
    run(b, ob, 5)
    assert a.state_dict() == b.state_dict()


def test_load_state_dict_rejects_mismatches():
    ps = [Value(1.0), Value(2.0)]
    st = Adam(ps).state_dict()
    with pytest.raises(CheckpointError, match="Adam.*SGD"):
        SGD(ps, lr=0.1).load_state_dict(st)
    with pytest.raises(CheckpointError, match="2 parameters"):
        Adam([Value(1.0)]).load_state_dict(st)
    st["state"]["exp_avg"] = [1.0]
    with pytest.raises(CheckpointError, match="exp_avg"):
        Adam(ps).load_state_dict(st)


def test_bad_optimiser_arguments():
    ps = [Value(1.0, "w")]
    with pytest.raises(ValueError, match="learning rate"):
        SGD(ps, lr=-0.1)
    with pytest.raises(ValueError, match="learning rate"):
        Adam(ps, lr=-1e-3)
    opt = SGD(ps, lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD(ps + ps, lr=0.1)
    with pytest.raises(DataTypeError, match="not a Value"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ShapeError, match="batch"):
        SGD([Value(np.array([1.0, 2.0]))], lr=0.1)
    with pytest.raises(ValueError, match="requires_grad"):
        SGD([Value(1.0, requires_grad=False)], lr=0.1)
