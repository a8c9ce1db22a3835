"""Tests of micrograd_mlp.nn: Neuron, Layer, MLP, initialisers, parameters by hand."""
import numpy as np
import pytest

from micrograd_mlp import Value
from micrograd_mlp.errors import DataTypeError, ShapeError
from micrograd_mlp.nets.init import INITIALIZERS, initialize, xavier_normal
from micrograd_mlp.errors import CheckpointError
from micrograd_mlp.nets.layers import Layer, Neuron
from micrograd_mlp.nets.mlp import MLP


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_forward(Ws, bs, X, acts):
    """Reference forward pass with numpy matrices: s = W x + b, x = f(s)."""
    x = X
    cache = []
    for W, b, f in zip(Ws, bs, acts):
        s = x @ W.T + (0 if b is None else b)
        x = f(s)
        cache.append((s, x))
    return x, cache


# Seed 001 Figure 1 / SPEC R20: weights, inputs and the expected forward values.
W1 = np.array([[0.2, -0.3], [0.1, -1.2], [0.4, 0.3]])
B1 = np.array([0.3, -0.1, 1.2])
W2 = np.array([[0.4, 0.2, 0.2], [0.1, 0.3, 0.5]])
B2 = np.array([-0.6, 0.5])


def task5_model():
    return MLP(2, [3, 2], activation="sigmoid").set_parameters([W1, W2], [B1, B2])


# ---------------------------------------------------------------- names and structure


def test_parameter_names_follow_the_exercise_notation():
    m = MLP(2, [3, 2], seed=0)
    names = [n for n, _ in m.named_parameters()]
    assert names[:3] == ["W1[0,0]", "W1[0,1]", "b1[0]"]
    assert "W1[2,1]" in names and "b2[1]" in names and "W2[1,2]" in names
    assert len(names) == 3 * 2 + 3 + 2 * 3 + 2
    assert all(p.label == n for n, p in m.named_parameters())
    assert m.parameters() == [p for _, p in m.named_parameters()]


def test_repr_shows_architecture():
    assert repr(MLP(2, [8, 1], seed=0)) == "MLP(2 -> [8 sigmoid] -> [1 sigmoid])"
    r = repr(MLP(3, [4, 2], activation="relu", out_activation=None, bias=False))
    assert r == "MLP(3 -> [4 relu] -> [2 identity], bias=False)"
    assert repr(Layer(3, 2, "tanh")) == "Layer(3 -> 2 tanh)"
    assert "Neuron(2" in repr(Neuron(2))


def test_task5_forward_values_match_the_hand_solution():
    m = task5_model()
    out = m([1.0, 2.0])
    c = m.intermediates
    np.testing.assert_allclose([v.data for v in c["s1"]], [-0.1, -2.4, 2.2], atol=1e-12)
    np.testing.assert_allclose([v.data for v in c["x1"]], [0.4750208, 0.0831727, 0.9002495], atol=1e-7)
    np.testing.assert_allclose([v.data for v in c["s2"]], [-0.2133072, 1.0225786], atol=1e-7)
    np.testing.assert_allclose([v.data for v in out], [0.4468745, 0.7354746], atol=1e-7)
    assert [v.label for v in c["s1"]] == ["s1[0]", "s1[1]", "s1[2]"]
    assert [v.label for v in c["x2"]] == ["x2[0]", "x2[1]"]
    assert [v.label for v in c["x0"]] == ["x0[0]", "x0[1]"]


def test_task5_gradients_match_the_hand_solution():
    m = task5_model()
    x = [Value(1.0, "x0[0]"), Value(2.0, "x0[1]")]
    out = m(x)
    y = [0.0, 1.0]
    E = 0.5 * ((out[0] - y[0]) ** 2 + (out[1] - y[1]) ** 2)
    E.backward()
    assert E.data == pytest.approx(0.1348352, abs=1e-7)
    p = dict(m.named_parameters())
    np.testing.assert_allclose([p["b2[0]"].grad, p["b2[1]"].grad], [0.1104574, -0.0514639], atol=1e-7)
    np.testing.assert_allclose([p[f"b1[{i}]"].grad for i in range(3)],
                               [0.0097348, 0.0005073, -0.0003269], atol=1e-7)
    np.testing.assert_allclose([x[0].grad, x[1].grad], [0.0018669, -0.0036272], atol=1e-7)
    dW2 = [[p[f"W2[{i},{j}]"].grad for j in range(3)] for i in range(2)]
    np.testing.assert_allclose(dW2, [[0.0525, 0.0092, 0.0994], [-0.0244, -0.0043, -0.0463]], atol=1e-4)


