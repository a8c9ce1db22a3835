"""The ready examples: Task 5 of seed 001 (SPEC R20) and seed 002 section 3 (SPEC R19),
checked node by node against forward and backward passes written by hand in numpy."""
import numpy as np
import pytest

from micrograd_mlp import examples

from micrograd_mlp.views import trace

W1 = np.array([[0.2, -0.3], [0.1, -1.2], [0.4, 0.3]])
B1 = np.array([0.3, -0.1, 1.2])
W2 = np.array([[0.4, 0.2, 0.2], [0.1, 0.3, 0.5]])
B2 = np.array([-0.6, 0.5])
X0 = np.array([1.0, 2.0])
Y = np.array([0.0, 1.0])


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def task5_reference(loss="half"):
    """Forward and backward of Task 5 by hand (matrix form), as a student writes it."""
    s1 = W1 @ X0 + B1
    x1 = sig(s1)
    s2 = W2 @ x1 + B2
    x2 = sig(s2)
    k = 0.5 if loss == "half" else 1.0
    E = k * np.sum((x2 - Y) ** 2)
    dx2 = 2 * k * (x2 - Y)
    dsig2 = x2 * (1 - x2)
    ds2 = dx2 * dsig2
    dW2 = np.outer(ds2, x1)
    dx1 = W2.T @ ds2
    dsig1 = x1 * (1 - x1)
    ds1 = dx1 * dsig1
    dW1 = np.outer(ds1, X0)
    dx0 = W1.T @ ds1
    return dict(s1=s1, x1=x1, s2=s2, x2=x2, E=E, dx2=dx2, dsig2=dsig2, ds2=ds2, db2=ds2,
                dW2=dW2, dx1=dx1, dsig1=dsig1, ds1=ds1, db1=ds1, dW1=dW1, dx0=dx0)


SEED = examples.SEED002


def seed002_reference():
    """Seed 002's network (x . W convention) forward and backward in numpy."""
    x = np.array(SEED["x"])
    w1 = np.array(SEED["W1"])
    b1 = np.array(SEED["b1"])
    w2 = np.array(SEED["W2"])[:, 0]
    b2 = SEED["b2"][0]
    y = SEED["y"]
    z1 = x @ w1
    z2 = z1 + b1
    z3 = sig(z2)
    z4 = z3 @ w2
    yhat = z4 + b2
    l = (y - yhat) ** 2
    d = {"l": 1.0, "y": 2 * (y - yhat), "yhat": -2 * (y - yhat)}
    d["b2"] = d["yhat"]
    d["z4"] = d["yhat"]
    d["W2"] = d["z4"] * z3
    d["z3"] = d["z4"] * w2
    d["z2"] = d["z3"] * z3 * (1 - z3)
    d["b1"] = d["z2"]
    d["z1"] = d["z2"]
    d["W1"] = np.outer(x, d["z1"])
    d["x"] = w1 @ d["z1"]
    values = dict(z1=z1, z2=z2, z3=z3, z4=z4, yhat=yhat, l=l)
    return values, d


def _vector(ex, base, shape, what="data"):
    out = np.zeros(shape)
    for idx in np.ndindex(*shape):
        label = f"{base}[{','.join(map(str, idx))}]"
        node = ex.nodes[label]
        out[idx] = node.data if what == "data" else node.grad
    return out


def test_task5_forward_matches_numpy_and_spec():
    ex = examples.task5()
    ref = task5_reference()
    for name, n in (("s1", 3), ("x1", 3), ("s2", 2), ("x2", 2)):
        np.testing.assert_allclose(_vector(ex, name, (n,)), ref[name], rtol=0, atol=1e-12)
    assert ex.root.data == pytest.approx(ref["E"], abs=1e-12)
    # the figure's printed numbers (seed 001, SPEC R20)
    np.testing.assert_allclose(_vector(ex, "x1", (3,)), [0.4750208, 0.0831727, 0.9002495], atol=5e-8)
    np.testing.assert_allclose(_vector(ex, "s2", (2,)), [-0.2133072, 1.0225786], atol=5e-8)
    np.testing.assert_allclose(_vector(ex, "x2", (2,)), [0.4468745, 0.7354746], atol=5e-8)
    assert round(ex.root.data, 4) == 0.1348


