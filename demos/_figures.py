"""``make figures``: rerun the demos and copy the README's figures into demos/figures/.

Each copy is exactly the PNG its demo writes into ``demos/out/``.

Every demo runs with its default settings (``--quick`` only with ``--quick`` here),
writing into ``--out`` (default ``demos/out``); then each PNG listed in
:data:`FIGURES` is copied to ``demos/figures/`` after checking that it is at most
``PNG_MAX_WIDTH`` (1600) pixels wide. The benchmark's figures are ``make bench``'s.

    python demos/_figures.py [--quick] [--only nycu task5 ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

try:
    from . import _common
except ImportError:
    import _common
from micrograd_mlp.core import atomic_files  # noqa: E402  (_common puts the checkout on sys.path)

# demo -> the stems of its PNGs shown in the README (and kept in demos/figures/)
FIGURES = {
    "task5": ["task5_graph", "task5_network"],
    "activations": ["activations"],
    "xor": ["xor"],
    "binary_classification": ["binary_classification"],
    "relu_approximation": ["relu_approximation"],
    "sinusoid": ["sinusoid_width", "sinusoid_hidden_units"],
    "nycu": ["nycu_XOR_easy_prediction", "nycu_sweeps"],
    "softmax_digits": ["softmax_digits_curves", "softmax_digits_weights"],
}
FIGURES_DIR = _common.DEMOS_DIR / "figures"


def png_size(path):
    """``(width, height)`` in pixels, from the PNG header."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def run_demo(name: str, argv):
    """``demos/NAME.py``'s ``main(argv)``, as ``python demos/NAME.py`` would run it."""
    if str(_common.DEMOS_DIR) not in sys.path:
        sys.path.insert(0, str(_common.DEMOS_DIR))
    return runpy.run_path(str(_common.DEMOS_DIR / f"{name}.py"))["main"](argv)


def main(argv=None) -> dict:
    """Run the demos and copy their README figures; returns ``{stem: copied path}``."""
    parser = argparse.ArgumentParser(prog="python demos/_figures.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run the demos' quick modes")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), default=list(FIGURES),
                        help="regenerate only these demos' figures")
    parser.add_argument("--out", default=str(_common.DEFAULT_OUT),
                        help=f"where the demos write (default {_common.DEFAULT_OUT})")
    parser.add_argument("--figures", default=str(FIGURES_DIR),
                        help=f"where the README's copies go (default {FIGURES_DIR})")
    args = parser.parse_args(argv)
    target = _common.out_dir(args.figures)
    rows, copied = [], {}
    for name in args.only:
        clock = _common.Stopwatch()
        run_demo(name, ["--quiet", "--out", args.out] + (["--quick"] if args.quick else []))
        seconds = clock.elapsed
        for stem in FIGURES[name]:
            source = Path(args.out) / f"{stem}.png"
            width, height = png_size(source)
            if width > _common.PNG_MAX_WIDTH:
                raise SystemExit(f"{source} is {width} px wide, more than "
                                 f"{_common.PNG_MAX_WIDTH}: not copied")
            atomic_files.write_bytes(target / source.name, source.read_bytes())  # whole
            copied[stem] = str(target / source.name)
            rows.append((name, source.name, f"{width} x {height}", f"{seconds:.1f} s"))
            seconds = 0.0
    print(_common.table(["demo", "figure", "pixels", "run time"], rows))
    print(f"copied {len(copied)} figures into {target}")
    return copied


if __name__ == "__main__":
    main(sys.argv[1:])
