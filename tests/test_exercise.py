"""``micrograd-mlp exercise``: the question and its solution; every number of the JSON
solution recomputed with an independent numpy forward/backward pass."""
import json
import shutil

import numpy as np
import pytest

from micrograd_mlp.cli import main
from micrograd_mlp.errors import ArgumentError
from micrograd_mlp.grading.exercises import make_exercise, parse_net
from test_steps import mlp_reference


def run(capsys, *argv):
    code = main(["exercise", *argv])
    out, err = capsys.readouterr()
    return code, out, err


CASES = [("2-3-2", "sigmoid", 0, "half"), ("2-3-2", "sigmoid", 7, "half"),
         ("3-2-2", "tanh", 11, "full"), ("2-4-3-1", "sigmoid", 23, "half"),
         ("2-2-2", "relu", 5, "full")]


@pytest.mark.parametrize("net, act, seed, loss", CASES)
def test_json_solution_recomputed_with_numpy(capsys, net, act, seed, loss):
    code, out, _ = run(capsys, "--net", net, "--activation", act, "--seed", str(seed),
                       "--loss", loss, "--format", "json")
    assert code == 0
    data = json.loads(out)
    given = data["given"]
    L = len(net.split("-")) - 1
    Ws = [np.array(given[f"W{l}"]) for l in range(1, L + 1)]
    bs = [np.array(given[f"b{l}"]) for l in range(1, L + 1)]
    ref = mlp_reference(Ws, bs, np.array(given["x0"]), np.array(given["y"]), act, loss)
    solution = data["solution"]
    assert set(solution) == set(ref)
    for name, value in solution.items():
        np.testing.assert_allclose(np.ravel(value), np.ravel(ref[name]), rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    for step in data["steps"]:  # each component too, and its worked line ends in its value
        flat = np.ravel(ref[step["name"]])
        assert len(step["entries"]) == flat.size
        for entry, want in zip(step["entries"], flat):
            assert entry["value"] == pytest.approx(want, rel=1e-12, abs=1e-14)
            assert entry["line"].endswith(f"{want:.4f}".replace("-0.0000", "0.0000"))
    # the given numbers: weights and biases with one decimal, never 0
    for arr in Ws + bs:
        assert np.allclose(arr * 10, np.round(arr * 10)) and np.all(arr != 0)
    if act == "sigmoid":
        assert set(given["y"]) <= {0.0, 1.0}


def test_same_seed_same_exercise_other_seed_other(capsys):
    a = run(capsys, "--seed", "7", "--format", "json")[1]
    b = run(capsys, "--seed", "7", "--format", "json")[1]
    c = run(capsys, "--seed", "8", "--format", "json")[1]
    assert a == b
    assert json.loads(a)["given"] != json.loads(c)["given"]


def test_question_and_solution_are_separate(capsys, tmp_path):
    code, _, err = run(capsys, "--seed", "7", "--out", str(tmp_path))
    assert code == 0
    question = (tmp_path / "exercise-7-question.md").read_text()
    solution = (tmp_path / "exercise-7-solution.md").read_text()
    ex = make_exercise(seed=7)
    E = f"{ex.root.data:.4f}"
    assert "W1 = [[" in question and "Compute:" in question and "dE/dW1" in question
    assert E not in question            # the question gives no answer away
    assert f"= {E}" in solution and "dE/dx1[0] = W2[0,0] * dE/ds2[0]" in solution
    assert "wrote" in err
    printed = run(capsys, "--seed", "7")[1]
    assert printed.index("Compute:") < printed.index("solution") < printed.index(f"= {E}")


@pytest.mark.parametrize("fmt, ext, needle", [("latex", "tex", "\\begin{bmatrix}"),
                                              ("html", "html", "<!DOCTYPE html>")])
def test_latex_and_html(capsys, tmp_path, fmt, ext, needle):
    assert run(capsys, "--seed", "2", "--format", fmt, "--out", str(tmp_path))[0] == 0
    q = (tmp_path / f"exercise-2-question.{ext}").read_text()
    s = (tmp_path / f"exercise-2-solution.{ext}").read_text()
    assert needle in q and "solution" in s
    if fmt == "html":
        assert "http://" not in q + s and "https://" not in q + s


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_quiz_page(capsys, tmp_path):
    code, _, err = run(capsys, "--seed", "4", "--quiz", "--out", str(tmp_path))
    assert code == 0
    page = (tmp_path / "exercise-4-quiz.html").read_text()
    assert page.count('<tr class="q"') == 11 + 34 - 2  # Task 5 less dE/dx0: the input is given
    assert "Exercise 4: a 2-3-2 sigmoid network" in page


@pytest.mark.parametrize("argv, message", [
    (["--net", "2"], "look like 2-3-2"), (["--net", "2-x-1"], "look like 2-3-2"),
    (["--net", "2-30-1"], "between 1 and 8"), (["--net", "2-0-1"], "between 1 and 8"),
    (["--net", "1-1-1-1-1-1"], "at most 4 layers"), (["--activation", "sigmod"], "sigmoid"),
    (["--seed", "-1"], "seed"), (["--digits", "0"], "digits"),
])
def test_refusals(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_parse_net():
    assert parse_net("2-3-2") == [2, 3, 2]
    assert parse_net(" 4 - 1 ") == [4, 1]
    with pytest.raises(ArgumentError):
        parse_net(None)
