"""The command line never prints a traceback (issue 12, class 7): bad input is one
line on stderr and exit code 2, a failure exit code 1, and a reader closing the pipe
early ends the command quietly."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from micrograd_mlp import cli

ROOT = Path(__file__).resolve().parents[2]


def call_main(argv):
    """``cli.main``'s exit code, also when argparse exits (usage errors, --help)."""
    try:
        return cli.main(list(argv))
    except SystemExit as stop:
        return stop.code


def run(capsys, *argv):
    code = call_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_refusal(code, err, allowed=(0, 2)):
    """Exit 0, or 2 with a short message; never a traceback nor the catch-all of a bug."""
    assert code in allowed, err
    assert "Traceback" not in err
    assert not err.startswith("micrograd-mlp: failed:")  # main's last resort: a bug reached it
    if code == 2:
        assert err.strip(), "a refusal says why"
        assert len(err.strip().splitlines()) == 1, err  # usage errors too: one line


# ---------------------------------------------------------------- the examples


@pytest.mark.parametrize("expr, assignments", [
    ("+".join(["a"] * 1000), ["a=1"]),                 # a sum of 1000 terms
    (" " + "-" * 3000 + "a", ["a=1"]),                 # a long chain of unary minus signs
    ("-" * 50 + "a", ["a=1"]),                         # argparse reads it as an option
    ("a*" + "9" * 400, ["a=1"]),                       # a 400-digit literal
    ("a**" + "9" * 400, ["a=2"]),
    ("a + 1e999", ["a=1"]),
    ("(" * 5000 + "a" + ")" * 5000, ["a=1"]),          # deep nesting
    ("exp(" * 300 + "a" + ")" * 300, ["a=1"]),
    ("a/0", ["a=1"]),
    ("log(a)", ["a=-1"]),
    ("", []),
    ("   ", ["a=1"]),
    ("a\x00b", ["a=1"]),
    ("ａ + b", ["a=1", "b=2"]),                         # full-width letter (NFKC: a)
    ("α*β", ["α=1", "β=2"]),
    ("__import__('os')", []),
    ("a.real", ["a=1"]),
    ("a", ["a=" + "9" * 400]),
    ("a", ["a=nan"]),
    ("a", ["a=1e400"]),
    ("a", ["a="]),
    ("a", ["=1"]),
    ("a", ["a=1", "a=2"]),
    ("1 + 2", []),
])
def test_hostile_expressions_never_traceback(capsys, expr, assignments):
    code, out, err = run(capsys, "trace", expr, *assignments)
    assert_clean_refusal(code, err)


def test_a_good_expression_still_works(capsys):
    code, out, err = run(capsys, "trace", "a*b + a", "a=2", "b=3")
    assert code == 0 and err == ""
    assert "= 8.0000000" in out  # f = 2*3 + 2
    assert "4.0000" in out.split("da =")[-1]  # df/da = b + 1 = 4


@pytest.mark.parametrize("argv", [
    ["trace", "task5", "--digits", "-1"],
    ["trace", "task5", "--digits", "99999999999999999999999"],
    ["trace", "task5", "--digits", "x"],
    ["trace", "task5", "a=1"],
    ["trace", "seed002", "--loss", "full"],
    ["trace", "nonsense_example_name"],
    ["demo", "no_such_demo"],
    ["no_such_command"],
    ["--no-such-option"],
])
def test_bad_arguments_exit_2_in_one_message(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert_clean_refusal(code, err)


def test_unwritable_drawing_is_a_failure_exit_1(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "trace", "a*b", "a=1", "b=2", "--draw",
                         str(blocker / "sub" / "g.dot"))
    assert code == 1
    assert "Traceback" not in err and err.count("\n") == 1


def test_an_unexpected_bug_is_one_line_exit_1(capsys, monkeypatch):
    def broken(args):
        raise AttributeError("internal oops")

    monkeypatch.setattr(cli.trace_cmd, "run", broken)
    code, out, err = run(capsys, "trace", "task5")
    assert code == 1 and err == "micrograd-mlp: failed: AttributeError: internal oops\n"


def test_a_library_error_escaping_a_subcommand_is_exit_2(capsys, monkeypatch):
    from micrograd_mlp.errors import ShapeError

    def refuses(args):
        raise ShapeError("bad\nshape")

    monkeypatch.setattr(cli.trace_cmd, "run", refuses)
    code, out, err = run(capsys, "trace", "task5")
    assert code == 2 and err == "micrograd-mlp: bad shape\n"


# ---------------------------------------------------------------- generated expressions

ATOMS = st.sampled_from(["a", "b", "1", "0", "2.5", "1e308", "1e-320", "9" * 400, "0x1F",
                         "1_000", "1j", ".5", "5.", "nan", "inf", "α", "ａ", "x", "exp",
                         "tanh", "sigmoid", "relu", "log", "sqrt"])
OPS = st.sampled_from(["+", "-", "*", "/", "**", "%", "//", "@", "<", "and", ",", " "])


@st.composite
def expressions(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:  # deep
        n = draw(st.integers(1, 3000))
        f = draw(st.sampled_from(["(", "exp(", "-", "+", "tanh(", "(-"]))
        closing = ")" * (n * f.count("("))
        return " " + f * n + draw(ATOMS) + closing
    if kind == 1:  # long
        n = draw(st.integers(1, 1500))
        return draw(OPS).join(draw(ATOMS) for _ in range(min(n, 40))) * 1 + \
            ("+a" * n if draw(st.booleans()) else "")
    if kind == 2:  # arbitrary text, unicode included
        return draw(st.text(max_size=60))
    if kind == 3:  # empty or blank
        return draw(st.sampled_from(["", " ", "\t", "\n", "()", "(", ")"]))
    parts = draw(st.lists(st.tuples(ATOMS, OPS), min_size=1, max_size=12))
    return " " + "".join(a + o for a, o in parts) + draw(ATOMS)


ASSIGNMENTS = st.lists(st.sampled_from(["a=1", "b=-2", "a=0", "b=1e300", "a=nan", "b=inf",
                                        "a=" + "9" * 400, "x=1", "α=1", "a=", "b=0x10"]),
                       max_size=3)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(expr=expressions(), assignments=ASSIGNMENTS)
def test_generated_expressions_exit_cleanly(expr, assignments):
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = call_main(["trace", expr, *assignments])
    assert_clean_refusal(code, err.getvalue())


# ---------------------------------------------------------------- the pipe (subprocesses)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["trace", "task5"], ["trace", "task5", "--format", "markdown"]])
def test_closed_pipe_is_quiet(argv):
    """``micrograd-mlp trace task5 | true``: the reader is gone before the first write."""
    proc = subprocess.Popen([sys.executable, "-m", "micrograd_mlp", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT)
    proc.stdout.close()  # the reader leaves at once
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert code == 0, err


@pytest.mark.slow
def test_head_one_through_a_shell_pipe():
    cmd = f"{sys.executable} -m micrograd_mlp trace task5 | head -1"
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(),
                         cwd=ROOT, timeout=120)
    assert res.stdout.count("\n") == 1 and "Task 5" in res.stdout
    assert res.stderr == ""
