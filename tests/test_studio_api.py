"""The studio's JSON API driven by Starlette's TestClient: every endpoint, every bad
request answered 4xx with the state left as it was, and the studio's training checked
against the library's fit and a closed-form numpy forward/backward."""
import copy
import json
import re
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette asks for httpx's successor; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from micrograd_mlp.nets.checkpoint import parse_checkpoint  # noqa: E402
from micrograd_mlp.nets.mlp import MLP, from_document  # noqa: E402
from micrograd_mlp.nets.train import fit  # noqa: E402
from micrograd_mlp.studio import datasets  # noqa: E402
from micrograd_mlp.studio.app import make_app  # noqa: E402
from micrograd_mlp.studio.session import Session  # noqa: E402


@pytest.fixture
def client():
    session = Session(net="2-4-3-1")
    with TestClient(make_app(session, trainer=False)) as c:
        c.session = session
        yield c


def state(c, **query):
    r = c.get("/api/state", params=query)
    assert r.status_code == 200, r.text
    return r.json()


def comparable(s):
    """The parts of a state a bad request must not change."""
    keep = {k: s[k] for k in ("step", "epoch", "loss", "settings", "data", "parameters",
                              "gradients", "history")}
    keep["example"] = s["example"]["index"]
    return copy.deepcopy(keep)


# ---------------------------------------------------------------- closed-form reference


def numpy_example(params, x, target, acts, loss):
    """Forward and backward of one sample by hand (numpy), the exercises' notation."""
    f = {"tanh": np.tanh, "sigmoid": lambda s: 1 / (1 + np.exp(-s)), "identity": lambda s: s}
    df = {"tanh": lambda s, a: 1 - a ** 2, "sigmoid": lambda s, a: a * (1 - a),
          "identity": lambda s, a: np.ones_like(s)}
    L = len(acts)
    xs, ss = [np.asarray(x, float)], []
    for l in range(1, L + 1):
        W, b = np.array(params[f"W{l}"]), np.array(params[f"b{l}"])
        ss.append(W @ xs[-1] + b)
        xs.append(f[acts[l - 1]](ss[-1]))
    out = xs[-1][0]
    if loss == "mse":
        E, dout = (out - target) ** 2, 2 * (out - target)
    else:  # binary cross-entropy on a probability
        E = -(target * np.log(out) + (1 - target) * np.log(1 - out))
        dout = -(target / out) + (1 - target) / (1 - out)
    ref = {"x0": xs[0], "E": E}
    g = {f"x{L}": np.array([dout])}
    for l in range(L, 0, -1):
        ref[f"s{l}"], ref[f"x{l}"] = ss[l - 1], xs[l]
        g[f"s{l}"] = g[f"x{l}"] * df[acts[l - 1]](ss[l - 1], xs[l])
        g[f"W{l}"] = np.outer(g[f"s{l}"], xs[l - 1])
        g[f"b{l}"] = g[f"s{l}"]
        g[f"x{l - 1}"] = np.array(params[f"W{l}"]).T @ g[f"s{l}"]
    return ref, g


def check_example(s, loss="mse"):
    ex = s["example"]
    i = ex["index"]
    ref, g = numpy_example(s["parameters"], s["data"]["X"][i], s["data"]["y"][i],
                           s["activations"], loss)
    for key, want in ref.items():
        np.testing.assert_allclose(ex[key], want, rtol=1e-10, atol=1e-12, err_msg=key)
    for key, want in g.items():
        np.testing.assert_allclose(ex["gradients"][key], want, rtol=1e-10, atol=1e-12,
                                   err_msg=f"dE/d{key}")


# ---------------------------------------------------------------- endpoints