def test_nodes_are_grouped_by_neuron_inside_layer():
    m = MLP(2, [3, 1], seed=0)
    m([0.5, -1.0])
    s = m.intermediates["s1"][2]
    assert s.group.name == "neuron" and s.group.kind == "module"
    assert s.group.params == {"layer": 1, "index": 2}
    assert s.group.parent.name == "layer" and s.group.parent.params == {"layer": 1}
    x = m.intermediates["x2"][0]
    # the sigmoid composite nests inside neuron 2.0
    assert [g.name for g in x.group.ancestors()] == ["layer", "neuron", "sigmoid"]


def test_random_networks_match_numpy_reference_single_and_batched():
    rng = np.random.default_rng(3)
    m = MLP(3, [4, 5, 2], activation=["tanh", "relu", "sigmoid"], seed=1)
    Ws, bs = m.get_parameters()
    bs = [rng.normal(size=b.shape) for b in bs]
    m.set_parameters(biases=bs)
    X = rng.normal(size=(7, 3))
    ref, cache = np_forward(Ws, bs, X, [np.tanh, lambda s: np.maximum(s, 0), np_sigmoid])
    out = m(X)
    np.testing.assert_allclose(np.column_stack([o.data for o in out]), ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(np.column_stack([v.data for v in m.intermediates["s2"]]),
                               cache[1][0], rtol=1e-13, atol=1e-14)
    for i in range(7):
        single = m(list(X[i]))
        np.testing.assert_allclose([o.data for o in single], ref[i], rtol=1e-13, atol=1e-14)


def test_backward_matches_finite_differences():
    m = MLP(2, [3, 1], activation="tanh", out_activation="sigmoid", seed=4)
    X = np.array([[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]])
    params = m.parameters()
    out = m(X)
    L = ((out - np.array([0.0, 1.0, 1.0])) ** 2).mean()
    L.backward()
    grads = [p.grad for p in params]
    # independent check: central differences on the data
    eps = 1e-6
    for k, p in enumerate(params):
        old = p.data
        p.data = old + eps
        up = ((m(X) - np.array([0.0, 1.0, 1.0])) ** 2).mean().data
        p.data = old - eps
        down = ((m(X) - np.array([0.0, 1.0, 1.0])) ** 2).mean().data
        p.data = old
        assert grads[k] == pytest.approx((up - down) / (2 * eps), abs=1e-8)


def test_batched_parameter_grads_equal_sum_of_per_sample_grads():
    m = MLP(2, [4, 1], seed=2)
    X = np.array([[0.1, 0.2], [0.5, -1.0], [2.0, 0.3]])
    m(X).sum().backward()
    batched = [p.grad for p in m.parameters()]
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())
    for row in X:
        m(list(row)).backward()
    np.testing.assert_allclose(batched, [p.grad for p in m.parameters()], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- architectures


def test_zero_hidden_layers_linear_model():
    m = MLP(3, [1], activation=None, seed=0)
    w = np.array([0.5, -1.0, 2.0])
    m.set_parameters([w.reshape(1, 3)], [[0.25]])
    X = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(m(X).data, X @ w + 0.25, rtol=1e-14)
    # a linear unit: s and x are the same node
    assert m.intermediates["s1"][0] is m.intermediates["x1"][0]


def test_bias_false_has_weights_only():
    m = MLP(2, [2, 1], activation="relu", out_activation=None, bias=False, seed=0)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "W2[0,0]", "W2[0,1]"]
    Ws, bs = m.get_parameters()
    assert bs == [None, None]
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    ref, _ = np_forward(Ws, [None, None], X, [lambda s: np.maximum(s, 0), lambda s: s])
    np.testing.assert_allclose(m(X).data, ref[:, 0], rtol=1e-14)
    with pytest.raises(ValueError, match="no biases"):
        m.set_parameters(biases=[[0.0, 0.0], [0.0]])


def test_out_activation_default_and_override():
    assert MLP(2, [3, 1]).activations == ["sigmoid", "sigmoid"]
    assert MLP(2, [3, 1], activation="relu", out_activation=None).activations == ["relu", "identity"]
    assert MLP(2, [3, 3, 1], activation=["tanh", "relu", "none"]).activations == ["tanh", "relu", "identity"]
    with pytest.raises(ValueError, match="not both"):
        MLP(2, [3, 1], activation=["tanh", "relu"], out_activation=None)
    with pytest.raises(ValueError, match="2 layers"):
        MLP(2, [3, 1], activation=["tanh"])
    with pytest.raises(KeyError, match="known"):
        MLP(2, [3, 1], activation="nonesuch")


