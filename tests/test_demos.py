"""Each demo's quick mode, run in-process: its numbers are checked against what the
exercise asks for (and against independent references where there is one)."""
import importlib.util
import math
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # every demo runs as a user runs it

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def load(name):
    """Import demos/NAME.py as a module (demos/ is not a package)."""
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, tmp_path, *extra):
    return load(name).main(["--quick", "--quiet", "--out", str(tmp_path), *extra])


def assert_figures(result, tmp_path, n_min=1):
    files = result["files"]
    assert len(files) >= 2 * n_min
    exts = {Path(f).suffix for f in files}
    assert exts == {".png", ".svg"}
    for f in files:
        assert Path(f).parent == tmp_path
        assert os.path.getsize(f) > 2000, f"{f} is (nearly) empty"
    for f in files:
        if f.endswith(".png"):
            with open(f, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_xor_reaches_full_accuracy(tmp_path):
    r = run("xor", tmp_path)
    assert r["accuracy"] == 1.0
    preds = np.array(r["predictions"])
    target = np.array([0, 1, 1, 0])
    assert np.all(np.abs(preds - target) < 0.3)
    assert r["loss"][-1] < 0.1 * r["loss"][0]
    assert_figures(r, tmp_path)


def test_relu_approximation_error_shrinks(tmp_path):
    mod = load("relu_approximation")
    r = mod.main(["--quick", "--quiet", "--out", str(tmp_path)])
    errs = r["max_errors"]
    assert r["ns"] == [4, 8, 16, 32, 64]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 1e-2
    # independent reference: on [a, b] the ReLU sum is the piecewise-linear
    # interpolant of f through the grid points, whose error is at most h^2/8 max|f''|
    grid = np.linspace(0, 2 * math.pi, 1001)
    for n, err in zip(r["ns"], errs):
        xs = np.linspace(0, 2 * math.pi, n)
        ref = np.max(np.abs(np.interp(grid, xs, np.sin(xs)) - np.sin(grid)))
        assert err == pytest.approx(ref, rel=1e-6, abs=1e-12)
        h = 2 * math.pi / (n - 1)
        assert err <= h * h / 8 + 1e-12
    assert_figures(r, tmp_path)


def test_relu_network_matches_lambda_formula():
    mod = load("relu_approximation")
    x, knots, lam, h = mod.knots_and_lambdas(np.exp, -1.0, 1.0, 7)
    assert knots[0] == pytest.approx(-1.0 - h) and knots[-1] == pytest.approx(1.0 - h)
    # the system h T lambda = f holds row by row: f(x_i) = sum_{j<=i} lambda_j (i-j+1) h
    for i in range(7):
        assert sum(lam[j] * (i - j + 1) * h for j in range(i + 1)) == pytest.approx(np.exp(x[i]))
    model = mod.relu_network(knots, lam)
    pts = np.array([-1.3, -0.5, 0.2, 0.95])
    expected = np.array([sum(l * max(0.0, p - b) for l, b in zip(lam, knots)) for p in pts])
    assert np.allclose(mod.evaluate(model, pts), expected, atol=1e-12)


def test_binary_classification_learns_and_intermediates(tmp_path):
    r = run("binary_classification", tmp_path)
    assert r["accuracy"] >= 0.9
    assert r["accuracy"] > r["accuracy_defaults"]
    assert r["loss"][-1] < 0.5 * r["loss"][0]
    for k in ("s1", "x1", "s2", "x2"):
        assert np.allclose(r["intermediates"][k], r["numpy_intermediates"][k], atol=1e-12)
    assert_figures(r, tmp_path)


def test_binary_classification_legend_lists_only_what_is_drawn(tmp_path):
    from micrograd_mlp import data
    from micrograd_mlp.nets.train import predict
    r = run("binary_classification", tmp_path)
    X, _ = data.moons(n=200, noise=0.15, seed=0)
    lo, hi = X.min(axis=0) - 0.25, X.max(axis=0) + 0.25  # the panel's view
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60))
    drawn = {}
    for name, model in r["models"].items():
        p = predict(model, np.column_stack([g0.ravel(), g1.ravel()]))
        drawn[name] = bool(p.min() < 0.5 < p.max())  # a 0.5 contour exists in the view
        labels = r["legends"][name]
        assert ("boundary (p = 0.5)" in labels) == drawn[name], (name, labels)
        assert {"class 0", "class 1"} <= set(labels)
    # the exercise's defaults leave one class everywhere; the longer run draws a boundary
    assert drawn == {"seed defaults": False, "longer run": True}


