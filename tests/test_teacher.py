"""The teacher's toolkit: a variant per student, check of a generated exercise, the
digits rule, follow-through grading, the gradebook, Gradescope results, the exam page.

Every expected number is recomputed here with numpy (or fractions), never read from the
code under test; the planted answers are built the way a student would build them.
"""
import csv
import json
import re
from fractions import Fraction

import numpy as np
import pytest

from micrograd_mlp import cli
from micrograd_mlp.grading import hand_solution, numpy_backward
from micrograd_mlp.grading.answers import parse_value
from micrograd_mlp.grading.exercises import make_exercise, variant_seed


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_solution(given, loss="half"):
    """Every step of a sigmoid 2-layer exercise, by numpy."""
    W1, b1, W2, b2, x0, y = (np.array(given[k], dtype=float) for k in ("W1", "b1", "W2", "b2", "x0", "y"))
    s1 = W1 @ x0 + b1
    x1 = sig(s1)
    s2 = W2 @ x1 + b2
    x2 = sig(s2)
    k = 1.0 if loss == "half" else 2.0
    E = 0.5 * k * np.sum((x2 - y) ** 2)
    dx2 = k * (x2 - y)
    d2 = x2 * (1 - x2)
    ds2 = dx2 * d2
    dx1 = W2.T @ ds2
    d1 = x1 * (1 - x1)
    ds1 = dx1 * d1
    return {"s1": s1, "x1": x1, "s2": s2, "x2": x2, "E": E, "dE/dx2": dx2, "sigma'(s2)": d2,
            "dE/ds2": ds2, "dE/dW2": np.outer(ds2, x1), "dE/db2": ds2, "dE/dx1": dx1,
            "sigma'(s1)": d1, "dE/ds1": ds1, "dE/dW1": np.outer(ds1, x0), "dE/db1": ds1}


def write(a, digits=7):
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}f}"
    if a.ndim == 1:
        return "(" + ", ".join(f"{v:.{digits}f}" for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(f"{v:.{digits}f}" for v in r) + "]" for r in a) + "]"


def answers_text(sol, digits=7):
    return "".join(f"{k} = {write(v, digits)}\n" for k, v in sol.items())


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    roster = folder / "roster.csv"
    roster.write_text("id,name\ns001,Ann\ns002,Bo\ns003,Cy\ns004,Di\ns005,Ed\n", encoding="utf-8")
    out = folder / "handouts"
    assert cli.main(["exercise", "--assignment", "hw3", "--roster", str(roster),
                     "--out", str(out)]) == 0
    return folder, out


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------ variants


def test_roster_twice_gives_identical_files_and_students_differ(handouts, tmp_path, capsys):
    folder, out = handouts
    again = tmp_path / "again"
    assert run(capsys, "exercise", "--assignment", "hw3", "--roster", str(folder / "roster.csv"),
               "--out", str(again))[0] == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert len(names) == 5 * 3  # a question, a solution and the JSON per student
    for name in names:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    givens = [json.loads((out / f"hw3-s00{i}.json").read_text())["given"] for i in range(1, 6)]
    assert len({json.dumps(g, sort_keys=True) for g in givens}) == 5
    one = tmp_path / "one"
    assert run(capsys, "exercise", "--assignment", "hw3", "--student", "s003", "--out", str(one))[0] == 0
    assert (one / "hw3-s003.json").read_bytes() == (out / "hw3-s003.json").read_bytes()


def test_variant_seed_is_a_stable_hash():
    import hashlib
    expected = int(hashlib.sha256(b"hw3\x00s001").hexdigest()[:12], 16)
    assert variant_seed("hw3", "s001") == expected
    assert variant_seed("hw3", "s001") != variant_seed("hw4", "s001")


def test_every_number_of_every_student_recomputes_with_numpy(handouts):
    _, out = handouts
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        assert {"spec", "given", "solution", "solution_rounded", "check"} <= set(data)
        assert data["spec"]["assignment"] == "hw3" and data["spec"]["student"] in path.stem
        ref = numpy_solution(data["given"])
        for name, value in ref.items():
            np.testing.assert_allclose(np.asarray(data["solution"][name]).reshape(np.shape(value)),
                                       value, atol=1e-12, err_msg=f"{path.name} {name}")