def test_neuron_and_layer_alone():
    n = Neuron(3, activation="relu", weights=[1.0, -2.0, 0.5])
    n.b.data = 0.1
    assert n([1.0, 1.0, 2.0]).data == pytest.approx(max(0.0, 1 - 2 + 1 + 0.1))
    L = Layer(2, 3, "tanh", seed=0)
    out = L([0.2, 0.4])
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_allclose([o.data for o in out], np.tanh(L.weight_matrix() @ [0.2, 0.4]))
    with pytest.raises(ShapeError, match="expects 2 inputs, got 3"):
        L([1, 2, 3])
    X = np.array([[0.2, 0.4], [-1.0, 3.0]])
    batched = L(X)
    np.testing.assert_allclose(np.column_stack([o.data for o in batched]),
                               np.tanh(X @ L.weight_matrix().T), rtol=1e-14)


# ---------------------------------------------------------------- setting weights (R12)


def test_set_parameters_layouts():
    a = MLP(2, [3, 2])
    a.set_parameters([W1, W2], [B1, B2], layout="out_in")
    b = MLP(2, [3, 2])
    b.set_parameters([W1.T, W2.T], [B1, B2], layout="in_out")
    assert a.state_dict() == b.state_dict()
    assert dict(a.named_parameters())["W1[2,0]"].data == 0.4
    ws, bs = a.get_parameters()
    np.testing.assert_array_equal(ws[0], W1)
    np.testing.assert_array_equal(a.get_parameters(layout="in_out")[0][1], W2.T)
    np.testing.assert_array_equal(bs[1], B2)


def test_square_matrix_is_never_transposed_by_guessing():
    S = np.array([[1.0, 2.0], [3.0, 4.0]])
    m = MLP(2, [2], activation=None, bias=False)
    m.set_parameters([S])
    assert dict(m.named_parameters())["W1[0,1]"].data == 2.0
    m.set_parameters([S], layout="in_out")
    assert dict(m.named_parameters())["W1[0,1]"].data == 3.0


def test_set_parameters_shape_errors():
    m = MLP(2, [3, 2])
    before = m.state_dict()
    with pytest.raises(ShapeError, match=r"expected shape \(3, 2\).*layout='in_out'"):
        m.set_parameters([W1.T, W2])
    with pytest.raises(ShapeError, match=r"layer 2: expected shape \(2, 3\)"):
        m.set_parameters([W1, np.ones((4, 4))])
    with pytest.raises(ShapeError, match="1 weight matrices for 2 layers"):
        m.set_parameters([W1])
    with pytest.raises(ShapeError, match="biases of layer 1"):
        m.set_parameters(biases=[[1.0, 2.0], B2])
    with pytest.raises(ValueError, match="layout"):
        m.set_parameters([W1, W2], layout="rows")
    assert m.state_dict() == before  # nothing half-applied


# ---------------------------------------------------------------- initialisers (R11)


@pytest.mark.slow
def test_xavier_normal_std_on_400x600_layer():
    W = Layer(600, 400, init="xavier_normal", seed=0).weight_matrix()
    assert W.shape == (400, 600)
    assert abs(W.std() / np.sqrt(2 / 1000) - 1) < 0.02
    assert abs(W.mean()) < 0.01 * np.sqrt(2 / 1000) * 10
    same = xavier_normal(600, 400, np.random.default_rng(0))
    np.testing.assert_array_equal(same, W)  # a layer draws its matrix in one call
    assert all(n.b.data == 0.0 for n in Layer(600, 3, seed=0).neurons)


def test_initialisers_are_seeded_and_independent_of_global_state():
    a = MLP(3, [5, 2], seed=7).state_dict()
    np.random.seed(0)
    np.random.normal(size=10)
    b = MLP(3, [5, 2], seed=7).state_dict()
    assert a == b
    assert a != MLP(3, [5, 2], seed=8).state_dict()


@pytest.mark.parametrize("name,check", [
    ("xavier_uniform", lambda W, di, do: np.abs(W).max() <= np.sqrt(6 / (di + do))
     and abs(W.var() / (2 / (di + do)) - 1) < 0.05),
    ("he_normal", lambda W, di, do: abs(W.std() / np.sqrt(2 / di) - 1) < 0.03),
    ("uniform", lambda W, di, do: W.min() >= -1 and W.max() <= 1 and abs(W.var() - 1 / 3) < 0.02),
])
def test_other_initialisers(name, check):
    W = initialize(name, 300, 200, np.random.default_rng(1))
    assert W.shape == (200, 300)
    assert check(W, 300, 200)


