"""The trace command's input path at its edges: a long flat chain is read in a loop
(20,000 terms traced, the size bound stated), the chain reader builds the same syntax
trees as ``ast.parse``, huge values are shortened in messages, and the exit-code rule
(2 unusable input, 1 failure, one short line) holds for standard input as for a file."""
import ast
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from micrograd_mlp import cli
from micrograd_mlp.cli.trace_cmd import parse_expression

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = cli.main(["trace", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_short_line(err):
    return len(err.strip().splitlines()) == 1 and len(err) < 400 and "Traceback" not in err


# ---------------------------------------------------------------- long flat chains


@pytest.mark.slow
def test_a_20000_term_sum_is_built_and_differentiated():
    text = " + ".join(["a"] * 20000)
    root, leaves = parse_expression(text, {"a": 0.5})
    assert root.data == 10000.0
    root.backward()
    assert leaves["a"].grad == 20000.0


@pytest.mark.slow
@pytest.mark.parametrize("op, expect", [("-", -19998.0), ("*", 1.0), ("/", 1.0)])
def test_long_chains_of_every_flat_operator(op, expect):
    text = f" {op} ".join(["a"] * 20000)
    root, leaves = parse_expression(text, {"a": 1.0})
    root.backward()
    assert root.data == expect
    # d/da of a - a - ... = 1 - 19999; of a * a * ... (a = 1) = 20000; of a / a / ... = 1 - 19999
    assert leaves["a"].grad == {"-": -19998.0, "*": 20000.0, "/": -19998.0}[op]


@pytest.mark.slow
def test_the_cli_traces_a_sum_longer_than_ast_parse_takes(capsys):
    # ast.parse gives up near 3000 terms; the ledger of 20,000 takes ~10 s to print,
    # so the command is run on 5000 here (the library on 20,000 above)
    code, out, err = run(capsys, " + ".join(["a"] * 5000), "a=0.25", "--format", "markdown")
    assert code == 0, err
    assert "dout/da = 5000.0000000" in out and "out = 1250.0000000" in out
    heading = out.splitlines()[0]
    assert len(heading) < 300 and "(20003 characters)" in heading


def test_past_the_stated_bound_is_refused_with_the_bound(capsys):
    text = "a" + " + a" * 50_000  # 200,001 characters
    code, out, err = run(capsys, text, "a=1")
    assert code == 2 and one_short_line(err)
    assert "200001 characters" in err and "at most 200000" in err


@pytest.mark.parametrize("text", ["(" * 300 + "a" + ")" * 300, "a * " + "-" * 300 + "a",
                                  " ** ".join(["a"] * 300), "exp(" * 300 + "a" + ")" * 300])
def test_real_nesting_is_still_refused(capsys, text):
    code, out, err = run(capsys, text, "a=1")
    assert code == 2 and one_short_line(err) and "too deeply nested" in err


# ---------------------------------------------------------------- the reader agrees with ast


def _strip(tree):
    return ast.dump(ast.Module(body=tree, type_ignores=[]), include_attributes=False)


names = st.sampled_from(["a", "b", "x1", "w_2"])
numbers = st.one_of(st.integers(0, 10 ** 6).map(str),
                    st.floats(0, 1e6, allow_nan=False).map(repr),
                    st.sampled_from(["1e-3", "2.", ".5", "1_000", "0x1f", "1e400"]))


def _expr(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"-{c}"), children.map(lambda c: f"+ {c}"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["exp", "tanh", "max", "f"]),
                  st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        children.map(lambda c: f"leaky_relu({c}, alpha=0.1)"),
        children.map(lambda c: f"g({c}, mode='x',)"),
    )


expressions = st.recursive(st.one_of(names, numbers), _expr, max_leaves=12)
programs = st.lists(st.tuples(st.sampled_from(["", "e = ", "L = "]), expressions),
                    min_size=1, max_size=3).map(
    lambda ps: "; ".join(a + e for a, e in ps))


@settings(max_examples=150, deadline=None)
@given(programs)
def test_the_chain_reader_builds_what_ast_parse_builds(text):
    from micrograd_mlp.cli.expression_syntax import _Reader

    assert _strip(_Reader(text).program()) == _strip(ast.parse(text).body)


@pytest.mark.parametrize("text", [
    "a.b", "a[0]", "a if b else c", "lambda: a", "a < b", "a // b", "a % b", "a @ b",
    "(a, b)", "f(*a)", "f(**a)", "f(a)(b)", "a = b = c", "a += 1", "a;;b", "1j * a",
    "'x' 'y'", "f'{a}'", "not a", "a and b", "[a]", "{a}", "a if a else a",
])
def test_outside_the_language_falls_back_to_ast_parse(text):
    from micrograd_mlp.cli import expression_syntax

    try:
        expected = _strip(ast.parse(text).body)
    except SyntaxError:
        with pytest.raises(SyntaxError):
            expression_syntax.parse_program(text)
        return
    assert _strip(expression_syntax.parse_program(text)) == expected


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize("argv", [
    ["a * b", "a=" + "9x" * 50_000, "b=1"],          # an unreadable 100 kB value
    ["a * " + "b" * 100_000, "a=1"],                   # an unknown 100 kB name
    ["q" * 100_000 + "(a)", "a=1"],                    # an unknown 100 kB function
    ["z" * 100_000],                                   # an unknown 100 kB example
    ["a + (" + "a + " * 20_000 + "a).b", "a=1"],       # refused, around a long chain
    [" + ".join(["a"] * 20_000) + "; b = a", "a=1"],   # a long chain nobody uses
    ["a" + "\udcff", "a=1"],                           # bytes that were not UTF-8
    ["a\x00", "a=1"],                                  # a NUL character
])
def test_huge_or_unreadable_input_is_one_short_line_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2, err[:300]
    assert one_short_line(err), err[:500]
    assert "nested" not in err


def test_a_refusal_around_a_long_chain_says_where(capsys):
    code, out, err = run(capsys, "a + (" + "a + " * 20_000 + "a).b", "a=1")
    assert code == 2 and "'.' at line 1, column 80008 is not allowed" in err


def test_the_unreadable_value_is_named_and_shortened(capsys):
    code, out, err = run(capsys, "a * b", "a=" + "9x" * 50_000, "b=1")
    assert "a=..." in err and "(100000 characters)" in err and "is not a number" in err


# ---------------------------------------------------------------- standard input = a file


def _check(capsys, monkeypatch, args, stdin=None):
    """``check`` run in this process; ``stdin``: the bytes standard input holds."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = cli.main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("data", [b"dE/dW2 = 0.1\xff\xfe\n", b"\x80x = 1\n",
                                  "dE/dW2[0,0] = 0,0525\n".encode("utf-16")])
def test_non_utf8_bytes_on_stdin_are_refused_like_a_file(capsys, monkeypatch, tmp_path, data):
    path = tmp_path / "answers.txt"
    path.write_bytes(data)
    file_code, _, file_err = _check(capsys, monkeypatch, ["task5", str(path)])
    stdin_code, _, stdin_err = _check(capsys, monkeypatch, ["task5", "-"], stdin=data)
    assert file_code == stdin_code == 2
    assert one_short_line(file_err) and one_short_line(stdin_err)
    assert "not a text file (UTF-8 expected)" in file_err
    assert stdin_err.replace("stdin", "answers.txt") == file_err.replace(str(path), "answers.txt")


def test_too_large_on_stdin_is_refused_like_a_file(capsys, monkeypatch, tmp_path):
    data = b"x = 1\n" * 200_000  # 1.2 MB
    path = tmp_path / "answers.txt"
    path.write_bytes(data)
    file_code, _, file_err = _check(capsys, monkeypatch, ["task5", str(path)])
    stdin_code, _, stdin_err = _check(capsys, monkeypatch, ["task5", "-"], stdin=data)
    assert file_code == stdin_code == 2
    assert "too large for an answers file" in file_err and "too large for an answers file" in stdin_err


def test_the_same_answers_give_the_same_report_from_stdin_and_a_file(capsys, monkeypatch, tmp_path):
    data = b"dE/dW2[0,0] = 0.0525\r\ndE/ds2[0] = 0.9\r\n"  # Windows line ends
    path = tmp_path / "answers.txt"
    path.write_bytes(data)
    file_code, file_out, _ = _check(capsys, monkeypatch, ["task5", str(path)])
    stdin_code, stdin_out, _ = _check(capsys, monkeypatch, ["task5", "-"], stdin=data)
    assert file_code == stdin_code == 1  # one answer is wrong
    assert stdin_out.replace("stdin", "answers.txt") == file_out


@pytest.mark.slow
def test_a_subprocess_with_bytes_on_stdin_exits_2():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "micrograd_mlp", "check", "task5", "-"],
                          input=b"dE/dW2 = \xff\n", capture_output=True, env=env, timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2 and one_short_line(err) and "UTF-8 expected" in err