def carried_solution(given, digits=4):
    """The rounded-carry key by numpy: each step from the previous steps' rounded numbers."""
    r = lambda a: np.sign(a) * np.floor(np.abs(a) * 10 ** digits * (1 + 1e-12) + 0.5) / 10 ** digits  # noqa: E731
    W1, b1, W2, b2, x0, y = (np.array(given[k], dtype=float) for k in ("W1", "b1", "W2", "b2", "x0", "y"))
    s1 = r(W1 @ x0 + b1)
    x1 = r(sig(s1))
    s2 = r(W2 @ x1 + b2)
    x2 = r(sig(s2))
    E = r(0.5 * np.sum((x2 - y) ** 2))
    dx2 = r(x2 - y)
    d2 = r(x2 * (1 - x2))
    ds2 = r(dx2 * d2)
    dx1 = r(W2.T @ ds2)
    d1 = r(x1 * (1 - x1))
    ds1 = r(dx1 * d1)
    return {"s1": s1, "x1": x1, "s2": s2, "x2": x2, "E": E, "dE/dx2": dx2, "sigma'(s2)": d2,
            "dE/ds2": ds2, "dE/dW2": r(np.outer(ds2, x1)), "dE/db2": ds2, "dE/dx1": dx1,
            "sigma'(s1)": d1, "dE/ds1": ds1, "dE/dW1": r(np.outer(ds1, x0)), "dE/db1": ds1}


def test_the_solution_shows_the_rounded_carry_numbers(handouts):
    _, out = handouts
    data = json.loads((out / "hw3-s002.json").read_text())
    carried = carried_solution(data["given"])
    for name, value in carried.items():
        np.testing.assert_allclose(np.asarray(data["solution_rounded"][name]).reshape(np.shape(value)),
                                   value, atol=1.01e-4, err_msg=name)
    text = (out / "hw3-s002-solution.md").read_text()
    # every worked product line multiplies out at the digits shown
    for a, b, c in re.findall(r"= \(?(-?\d+\.\d{4})\)? \* \(?(-?\d+\.\d{4})\)? = (-?\d+\.\d{4})$",
                              text, re.M):
        assert abs(float(a) * float(b) - float(c)) <= 0.5e-4 + 1e-12, (a, b, c)
    assert "micrograd-mlp check hw3-s002.json answers.txt" in (out / "hw3-s002-question.md").read_text()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "prelu"])
@pytest.mark.parametrize("seed", [31, 46, 62])
def test_no_generated_exercise_has_a_pre_activation_at_a_kink(activation, seed):
    ex = make_exercise("2-3-2", activation, seed)
    given = ex.steps.given
    # layer 1 exactly, with fractions: tenths times integers
    W1 = [[Fraction(str(w)) for w in row] for row in given["W1"].tolist()]
    b1 = [Fraction(str(b)) for b in given["b1"].tolist()]
    x0 = [Fraction(str(v)) for v in given["x0"].tolist()]
    s1 = [sum(w * x for w, x in zip(row, x0)) + b for row, b in zip(W1, b1)]
    assert all(v != 0 for v in s1)
    for name, nodes in ex.steps.model.intermediates.items():
        if name.startswith("s"):
            assert all(abs(n.data) > 1e-9 for n in nodes)


@pytest.mark.parametrize("seed", range(8))
def test_generated_exercises_are_not_degenerate(seed):
    ex = make_exercise("2-3-2", "sigmoid", seed)
    x0 = np.abs(ex.steps.given["x0"])
    assert len(set(x0.tolist())) == len(x0)  # no two equal columns of dE/dW1
    for step in ex.steps:
        for e in step.entries:
            assert e.value == 0.0 or abs(e.value) >= 5e-4, e.name  # 5 units of the 4th decimal


# ------------------------------------------------------------ check a generated exercise


