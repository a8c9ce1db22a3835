"""Checkpoint files under adversarial conditions (issue 12, class 6): what cannot be
loaded is never written, the old file survives every refusal, modes and symlinks are
kept, a small file cannot make the loader allocate, any malformed file raises
CheckpointError. Also: render without Graphviz never overwrites a user's .dot file."""
import json
import os
import stat
import tracemalloc

import pytest

from micrograd_mlp import Value
from micrograd_mlp.errors import CheckpointError, GraphvizMissingError
from micrograd_mlp.nets.checkpoint import parse_checkpoint
from micrograd_mlp.nets.mlp import MLP, load_checkpoint
from micrograd_mlp.nets.optim import SGD, Adam
from micrograd_mlp.views import graph


def _good(tmp_path, name="m.json", seed=0):
    path = tmp_path / name
    MLP(2, [3, 1], seed=seed).save(path)
    return path


# ---------------------------------------------------------------- refuse before writing


def test_optimiser_over_some_parameters_is_refused_and_old_file_kept(tmp_path):
    path = _good(tmp_path)
    before = path.read_bytes()
    m = MLP(2, [3, 1], seed=1)
    opt = Adam(m.parameters()[:4], lr=0.1)
    with pytest.raises(CheckpointError, match="not exactly the model's 13"):
        m.save(path, optimizer=opt)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.json"]  # no temporary file left


def test_optimiser_over_another_models_parameters_is_refused(tmp_path):
    path = _good(tmp_path)
    before = path.read_bytes()
    m, other = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    with pytest.raises(CheckpointError, match="cannot save SGD"):
        m.save(path, optimizer=SGD(other.parameters(), lr=0.1))
    assert path.read_bytes() == before


def test_optimiser_in_another_order_is_refused(tmp_path):
    m = MLP(2, [3, 1], seed=1)
    with pytest.raises(CheckpointError):
        m.save(tmp_path / "x.json", optimizer=SGD(m.parameters()[::-1], lr=0.1))
    assert not (tmp_path / "x.json").exists()


def test_a_saved_optimiser_loads_back_over_the_new_model(tmp_path):
    m = MLP(2, [3, 1], seed=1)
    opt = Adam(m.parameters(), lr=0.1)
    m.save(tmp_path / "x.json", optimizer=opt)
    back, opt2 = load_checkpoint(tmp_path / "x.json")
    assert opt2.params == back.parameters() and opt2.settings() == opt.settings()


# ---------------------------------------------------------------- mode and symlinks


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o640])
def test_saving_keeps_the_files_mode(tmp_path, mode):
    path = _good(tmp_path)
    os.chmod(path, mode)
    MLP(2, [3, 1], seed=5).save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert MLP.load(path).state_dict() == MLP(2, [3, 1], seed=5).state_dict()


def test_a_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = _good(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_saving_through_a_symlink_writes_the_target(tmp_path):
    target = _good(tmp_path, "real.json")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    MLP(2, [3, 1], seed=7).save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert MLP.load(target).state_dict() == MLP(2, [3, 1], seed=7).state_dict()
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "absent.json")
    MLP(2, [1], seed=3).save(link)
    assert link.is_symlink() and (tmp_path / "absent.json").is_file()


def test_saving_onto_a_folder_is_refused(tmp_path):
    (tmp_path / "d.json").mkdir()
    with pytest.raises(IsADirectoryError):
        MLP(2, [1]).save(tmp_path / "d.json")
    assert os.listdir(tmp_path) == ["d.json"]


# ---------------------------------------------------------------- malformed files


def _doc(tmp_path):
    return json.loads(_good(tmp_path).read_text())


def test_small_file_claiming_ten_billion_weights_allocates_nothing(tmp_path):
    doc = {"format": "micrograd_mlp.MLP", "version": 1,
           "architecture": {"nin": 100000, "sizes": [100000, 1], "activations": ["relu", "relu"],
                            "bias": True}, "parameters": {"W1[0,0]": 0.5}}
    raw = json.dumps(doc).encode()
    assert len(raw) < 200
    path = tmp_path / "huge.json"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="declares 10000200001 parameters but 1"):
            MLP.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # bytes: nothing of the claimed size was built


