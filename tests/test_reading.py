"""docs/reading.md walks `a * b`, `tanh` and `backward()` through the source: its links
point at the lines they name, and the walk stays short (at most 2 files, 150 lines)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reading.md"
LINK = re.compile(r"\[`([^`]+)`\]\(\.\./([^)#]+)#L(\d+)(?:-L(\d+))?\)")


def walk_links(text):
    """``(shown, file, first, last)`` for every line link of the page's walk section."""
    walk = text.split("## The walk", 1)[1].split("\n## ", 1)[0]
    return [(m[0], m[1], int(m[2]), int(m[3] or m[2])) for m in LINK.findall(walk)]


def test_every_link_points_at_the_lines_it_names():
    links = walk_links(PAGE.read_text())
    assert len(links) >= 9
    for shown, file, first, last in links:
        lines = (ROOT / file).read_text().splitlines()
        assert 1 <= first <= last <= len(lines), (shown, file, first, last)
        head = shown.split("(")[0]  # "def __mul__", "@primitive"
        assert lines[first - 1].strip().startswith(head), (shown, lines[first - 1])
        if shown.startswith("@primitive"):
            name = re.search(r'"(\w+)"', shown)[1]
            assert lines[first - 1].strip().startswith(f'@primitive("{name}"'), shown
        # the range ends where the definition ends: the next line is blank or the file ends
        assert last == len(lines) or not lines[last].strip() or \
            lines[last].strip().startswith(("def ", "@", "#")), (shown, lines[last])


def test_the_walk_is_in_two_files_and_150_lines():
    spans = {}
    for _, file, first, last in walk_links(PAGE.read_text()):
        spans.setdefault(file, set()).update(range(first, last + 1))
    assert len(spans) <= 2, sorted(spans)
    assert sum(len(lines) for lines in spans.values()) <= 150
    # and it covers the three things it promises
    shown = " ".join(s for s, *_ in walk_links(PAGE.read_text()))
    for must in ("def __mul__", "def tanh", "def backward", "def chain_rule_step",
                 '@primitive("mul"', '@primitive("tanh"'):
        assert must in shown


def test_the_checker_sees_a_long_walk():
    text = ("## The walk\n[`def a`](../x.py#L1-L100) [`def b`](../y.py#L1-L60) "
            "[`def c`](../z.py#L5)\n## Next\n[`def d`](../w.py#L1-L900)")
    links = walk_links(text)
    assert links == [("def a", "x.py", 1, 100), ("def b", "y.py", 1, 60), ("def c", "z.py", 5, 5)]
