"""``micrograd-mlp check`` and ``hand_solution.check``: a hand solution checked, slips named.

Every planted answer is computed here with numpy (``task5_reference``), never by the
checker; each slip kind gets its own test, through the command line.
"""
import numpy as np
import pytest

from micrograd_mlp import cli, examples

from micrograd_mlp.grading import hand_solution
from micrograd_mlp.errors import TraceInputError
from micrograd_mlp.grading.answers import parse_value
from test_examples import seed002_reference, task5_reference

REF = task5_reference()


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def fmt(a, digits=4):
    """A number, vector or matrix written as a student would (``digits`` decimals)."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return f"{float(a):.{digits}f}"
    if a.ndim == 1:
        return "(" + ", ".join(f"{v:.{digits}f}" for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(f"{v:.{digits}f}" for v in row) + "]" for row in a) + "]"


# every number of SPEC R20, as the spec writes it
R20 = """\
# seed 001, Task 5 (SPEC R20)
s1 = (-0.1, -2.4, 2.2)
x1 = (0.4750208, 0.0831727, 0.9002495)
s2 = (-0.2133072, 1.0225786)
x2 = (0.4468745, 0.7354746)
E = 0.1348
dE/db2 = (0.1105, -0.0515)
dE/dW2 = [[0.0525, 0.0092, 0.0994], [-0.0244, -0.0043, -0.0463]]
dE/db1 = (0.0097, 0.0005, -0.0003)
dE/dW1 = [[0.0097, 0.0195], [0.0005, 0.0010], [-0.0003, -0.0007]]
dE/dx0 = (0.0019, -0.0036)
E = 0.1348352
dE/dx2 = (0.4468745, -0.2645254)
sigma'(s2) = (0.2471777, 0.1945517)
dE/db2 = (0.1104574, -0.0514639)
dE/dx1 = (0.0390366, 0.0066523, -0.0036405)
sigma'(s1) = (0.2493760, 0.0762550, 0.0898003)
dE/db1 = (0.0097348, 0.0005073, -0.0003269)
dE/dx0 = (0.0018669, -0.0036272)
"""


def r20_file():
    """R20 once per name (the spec repeats some in more digits: keep the longer)."""
    lines = {}
    for line in R20.splitlines():
        if "=" in line:
            lines[line.split("=")[0].strip()] = line
    return "\n".join(lines.values()) + "\n"


def run_check(tmp_path, capsys, text, *target):
    path = tmp_path / "answers.txt"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["check", *(target or ("task5",)), str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def first_wrong_block(out):
    return out[out.index("First wrong value"):]


def test_every_r20_number_is_right(tmp_path, capsys):
    code, out, err = run_check(tmp_path, capsys, r20_file())
    assert code == 0, out + err
    assert "14 right, 0 wrong, 0 unknown" in out
    assert "WRONG" not in out


def test_full_solution_by_numpy_entry_by_entry_is_right(tmp_path, capsys):
    lines = []
    for k in range(2):
        lines.append(f"dE/ds2[{k}] = {REF['ds2'][k]:.6f}")
        for j in range(3):
            lines.append(f"dE/dW2[{k}][{j}] = {REF['dW2'][k, j]:.6f}")  # [k][j] also read
    for j in range(3):
        lines.append(f"sigma'(s1[{j}]) = {REF['dsig1'][j]:.5f}")
        lines.append(f"dE/ds1[{j}] = {REF['ds1'][j]:.7f}")
    code, out, _ = run_check(tmp_path, capsys, "\n".join(lines))
    assert code == 0, out
    assert "14 right" in out


# ------------------------------------------------------------ one test per slip kind


def test_slip_sign(tmp_path, capsys):
    text = r20_file() + f"dE/ds2 = {fmt(-REF['ds2'])}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/ds2")
    assert f"right value: {fmt(REF['ds2'])}" in block
    assert "slip:        sign" in block
    assert "dE/ds2[0] = dE/dx2[0] * sigma'(s2[0])" in block  # how it is built


def test_slip_factor_two_of_the_half(tmp_path, capsys):
    # the student drops the 1/2 of E: every gradient doubles from dE/dx2 on
    full = task5_reference("full")
    text = "\n".join(f"dE/d{n} = {fmt(full[k])}" for n, k in
                     (("x2", "dx2"), ("s2", "ds2"), ("W2", "dW2"), ("x1", "dx1")))
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/dx2")
    assert f"right value: {fmt(REF['dx2'])}" in block
    assert "slip:        factor 2" in block and "1/2" in block


def test_slip_transposed_matrix(tmp_path, capsys):
    text = f"dE/ds2 = {fmt(REF['ds2'])}\ndE/dW2 = {fmt(REF['dW2'].T)}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/dW2")
    assert f"right value: {fmt(REF['dW2'])}" in block
    assert "slip:        transposed" in block


def test_slip_transposed_indices_of_one_entry(tmp_path, capsys):
    # dE/dW1[1,0] written with the value of dE/dW1[0,1] = dE/ds1[0] * x0[1]
    text = f"dE/dW1[0,0] = {REF['dW1'][0, 0]:.4f}\ndE/dW1[1,0] = {REF['dW1'][0, 1]:.4f}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/dW1[1,0]")
    assert f"right value: {REF['dW1'][1, 0]:.4f}" in block
    assert "slip:        transposed" in block and "dE/dW1[0,1]" in block


def test_slip_missing_sigma_prime(tmp_path, capsys):
    text = f"dE/dx2 = {fmt(REF['dx2'])}\ndE/ds2 = {fmt(REF['dx2'])}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/ds2")
    assert f"right value: {fmt(REF['ds2'])}" in block
    assert "slip:        missing sigma'" in block and "sigma'(s2)" in block


def test_slip_missing_sigma_prime_seen_only_downstream(tmp_path, capsys):
    # dE/ds2 not written; dE/dW2 computed with dE/ds2 := dE/dx2
    text = f"dE/dW2 = {fmt(np.outer(REF['dx2'], REF['x1']))}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/dW2")
    assert "slip:        missing sigma'" in block


def test_slip_sigma_prime_at_the_output(tmp_path, capsys):
    wrong = sig(REF["x2"]) * (1 - sig(REF["x2"]))  # sigma'(x2) instead of sigma'(s2)
    text = f"sigma'(s2) = {fmt(wrong)}\ndE/ds2 = {fmt(REF['dx2'] * wrong)}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: sigma'(s2)")
    assert f"right value: {fmt(REF['dsig2'])}" in block
    assert "slip:        sigma' at the wrong vector" in block and "sigma'(x2)" in block


def test_slip_sigma_prime_formula_at_the_input(tmp_path, capsys):
    s2 = REF["s2"]
    text = f"dE/ds2 = {fmt(REF['dx2'] * s2 * (1 - s2))}\n"  # s2 (1 - s2), not x2 (1 - x2)
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert "slip:        sigma' at the wrong vector" in block and "s2 (1 - s2)" in block


def test_slip_upstream_value_already_wrong(tmp_path, capsys):
    x1 = REF["x1"].copy()
    x1[0] += 0.1  # a forward slip ...
    text = (f"x1 = {fmt(x1)}\ndE/ds2 = {fmt(REF['ds2'])}\n"
            f"dE/dW2 = {fmt(np.outer(REF['ds2'], x1))}\n")  # ... carried into dE/dW2
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    block = first_wrong_block(out)
    assert block.startswith("First wrong value, in backward order: dE/dW2")
    assert f"right value: {fmt(REF['dW2'])}" in block
    assert "upstream value already wrong" in block and "your x1" in block
    assert f"right: {fmt(REF['x1'])}" in block


def test_no_known_slip_says_so(tmp_path, capsys):
    code, out, _ = run_check(tmp_path, capsys, "dE/ds2 = (0.3000, -0.0515)\n")
    assert code == 1
    assert "none of the usual slips" in out
    assert "right value: (0.1105, -0.0515)" in out


def test_first_wrong_is_chosen_in_backward_order_not_file_order(tmp_path, capsys):
    text = f"dE/dW1 = {fmt(-REF['dW1'])}\ndE/dx2 = {fmt(2 * REF['dx2'])}\n"
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 1
    assert first_wrong_block(out).startswith("First wrong value, in backward order: dE/dx2")


# ------------------------------------------------------------ digits, names, input


def test_right_at_the_digits_written_only():
    root = examples.task5().root
    assert hand_solution.check(root, "dE/dx1[0] = 0.04").ok          # 0.0390 rounds to 0.04
    assert hand_solution.check(root, "dE/dx1[0] = 0.039037").ok
    assert not hand_solution.check(root, "dE/dx1[0] = 0.039038").ok  # 0.0390366 -> 0.039037
    carried = hand_solution.check(root, "dE/dx1[0] = 0.0391")         # 0.1105*0.4 - 0.0515*0.1
    assert carried.ok and "rounding" in str(carried)
    assert not hand_solution.check(root, "dE/dx1[0] = 0.0393").ok
    assert not hand_solution.check(root, "dE/ds1[2] = -0.0002").ok   # one digit: no slack
    assert hand_solution.check(root, "E = 1.348352e-1").ok


def test_library_call_with_a_mapping_and_report_fields():
    root = examples.task5().root
    report = hand_solution.check(root, {"dE/db2": [0.1105, -0.0515], "E": 0.1348, "dE/dW9": 1.0,
                                "dE/ds1": REF["ds1"] * -1})
    assert [v.status for v in report.verdicts] == ["right", "right", "unknown", "wrong"]
    assert not report.ok and report.exit_code == 1
    assert report.first_wrong.name == "dE/ds1" and report.slip == "sign"
    np.testing.assert_allclose(report.first_wrong.right, REF["ds1"], atol=1e-12)
    assert "nearest names: dE/dW2" in str(report) or "dE/dW1" in str(report)
    assert root.grad == 0.0  # checking runs no backward on the user's graph


def test_unknown_name_lists_the_nearest(tmp_path, capsys):
    code, out, _ = run_check(tmp_path, capsys, "dE/dW3 = [[0.1]]\ndE/dx2 = (0.4469, -0.2645)\n")
    assert code == 1
    line = next(l for l in out.splitlines() if "unknown" in l and "dW3" in l)
    assert "nearest names:" in line and "dE/dW2" in line


def test_typography_from_notes_is_read(tmp_path, capsys):
    text = ("∂E/∂s2 = (0.1105, \u22120.0515)\nσ′(s2) = [0.2472 0.1946]\n"
            "dE / dW2 = [0.0525 0.0092 0.0994; -0.0244 -0.0043 -0.0463]\n"
            "dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472 = 0.1105\n")
    code, out, _ = run_check(tmp_path, capsys, text)
    assert code == 0, out


@pytest.mark.parametrize("text, message", [
    ("dE/dW2 = [[0.1, 0.2], [0.3]]\n", "answers.txt line 1: cannot read"),
    ("E 0.1348\n", "line 1: expected 'name = value'"),
    ("# only a comment\n\n", "no answers"),
    ("E = nan\n", "cannot read"),
    ("E = inf\n", "cannot read"),
    ("E = 1e999\n", "cannot read"),
    ("E = 0.1348\n dE/dx2 = (1, 2)\nE = 0.13\n", "line 3: E is already given on line 1"),
    ("dE/dx2 = \n", "cannot read"),
    ("= 0.3\n", "no name"),
    ("dE/dx2 = " + "[" * 5000 + "1" + "]" * 5000 + "\n", "cannot read"),
    ("x = " + "9" * 400 + "\n", "cannot read"),
])
def test_unusable_answers_exit_2_with_one_line(tmp_path, capsys, text, message):
    code, out, err = run_check(tmp_path, capsys, text)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_unusable_files_exit_2(tmp_path, capsys):
    assert cli.main(["check", "task5", str(tmp_path / "missing.txt")]) == 2
    assert "no answers file" in capsys.readouterr().err
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00E = 1\x00")
    assert cli.main(["check", "task5", str(binary)]) == 2
    assert "not a text file" in capsys.readouterr().err
    assert cli.main(["check", "task6", str(binary)]) == 2
    assert "task5" in capsys.readouterr().err  # the known examples are listed
    half = tmp_path / "cut.txt"
    half.write_text("dE/dW2 = [[0.0525, 0.0092, 0.0994], [-0.02")  # a file cut in half
    assert cli.main(["check", "task5", str(half)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_parse_value_keeps_the_digits_written():
    assert parse_value("0.1105") == (0.1105, pytest.approx(5e-5))
    assert parse_value("-3")[1] == 0.5
    assert parse_value("1.2e-3")[1] == pytest.approx(5e-5)
    values, halves = parse_value("[[1, 2.5], [3.25, 4]]")
    np.testing.assert_array_equal(values, [[1, 2.5], [3.25, 4]])
    np.testing.assert_allclose(halves, [[0.5, 0.05], [0.005, 0.5]])
    for bad in ("", "()", "[1, [2]]", "abc", "1,2", "[1 2"):
        with pytest.raises(ValueError):
            parse_value(bad)


def test_check_task5_full_loss_and_seed002(tmp_path, capsys):
    full = task5_reference("full")
    code, out, _ = run_check(tmp_path, capsys, f"dE/dx2 = {fmt(full['dx2'])}\n",
                             "task5", "--loss", "full")
    assert code == 0, out
    _, d = seed002_reference()
    text = (f"dl/dW1 = {fmt(d['W1'])}\ndl/dW2 = {fmt(d['W2'])}\n"  # W2 is 3x1: a vector will do
            f"dl/dyhat = {fmt(-d['yhat'])}\n")
    code, out, _ = run_check(tmp_path, capsys, text, "seed002")
    assert code == 1
    assert "2 right, 1 wrong" in out
    assert "First wrong value, in backward order: dl/dyhat" in out and "slip:        sign" in out


def test_check_an_expression_program(tmp_path, capsys):
    # L = (a*b)*f at a=2, b=-3, f=-2: dL/de = f = -2, dL/da = f*b = 6, dL/db = f*a = -4
    prog = ("e = a*b; L = e*f", "a=2", "b=-3", "f=-2")
    code, out, _ = run_check(tmp_path, capsys, "dL/de = -2\ndL/da = 6\ndL/db = -4\nL = 12\n", *prog)
    assert code == 0, out
    code, out, _ = run_check(tmp_path, capsys, "dL/de = -2\ndL/da = -6\n", *prog)
    assert code == 1
    assert "First wrong value, in backward order: dL/da" in out and "slip:        sign" in out


def test_check_refuses_a_batched_graph():
    from micrograd_mlp import Value
    root = (Value(np.array([1.0, 2.0]), "a") * 2.0).sum()
    with pytest.raises(TraceInputError, match="single numbers"):
        hand_solution.check(root, "a = 1")


def test_catalog_numbers_are_the_numpy_solution():
    cat = hand_solution.catalog(examples.task5().root)
    pairs = {"s1": "s1", "x1": "x1", "s2": "s2", "x2": "x2", "dE/dx2": "dx2",
             "sigma'(s2)": "dsig2", "dE/ds2": "ds2", "dE/dW2": "dW2", "dE/db2": "db2",
             "dE/dx1": "dx1", "sigma'(s1)": "dsig1", "dE/ds1": "ds1", "dE/dW1": "dW1",
             "dE/db1": "db1", "dE/dx0": "dx0"}
    for name, key in pairs.items():
        np.testing.assert_allclose(cat[name], REF[key], atol=1e-12, err_msg=name)
    assert cat["E"] == pytest.approx(REF["E"], abs=1e-12)


def test_vector_and_entry_answers_get_the_same_verdicts():
    rng = np.random.default_rng(5)
    root = examples.task5().root
    for _ in range(20):
        dW1 = np.round(REF["dW1"] + rng.choice([0, 0, 0.01], size=(3, 2)), 4)
        whole = hand_solution.check(root, f"dE/dW1 = {fmt(dW1)}")
        entries = hand_solution.check(root, "\n".join(f"dE/dW1[{i},{j}] = {dW1[i, j]:.4f}"
                                              for i in range(3) for j in range(2)))
        wrong = [v.status == "wrong" for v in entries.verdicts]
        np.testing.assert_array_equal(whole.verdicts[0].wrong, np.reshape(wrong, (3, 2)))
        assert whole.ok == entries.ok
        if not whole.ok:
            assert whole.first_key == entries.first_key  # the same first wrong entry


def test_a_wrong_forward_value_is_shown_with_its_formula():
    root = examples.task5().root
    report = hand_solution.check(root, "x1 = (0.5750, 0.0832, 0.9002)\nE = 0.2697\n")
    assert report.first_wrong.name == "x1"  # forward values come in forward order
    assert "built as:    x1[0] = sigma(s1[0]) = 0.4750" in str(report)
    report = hand_solution.check(root, "E = 0.2697\n")  # the 1/2 left out of E itself
    assert report.slip == "factor 2"
    assert "E = squared_error(x2[0], x2[1]) = 0.1348" in str(report)