def test_check_a_generated_exercise(handouts, tmp_path, capsys):
    _, out = handouts
    data = json.loads((out / "hw3-s001.json").read_text())
    answers = tmp_path / "a.txt"
    answers.write_text(answers_text(numpy_solution(data["given"])))
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers))
    assert code == 0, text
    assert "Score: 43 / 43" in text
    answers.write_text(answers_text(carried_solution(data["given"]), 4))
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers))
    assert code == 0, text
    answers.write_text("E = 0.1\n")
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers))
    assert code == 1 and "digits" in text
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers), "--decimals", "0")
    assert "digits" not in text.lower().replace("4 decimals", "")


def test_check_takes_the_folder_of_one_exercise(tmp_path, capsys):
    assert run(capsys, "exercise", "--seed", "7", "--out", str(tmp_path))[0] == 0
    data = json.loads((tmp_path / "exercise-7.json").read_text())
    answers = tmp_path / "answers.txt"
    answers.write_text(answers_text(numpy_solution(data["given"])))
    code, text, _ = run(capsys, "check", str(tmp_path), str(answers))
    assert code == 0, text
    code, text, _ = run(capsys, "check", str(tmp_path / "exercise-7"), str(answers))  # its stem
    assert code == 0, text


def test_an_edited_exercise_file_is_refused(tmp_path, capsys):
    assert run(capsys, "exercise", "--seed", "7", "--format", "json", "--out", str(tmp_path))[0] == 0
    path = tmp_path / "exercise-7.json"
    data = json.loads(path.read_text())
    data["given"]["W1"][0][0] += 0.1
    path.write_text(json.dumps(data))
    (tmp_path / "a.txt").write_text("E = 0.1000\n")
    code, _, err = run(capsys, "check", str(path), str(tmp_path / "a.txt"))
    assert code == 2 and "differs" in err


def test_coarse_answers_are_not_right():
    from micrograd_mlp import examples
    root = examples.task5().root
    for text in ("E = 0.1", "dE/dW1 = [[0, 0], [0, 0], [0, 0]]", "x1 = (0, 0, 1)"):
        report = hand_solution.check(root, text)
        assert report.exit_code == 1 and not report.ok, text


# ------------------------------------------------------------ follow-through


def slip_answers(given, sign_at="dE/dx2"):
    """A student who flips the sign of dE/dx2 and computes every later value from it."""
    W1, b1, W2, b2, x0, y = (np.array(given[k], dtype=float) for k in ("W1", "b1", "W2", "b2", "x0", "y"))
    s1 = W1 @ x0 + b1
    x1 = sig(s1)
    s2 = W2 @ x1 + b2
    x2 = sig(s2)
    dx2 = -(x2 - y)
    d2 = x2 * (1 - x2)
    ds2 = dx2 * d2
    dx1 = W2.T @ ds2
    d1 = x1 * (1 - x1)
    ds1 = dx1 * d1
    return {"s1": s1, "x1": x1, "s2": s2, "x2": x2, "E": 0.5 * np.sum((x2 - y) ** 2),
            "dE/dx2": dx2, "sigma'(s2)": d2, "dE/ds2": ds2, "dE/dW2": np.outer(ds2, x1),
            "dE/db2": ds2, "dE/dx1": dx1, "sigma'(s1)": d1, "dE/ds1": ds1,
            "dE/dW1": np.outer(ds1, x0), "dE/db1": ds1}


def test_a_sign_slip_costs_once_and_later_steps_follow(handouts, tmp_path, capsys):
    _, out = handouts
    data = json.loads((out / "hw3-s001.json").read_text())
    answers = tmp_path / "a.txt"
    answers.write_text(answers_text(slip_answers(data["given"])))
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers), "--format", "json")
    assert code == 1
    report = json.loads(text)
    assert report["max_score"] == 43 and report["score"] == 41  # dE/dx2's two numbers only
    statuses = {v["name"]: v["status"] for v in report["values"]}
    assert statuses["dE/dx2[0]"] == "wrong" and statuses["dE/dx2[1]"] == "wrong"
    assert statuses["dE/ds2[0]"] == "follows" and statuses["dE/dW1[2,1]"] == "follows"
    assert statuses["E"] == "right"
    assert [v["name"] for v in report["values"] if v["status"] == "wrong"] == ["dE/dx2[0]", "dE/dx2[1]"]
    assert report["first_slip"] == "dE/dx2: sign"
    follows = {v["name"]: v["follows_from"] for v in report["values"]}
    assert follows["dE/ds2[0]"] == "dE/dx2"
    steps = {s["step"]: (s["score"], s["max_score"]) for s in report["steps"]}
    assert steps["dE/dx2"] == (0, 2) and steps["dE/dW1"] == (6, 6)
    code, text, _ = run(capsys, "check", str(out / "hw3-s001.json"), str(answers))
    assert text.count("slip:") == 1 and "follows from your dE/dx2" in text


