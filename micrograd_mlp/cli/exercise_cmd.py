"""``micrograd-mlp exercise``: a Task-5-style exercise and its solution, for teachers.

    micrograd-mlp exercise --net 2-3-2 --activation sigmoid --seed 7
    micrograd-mlp exercise --seed 7 --format latex --out handout/
    micrograd-mlp exercise --seed 7 --format json          # every number of the solution
    micrograd-mlp exercise --seed 7 --quiz --out handout/  # and the quiz page

Without ``--out`` the question is printed, then the solution after a separator line;
with ``--out DIR`` they go to ``DIR/exercise-<seed>-question.<ext>`` and
``DIR/exercise-<seed>-solution.<ext>`` (JSON: one file ``exercise-<seed>.json``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core import atomic_files
from ..errors import GraphvizMissingError, MicrogradError
from ..grading.exercises import make_exercise
from ..views import stepper
from ..grading.exercise_text import FORMATS

__all__ = ["add_arguments", "run"]

_EXT = {"markdown": "md", "latex": "tex", "html": "html", "json": "json"}
SEPARATOR = "\n" + "-" * 30 + " solution " + "-" * 30 + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``exercise`` subcommand's arguments."""
    parser.description = ("Write a forward/backward exercise on a small network (weights with "
                          "one decimal, as in seed 001 Task 5) and, separately, its full solution. "
                          "The same options give the same exercise.")
    parser.add_argument("--net", default="2-3-2",
                        help="input width, then each layer's width (default 2-3-2)")
    parser.add_argument("--activation", default="sigmoid",
                        help="the activation of every layer (default sigmoid)")
    parser.add_argument("--seed", type=int, default=0, help="which exercise (default 0)")
    parser.add_argument("--loss", choices=("half", "full"), default="half",
                        help="E = 1/2 ||x - y||^2 (half, default) or ||x - y||^2")
    parser.add_argument("--digits", type=int, default=4, help="decimals of the solution (default 4)")
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="markdown (default), latex, html or json (every number)")
    parser.add_argument("--out", metavar="DIR",
                        help="write the question and the solution as files into DIR")
    parser.add_argument("--quiz", action="store_true",
                        help="also write the quiz page (exercise-<seed>-quiz.html) into DIR "
                             "(default: the current folder)")


def run(args) -> int:
    """Run the command; returns the exit code (0 ok, 1 the quiz page failed, 2 bad input)."""
    try:
        ex = make_exercise(args.net, args.activation, args.seed, args.loss, args.digits)
    except (MicrogradError, ValueError, TypeError) as err:
        print(f"micrograd-mlp exercise: {err}", file=sys.stderr)
        return 2
    stem = f"exercise-{ex.spec['seed']}"
    try:
        if args.out is None:
            text = ex.to_json() if args.format == "json" else \
                ex.question(args.format) + SEPARATOR + ex.solution(args.format)
            print(text.rstrip("\n"))
        else:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            if args.format == "json":
                paths = [out / f"{stem}.json"]
                atomic_files.write_text(paths[0], ex.to_json() + "\n")
            else:
                ext = _EXT[args.format]
                paths = [out / f"{stem}-question.{ext}", out / f"{stem}-solution.{ext}"]
                atomic_files.write_text(paths[0], ex.question(args.format))
                atomic_files.write_text(paths[1], ex.solution(args.format))
            for p in paths:
                print(f"wrote {p}", file=sys.stderr)
    except OSError as err:
        print(f"micrograd-mlp exercise: cannot write: {err}", file=sys.stderr)
        return 2
    return _quiz(ex, args, stem) if args.quiz else 0


def _quiz(ex, args, stem) -> int:
    """Write the quiz page of the exercise; 1 when it cannot be drawn."""
    path = Path(args.out or ".") / f"{stem}-quiz.html"
    try:
        frames = stepper.exercise_frames(ex.steps, ex.spec["digits"], title=ex.title, quiz=True)
        stepper.write_html(ex.root, path, frames=frames, title=ex.title, digits=ex.spec["digits"],
                           quiz=True)
    except GraphvizMissingError as err:
        print(f"micrograd-mlp exercise: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"micrograd-mlp exercise: cannot write the quiz page: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=sys.stderr)
    return 0