def test_json_nested_a_hundred_thousand_deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"format": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(CheckpointError, match="nested too deeply|corrupt"):
        MLP.load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["parameters"].__setitem__("W1[0,0]", float("nan")), "corrupt"),
    (lambda d: d["parameters"].__setitem__("W1[0,0]", float("inf")), "corrupt"),
    (lambda d: d["parameters"].__setitem__("W1[0,0]", 10 ** 400), "finite number"),
    (lambda d: d["parameters"].__setitem__("W1[0,0]", True), "finite number"),
    (lambda d: d["parameters"].__setitem__("W1[0,0]", None), "finite number"),
    (lambda d: d.__setitem__("version", True), "version True"),
    (lambda d: d.__setitem__("version", 1.0), "version 1.0"),
    (lambda d: d["architecture"].__setitem__("bias", "false"), "'bias' must be"),
    (lambda d: d["architecture"].__setitem__("sizes", "31"), "'sizes' must be"),
    (lambda d: d["architecture"].__setitem__("sizes", [3.0, 1]), "'sizes' must be"),
    (lambda d: d["architecture"].__setitem__("nin", 0), "'nin' must be"),
    (lambda d: d["architecture"].__setitem__("nin", 10 ** 4000), "declares"),
    (lambda d: d["architecture"].__setitem__("activations", "sigmoid"), "'activations'"),
    (lambda d: d["architecture"].__setitem__("activations", ["sigmoid", "nope"]), "nope"),
    (lambda d: d["architecture"].__setitem__("activations", [None, "relu"]), "'activations'"),
    (lambda d: d["architecture"].__setitem__("extra", 1), "unknown field"),
    (lambda d: d.__setitem__("parameters", []), "'parameters' entry"),
    (lambda d: d.__setitem__("optimizer", [1]), "'optimizer' entry"),
    (lambda d: d.__setitem__("optimizer", {"type": {}}), "unknown optimiser type"),
    (lambda d: d.__setitem__("optimizer", {"type": "SGD", "n_params": 13, "settings": [1],
                                           "state": {}}), "settings"),
    (lambda d: d.__setitem__("optimizer", {"type": "SGD", "n_params": 13,
                                           "settings": {"lr": 10 ** 400}, "state": {}}),
     "too large"),
    (lambda d: d.__setitem__("optimizer", {"type": "Adam", "n_params": 13, "settings": {},
                                           "state": {"step": 1, "exp_avg": [1e300] * 12}}),
     "invalid Adam state|exp_avg"),
    (lambda d: d.__setitem__("optimizer", {"type": "SGD", "n_params": 10 ** 10,
                                           "settings": {}, "state": {}}), "10000000000"),
])
def test_malformed_documents_raise_checkpoint_error(tmp_path, edit, message):
    doc = _doc(tmp_path)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))  # json writes NaN/Infinity: not valid strict JSON
    with pytest.raises(CheckpointError, match=message):
        MLP.load(path)


@pytest.mark.parametrize("text, message", [
    ('{"format": "micrograd_mlp.MLP", "format": "x"}', "appears twice"),
    ('{"format": "micrograd_mlp.MLP", "version": ' + "9" * 5000 + "}", "corrupt"),
    ("", "corrupt or truncated"),
    ("\ufeff{}", "corrupt or truncated|not a micrograd"),
    ("[]", "not a micrograd_mlp checkpoint"),
    ('"micrograd_mlp.MLP"', "not a micrograd_mlp checkpoint"),
])
def test_malformed_texts_raise_checkpoint_error(text, message):
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(text.encode("utf-8"))


def test_non_utf8_bytes_raise_checkpoint_error():
    with pytest.raises(CheckpointError, match="not UTF-8"):
        parse_checkpoint(b'{"format": "\xff\xfe"}')


def test_every_truncation_of_a_file_raises_checkpoint_error(tmp_path):
    raw = _good(tmp_path).read_bytes()
    for cut in range(0, len(raw) - 1, 7):
        with pytest.raises(CheckpointError):
            parse_checkpoint(raw[:cut])


def test_load_parameters_refuses_a_malformed_file_and_changes_nothing(tmp_path):
    doc = _doc(tmp_path)
    doc["parameters"]["b2[0]"] = "oops"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    m = MLP(2, [3, 1], seed=4)
    before = m.state_dict()
    with pytest.raises(CheckpointError):
        m.load_parameters(path)
    assert m.state_dict() == before


# ---------------------------------------------------------------- render without Graphviz


def _no_dot(monkeypatch):
    # a PATH without dot: render runs the dot program itself (under a time limit)
    monkeypatch.setenv("PATH", os.path.join(os.sep, "no", "such", "folder"))


def test_render_without_graphviz_never_overwrites_an_existing_dot(tmp_path, monkeypatch):
    _no_dot(monkeypatch)
    mine = tmp_path / "f.dot"
    mine.write_text("digraph { my -> own }")
    a = Value(2.0, "a")
    with pytest.raises(GraphvizMissingError) as info:
        graph.render(a * a, tmp_path / "f.svg")
    assert mine.read_text() == "digraph { my -> own }"
    written = [p for p in os.listdir(tmp_path) if p != "f.dot"]
    assert len(written) == 1 and written[0].endswith(".dot")
    assert written[0] in str(info.value)
    assert "digraph" in (tmp_path / written[0]).read_text()


def test_render_without_graphviz_writes_the_dot_beside_the_target(tmp_path, monkeypatch):
    _no_dot(monkeypatch)
    a = Value(2.0, "a")
    with pytest.raises(GraphvizMissingError, match="f.dot"):
        graph.render(a * a, tmp_path / "f.png")
    assert "digraph" in (tmp_path / "f.dot").read_text()


def test_render_to_a_dot_file_writes_that_file(tmp_path):
    mine = tmp_path / "f.dot"
    mine.write_text("old")
    a = Value(2.0, "a")
    graph.render(a * a, mine)  # the requested output: replaced, as asked
    assert mine.read_text().startswith("digraph")


# ---------------------------------------------------------------- two writers


def test_two_threads_saving_the_same_file_leave_one_whole_model(tmp_path):
    import threading

    path = tmp_path / "shared.json"
    models = [MLP(2, [3, 1], seed=s) for s in (10, 11)]
    barrier = threading.Barrier(2)
    errors = []

    def writer(m):
        try:
            barrier.wait()
            for _ in range(25):
                m.save(path)
                MLP.load(path)  # whatever is there is always a whole checkpoint
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = MLP.load(path).state_dict()
    assert final in [m.state_dict() for m in models]
    assert sorted(os.listdir(tmp_path)) == ["shared.json"]  # no temporary file left