def test_sinusoid_overfits(tmp_path):
    r = run("sinusoid", tmp_path)
    tr, te = np.array(r["train_mse"]), np.array(r["test_mse"])
    assert r["hidden"] == [0, 1, 2, 3, 10, 50, 100]
    # training error falls (up to optimiser noise) as hidden neurons are added ...
    assert all(b <= a * 1.05 for a, b in zip(tr, tr[1:]))
    assert tr[-1] < 0.2 * tr[3]
    # ... while the test error rises again at 100 after its minimum
    assert te[-1] > 1.2 * te.min() and int(np.argmin(te)) < len(te) - 1
    # no hidden unit = a straight line: Adam reaches the least-squares line, MSE ~0.5
    assert r["baseline_train_mse"] == pytest.approx(r["line_mse"], rel=1e-3)
    assert 0.35 < r["baseline_train_mse"] < 0.6
    assert all(e < r["baseline_train_mse"] for e in r["repeat_train_mse"])
    assert set(r["deep"]) == {"relu", "sigmoid"}
    assert_figures(r, tmp_path, n_min=4)


NYCU_SETTINGS = {
    "learning rate": ["lr 0.1", "lr 1.0", "lr 10.0"],
    "hidden units": ["hidden 2", "hidden 4", "hidden 8", "hidden 16"],
    "activation or none": ["activation sigmoid", "activation none, lr 0.1"],
    "optimizer": ["optimizer sgd", "optimizer adam, lr 0.01"],
    "hidden activation": ["activation sigmoid", "activation tanh"],
}


def test_nycu_quick_reaches_95_percent_and_reports_every_configuration(tmp_path, capsys):
    from micrograd_mlp import data
    r = load("nycu").main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    # the main runs (base configuration, at most 5000 epochs in quick mode)
    assert r["accuracy"]["linear"] >= 0.95
    assert r["accuracy"]["XOR_easy"] >= 0.95
    assert set(r["sweeps"]) == set(NYCU_SETTINGS)
    assert_figures(r, tmp_path, n_min=4)
    budget = r["sweep_epochs"]
    sets = {"linear": data.generate_linear(100, seed=0), "XOR_easy": data.generate_XOR_easy()}
    for sweep, settings in NYCU_SETTINGS.items():
        rows = r["sweeps"][sweep]
        assert sorted((row["data"], row["setting"]) for row in rows) == \
            sorted((d, s) for d in sets for s in settings)
        for row in rows:
            loss = row["loss"]
            assert len(loss) == row["epochs"] <= budget
            if row["epochs_to_epsilon"] is None:  # not reached: ran the whole budget
                assert row["epochs"] == budget and min(loss) >= 0.005
            else:  # stopped at the first epoch below 0.005
                assert row["epochs_to_epsilon"] == len(loss)
                assert loss[-1] < 0.005 and min(loss[:-1], default=1.0) >= 0.005
            # accuracy recomputed from the returned predictions and the data's own labels
            _, y = sets[row["data"]]
            pred = np.array(row["predictions"])
            assert row["accuracy"] == pytest.approx(np.mean((pred > 0.5) == y))
        legends = [r["legends"][(sweep, name)] for name in sets]
        for name, labels in zip(sets, legends):
            assert len(labels) == len(settings)
            for row, label in zip([x for x in rows if x["data"] == name], labels):
                reached = row["epochs_to_epsilon"]
                assert (f"{reached} epochs" if reached else "not reached") in label
                assert f"acc {100 * row['accuracy']:.0f}%" in label
    # the printout: one table per sweep, every setting with both data sets' numbers
    for sweep, settings in NYCU_SETTINGS.items():
        section = printed.split(f"-- {sweep}\n", 1)[1].split("\n\n", 1)[0].splitlines()
        for setting in settings:
            line = next(l for l in section if l.strip().startswith(setting + "  "))
            cells = re.split(r"\s{2,}", line.strip())
            assert len(cells) == 7, line
            for k, name in enumerate(sets):
                row = next(x for x in r["sweeps"][sweep]
                           if x["data"] == name and x["setting"] == setting)
                reached = row["epochs_to_epsilon"]
                assert cells[1 + 3 * k] == (str(reached) if reached else "not reached")
                assert float(cells[2 + 3 * k]) == pytest.approx(row["final_loss"], abs=6e-5)
                assert cells[3 + 3 * k] == f"{100 * row['accuracy']:.1f}%"
    xor_rows = [x for x in r["sweeps"]["activation or none"] if x["data"] == "XOR_easy"]
    linear_net = next(x for x in xor_rows if "none" in x["setting"])
    # a network without activation is linear: it cannot separate XOR_easy
    assert linear_net["epochs_to_epsilon"] is None and linear_net["accuracy"] < 0.9
    assert "not reached" in printed
    # a summary, not one line per sample, unless --full
    assert "sample 99 " not in printed and "least confident" in printed