def test_unknown_initialiser_lists_known_ones():
    with pytest.raises(ValueError, match="xavier_normal.*he_normal"):
        MLP(2, [1], init="glorot")
    assert set(INITIALIZERS) >= {"xavier_normal", "xavier_uniform", "he_normal", "uniform"}


# ---------------------------------------------------------------- bad input (R4)


def test_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="empty"):
        MLP(2, [])
    with pytest.raises(ValueError, match="positive"):
        MLP(2, [3, 0])
    with pytest.raises(ValueError, match="positive"):
        MLP(0, [1])
    with pytest.raises(DataTypeError):
        MLP(2, [2.5])
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(ShapeError, match="expects 2 inputs, got 3"):
        m([1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match=r"2 input columns.*\(4, 3\)"):
        m(np.zeros((4, 3)))
    with pytest.raises(ShapeError):
        m(np.zeros((2, 2, 2)))
    with pytest.raises(ShapeError):
        m(np.zeros((0, 2)))
    with pytest.raises(DataTypeError):
        m(["a", "b"])


def test_state_dict_round_trip_and_mismatch():
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    b.load_state_dict(a.state_dict())
    assert a.state_dict() == b.state_dict()
    with pytest.raises(CheckpointError, match="missing"):
        MLP(2, [4, 1]).load_state_dict(a.state_dict())
    bad = a.state_dict()
    bad["W1[0,0]"] = float("nan")
    with pytest.raises(CheckpointError, match="finite"):
        b.load_state_dict(bad)


# ---------------------------------------------------------------- torch bridge


def test_torch_bridge_outputs_and_gradients_agree():
    torch = pytest.importorskip("torch")
    m = MLP(3, [4, 2], activation="tanh", out_activation="sigmoid", seed=5)
    seq = m.to_torch()
    X = np.random.default_rng(2).normal(size=(6, 3))
    out = m(X)
    L = sum((o * o).mean() for o in out)
    L.backward()
    xt = torch.tensor(X)
    Lt = (seq(xt) ** 2).mean(dim=0).sum()
    Lt.backward()
    np.testing.assert_allclose(np.column_stack([o.data for o in out]),
                               seq(xt).detach().numpy(), rtol=1e-13, atol=1e-15)
    lin1 = seq[0]
    g = np.array([[p.grad for p in n.w] for n in m.layers[0].neurons])
    np.testing.assert_allclose(g, lin1.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
    back = MLP.from_torch(seq)
    assert back.activations == ["tanh", "sigmoid"]
    assert back.state_dict() == m.state_dict()
    with pytest.raises(ValueError, match="no equivalent"):
        MLP.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Hardtanh()))


@pytest.mark.parametrize("act", ["relu", "silu", "softplus", "leaky_relu", "gelu", "gelu_tanh",
                                 "selu_standard", "identity"])
def test_torch_bridge_activations(act):
    torch = pytest.importorskip("torch")
    m = MLP(2, [3, 2], activation=act, seed=1)
    seq = m.to_torch()
    X = np.random.default_rng(0).normal(scale=2.0, size=(8, 2))
    np.testing.assert_allclose(np.column_stack([o.data for o in m(X)]),
                               seq(torch.tensor(X)).detach().numpy(), rtol=1e-12, atol=1e-14)
    assert MLP.from_torch(seq).activations == m.activations
    with pytest.raises(ValueError, match="no torch.nn equivalent"):
        MLP(2, [1], activation="elish").to_torch()


def test_parameters_are_the_named_parameters_values_in_their_order():
    model = MLP(3, [4, 2], seed=1)
    for part in (model, model.layers[1], model.layers[0].neurons[2],
                 MLP(2, [3, 1], bias=False, seed=0)):
        got, want = part.parameters(), [p for _, p in part.named_parameters()]
        assert len(got) == len(want) and all(a is b for a, b in zip(got, want))

    class FirstLayerOnly(MLP):   # a subclass's own naming decides the list
        def named_parameters(self):
            return self.layers[0].named_parameters()

    m = FirstLayerOnly(2, [3, 1], seed=0)
    assert [id(p) for p in m.parameters()] == [id(p) for p in m.layers[0].parameters()]
