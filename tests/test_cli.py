"""``micrograd-mlp trace``: every printed number checked against numpy references."""
import math
import re
import shutil

import numpy as np
import pytest

from micrograd_mlp import cli

from micrograd_mlp.views import trace
from test_examples import seed002_reference, task5_reference
from test_graph import check_html

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    code = cli.main(["trace", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def parse_vectors(out):
    """``name = (a, b)`` / ``name = [[...]]`` / ``name = a`` lines of the summary."""
    found = {}
    for line in out.splitlines():
        m = re.match(r"^  (\S+) = ([\[(].*[\])]|[-\d.]+)$", line)
        if m:
            nums = [float(x) for x in re.findall(r"-?\d+\.\d+", m.group(2))]
            found[m.group(1)] = np.array(nums)
    return found


def parse_ledger(out):
    """``dE/dNAME ... = value`` lines: the name and the last number."""
    found = {}
    for line in out.splitlines():
        m = re.match(r"^(d\w+/d\S+) = .*?(-?\d+\.\d+(?:e-?\d+)?)$", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


@pytest.mark.parametrize("loss", ["half", "full"])
def test_task5_summary_matches_numpy_to_7_decimals(capsys, loss):
    code, out, _ = run(capsys, "task5", "--loss", loss)
    assert code == 0
    ref = task5_reference(loss)
    got = parse_vectors(out)
    pairs = {"s1": "s1", "x1": "x1", "s2": "s2", "x2": "x2", "E": "E", "dE/dx2": "dx2",
             "sigma'(s2)": "dsig2", "dE/ds2": "ds2", "dE/db2": "db2", "dE/dW2": "dW2",
             "dE/dx1": "dx1", "sigma'(s1)": "dsig1", "dE/ds1": "ds1", "dE/db1": "db1",
             "dE/dW1": "dW1", "dE/dx0": "dx0"}
    for printed, key in pairs.items():
        assert printed in got, printed
        np.testing.assert_allclose(got[printed], np.ravel(ref[key]), rtol=0, atol=5.1e-8,
                                   err_msg=printed)


def test_task5_prints_the_spec_numbers(capsys):
    _, out, _ = run(capsys, "task5")
    # SPEC R20, as printed in seed 001 (seven decimals)
    for text in ("x1 = (0.4750208, 0.0831727, 0.9002495)", "s2 = (-0.2133072, 1.0225786)",
                 "x2 = (0.4468745, 0.7354746)", "E = 0.1348352",
                 "dE/dx2 = (0.4468745, -0.2645254)", "sigma'(s2) = (0.2471777, 0.1945517)",
                 "dE/db2 = (0.1104574, -0.0514639)", "dE/dx1 = (0.0390366, 0.0066523, -0.0036405)",
                 "sigma'(s1) = (0.2493760, 0.0762550, 0.0898003)",
                 "dE/db1 = (0.0097348, 0.0005073, -0.0003269)", "dE/dx0 = (0.0018669, -0.0036272)"):
        assert text in out, text


@pytest.mark.parametrize("loss", ["half", "full"])
def test_task5_ledger_lines_match_numpy(capsys, loss):
    _, out, _ = run(capsys, "task5", "--loss", loss, "--level", "node")
    ref = task5_reference(loss)
    ledger = parse_ledger(out)
    expect = {"dE/dE": 1.0}
    for k in range(2):
        expect[f"dE/dx2[{k}]"] = ref["dx2"][k]
        expect[f"dE/ds2[{k}]"] = ref["ds2"][k]
        expect[f"dE/db2[{k}]"] = ref["db2"][k]
        for j in range(3):
            expect[f"dE/dW2[{k},{j}]"] = ref["dW2"][k, j]
    for j in range(3):
        expect[f"dE/dx1[{j}]"] = ref["dx1"][j]
        expect[f"dE/ds1[{j}]"] = ref["ds1"][j]
        expect[f"dE/db1[{j}]"] = ref["db1"][j]
        for i in range(2):
            expect[f"dE/dW1[{j},{i}]"] = ref["dW1"][j, i]
    for i in range(2):
        expect[f"dE/dx0[{i}]"] = ref["dx0"][i]
    assert set(expect) <= set(ledger)
    for name, value in expect.items():
        assert ledger[name] == pytest.approx(value, abs=5.1e-5), name
    # the hand-solution form, with the intermediate numbers
    line = next(l for l in out.splitlines() if l.startswith("dE/ds2[0] ="))
    assert line == (f"dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = {ref['dx2'][0]:.4f} * "
                    f"{ref['dsig2'][0]:.4f} = {ref['ds2'][0]:.4f}")


def test_seed002_trace_lists_all_twelve_derivatives(capsys):
    code, out, _ = run(capsys, "seed002", "--digits", "7")
    assert code == 0
    _, d = seed002_reference()
    got = parse_vectors(out)
    ledger = parse_ledger(out)
    assert ledger["dl/dl"] == 1.0
    for name in ("y", "yhat", "b2", "z4", "W2", "z3", "z2", "b1", "z1", "W1", "x"):
        assert f"dl/d{name}" in got, name
        np.testing.assert_allclose(got[f"dl/d{name}"], np.ravel(d[name]), atol=5.1e-8, err_msg=name)
    assert ledger["dl/dy"] == pytest.approx(d["y"], abs=5.1e-8)
    assert ledger["dl/dW1[1,2]"] == pytest.approx(d["W1"][1, 2], abs=5.1e-8)


def test_expression_trace(capsys):
    code, out, _ = run(capsys, "tanh(a*b + c)", "a=1", "b=2", "c=0.5")
    assert code == 0
    t = math.tanh(2.5)
    local = 1 - t * t
    got = parse_vectors(out)
    assert got["out"][0] == pytest.approx(t, abs=5.1e-8)
    assert got["dout/da"][0] == pytest.approx(2 * local, abs=5.1e-8)
    assert got["dout/db"][0] == pytest.approx(1 * local, abs=5.1e-8)
    assert got["dout/dc"][0] == pytest.approx(local, abs=5.1e-8)
    assert "dout/dc = 1 - tanh(a * b + c)^2 = " in out
    code, out, _ = run(capsys, "tanh(a*b + c)", "a=1", "b=2", "c=0.5", "--expand")
    assert "dout/d(a * b) = dout/d(a * b + c) = " in out


def test_expression_with_activation_and_power(capsys):
    code, out, _ = run(capsys, "sigmoid(x) * x + x**2 - 3/x", "x=0.7")
    assert code == 0
    s = 1 / (1 + math.exp(-0.7))
    expected = s + 0.7 * s * (1 - s) + 2 * 0.7 + 3 / 0.49
    assert parse_vectors(out)["dout/dx"][0] == pytest.approx(expected, abs=5.1e-8)


@pytest.mark.parametrize("argv, message", [
    (["__import__('os').system('echo hacked')"], "is not allowed"),
    (["__import__('os')"], "unknown function '__import__'"),
    (["open(a)", "a=1"], "unknown function 'open'"),
    (["a.real", "a=1"], "not allowed"),
    (["a[0]", "a=1"], "not allowed"),
    (["lambda: 1"], "not allowed"),
    (["a + d", "a=1"], "'d' has no value"),
    (["a +", "a=1"], "cannot parse"),
    (["a * 2", "a=1", "b=2"], "b given but not used"),
    (["a * 2", "a=x"], "not a number"),
    (["a * 2", "a"], "name=number"),
    (["exp(a, a)", "a=1"], "exactly one argument"),
    (["exp(x=a)", "a=1"], "exactly one argument"),
    (["2 * 3"], "no variables"),
    (["log(a)", "a=-1"], "log of a non-positive number"),
    (["task5", "a=1"], "takes no NAME=VALUE"),
    (["seed002", "--loss", "full"], "task5 only"),
])
def test_bad_input_is_refused_clearly(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "hacked" not in out


def test_markdown_and_latex_formats(capsys):
    _, md, _ = run(capsys, "task5", "--format", "markdown", "--level", "node")
    assert "| # | gradient | chain rule | numbers | value |" in md
    assert "```text" in md
    _, tex, _ = run(capsys, "task5", "--format", "latex", "--level", "node")
    assert tex.count("\\begin{align*}") == tex.count("\\end{align*}") == 1
    assert all(line.startswith("%") or line.startswith("\\") for line in tex.splitlines() if line)


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["trace", "--help"])
    out = capsys.readouterr().out
    for option in ("--format", "--expand", "--draw", "--frames", "--html", "--loss"):
        assert option in out


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
def test_draw_frames_and_html(capsys, tmp_path):
    draw, frames, page = tmp_path / "g.svg", tmp_path / "frames", tmp_path / "s.html"
    code, out, err = run(capsys, "relu(a*b) + b", "a=1", "b=-2", "--draw", str(draw),
                         "--frames", str(frames), "--html", str(page))
    assert code == 0, err
    assert "<svg" in draw.read_text()
    pngs = sorted(frames.glob("frame_*.png"))
    assert len(pngs) >= 3 and (frames / "steps.gif").exists()
    check_html(page.read_text(), len(pngs))


def test_draw_without_dot_writes_dot_text(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = run(capsys, "a*b", "a=1", "b=2", "--draw", str(tmp_path / "g.png"))
    assert code == 1
    assert "apt-get install graphviz" in err
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert "dout/da" in out  # the trace itself is still printed


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")
def test_make_demo_runs_task5(capsys, tmp_path):
    code = cli.main(["demo", "main", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    for name in ("task5_graph.svg", "task5_graph.png", "task5_network.png", "task5_steps.html"):
        assert (tmp_path / name).stat().st_size > 2000, name
    page = (tmp_path / "task5_steps.html").read_text()
    from micrograd_mlp import examples
    n_steps = sum(1 for _ in trace.backward_steps(examples.task5().root, collapse=True, fold=False))
    check_html(page, n_steps + 1)


# ---------------------------------------------------------------- expression programs


def test_a_variable_named_f_keeps_its_gradient(capsys):
    code, out, _ = run(capsys, "(a*b + c)*f", "a=2", "b=-3", "c=10", "f=-2")
    assert code == 0
    ledger = parse_ledger(out)
    assert ledger["dout/df"] == 4.0  # a*b + c at a=2, b=-3, c=10
    assert ledger["dout/da"] == 6.0 and ledger["dout/db"] == -4.0 and ledger["dout/dc"] == -2.0
    assert "dout/dout = 1" in out and "df/df" not in out


def test_program_names_every_intermediate(capsys):
    code, out, _ = run(capsys, "e = a*b; d = e + c; L = d*f", "a=2", "b=-3", "c=10", "f=-2")
    assert code == 0
    ledger = parse_ledger(out)
    assert ledger["dL/de"] == -2.0 and ledger["dL/dd"] == -2.0
    assert ledger["dL/df"] == 4.0 and ledger["dL/da"] == 6.0 and ledger["dL/db"] == -4.0
    vectors = parse_vectors(out)
    assert vectors["e"][0] == -6.0 and vectors["d"][0] == 4.0 and vectors["L"][0] == -8.0
    assert "t1" not in out


def test_program_on_several_lines_and_out_never_a_taken_name(capsys):
    code, out, _ = run(capsys, "u = sigmoid(x)\nu * out", "x=0", "out=3")
    assert code == 0
    ledger = parse_ledger(out)
    assert ledger["dout1/dout"] == 0.5  # sigmoid(0); the input 'out' keeps its name
    assert ledger["dout1/dx"] == pytest.approx(3 * 0.25, abs=5e-5)


def test_max_min_and_activation_parameters(capsys):
    code, out, _ = run(capsys, "L = max(a, b) * 10 + min(a, b) + leaky_relu(a, 0.1) + "
                       "prelu(b, alpha=0.3)", "a=-2", "b=3")
    assert code == 0
    ledger = parse_ledger(out)
    # d/da: min -> 1, leaky_relu at a < 0 -> 0.1; d/db: max -> 10, prelu at b > 0 -> 1
    assert ledger["dL/da"] == pytest.approx(1.1, abs=5e-5)
    assert ledger["dL/db"] == pytest.approx(11.0, abs=5e-5)
    assert parse_vectors(out)["L"][0] == pytest.approx(30 - 2 - 0.2 + 3, abs=5e-7)


def test_a_plus_a_ledger_shows_the_sum_once(capsys):
    _, out, _ = run(capsys, "a + a", "a=1")
    line = next(l for l in out.splitlines() if l.startswith("dout/da"))
    assert line == "dout/da = 1 + 1 = 2.0000"


def test_unknown_example_lists_the_examples(capsys):
    code, _, err = run(capsys, "task6")
    assert code == 2
    assert "unknown example 'task6'" in err and "task5" in err and "seed002" in err


@pytest.mark.parametrize("argv, message", [
    (["e = a*b; e = e + 1", "a=1", "b=2"], "e is assigned twice"),
    (["a = b*2; a", "a=1", "b=2"], "a is an input"),
    (["e = a*b; L = a*2", "a=1", "b=2"], "e is assigned but never used"),
    (["e = a; L = e*2", "a=1"], "only renames a"),
    (["a*2; b*2", "a=1", "b=2"], "nobody uses"),
    (["exp = a*2; exp", "a=1"], "is a function"),
    (["for i in x: pass", "x=1"], "not allowed"),
    (["e: int = a", "a=1"], "not allowed"),
    (["max(a)", "a=1"], "two or more"),
    (["leaky_relu(a, 0.1, 0.2)", "a=1"], "parameters alpha"),
    (["leaky_relu(a, beta=0.2)", "a=1"], "no parameter 'beta'"),
    (["leaky_relu(a, b)", "a=1", "b=2"], "must be a number"),
    (["leaky_relu(a, 0.1, alpha=0.2)", "a=1"], "alpha given twice"),
    (["max(*a)", "a=1"], "not allowed"),
    (["a * " + "9" * 400, "a=1"], "too large"),
    (["1e308 * 1e308 * a", "a=1"], "no finite"),
    (["(" * 300 + "a" + ")" * 300, "a=1"], "nested"),
    (["a * " + "-" * 1000 + "a", "a=1"], "nested"),
])
def test_bad_programs_are_refused_clearly(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and len(err) < 400


@pytest.mark.parametrize("n", [300, 1000])
def test_a_long_sum_is_one_level_of_nesting(capsys, n):
    # a + a + ... nests one ast level per term: the builder walks it in a loop
    code, out, err = run(capsys, " + ".join(["a"] * n) + " - b * 2", "a=0.5", "b=3")
    assert code == 0, err
    assert f"dout/da = {n:.7f}" in out
    assert "dout/db = -2.0000000" in out
    assert f"out = {0.5 * n - 6:.7f}" in out