def test_state_has_every_documented_part(client):
    s = state(client)
    assert s["step"] == 0 and s["epoch"] == 0
    assert s["settings"] == {"data": "moons", "seed": 0, "net": "2-4-3-1", "activation": "tanh",
                             "loss": "mse", "optimizer": "adam", "lr": 0.05, "batch_size": None,
                             "speed": 0, "running": False}
    assert len(s["data"]["X"]) == len(s["data"]["y"]) == datasets.N_POINTS
    assert [len(s["parameters"][k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == [4, 4, 3, 3, 1, 1]
    assert len(s["parameters"]["W2"][0]) == 4  # rows = neurons, columns = inputs
    assert set(s["example"]) >= {"index", "x0", "s1", "x1", "s2", "x2", "s3", "x3", "E", "gradients"}
    assert s["activations"] == ["tanh", "tanh", "sigmoid"]
    check_example(s)


def test_full_batch_loss_and_gradients_are_the_numpy_mean(client):
    s = state(client)
    X, y = np.array(s["data"]["X"]), np.array(s["data"]["y"])
    acts = s["activations"]
    total_g = {k: 0 for k in s["gradients"]}
    total = 0.0
    for xi, yi in zip(X, y):
        ref, g = numpy_example(s["parameters"], xi, yi, acts, "mse")
        total += ref["E"]
        for k in total_g:
            total_g[k] = total_g[k] + g[k]
    assert s["loss"] == pytest.approx(total / len(X), rel=1e-12)
    for k, v in total_g.items():
        np.testing.assert_allclose(s["gradients"][k], v / len(X), rtol=1e-9, atol=1e-14)


def test_step_epoch_play_pause_reset(client):
    s0 = state(client)
    assert client.post("/api/step", json={"steps": 3}).json()["taken"] == 3
    s = state(client)
    assert s["step"] == 3 and s["epoch"] == 3 and len(s["history"]["train"]) == 3
    assert s["parameters"] != s0["parameters"]
    client.post("/api/settings", json={"batch_size": 64})
    client.post("/api/step", json={"steps": 1})
    client.post("/api/step", json={"epochs": 1})
    s = state(client)
    assert s["epoch"] == 4 and s["step"] == 3 + 4  # 200 points: 4 batches of 64 (the last 8)
    assert client.post("/api/play").json()["running"] is True
    assert state(client)["settings"]["running"] is True
    assert client.post("/api/pause").json()["running"] is False
    client.post("/api/reset")
    s = state(client)
    assert s["step"] == 0 and s["history"]["train"] == []
    assert s["parameters"] == s0["parameters"]  # the same initial weights


def test_since_answers_unchanged_until_something_changes(client):
    v = state(client)["version"]
    assert state(client, since=v) == {"version": v, "unchanged": True}
    client.post("/api/select", json={"index": 5})
    s = state(client, since=v)
    assert s["version"] > v and s["example"]["index"] == 5
    check_example(s)


def test_points_add_delete_and_csv_round_trip(client):
    n = len(state(client)["data"]["X"])
    r = client.post("/api/points", json={"add": {"x": 0.25, "y": -0.5, "label": 1}})
    assert r.json()["index"] == n
    s = state(client)
    assert s["data"]["X"][-1] == [0.25, -0.5] and s["data"]["y"][-1] == 1
    client.post("/api/points", json={"delete": 0})
    s = state(client)
    assert len(s["data"]["X"]) == n and s["data"]["X"][-1] == [0.25, -0.5]
    text = client.get("/api/data.csv").text
    assert text.splitlines()[0] == "x0,x1,label" and len(text.splitlines()) == n + 1
    csv = "x0,x1,label\n0,0,0\n1,1,1\n0.5,-2,0\n"
    assert client.post("/api/points", json={"csv": csv}).json()["points"] == 3
    s = state(client)
    assert s["data"] == {"X": [[0, 0], [1, 1], [0.5, -2]], "y": [0, 1, 0]}
    assert client.get("/api/data.csv").text.splitlines()[1:] == ["0.0,0.0,0", "1.0,1.0,1", "0.5,-2.0,0"]


def test_typed_weight_recomputes_forward_and_backward(client):
    before = state(client)
    r = client.post("/api/weight", json={"name": "W2", "index": [2, 1], "value": 0.3})
    assert r.status_code == 200
    s = state(client)
    assert s["parameters"]["W2"][2][1] == 0.3
    assert s["example"]["E"] != before["example"]["E"]
    check_example(s)
    client.post("/api/weight", json={"name": "b1", "index": [3], "value": -1.5})
    s = state(client)
    assert s["parameters"]["b1"][3] == -1.5
    check_example(s)


def test_settings_rebuild_what_they_touch(client):
    client.post("/api/step", json={"steps": 2})
    client.post("/api/settings", json={"lr": 0.2})
    s = state(client)
    assert s["settings"]["lr"] == 0.2 and s["step"] == 2  # the run goes on
    client.post("/api/settings", json={"data": "sinusoid"})
    s = state(client)
    assert s["kind"] == "regression" and s["settings"]["net"] == "1-4-3-1" and s["step"] == 0
    assert s["activations"][-1] == "identity" and s["views"]["kind"] == "curve"
    svg = client.get("/api/graph.svg").text  # one input: W1 is still a matrix, W1[i,0]
    assert 'data-key="W1[3,0]"' in svg and 'data-key="W1[3]"' not in svg
    assert 'data-key="x3[0]"' not in svg  # a linear output: x3 is s3, drawn once
    client.post("/api/settings", json={"data": "circles", "net": "2-5-1", "activation": "sigmoid",
                                       "loss": "binary_cross_entropy", "optimizer": "sgd"})
    s = state(client)
    assert s["settings"]["net"] == "2-5-1" and s["activations"] == ["sigmoid", "sigmoid"]
    check_example(s, loss="bce")


def test_snapshots_are_kept_and_shown(client):
    client.post("/api/step", json={"steps": 10})
    s = state(client)
    assert [x["step"] for x in s["snapshots"]] == list(range(11))
    at3 = state(client, snapshot=3)
    assert at3["step"] == 3 and len(at3["history"]["train"]) == 3
    client.post("/api/reset")
    client.post("/api/step", json={"steps": 3})
    assert state(client)["parameters"] == at3["parameters"]  # a snapshot is that moment
    client.post("/api/step", json={"steps": 400})
    snaps = state(client)["snapshots"]
    assert len(snaps) <= 120 and snaps[0]["step"] == 0 and snaps[-1]["step"] == 403


def test_checkpoint_is_the_library_format(client):
    client.post("/api/step", json={"steps": 4})
    s = state(client)
    doc = parse_checkpoint(client.get("/api/checkpoint").content)
    model, opt = from_document(doc)
    W, b = model.get_parameters()
    np.testing.assert_array_equal(W[1], s["parameters"]["W2"])
    assert type(opt).__name__ == "Adam"


def test_export_is_one_offline_file(client):
    client.post("/api/step", json={"steps": 5})
    page = client.post("/api/export").text
    assert page.startswith("<!DOCTYPE html>")
    links = re.findall(r"https?://[^\s\"'\\]+", page)
    assert set(links) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, links
    assert 'src="' not in page and 'href="static' not in page
    data = json.loads(page.split('<script type="application/json" id="studio-export">')[1]
                      .split("</script>")[0].replace("<\\/", "</"))
    assert [f["step"] for f in data["frames"]] == list(range(6))
    assert len(data["recorded"]) == 8 and all(str(i) in data["frames"][0]["examples"] for i in data["recorded"])


def test_graph_svg_has_every_number(client):
    svg = client.get("/api/graph.svg").text
    keys = set(re.findall(r'<text class="num" data-key="([^"]+)"', svg))
    assert {"x0[1]", "dE/dx0[1]", "W2[2,3]", "dE/dW2[2,3]", "b3[0]", "s3[0]", "x3[0]", "E[0]"} <= keys
    # x0; W1 b1 s1 x1; W2 b2 s2 x2; W3 b3 s3 x3: each value and its gradient, then E
    assert len(keys) == 2 * (2 + (8 + 4 + 4 + 4) + (12 + 3 + 3 + 3) + (3 + 1 + 1 + 1)) + 1


# ---------------------------------------------------------------- bad requests


BAD = [
    ("get", "/api/nothing", None, 404, "no such page"),
    ("post", "/api/nothing", {}, 404, "no such page"),
    ("post", "/api/step", b"{not json", 400, "not valid JSON"),
    ("post", "/api/step", {"steps": 0}, 400, "steps must be >= 1"),
    ("post", "/api/step", {"steps": "3"}, 400, "steps must be an integer"),
    ("post", "/api/step", [1, 2], 400, "must be a JSON object"),
    ("post", "/api/settings", {"net": "2-1000000-1"}, 400, "1000000 neurons"),
    ("post", "/api/settings", {"net": "2-8-2"}, 400, "one output"),
    ("post", "/api/settings", {"net": "1-8-1"}, 400, "takes 1 inputs"),
    ("post", "/api/settings", b'{"lr": NaN}', 400, "NaN is not a JSON number"),
    ("post", "/api/settings", {"lr": -1}, 400, "lr must be > 0"),
    ("post", "/api/settings", b'{"lr": 1e400}', 400, "lr must be a finite number"),
    ("post", "/api/settings", {"colour": "red"}, 400, "unknown setting 'colour'"),
    ("post", "/api/settings", {"activation": "nope"}, 400, "activation must be one of"),
    ("post", "/api/settings", {"data": "sinusoid", "loss": "binary_cross_entropy"}, 400, "needs class labels"),
    ("post", "/api/weight", {"name": "W7", "index": [0, 0], "value": 1}, 400, "unknown weight name 'W7'"),
    ("post", "/api/weight", {"name": "W1", "index": [9, 0], "value": 1}, 400, "W1 row must be <= 3"),
    ("post", "/api/weight", {"name": "W1", "index": [0], "value": 1}, 400, "W1 needs 2 indices"),
    ("post", "/api/weight", {"name": "W1", "index": [0, 0], "value": "x"}, 400, "must be a number"),
    ("post", "/api/weight", {"name": "W1", "index": [0, 0]}, 400, "value is missing"),
    ("post", "/api/select", {"index": 10 ** 6}, 400, "index must be <="),
    ("post", "/api/select", {"index": True}, 400, "must be an integer"),
    ("post", "/api/points", {"csv": "x0,x1,label\n1,abc,0\n"}, 400, "CSV line 2"),
    ("post", "/api/points", {"csv": "x0,x1,label\n1,2\n"}, 400, "2 columns, expected 3"),
    ("post", "/api/points", {"csv": "x0,x1,label\n1,2,7\n"}, 400, "0 or 1"),
    ("post", "/api/points", {"add": {"x": 0, "y": 0, "label": 2}}, 400, "label must be <= 1"),
    ("post", "/api/points", {"add": {"x": 0, "y": 0}}, 400, "label must be an integer"),
    ("post", "/api/points", {"delete": -1}, 400, "index must be >= 0"),
    ("post", "/api/points", {}, 400, "exactly one of"),
    ("get", "/api/state?snapshot=99", None, 400, "snapshot must be <="),
    ("get", "/api/state?snapshot=abc", None, 400, "snapshot must be an integer"),
    ("get", "/api/state?colour=1", None, 400, "unknown field 'colour'"),
    ("delete", "/api/state", None, 405, "DELETE is not allowed"),
]


@pytest.mark.parametrize("method,path,body,status,message", BAD,
                         ids=[f"{m} {p} {b!r:.30}" for m, p, b, *_ in BAD])
def test_bad_request_is_4xx_with_a_message_and_changes_nothing(client, method, path, body, status, message):
    client.post("/api/step", json={"steps": 2})
    before = comparable(state(client))
    kwargs = {}
    if isinstance(body, bytes):
        kwargs = {"content": body, "headers": {"Content-Type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert comparable(state(client)) == before
    assert client.post("/api/step", json={"steps": 1}).status_code == 200  # still serving


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow while diverging
def test_a_diverging_run_pauses_and_says_so():
    session = Session(data="sinusoid", net="1-8-1", activation="identity", optimizer="sgd", lr=50.0)
    with TestClient(make_app(session, trainer=False)) as c:
        c.post("/api/play")
        taken = c.post("/api/step", json={"steps": 500}).json()["taken"]
        s = state(c)
    assert taken < 500
    assert s["settings"]["running"] is False
    assert "diverged" in s["message"] and "paused" in s["message"]
    assert s["views"] is None and s["example"] is None  # nothing drawn from non-finite numbers


# ---------------------------------------------------------------- the library's training


@pytest.mark.parametrize("optimizer,batch_size,loss,activation", [
    ("sgd", None, "mse", "tanh"),
    ("adam", 32, "mse", "relu"),
    ("sgd", 7, "binary_cross_entropy", "sigmoid"),
    ("adam", None, "bce_with_logits", "tanh"),
])
def test_studio_training_is_fit(optimizer, batch_size, loss, activation):
    settings = dict(data="moons", seed=3, net="2-6-5-1", activation=activation, loss=loss,
                    optimizer=optimizer, lr=0.03, batch_size=batch_size)
    session = Session(**settings)
    initial = [p.data for p in session.model.parameters()]
    epochs = 6
    session.run_epochs(epochs)
    studio = np.array([p.data for p in session.model.parameters()])

    model = MLP(2, [6, 5, 1], activation=activation,
                out_activation=None if loss == "bce_with_logits" else "sigmoid", seed=3)
    assert [p.data for p in model.parameters()] == initial
    ds = datasets.make("moons", 3)
    h = fit(model, ds.X, ds.y, loss=loss, optimizer=optimizer, lr=0.03, epochs=epochs,
            batch_size=batch_size, seed=3, progress=False)
    np.testing.assert_allclose(studio, [p.data for p in model.parameters()], rtol=0, atol=1e-12)
    np.testing.assert_allclose(session.history["train"], h.loss, rtol=0, atol=1e-12)
    assert session.epoch == epochs


def test_studio_sgd_is_the_numpy_gradient_step():
    session = Session(data="xor4", net="2-3-1", activation="tanh", optimizer="sgd", lr=0.5)
    s0 = session.state()
    session.step(1)
    X, y = np.array(s0["data"]["X"]), np.array(s0["data"]["y"])
    grads = {k: 0 for k in s0["parameters"]}
    for xi, yi in zip(X, y):
        _, g = numpy_example(s0["parameters"], xi, yi, s0["activations"], "mse")
        for k in grads:
            grads[k] = grads[k] + g[k] / len(X)
    after = session.state()["parameters"]
    for k in grads:
        np.testing.assert_allclose(after[k], np.array(s0["parameters"][k]) - 0.5 * grads[k],
                                   rtol=0, atol=1e-13)


def test_two_threads_stepping_share_one_run():
    a = Session(net="2-4-1", batch_size=50)
    threads = [threading.Thread(target=a.step, args=(30,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b = Session(net="2-4-1", batch_size=50)
    b.step(60)
    assert a.step_count == 60
    assert [p.data for p in a.model.parameters()] == [p.data for p in b.model.parameters()]


def test_widget_messages_use_the_same_commands():
    pytest.importorskip("anywidget")
    from micrograd_mlp.studio.widget import answer

    session = Session(net="2-3-1")
    assert answer(session, {"id": 1, "method": "POST", "path": "step", "body": {"steps": 2}})["body"]["taken"] == 2
    bad = answer(session, {"id": 2, "method": "POST", "path": "weight", "body": {"name": "Z", "index": [0], "value": 1}})
    assert bad["status"] == 400 and "unknown weight name" in bad["body"]["error"]
    assert answer(session, {"id": 3, "method": "GET", "path": "nope"})["status"] == 404
    assert answer(session, {"id": 4, "method": "GET", "path": "state", "body": {}})["body"]["step"] == 2


def test_cli_refuses_bad_options(capsys):
    from micrograd_mlp.cli import main

    assert main(["studio", "--net", "2-x-1"]) == 2
    assert "net must be widths" in capsys.readouterr().err
    assert main(["studio", "--port", "70000"]) == 2
    assert main(["studio", "--data", "sinusoid", "--net", "2-4-1"]) == 2
    assert "takes 2 inputs" in capsys.readouterr().err


def test_a_long_history_is_sent_thinned():
    session = Session(data="xor4", net="2-3-1", optimizer="sgd", lr=0.1)
    session.step(1000)
    h = session.state()["history"]
    assert 300 <= len(h["epoch"]) <= 401 and h["epoch"][0] == 1 and h["epoch"][-1] == 1000
    full = session.history
    for e, t in zip(h["epoch"], h["train"]):
        assert t == full["train"][e - 1]
    assert len(full["train"]) == 1000


@pytest.mark.slow
def test_the_command_prints_its_address_serves_and_stops_on_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.Popen([sys.executable, "-m", "micrograd_mlp", "studio", "--port", "0",
                             "--net", "2-4-1", "--seed", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        s = json.load(urllib.request.urlopen(url + "api/state", timeout=30))
        assert s["settings"]["net"] == "2-4-1" and s["settings"]["seed"] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_regression_points_round_trip_through_csv_exactly(client):
    client.post("/api/settings", json={"data": "sinusoid"})
    before = state(client)["data"]
    text = client.get("/api/data.csv").text
    assert text.splitlines()[0] == "x,y"
    client.post("/api/points", json={"delete": 0})
    assert client.post("/api/points", json={"csv": text}).json()["points"] == len(before["X"])
    assert state(client)["data"] == before
    r = client.post("/api/points", json={"add": {"x": 1.5, "y": 0.25, "label": 1}})
    assert r.status_code == 400 and "not a label" in r.json()["error"]


def test_a_watched_session_prepares_each_new_state_before_telling_the_watchers():
    session = Session(net="2-3-1")
    seen = []
    session.listeners.append(lambda: seen.append(session.prepared()))
    session.step(1)
    assert seen == [None]                # nobody watching: nothing prepared
    session.state_json()                 # a client reads: the session is watched
    session.step(1)
    assert seen[-1] is not None and json.loads(seen[-1])["step"] == 2
    assert json.loads(seen[-1])["version"] == session.version


def test_the_server_socket_names_tcp_so_each_connection_sends_without_delay():
    import socket

    from micrograd_mlp.studio.serve import bind
    sock = bind("127.0.0.1", 0)
    try:
        # asyncio turns Nagle's algorithm off only on sockets whose protocol is TCP
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
