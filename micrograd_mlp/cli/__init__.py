"""The ``micrograd-mlp`` command (also ``python -m micrograd_mlp``).

Subcommands:

* ``trace``: step through backpropagation of a ready example or of an expression
  (see :mod:`micrograd_mlp.trace`);
* ``check TARGET [NAME=VALUE ...] ANSWERS``: check a hand solution (see
  :mod:`micrograd_mlp.cli.check_cmd`);
* ``exercise``: a forward/backward exercise on a small network and its solution
  (see :mod:`micrograd_mlp.cli.exercise_cmd`);
* ``demo NAME``: run one of the scripts in the checkout's ``demos/`` folder;
  ``demo --list`` lists them, each with what it shows;
* ``--version``: the library's version.
"""
from __future__ import annotations

import argparse
import ast
import re
import runpy
import sys
from pathlib import Path
from typing import List, Optional

from .. import __version__
from . import check_cmd, exercise_cmd, trace_cmd

DEMOS_DIR = Path(__file__).resolve().parent.parent.parent / "demos"


def demo_names() -> List[str]:
    """The demos available in the checkout's ``demos/`` folder."""
    if not DEMOS_DIR.is_dir():
        return []
    return sorted(p.stem for p in DEMOS_DIR.glob("*.py") if not p.stem.startswith("_"))


def demo_summary(name: str) -> str:
    """What demo ``name`` shows: the first sentence of its module docstring on one line,
    read from the source without running it (so nothing heavy is imported)."""
    try:
        tree = ast.parse((DEMOS_DIR / f"{name}.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return "(no description: the file cannot be read)"
    paragraph = " ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    return sentence.replace("``", "`") or "(no description)"


def demo_listing() -> List[str]:
    """One line per demo: its name, then :func:`demo_summary`."""
    names = demo_names()
    width = max((len(n) for n in names), default=0)
    return [f"{n:<{width}}  {demo_summary(n)}" for n in names]


def run_demo(name: str, argv: List[str]) -> int:
    """Run ``demos/NAME.py`` as a script with the arguments ``argv``."""
    names = demo_names()
    if not names:
        print(f"micrograd-mlp demo: no demos folder at {DEMOS_DIR} (demos ship with the "
              "source checkout, not with an installed wheel)", file=sys.stderr)
        return 2
    if name not in names:
        print(f"micrograd-mlp demo: unknown demo {name!r}; known: {', '.join(names)}",
              file=sys.stderr)
        return 2
    path = DEMOS_DIR / f"{name}.py"
    saved = sys.argv
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(DEMOS_DIR))  # as `python demos/NAME.py` would: finds demos/_common.py
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = saved
        sys.path.remove(str(DEMOS_DIR))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="micrograd-mlp",
        description="Learn and teach backpropagation: trace the chain rule, run the demos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a demo script (demo --list shows them)")
    demo.add_argument("name", nargs="?", help="the demo to run")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the demo")

    trace = sub.add_parser("trace", help="print every forward value and gradient, step by step")
    trace_cmd.add_arguments(trace)

    check = sub.add_parser("check", help="check a hand solution (answers file) against the trace")
    check_cmd.add_arguments(check)

    exercise = sub.add_parser("exercise", help="write a forward/backward exercise and its solution")
    exercise_cmd.add_arguments(exercise)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.list or not args.name:
            for line in demo_listing():
                print(line)
            return 0
        return run_demo(args.name, args.args)
    if args.command == "trace":
        return trace_cmd.run(args)
    if args.command == "check":
        return check_cmd.run(args)
    if args.command == "exercise":
        return exercise_cmd.run(args)
    parser.print_help()
    return 0
