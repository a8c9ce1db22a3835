"""What a new user meets in the demos: ``demo --list`` and the demos' own texts speak
to users (no issue or requirement numbers), a demo writes into its ``--out`` folder
only (the README's gallery, demos/figures/, is refreshed by ``make figures`` and
``make bench --gallery`` alone), and the benchmark prints ratios, not pass/fail
verdicts against the developers' targets."""
import ast
import importlib.util
import re
from pathlib import Path

import pytest

from micrograd_mlp import cli

DEMOS = Path(__file__).resolve().parent.parent / "demos"
DEVELOPER_WORDS = re.compile(r"(?i:\bissue\b|\bspec\b)|\bR\d+\b")


def test_demo_list_has_no_developer_words(capsys):
    assert cli.main(["demo", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 10
    assert [line for line in lines if DEVELOPER_WORDS.search(line)] == []
    # and the words a user wants: what each benchmark measures
    listing = "\n".join(lines)
    assert re.search(r"^benchmark +How fast it runs next to micrograd, numpy and torch", listing, re.M)


@pytest.mark.parametrize("path", sorted(DEMOS.glob("*.py")), ids=lambda p: p.name)
def test_no_demo_text_names_an_issue_or_a_requirement(path):
    # every string a demo holds (docstrings, --help descriptions, printed text)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert [t for t in texts if DEVELOPER_WORDS.search(t)] == []


def load_benchmark(monkeypatch, tmp_path):
    """demos/benchmark.py as a module, its measurements replaced by canned numbers and
    its gallery folder moved under ``tmp_path``."""
    monkeypatch.syspath_prepend(str(DEMOS))
    spec = importlib.util.spec_from_file_location("benchmark_under_test", DEMOS / "benchmark.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name in ("bench_steps", "bench_random_graph", "bench_chains", "bench_memory",
                 "bench_digits", "bench_scaling"):
        monkeypatch.setattr(bench, name, lambda *a, **k: {})

    def figure(_results, stem):
        for ext in (".png", ".svg"):
            Path(str(stem) + ext).write_bytes(b"figure")

    monkeypatch.setattr(bench, "report", lambda *a: "| table |\n")
    monkeypatch.setattr(bench, "bar_chart", figure)
    monkeypatch.setattr(bench, "scaling_figure", figure)
    # the compiled tape's row: canned too, its kernels not loaded
    monkeypatch.setattr(bench.tape_kernels, "kernels", lambda: None)
    monkeypatch.setattr(bench, "bench_tape", lambda *a, **k: {})
    monkeypatch.setattr(bench, "tape_table", lambda *a: "| tape |")
    monkeypatch.setattr(bench, "tape_checks", lambda *a: [])
    monkeypatch.setattr(bench, "tape_figure", figure)
    monkeypatch.setattr(bench, "ratios", lambda *a: [
        ("batched vs micrograd", "150x faster", "target >= 200x", False),
        ("replayed vs numpy (row 1)", "1.6x the time", "target <= 5x", True)])
    gallery = tmp_path / "figures"
    monkeypatch.setattr(bench, "FIG_DIR", gallery)
    return bench, gallery


def test_a_full_benchmark_run_writes_into_out_only(monkeypatch, tmp_path, capsys):
    bench, gallery = load_benchmark(monkeypatch, tmp_path)
    out = tmp_path / "out"
    bench.main(["--out", str(out)])  # a full run (not --quick), as `demo benchmark` does
    assert not gallery.exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "benchmark.md", "benchmark.png", "benchmark.svg", "benchmark_scaling.png",
        "benchmark_scaling.svg", "benchmark_tape.png", "benchmark_tape.svg"]
    printed = capsys.readouterr().out
    assert "150x faster" in printed and "1.6x the time" in printed
    assert not re.search(r"\bmet\b|target|>= 200x", printed)
    bench.main(["--out", str(out), "--gallery"])  # what make bench runs
    assert sorted(p.name for p in gallery.iterdir()) == [
        "benchmark.md", "benchmark_scaling.png", "benchmark_scaling.svg", "benchmark_tape.png",
        "benchmark_tape.svg"]


def test_make_bench_passes_the_gallery_flag():
    makefile = (DEMOS.parent / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert "demos/benchmark.py --gallery" in recipe


def test_the_scaling_benchmark_prints_ratios_without_verdicts(monkeypatch):
    monkeypatch.syspath_prepend(str(DEMOS))
    spec = importlib.util.spec_from_file_location("scaling_under_test", DEMOS / "benchmark_scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    text = scaling.ratio_lines([("MLP(2, [16, 16, 1]), MSE B=100: replay / numpy", "1.43", "<= 1.2", False)])
    assert "1.43" in text and "replay / numpy" in text
    assert not re.search(r"\bmet\b|<= 1.2", text)
