"""Install and command line: `micrograd-mlp --version`, `demo --list` with what each
demo shows (read without running or importing the demos), and the Makefile/setup.cfg
split (make demo installs the demo extra only: no torch, no test tools)."""
import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

import micrograd_mlp
from micrograd_mlp import cli

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:  # argparse's --version exits
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert out.strip() == f"micrograd-mlp {cfg['metadata']['version']}"
    assert micrograd_mlp.__version__ == cfg["metadata"]["version"]


def test_demo_list_says_what_each_demo_shows(capsys):
    code, out, _ = run_cli(capsys, "demo", "--list")
    assert code == 0
    lines = out.splitlines()
    scripts = sorted(p.stem for p in (ROOT / "demos").glob("*.py")
                     if not p.stem.startswith("_") and p.stem != "benchmark_report")
    assert [line.split()[0] for line in lines] == scripts
    assert "benchmark_report" not in scripts  # a helper module of the benchmark, no demo
    for line, name in zip(lines, scripts):
        doc = ast.get_docstring(ast.parse((ROOT / "demos" / f"{name}.py").read_text()))
        first_words = " ".join(doc.split()[:4]).replace("``", "`")
        assert line.split(None, 1)[1].startswith(first_words), line
        assert "\n" not in line and len(line.split(None, 1)[1]) > 15


@pytest.mark.slow
def test_demo_list_imports_no_heavy_module():
    code = ("import sys; from micrograd_mlp import cli; cli.main(['demo', '--list']); "
            "heavy = [m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules]; "
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert "HEAVY []" in out


def test_a_demo_without_docstring_is_listed_with_a_note(tmp_path, monkeypatch, capsys):
    (tmp_path / "plain.py").write_text("print('hi')\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "_helper.py").write_text('"""Not a demo."""\n')
    (tmp_path / "parts.py").write_text('"""Pieces of a demo."""\nimport math\nX = 1\ndef f():\n    pass\n')
    monkeypatch.setattr(cli, "DEMOS_DIR", tmp_path)
    code, out, _ = run_cli(capsys, "demo", "--list")
    assert code == 0
    assert out.splitlines() == ["broken  (no description: the file cannot be read)",
                                "plain   (no description)"]


# ---------------------------------------------------------------- extras and Makefile


def extras():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    section = cfg["options.extras_require"]
    return {k: [line.split("=")[0].split(">")[0].split("<")[0].strip()
                for line in section[k].strip().splitlines()] for k in section}


def test_demo_extra_has_no_torch_and_test_extra_holds_demo():
    ex = extras()
    assert "torch" not in ex["demo"] and "hypothesis" not in ex["demo"]
    assert "pytest" not in ex["demo"]
    for need in ("pytest", "hypothesis", "micrograd", "torch", "nbclient", "ipykernel",
                 "nbformat", "scikit-learn"):
        assert need in ex["test"], need
    assert set(ex["demo"]) <= set(ex["test"])  # a test install also serves make demo


@pytest.mark.parametrize("target, extra", [("demo", "demo"), ("test", "test")])
def test_make_targets_install_their_own_extra(tmp_path, target, extra):
    """`make -n` on a copy without a venv: what each target would install."""
    for name in ("Makefile", "setup.cfg", "pyproject.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    try:
        plan = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout
    except FileNotFoundError:
        pytest.skip("make is not installed")
    assert f"-e '.[{extra}]'" in plan
    other = {"demo": "test", "test": "demo"}[extra]
    assert f"-e '.[{other}]'" not in plan
    assert "torch" not in plan.split(f"'.[{extra}]'")[0]  # never installed by name