def test_nycu_full_lists_every_sample(tmp_path, capsys):
    load("nycu").main(["--quick", "--full", "--max-epochs", "50", "--sweep-epochs", "5",
                       "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "sample 99 " in printed and "sample 20 " in printed


def test_nycu_smoothing_cancels_a_two_epoch_oscillation():
    mod = load("nycu")
    flip = np.array([0.1, 0.4] * 50)
    smooth = mod.running_mean_log(flip, 10)
    assert smooth.shape == flip.shape
    assert np.allclose(smooth[10:-10], 0.2)  # geometric mean of 0.1 and 0.4
    assert mod.oscillates(flip) and not mod.oscillates(np.linspace(1, 0.01, 100))


def test_softmax_digits(tmp_path):
    r = run("softmax_digits", tmp_path)
    assert abs(r["first_loss"] - math.log(10)) < 0.01
    assert set(r["val_acc"]) == {"ReLU", "Leaky ReLU", "SWISH", "SELU"}
    for name, acc in r["val_acc"].items():
        assert acc >= 0.9, name
    assert_figures(r, tmp_path, n_min=2)


def test_softmax_demo_reads_cifar10_files(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_data import cifar_batches, write_cifar_archive
    batches = cifar_batches(per_file=12, seed=3)
    write_cifar_archive(tmp_path / "cifar-10-binary.tar.gz", batches)
    out = tmp_path / "out"
    r = load("softmax_digits").main(["--quick", "--quiet", "--out", str(out), "--data", "cifar10",
                                     "--root", str(tmp_path), "--n-train", "60", "--n-test", "7",
                                     "--activations", "ReLU", "SELU", "--iterations", "3",
                                     "--batch-size", "8", "--hidden", "3"])
    assert r["data"] == "cifar10" and r["n_train"] == 60 and r["n_val"] == 7
    # small initial weights on centred pixels: every logit near 0, loss near ln 10
    assert abs(r["first_loss"] - math.log(10)) < 0.05
    assert set(r["val_acc"]) == {"ReLU", "SELU"}
    # 7 validation images: an accuracy is a multiple of 1/7
    for acc in r["val_acc"].values():
        assert abs(acc * 7 - round(acc * 7)) < 1e-9
    assert sorted(Path(f).name for f in r["files"]) == [
        "softmax_cifar10_curves.png", "softmax_cifar10_curves.svg",
        "softmax_cifar10_weights.png", "softmax_cifar10_weights.svg"]


def test_softmax_demo_without_cifar10_says_where_to_get_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        load("softmax_digits").main(["--quick", "--quiet", "--out", str(tmp_path / "out"),
                                     "--data", "cifar10", "--root", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in err
    assert "CIFAR-10 binary version" in err and str(tmp_path) in err
    assert not (tmp_path / "out").exists()  # nothing drawn, nothing downloaded
    assert sorted(tmp_path.iterdir()) == []


def test_softmax_full_loss_matches_torch():
    torch = pytest.importorskip("torch")
    mod = load("softmax_digits")
    from micrograd_mlp import MLP, data
    X, y = data.digits(n=40, seed=1)
    model = MLP(64, [5, 10], activation="relu", out_activation=None,
                init=mod.small_normal(0.3), seed=2)
    lam, n = 0.1, 40
    W, b = model.get_parameters()
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    h = torch.relu(t(X) @ t(W[0]).T + t(b[0]))
    z = h @ t(W[1]).T + t(b[1])
    ref = torch.nn.functional.cross_entropy(z, torch.tensor(y)) + \
        lam / (2 * n) * (t(W[0]).pow(2).sum() + t(W[1]).pow(2).sum())
    assert mod.full_loss(model, X, y, lam, n) == pytest.approx(float(ref), rel=1e-10)


def test_cli_lists_and_runs_a_demo(tmp_path, capsys):
    from micrograd_mlp import cli
    assert cli.main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    for name in ("xor", "binary_classification", "relu_approximation", "sinusoid", "nycu",
                 "softmax_digits"):
        assert name in listed
    assert "_common" not in listed
    code = cli.main(["demo", "relu_approximation", "--quick", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "relu_approximation.png").stat().st_size > 2000


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.parametrize("loss", ["half", "full"])
def test_task5_layer2_graph_has_the_whole_graphs_numbers(loss):
    from micrograd_mlp import examples
    from micrograd_mlp.core.graph_walk import topological_order
    mod = load("task5")
    whole = examples.task5(loss=loss)
    whole.backward()
    part = mod.layer2_graph(examples.task5(loss=loss), loss)
    labelled = {n.label: n for n in topological_order(part, all_nodes=True) if n.label}
    names = ([f"x1[{k}]" for k in range(3)] + [f"W2[{k},{j}]" for k in range(2) for j in range(3)]
             + [f"{v}[{k}]" for v in ("b2", "s2", "x2") for k in range(2)] + ["E"])
    assert set(names) <= set(labelled)
    for name in names:
        assert labelled[name].data == pytest.approx(whole.nodes[name].data, abs=1e-15), name
        assert labelled[name].grad == pytest.approx(whole.nodes[name].grad, abs=1e-15), name
    # Task 5's own numbers (seed 001): E = 0.1348 with the 1/2
    if loss == "half":
        assert round(labelled["E"].data, 4) == 0.1348


def test_task5_graph_figures_fit_page_width(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz dot program is not installed")
    r = load("task5").main(["--quiet", "--out", str(tmp_path)])
    for name in ("task5_graph.png", "task5_network.png"):
        width, height = png_size(tmp_path / name)
        assert 800 <= width <= 1600 and height > 300, (name, width, height)
    assert str(tmp_path / "task5_graph.png") in r["files"]
    # the whole graph in one piece stays available as SVG
    assert (tmp_path / "task5_graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_make_figures_copies_the_demos_own_pngs(tmp_path, capsys):
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz dot program is not installed")
    mod = load("_figures")
    out, figures = tmp_path / "out", tmp_path / "figures"
    copied = mod.main(["--quick", "--only", "task5", "xor", "--out", str(out),
                       "--figures", str(figures)])
    assert sorted(copied) == ["task5_graph", "task5_network", "xor"]
    for stem, path in copied.items():
        assert Path(path).read_bytes() == (out / f"{stem}.png").read_bytes()
        assert png_size(path)[0] <= 1600
    assert "task5_graph.png" in capsys.readouterr().out


def test_make_figures_covers_every_figure_the_docs_show():
    mod = load("_figures")
    made = {stem for stems in mod.FIGURES.values() for stem in stems}
    root = DEMOS.parent
    pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    shown = set()
    for page in pages:
        shown |= set(re.findall(r"demos/figures/([\w-]+)\.png", page.read_text()))
    shown = {s for s in shown if not s.startswith("benchmark")}  # make bench's
    assert shown, "no figure found in the docs"
    assert shown <= made, f"figures no demo regenerates: {sorted(shown - made)}"
    # and every listed figure exists in demos/figures/
    for stem in made:
        assert (DEMOS / "figures" / f"{stem}.png").is_file(), stem


def test_demo_pngs_are_at_most_1600_pixels_wide(tmp_path):
    mod = load("_common")
    plt = mod.use_agg()
    fig, _ = plt.subplots(figsize=(30, 3))  # 3300 px at the default 110 dpi
    path = mod.save_figure(fig, tmp_path, "wide")[0]
    assert 1000 < png_size(path)[0] <= 1600


def test_nycu_log_bins_cover_every_epoch_once():
    mod = load("nycu")
    for n in (1, 5, 400, 401, 20000):
        starts = mod.log_bins(n)
        assert starts[0] == 0 and starts[-1] == n - 1
        assert np.all(np.diff(starts) > 0) and len(starts) <= 402
    v = np.random.default_rng(0).random(20000)
    starts = mod.log_bins(20000)
    # the bands drawn for an oscillating curve hold its true extremes
    assert np.minimum.reduceat(v, starts).min() == v.min()
    assert np.maximum.reduceat(v, starts).max() == v.max()
