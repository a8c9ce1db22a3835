"""Every ```python block of README.md and docs/*.md runs, and the numbers it shows hold.

Each page runs top to bottom in one namespace, in a temporary folder, with matplotlib's
Agg backend. A line ``EXPR  # -> EXPECTED`` asserts that ``EXPR`` gives ``EXPECTED``:
every number in the text of the result must equal the number in ``EXPECTED`` at the digits
shown there (``0.1348`` accepts 0.13479 ... 0.13485), and the words between the numbers
must be the same. Blocks marked ```python no-run (files that need torch, say) are skipped
and should be rare.
"""
import ast
import math
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")
CHECK = re.compile(r"^(?P<expr>.*?\S)\s*#\s*->\s*(?P<want>.*)$")


def blocks(page):
    for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
        if "no-run" not in m.group(1):
            line = page.read_text(encoding="utf-8")[: m.start()].count("\n") + 2
            yield line, m.group(2)


def same_shown(got: str, want: str) -> bool:
    """``got`` shows ``want``: equal words, and each number of ``want`` equal to the one
    of ``got`` rounded to the digits ``want`` shows."""
    if NUMBER.sub("#", got).split() != NUMBER.sub("#", want).split():
        return False
    for g, w in zip(NUMBER.findall(got), NUMBER.findall(want)):
        gv, wv = float(g), float(w)
        if math.isnan(wv) or math.isinf(wv):
            if not (str(gv) == str(wv)):
                return False
            continue
        mantissa = w.lower().split("e")[0]
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        exponent = int(w.lower().split("e")[1]) if "e" in w.lower() else 0
        if abs(gv - wv) > 0.5 * 10 ** (exponent - decimals) * (1 + 1e-9):
            return False
    return True


def run_block(code, namespace, where):
    checks = []
    lines = code.splitlines()
    out = []
    for i, text in enumerate(lines):
        m = CHECK.match(text)
        if m and not text.lstrip().startswith("#"):
            var = f"__doc_check_{len(checks)}"
            indent = text[: len(text) - len(text.lstrip())]
            expr = m.group("expr").strip()
            stmt = ast.parse(expr).body[0]
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                # "name = value  # -> X" checks the value given to the name
                out.append(f"{indent}{expr}")
                expr = ast.unparse(stmt.targets[0])
            out.append(f"{indent}{var} = ({expr})")
            checks.append((var, m.group("want").strip(), i + 1))
        else:
            out.append(text)
    exec(compile("\n".join(out), where, "exec"), namespace)
    for var, want, line in checks:
        got = namespace[var]
        assert same_shown(str(got), want), f"{where} line {line}: got {got!s}, the page shows {want}"


def page_ids():
    return [str(p.relative_to(ROOT)) for p in PAGES]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=page_ids())
def test_page_runs_and_its_numbers_hold(page, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc__"}
    found = list(blocks(page))
    for line, code in found:
        run_block(code, namespace, f"{page.name}:{line}")


def test_every_page_is_linked_from_the_docs_index():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    unlinked = [page.name for page in PAGES[1:]
                if page.name != "index.md" and f"({page.name})" not in index]
    assert unlinked == []


def test_the_checker_can_fail():
    assert same_shown("0.13483", "0.1348")
    assert not same_shown("0.1358", "0.1348")
    assert not same_shown("MLP(2 -> [8 sigmoid])", "MLP(2 -> [8 relu])")
    assert same_shown("(0.5, 0.25)", "(0.5, 0.25)")
    with pytest.raises(AssertionError):
        run_block("x = 1 + 1  # -> 3", {}, "inline")