@pytest.mark.parametrize("loss", ["half", "full"])
def test_task5_gradients_match_numpy(loss):
    ex = examples.task5(loss=loss).backward()
    ref = task5_reference(loss)
    np.testing.assert_allclose(_vector(ex, "W2", (2, 3), "grad"), ref["dW2"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "b2", (2,), "grad"), ref["db2"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "W1", (3, 2), "grad"), ref["dW1"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "b1", (3,), "grad"), ref["db1"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "x0", (2,), "grad"), ref["dx0"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "x1", (3,), "grad"), ref["dx1"], atol=1e-12)
    np.testing.assert_allclose(_vector(ex, "s2", (2,), "grad"), ref["ds2"], atol=1e-12)


def test_full_loss_doubles_every_gradient():
    half = trace.traced_gradients(examples.task5("half").root)
    full = trace.traced_gradients(examples.task5("full").root)
    by_label_h = {n.label: g for n, g in half.items() if n.label}
    by_label_f = {n.label: g for n, g in full.items() if n.label}
    assert set(by_label_h) == set(by_label_f)
    for label in by_label_h:
        if label == "E":
            continue
        assert by_label_f[label] == pytest.approx(2 * by_label_h[label], abs=1e-15)


def test_task5_spec_rounded_gradients():
    ex = examples.task5().backward()
    spec = {
        "b2": [0.1105, -0.0515],
        "W2": [[0.0525, 0.0092, 0.0994], [-0.0244, -0.0043, -0.0463]],
        "b1": [0.0097, 0.0005, -0.0003],
        "W1": [[0.0097, 0.0195], [0.0005, 0.0010], [-0.0003, -0.0007]],
        "x0": [0.0019, -0.0036],
    }
    for base, expected in spec.items():
        expected = np.array(expected)
        got = _vector(ex, base, expected.shape, "grad")
        np.testing.assert_array_equal(np.round(got, 4), expected)


def test_task5_labels_and_model():
    ex = examples.task5()
    for label in ("x0[0]", "W1[1,0]", "b1[2]", "s1[2]", "x1[2]", "W2[1,2]", "s2[1]", "x2[1]", "E"):
        assert label in ex.nodes
    assert ex.model is not None
    W, b = ex.model.get_parameters(layout="out_in")
    np.testing.assert_array_equal(W[0], W1)
    np.testing.assert_array_equal(b[1], B2)
    assert not ex.nodes["y[0]"].requires_grad


def test_bad_loss_name():
    with pytest.raises(ValueError, match="half"):
        examples.task5(loss="quarter")
    with pytest.raises(KeyError, match="task5"):
        examples.example_named("task9")


def test_seed002_all_twelve_derivatives():
    ex = examples.seed002()
    values, d = seed002_reference()
    grads = trace.traced_gradients(ex.root, collapse=True)
    by_label = {n.label: g for n, g in grads.items() if n.label}
    assert ex.root.data == pytest.approx(values["l"], abs=1e-14)
    assert grads[ex.root] == 1.0
    for name in ("y", "yhat", "b2", "z4"):
        assert by_label[name] == pytest.approx(d[name], abs=1e-14), name
    for name in ("z3", "z2", "z1", "b1"):
        got = np.array([by_label[f"{name}[{j}]"] for j in range(3)])
        np.testing.assert_allclose(got, d[name], atol=1e-14)
    got_w2 = np.array([by_label[f"W2[{j},0]"] for j in range(3)])
    np.testing.assert_allclose(got_w2, d["W2"], atol=1e-14)
    got_w1 = np.array([[by_label[f"W1[{i},{j}]"] for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(got_w1, d["W1"], atol=1e-14)
    got_x = np.array([by_label[f"x[{i}]"] for i in range(2)])
    np.testing.assert_allclose(got_x, d["x"], atol=1e-14)
    # the engine agrees with the replayed trace
    ex.backward()
    assert ex.nodes["y"].grad == pytest.approx(d["y"], abs=1e-14)


def test_seed002_ledger_names_every_derivative():
    text = trace.format_table(examples.seed002().root)
    for lhs in ("dl/dl", "dl/dy ", "dl/dyhat", "dl/db2", "dl/dz4", "dl/dW2[0,0]", "dl/dz3[0]",
                "dl/dz2[0]", "dl/db1[0]", "dl/dz1[0]", "dl/dW1[0,0]", "dl/dx[0]"):
        assert any(line.startswith(lhs) for line in text.splitlines()), lhs
