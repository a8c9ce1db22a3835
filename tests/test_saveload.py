"""Tests of saving and loading networks and optimiser state (R13)."""
import json
import os

import numpy as np
import pytest

pass
from micrograd_mlp.nets import checkpoint
from micrograd_mlp.nets import checkpoint
from micrograd_mlp.nets.mlp import MLP, load_checkpoint
from micrograd_mlp.errors import CheckpointError
from micrograd_mlp.nets.optim import SGD, Adam
from micrograd_mlp.nets.train import fit, predict

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 0.0])


def sq(pred, target):
    return (pred - target) ** 2


def trained(seed=0):
    m = MLP(2, [4, 3, 1], activation=["tanh", "relu", "sigmoid"], seed=seed)
    fit(m, X, Y, loss=sq, lr=0.5, epochs=5, progress=False)
    return m


def test_save_load_gives_identical_outputs(tmp_path):
    m = trained()
    path = tmp_path / "model.json"
    m.save(path)
    back = MLP.load(path)
    assert repr(back) == repr(m)
    assert back.state_dict() == m.state_dict()  # bit-identical floats
    Xt = np.random.default_rng(0).normal(size=(6, 2))
    np.testing.assert_array_equal(predict(back, Xt), predict(m, Xt))
    doc = json.loads(path.read_text())
    assert doc["version"] == checkpoint.CHECKPOINT_VERSION
    assert doc["architecture"] == {"nin": 2, "sizes": [4, 3, 1],
                                   "activations": ["tanh", "relu", "sigmoid"], "bias": True}
    assert doc["parameters"]["W1[0,1]"] == m.state_dict()["W1[0,1]"]


def test_bias_free_and_linear_networks_round_trip(tmp_path):
    m = MLP(3, [2], activation=None, bias=False, seed=1)
    m.save(tmp_path / "lin.json")
    back = MLP.load(tmp_path / "lin.json")
    assert not back.bias and back.activations == ["identity"]
    assert back.state_dict() == m.state_dict()


@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.05, amsgrad=True),
                                  lambda ps: SGD(ps, lr=0.3, momentum=0.9)])
def test_optimiser_state_round_trip_resumes_training(tmp_path, make):
    a = MLP(2, [3, 1], seed=2)
    oa = make(a.parameters())
    fit(a, X, Y, loss=sq, optimizer=oa, epochs=5, progress=False)
    path = tmp_path / "ckpt.json"
    a.save(path, optimizer=oa)
    b, ob = load_checkpoint(path)
    assert type(ob) is type(oa) and ob.settings() == oa.settings()
    c = MLP(2, [3, 1], seed=9)
    oc = make(c.parameters())
    c.load_parameters(path, optimizer=oc)
    fit(a, X, Y, loss=sq, optimizer=oa, epochs=5, progress=False)
    fit(b, X, Y, loss=sq, optimizer=ob, epochs=5, progress=False)
    fit(c, X, Y, loss=sq, optimizer=oc, epochs=5, progress=False)
    assert a.state_dict() == b.state_dict() == c.state_dict()


def test_random_bytes_truncated_and_foreign_files(tmp_path):
    rnd = tmp_path / "random.json"
    rnd.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(CheckpointError, match="not a micrograd_mlp checkpoint|corrupt"):
        MLP.load(rnd)
    good = tmp_path / "good.json"
    trained().save(good)
    text = good.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        MLP.load(cut)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a micrograd_mlp checkpoint"):
        MLP.load(other)
    doc = json.loads(text)
    doc["version"] = 99
    other.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="version 99"):
        MLP.load(other)
    doc = json.loads(text)
    doc["parameters"]["W1[0,0]"] = "abc"
    other.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="W1\\[0,0\\] must be a finite number"):
        MLP.load(other)
    doc = json.loads(text)
    del doc["parameters"]["b2[1]"]
    other.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="declares 31 parameters but 30 are stored"):
        MLP.load(other)
    doc["parameters"]["b2[1]"] = doc["parameters"].pop("b2[0]")
    doc["parameters"]["x"] = 0.5
    other.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="missing 1"):
        MLP.load(other)
    doc = json.loads(text)
    doc["architecture"]["sizes"] = [4, 0, 1]
    other.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="invalid architecture"):
        MLP.load(other)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "absent.json")


def test_architecture_mismatch(tmp_path):
    path = tmp_path / "m.json"
    MLP(2, [4, 1], seed=0).save(path)
    with pytest.raises(CheckpointError, match="does not match"):
        MLP(2, [5, 1], seed=0).load_parameters(path)
    with pytest.raises(CheckpointError, match="does not match"):
        MLP(2, [4, 1], activation="relu", seed=0).load_parameters(path)
    with pytest.raises(CheckpointError, match="no optimiser state"):
        m = MLP(2, [4, 1], seed=0)
        m.load_parameters(path, optimizer=SGD(m.parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match="parameters do not fit"):
        MLP(3, [4, 1]).load_state_dict(MLP.load(path).state_dict())


def _files(folder):
    return sorted(os.listdir(folder))


def test_failing_json_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    before = path.read_bytes()

    def broken_dump(obj, f, **kw):
        f.write('{"format": "micrograd_mlp.MLP", "vers')  # half a file, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        MLP(2, [3, 1], seed=1).save(path)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["model.json"]  # no temporary file left behind
    monkeypatch.undo()
    assert MLP.load(path).state_dict() == MLP(2, [3, 1], seed=0).state_dict()


def test_failing_replace_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise PermissionError("no")

    monkeypatch.setattr(checkpoint.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        MLP(2, [3, 1], seed=1).save(path)
    assert path.read_bytes() == before and _files(tmp_path) == ["model.json"]


def test_non_finite_model_is_not_saved(tmp_path):
    path = tmp_path / "model.json"
    m = MLP(2, [3, 1], seed=0)
    m.save(path)
    before = path.read_bytes()
    m.parameters()[0].data = float("nan")
    with pytest.raises(CheckpointError, match="non-finite"):
        m.save(path)
    assert path.read_bytes() == before


def test_unnamed_activation_cannot_be_saved(tmp_path):
    m = MLP(2, [1], activation=lambda v: v * 2.0)
    with pytest.raises(CheckpointError, match="unregistered activation"):
        m.save(tmp_path / "x.json")
    assert _files(tmp_path) == []
