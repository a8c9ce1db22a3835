"""``micrograd-mlp trace --level exercise|node|primitive``, ``--expand`` and ``--quiz``
option handling: defaults, refusals, sums added up, no undefined names, no round-off."""
import re

import pytest

from micrograd_mlp.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_network_defaults_to_the_exercise_level(capsys):
    code, out, _ = run(capsys, "trace", "task5")
    assert code == 0
    assert "Hand solution, step by step" in out
    assert "Step 8 (backward): dE/ds2 = dE/dx2 * sigma'(s2)" in out
    assert "= 0.0442 + (-0.0051) = 0.0390" in out
    same = run(capsys, "trace", "task5", "--level", "exercise")[1]
    assert same == out


def test_node_level_is_the_collapsed_ledger_with_sums_added_up(capsys):
    code, out, _ = run(capsys, "trace", "task5", "--level", "node")
    assert code == 0
    assert "Chain rule, node by node (composites collapsed)" in out
    assert ("dE/dx1[0] = dE/ds2[0] * W2[0,0] + dE/ds2[1] * W2[1,0] = 0.1105 * 0.4000 + "
            "(-0.0515) * 0.1000 = 0.0442 + (-0.0051) = 0.0390") in out


def test_expression_defaults_to_the_node_level(capsys):
    code, out, _ = run(capsys, "trace", "a*b + a", "a=2", "b=-3")
    assert code == 0 and "node by node" in out


def test_primitive_level_is_expand(capsys):
    a = run(capsys, "trace", "task5", "--expand")
    b = run(capsys, "trace", "task5", "--level", "primitive")
    assert a[0] == b[0] == 0
    assert a[1] == b[1]
    assert "every primitive" in a[1]


def test_expand_defines_every_intermediate_before_use(capsys):
    _, out, _ = run(capsys, "trace", "task5", "--expand")
    defined = set()
    for line in out.splitlines():
        m = re.match(r"\s+(t\d+) = (.*)", line)
        if m:
            for used in re.findall(r"\bt\d+\b", m.group(2)):
                assert used in defined, f"{used} used before its definition: {line}"
            defined.add(m.group(1))
            continue
        for used in re.findall(r"\bt\d+\b", line):
            assert used in defined, f"{used} is never defined before: {line}"


@pytest.mark.parametrize("target", [["task5", "--expand"], ["a*0.1 + a*0.2 - a*0.3", "a=2", "--expand"],
                                    ["seed002", "--expand"]])
def test_no_round_off_printed(capsys, target):
    code, out, _ = run(capsys, "trace", *target)
    assert code == 0
    ledger = out.split("Chain rule, node by node")[1]
    assert not re.search(r"\de-1\d", ledger), "round-off printed"


def test_a_cancelling_sum_prints_zero_added_up(capsys):
    _, out, _ = run(capsys, "trace", "a*0.1 + a*0.2 - a*0.3", "a=2", "--expand")
    last = [line for line in out.splitlines() if line.startswith("dout/da")][0]
    assert last.endswith("= 0.1000 + 0.2000 + (-0.3000) = 0.0000")


@pytest.mark.parametrize("argv, message", [
    (["seed002", "--level", "exercise"], "needs a network"),
    (["a*b", "a=1", "b=2", "--level", "exercise"], "needs a network"),
    (["task5", "--expand", "--level", "node"], "--expand means --level primitive"),
    (["task5", "--quiz"], "--html"),
])
def test_refusals(capsys, argv, message):
    code, out, err = run(capsys, "trace", *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert out == ""


def test_unknown_level_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["trace", "task5", "--level", "vector"])
    assert stop.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_exercise_level_markdown_and_latex(capsys):
    code, out, _ = run(capsys, "trace", "task5", "--format", "markdown")
    assert code == 0 and "**Step 9 (backward):** `dE/dW2 = dE/ds2 x1^T" in out
    code, out, err = run(capsys, "trace", "task5", "--format", "latex")
    assert code == 0 and "\\begin{align*}" in out
    assert "no LaTeX form" in err
