"""``micrograd-mlp check``: check a hand solution against the traced graph.

    micrograd-mlp check task5 answers.txt
    micrograd-mlp check task5 --loss full answers.txt
    micrograd-mlp check seed002 answers.txt
    micrograd-mlp check "e = a*b; L = e*f" a=2 b=-3 f=-2 answers.txt
    micrograd-mlp check handout/exercise-7.json answers.txt   # a generated exercise
    micrograd-mlp check handout/ answers.txt                   # its folder (one exercise)
    micrograd-mlp check task5 -            # answers from standard input
    micrograd-mlp check task5 answers.txt --format json        # score, one entry per number
    micrograd-mlp check ex.json answers.txt --gradescope results.json

The answers file holds ``name = value`` lines with the names ``trace`` prints
(``dE/dW2 = [[0.0525, 0.0092, 0.0994], [-0.0244, -0.0043, -0.0463]]``,
``dE/ds2[0] = 0.1105``, ``x1 = (0.4750, 0.0832, 0.9002)``), any subset, any order.
Every number needs the decimals the exercise asks for (4 unless ``--decimals N`` sets a
course's rule; ``--decimals 0`` accepts any). Exit code: 0 when every answer is right,
1 when one is wrong, unknown or has too few digits, 2 when the input cannot be used
(a file that cannot be read, a line that cannot be parsed).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core import atomic_files
from ..errors import MicrogradError, TraceInputError
from ..grading.hand_solution import DECIMALS, check, graph_steps
from .exercise_files import load_target
from ..grading.gradebook import gradescope_results
from .trace_cmd import build_target
from ..views.steps import exercise_steps

__all__ = ["add_arguments", "run", "read_answers", "decode_answers"]

MAX_ANSWERS_BYTES = 1_000_000  # an answers file is a page of numbers, not a data set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's arguments."""
    parser.description = ("Check a hand solution: compare each 'name = value' line of an "
                          "answers file with the traced graph, report it right, wrong (with "
                          "the right value), right given your earlier numbers, with too few "
                          "digits, or unknown, and explain the first wrong value. Exit code 0 "
                          "when all are right, 1 otherwise, 2 for unusable input.")
    parser.add_argument("target", help="task5, seed002, a generated exercise (its .json file "
                                        "or folder), or an expression program such as "
                                        "\"e = a*b; L = e*f\"")
    parser.add_argument("rest", nargs="+", metavar="NAME=VALUE... ANSWERS",
                        help="the expression's values (a=2 b=-3), then the answers file "
                             "('-' reads standard input)")
    parser.add_argument("--loss", choices=("half", "full"), default=None,
                        help="task5 only: E = 1/2 ||x2 - y||^2 (half, default) or ||x2 - y||^2")
    parser.add_argument("--decimals", type=int, default=None, metavar="N",
                        help="decimals every number needs (default: the exercise's, else "
                             f"{DECIMALS}; 0 accepts any)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or json: score, max_score, a score per step and "
                             "one entry per number with its status")
    parser.add_argument("--gradescope", metavar="FILE",
                        help="also write the report as a Gradescope autograder results.json")


def decode_answers(data: bytes, where: str) -> str:
    """The answers text of ``data`` (UTF-8; a BOM is dropped); a clear error otherwise."""
    if len(data) > MAX_ANSWERS_BYTES:
        raise TraceInputError(f"{where}: too large for an answers file")
    try:  # newlines as read_text reads a file's: \r\n and \r become \n
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        raise TraceInputError(f"{where}: not a text file (UTF-8 expected)") from None


def read_answers(path: str) -> str:
    """The text of the answers file ``path`` (``-``: standard input), read as bytes and
    decoded the same way for both."""
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream put in place of stdin (tests, notebooks)
            return sys.stdin.read(MAX_ANSWERS_BYTES + 1)
        return decode_answers(stream.read(MAX_ANSWERS_BYTES + 1), "stdin")
    p = Path(path)
    if not p.is_file():
        raise TraceInputError(f"no answers file {path[:200]!r}")
    if p.stat().st_size > MAX_ANSWERS_BYTES:
        raise TraceInputError(f"{path}: too large for an answers file")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise TraceInputError(f"cannot read {path}: {err.strerror or err}") from None
    return decode_answers(data, path)


def run(args) -> int:
    """Run the command; returns the exit code (0 all right, 1 not, 2 bad input)."""
    *assignments, answers_path = args.rest
    if "=" in answers_path and not Path(answers_path).is_file():
        print("micrograd-mlp check: give the answers file after the NAME=VALUE pairs",
              file=sys.stderr)
        return 2
    try:
        if args.decimals is not None and not 0 <= args.decimals <= 15:
            raise TraceInputError("--decimals must be between 0 and 15")
        loaded = load_target(args.target)
        if loaded is not None:
            if assignments or args.loss:
                raise TraceInputError("a generated exercise takes no NAME=VALUE pairs or --loss")
            root, title, steps, decimals = loaded
        else:
            root, title, _, model = build_target(args.target, assignments, args.loss,
                                                 with_model=True)
            steps = _steps_of(root, model)
            decimals = DECIMALS
        if args.decimals is not None:
            decimals = args.decimals
        text = read_answers(answers_path)
        if len(text) > MAX_ANSWERS_BYTES:
            raise TraceInputError("the answers are too large for an answers file")
        where = "stdin" if answers_path == "-" else Path(answers_path).name
        report = check(root, text, title=title, where=where, decimals=decimals, steps=steps)
    except (MicrogradError, KeyError) as err:
        message = str(err).strip("'\"").splitlines()[0] if str(err) else type(err).__name__
        message = message if len(message) <= 300 else message[:297] + "..."
        print(f"micrograd-mlp check: {message}", file=sys.stderr)
        return 2
    if args.gradescope:
        try:
            atomic_files.write_text(Path(args.gradescope),
                                    json.dumps(gradescope_results(report), indent=1) + "\n")
        except OSError as err:
            print(f"micrograd-mlp check: cannot write {args.gradescope}: "
                  f"{err.strerror or err}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print(str(report).rstrip("\n"))
    return report.exit_code


def _steps_of(root, model):
    """The hand solution's steps: the exercise level for a network, else one step per
    number of the graph (:func:`~micrograd_mlp.grading.hand_solution.graph_steps`)."""
    if model is not None:
        return exercise_steps(root, model)
    return graph_steps(root)