def test_gradescope_results(handouts, tmp_path, capsys):
    _, out = handouts
    data = json.loads((out / "hw3-s001.json").read_text())
    answers = tmp_path / "a.txt"
    answers.write_text(answers_text(slip_answers(data["given"])))
    results = tmp_path / "results.json"
    run(capsys, "check", str(out / "hw3-s001.json"), str(answers), "--gradescope", str(results))
    doc = json.loads(results.read_text())
    assert doc["score"] == 41 and isinstance(doc["tests"], list) and len(doc["tests"]) == 15
    for test in doc["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]


# ------------------------------------------------------------ the gradebook


def test_grade_a_class(handouts, tmp_path, capsys):
    _, out = handouts
    subs = tmp_path / "subs"
    subs.mkdir()
    given = {i: json.loads((out / f"hw3-s00{i}.json").read_text())["given"] for i in range(1, 6)}
    (subs / "s001.txt").write_text(answers_text(numpy_solution(given[1])))        # right
    slip = numpy_solution(given[2])
    slip["dE/dW2"] = -slip["dE/dW2"]                                               # one slip
    (subs / "s002.txt").write_text(answers_text(slip))
    (subs / "s003.txt").write_text(answers_text(slip_answers(given[3])))          # follow-through
    (subs / "s004.txt").write_text("E = 0.1\ndE/dW1 = [[0, 0], [0, 0], [0, 0]]\n")  # coarse
    (subs / "s005.txt").write_text("")                                            # empty
    grades = tmp_path / "grades"
    code, _, err = run(capsys, "grade", str(out), str(subs), "--out", str(grades))
    assert code == 0, err
    rows = list(csv.DictReader((grades / "gradebook.csv").read_text().splitlines()))
    header = (grades / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["student", "total"] and header[-1] == "first_slip"
    assert "dE/dW1" in header
    by = {r["student"]: r for r in rows}
    assert [by[s]["total"] for s in ("s001", "s002", "s003", "s004", "s005")] == \
        ["43", "37", "41", "0", "0"]
    assert by["s002"]["dE/dW2"] == "0" and by["s002"]["dE/dx1"] == "3"
    assert by["s002"]["first_slip"].startswith("dE/dW2: sign")
    assert by["s003"]["first_slip"] == "dE/dx2: sign"
    assert by["s005"]["first_slip"] == "empty submission"
    for s in by:
        assert (grades / "feedback" / f"{s}.md").is_file()
        page = (grades / "feedback" / f"{s}.html").read_text()
        assert 'name="viewport"' in page
    assert "Score: 41 / 43" in (grades / "feedback" / "s003.md").read_text()


# ------------------------------------------------------------ the exam page


def test_exam_page_holds_no_number_of_the_solution(tmp_path, capsys):
    code, _, err = run(capsys, "exercise", "--seed", "7", "--quiz", "--exam", "--out", str(tmp_path))
    assert code == 0, err
    page = (tmp_path / "exercise-7-exam.html").read_text()
    data = json.loads((tmp_path / "exercise-7.json").read_text())
    numbers = []
    for key in ("solution", "solution_rounded"):
        for value in data[key].values():
            numbers += np.ravel(value).tolist()
    assert numbers
    for v in numbers:
        for digits in (4, 7):
            shown = f"{v:.{digits}f}"
            assert shown not in page, shown
    assert 'data-name="dE/dW1[2,1]"' in page and "save answers file" in page
    assert 'name="viewport"' in page


def test_answers_reader_edges(tmp_path, capsys):
    values, _ = parse_value("(0,1105; -0,0515)")
    np.testing.assert_array_equal(values, [0.1105, -0.0515])
    answers = tmp_path / "a.txt"
    answers.write_text("E = 0e309\n")
    code, out, err = run(capsys, "check", "task5", str(answers))
    assert code == 2 and len(err.strip().splitlines()) == 1
    answers.write_text("E = " + "x" * 100_000 + "\n")
    code, out, err = run(capsys, "check", "task5", str(answers))
    assert code == 2 and len(err) < 400
    answers.write_text("dE/dx2 = " + "[" * 490_000 + "1" + "]" * 490_000 + "\n")
    code, out, err = run(capsys, "check", "task5", str(answers))
    assert code == 2 and len(err) < 400 and "cannot read" in err


def test_non_utf8_on_stdin_is_exit_2_as_for_a_file(tmp_path):
    import subprocess
    import sys
    import os
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    done = subprocess.run([sys.executable, "-m", "micrograd_mlp", "check", "task5", "-"],
                          input=b"\xff\xfe E = 1\n", capture_output=True, env=env, timeout=120)
    assert done.returncode == 2
    assert b"not a text file" in done.stderr and b"Traceback" not in done.stderr


# ------------------------------------------------------------ numpy backward


def test_a_w1_column_never_filled_is_not_all_right():
    from micrograd_mlp import MLP
    rng = np.random.default_rng(3)
    model = MLP(3, [4, 2], activation="tanh", seed=1)
    X = rng.normal(size=(6, 3))
    X[:, 2] *= 1e-4  # input 2 scaled small
    y = rng.normal(size=(6, 2))
    true = numpy_backward.gradients(lambda: {}, model, X, y, loss="mse", layout="out_in")
    W1 = true["W1"].expected.copy()
    grads = {"W1": W1, "b1": true["b1"].expected, "W2": true["W2"].expected, "b2": true["b2"].expected}
    grads = {k: np.array(v, dtype=float) for k, v in grads.items()}
    assert numpy_backward.gradients(grads, model, X, y, loss="mse", layout="out_in").ok
    grads["W1"][:, 2] = 0.0  # the column of input 2 never filled in
    report = numpy_backward.gradients(grads, model, X, y, loss="mse", layout="out_in")
    assert not report.ok and "All gradients right" not in str(report)
    assert "inputs 2 only" in report["W1"].message and "columns 2" in report["W1"].message
    grads["W1"] = np.array(true["W1"].expected, dtype=float)
    grads["W1"][1, 0] += 0.5
    report = numpy_backward.gradients(grads, model, X, y, loss="mse", layout="out_in")
    assert "[1,0]" in report["W1"].message


# ------------------------------------------------------------ small things


def test_draw_with_an_unknown_format_is_refused_before_any_work(capsys):
    code, out, err = run(capsys, "trace", "task5", "--draw", "g.bmp")
    assert code == 2 and out == "" and ".bmp" in err


def test_generated_quiz_shows_no_value_before_its_step(tmp_path, capsys):
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz dot is needed for the drawings")
    from micrograd_mlp.views import stepper
    ex = make_exercise("2-3-2", "sigmoid", 7)
    frames = stepper.exercise_frames(ex.steps, 4, quiz=True)
    first = frames[0].svg()
    last_dx1 = ex.steps.numbers()["dE/dx1"]
    for v in np.ravel(last_dx1):
        assert f"{v:.4f}" not in first
    # dE/dx0 is no step of a generated exercise: its box stays "?" in every frame
    W1 = ex.steps.given["W1"]
    dx0 = W1.T @ np.asarray(ex.steps.numbers()["dE/ds1"])
    for fr in frames:
        for v in dx0:
            assert f"{v:.4f}" not in fr.svg()


# ------------------------------------------------------------ pages on a phone


def _font_sizes_px(css):
    """Every ``font-size`` (and ``font:`` shorthand size) in px or em of a style sheet."""
    return [float(v) * (16 if unit == "em" else 1) for v, unit in
            re.findall(r"font(?:-size)?:\s*(?:[a-z-]+\s+)*?([\d.]+)(px|em)", css)]


def test_exam_and_feedback_pages_are_readable_on_a_phone(tmp_path, capsys):
    from micrograd_mlp.grading.gradebook import Grade, feedback_html
    from micrograd_mlp.views import stepper
    ex = make_exercise("2-3-2", "sigmoid", 3)
    for page in (stepper.exam_html(ex.steps, "exam"), feedback_html(Grade("s1", None, "none"))):
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
        sizes = _font_sizes_px(css)
        assert sizes and min(sizes) >= 14, sizes


@pytest.mark.slow
def test_quiz_page_text_is_at_least_14px_at_390px_wide(tmp_path):
    import html
    import shutil
    import subprocess
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which("dot") is None:
        pytest.skip("needs Chromium and Graphviz dot (make test installs both)")
    page = tmp_path / "quiz.html"
    assert cli.main(["trace", "task5", "--html", str(page), "--quiz"]) == 0
    assert 'name="viewport"' in page.read_text()
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=390,844",
                           "--dump-dom", page.as_uri() + "?autotest="],
                          capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="autotest"[^>]*>(.*?)</pre>', done.stdout, re.S)
    assert m, done.stderr[-400:]
    result = json.loads(html.unescape(m.group(1)))
    # headless Chromium lays a window out at 500 px at the least: a phone's width or close
    assert result["viewport"] <= 500
    assert result["smallest_font"] >= 14, result.get("smallest_at")


def test_quiz_labels_name_the_input_and_keep_parentheses():
    from micrograd_mlp.cli.trace_cmd import build_target
    from micrograd_mlp.views import stepper
    root, _, _ = build_target("tanh(a*b + c)", ["a=1", "b=2", "c=0.5"])
    frames = stepper.step_frames(root)
    names = [[q.name for q in f.questions] for f in frames]
    for per_frame in names:
        assert len(set(per_frame)) == len(per_frame)  # one label per question of a step
    flat = [n for per_frame in names for n in per_frame]
    assert "dout/d(a * b + c) += dout/dout * (1 - tanh(a * b + c)^2)" in flat
    assert "dout/dc += dout/d(a * b + c) * 1" in flat and "dout/da += dout/d(a * b) * b" in flat


def test_latex_writes_a_users_w1_with_a_subscript():
    from micrograd_mlp.cli.trace_cmd import build_target
    from micrograd_mlp.views import trace
    root, _, _ = build_target("L = w1*x1 + b", ["w1=2", "x1=3", "b=1"])
    text = trace.format_table(root, "latex")
    assert "w_{1}" in text and "w^{(1)}" not in text


def test_an_expression_program_as_an_exercise(tmp_path, capsys):
    prog = "e = a*b; d = e + c; L = d*f"
    assert run(capsys, "exercise", "--expression", prog, "--seed", "3", "--out", str(tmp_path))[0] == 0
    data = json.loads((tmp_path / "exercise-3.json").read_text())
    v = data["spec"]["values"]
    assert sorted(v) == ["a", "b", "c", "f"]
    for x in v.values():
        assert x != 0 and abs(x * 10 - round(x * 10)) < 1e-9  # one decimal, never 0
    a, b, c, f = (v[k] for k in "abcf")
    e, d = a * b, a * b + c
    right = {"e": e, "d": d, "L": d * f, "dL/dd": f, "dL/de": f, "dL/dc": f, "dL/df": d,
             "dL/da": f * b, "dL/db": f * a}
    answers = tmp_path / "a.txt"
    answers.write_text("".join(f"{k} = {x:.4f}\n" for k, x in right.items()))
    code, text, _ = run(capsys, "check", str(tmp_path / "exercise-3.json"), str(answers))
    assert code == 0, text
    assert "Score: 9 / 9" in text
    right["dL/da"] = -right["dL/da"]
    answers.write_text("".join(f"{k} = {x:.4f}\n" for k, x in right.items()))
    code, text, _ = run(capsys, "check", str(tmp_path / "exercise-3.json"), str(answers))
    assert code == 1 and "slip:        sign" in text
    one = run(capsys, "exercise", "--expression", prog, "--assignment", "hw1", "--student", "s1")[1]
    two = run(capsys, "exercise", "--expression", prog, "--assignment", "hw1", "--student", "s2")[1]
    assert json.loads(one)["given"] != json.loads(two)["given"]
