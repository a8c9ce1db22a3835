"""Shared pieces of the demo scripts: command-line arguments, the output folder,
saving figures as PNG + SVG, small text tables and a stopwatch.

Each demo is a script (``python demos/NAME.py``) whose ``main(argv)`` returns a dict
of its numbers, so the tests can run it in-process and check them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

DEMOS_DIR = Path(__file__).resolve().parent
REPO_DIR = DEMOS_DIR.parent
DEFAULT_OUT = DEMOS_DIR / "out"

# A source checkout's demos must find the package even when it is not installed
# (or installed in editable mode before the package folder existed).
try:  # pragma: no cover - depends on how the package was installed
    import micrograd_mlp  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO_DIR))


def make_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every demo has: ``--quick`` (a smaller,
    faster run for the tests), ``--out DIR`` (where figures go) and ``--seed``."""
    parser = argparse.ArgumentParser(prog=f"python demos/{name}.py", description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a smaller, faster run (used by the tests)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help=f"folder for the figures (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


class Printer:
    """``print`` that can be silenced (``--quiet``) so tests stay readable."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def __call__(self, *args, **kwargs):
        if not self.quiet:
            print(*args, **kwargs)
            sys.stdout.flush()


from micrograd_mlp.core import atomic_files  # noqa: E402  (after the sys.path fallback)


def out_dir(path) -> Path:
    """Create (if needed) and return the output folder."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def use_agg():
    """Select matplotlib's non-interactive backend and return ``pyplot``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


PNG_DPI = 110
PNG_MAX_WIDTH = 1600  # pixels: wider figures are unreadable once a page scales them down


def png_dpi(fig) -> float:
    """``PNG_DPI``, lowered for a figure so wide that its PNG would exceed
    ``PNG_MAX_WIDTH`` pixels (width = inches x dpi)."""
    return min(PNG_DPI, PNG_MAX_WIDTH / fig.get_figwidth())


def save_figure(fig, folder, stem: str) -> List[str]:
    """Write ``fig`` as ``folder/stem.png`` (at most ``PNG_MAX_WIDTH`` pixels wide) and
    ``folder/stem.svg``, close it and return both paths."""
    import matplotlib.pyplot as plt
    folder = out_dir(folder)
    paths = []
    for ext in ("png", "svg"):
        path = folder / f"{stem}.{ext}"
        # made in memory, then moved into place: an interrupted run leaves no half image
        atomic_files.write_figure(fig, path, ext, dpi=png_dpi(fig) if ext == "png" else None,
                                 bbox_inches="tight")
        paths.append(str(path))
    plt.close(fig)
    return paths


def table(headers: Sequence[str], rows: Iterable[Sequence], floatfmt: str = ".4f") -> str:
    """A plain-text table with aligned columns (numbers formatted with ``floatfmt``)."""
    def fmt(x):
        if isinstance(x, float):
            return format(x, floatfmt)
        return str(x)

    cells = [[str(h) for h in headers]] + [[fmt(x) for x in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Stopwatch:
    """Seconds since creation: ``Stopwatch().elapsed``."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
