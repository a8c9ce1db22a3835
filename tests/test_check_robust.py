"""The check command on arbitrary answer files: an exit code 0, 1 or 2, never an
exception; ``parse_value`` never accepts what it cannot read."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micrograd_mlp import cli, examples

from micrograd_mlp.grading import hand_solution
from micrograd_mlp.errors import TraceInputError
from micrograd_mlp.grading.answers import parse_value

NAMES = st.sampled_from(["E", "x1", "dE/dW2", "dE/ds2[0]", "sigma'(s2)", "dE/dx0[1]",
                         "dE/dW2[0,1]", "s1", "zz", "dE/d", "", "dE/dW2[9,9]"])
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(-10**30, 10**30).map(str),
                   st.from_regex(r"-?\d{0,3}\.?\d{0,6}(e-?\d{1,3})?", fullmatch=True))
VALUE = st.recursive(NUMBER, lambda inner: st.lists(inner, max_size=4).map(
    lambda xs: "[" + ", ".join(xs) + "]"), max_leaves=12)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # encodable text
LINE = st.one_of(st.builds(lambda n, v: f"{n} = {v}", NAMES, VALUE), TEXT)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=6))
def test_any_answers_file_gives_an_exit_code(tmp_path, capsys, lines):
    path = tmp_path / "answers.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    code = cli.main(["check", "task5", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    assert (code == 2) == bool(err.strip())
    if code == 2:
        assert len(err.strip().splitlines()) == 1


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30))
def test_parse_value_reads_or_refuses(text):
    try:
        value, half = parse_value(text)
    except ValueError:
        return
    assert np.all(np.isfinite(value)) and np.all(np.asarray(half) > 0)
    assert np.shape(value) == np.shape(half)


@settings(max_examples=60, deadline=None)
@given(answers=st.dictionaries(NAMES, st.one_of(st.floats(), st.lists(st.floats(), max_size=3)),
                               max_size=4))
def test_library_check_with_a_mapping_never_crashes(answers):
    root = examples.task5().root
    try:
        report = hand_solution.check(root, answers)
    except TraceInputError:
        return
    assert report.exit_code in (0, 1)
    str(report)
