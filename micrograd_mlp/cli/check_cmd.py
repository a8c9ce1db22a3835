"""``micrograd-mlp check``: check a hand solution against the traced graph.

    micrograd-mlp check task5 answers.txt
    micrograd-mlp check task5 --loss full answers.txt
    micrograd-mlp check seed002 answers.txt
    micrograd-mlp check "e = a*b; L = e*f" a=2 b=-3 f=-2 answers.txt
    micrograd-mlp check task5 -            # answers from standard input

The answers file holds ``name = value`` lines with the names ``trace`` prints
(``dE/dW2 = [[0.0525, 0.0092, 0.0994], [-0.0244, -0.0043, -0.0463]]``,
``dE/ds2[0] = 0.1105``, ``x1 = (0.4750, 0.0832, 0.9002)``), any subset, any order.
Exit code: 0 when every answer is right, 1 when one is wrong or unknown, 2 when the
input cannot be used (a file that cannot be read, a line that cannot be parsed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import MicrogradError, TraceInputError
from ..grading.hand_solution import check
from .trace_cmd import build_target

__all__ = ["add_arguments", "run", "read_answers"]

MAX_ANSWERS_BYTES = 1_000_000  # an answers file is a page of numbers, not a data set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's arguments."""
    parser.description = ("Check a hand solution: compare each 'name = value' line of an "
                          "answers file with the traced graph, report it right, wrong (with "
                          "the right value) or unknown, and explain the first wrong value. "
                          "Exit code 0 when all are right, 1 otherwise, 2 for unusable input.")
    parser.add_argument("target", help="task5, seed002, or an expression program such as "
                                        "\"e = a*b; L = e*f\"")
    parser.add_argument("rest", nargs="+", metavar="NAME=VALUE... ANSWERS",
                        help="the expression's values (a=2 b=-3), then the answers file "
                             "('-' reads standard input)")
    parser.add_argument("--loss", choices=("half", "full"), default=None,
                        help="task5 only: E = 1/2 ||x2 - y||^2 (half, default) or ||x2 - y||^2")


def read_answers(path: str) -> str:
    """The text of the answers file ``path`` (``-``: standard input)."""
    if path == "-":  # the same bytes, the same rules and messages as a file
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream put in place of stdin (tests, notebooks)
            return sys.stdin.read(MAX_ANSWERS_BYTES + 1)
        data = stream.read(MAX_ANSWERS_BYTES + 1)
        if len(data) > MAX_ANSWERS_BYTES:
            raise TraceInputError("stdin: too large for an answers file")
        try:  # newlines as read_text reads a file's: \r\n and \r become \n
            return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            raise TraceInputError("stdin: not a text file (UTF-8 expected)") from None
    p = Path(path)
    if not p.is_file():
        raise TraceInputError(f"no answers file {path[:200]!r}")
    if p.stat().st_size > MAX_ANSWERS_BYTES:
        raise TraceInputError(f"{path}: too large for an answers file")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TraceInputError(f"{path}: not a text file (UTF-8 expected)") from None
    except OSError as err:
        raise TraceInputError(f"cannot read {path}: {err.strerror or err}") from None


def run(args) -> int:
    """Run the command; returns the exit code (0 all right, 1 not, 2 bad input)."""
    *assignments, answers_path = args.rest
    if "=" in answers_path and not Path(answers_path).is_file():
        print("micrograd-mlp check: give the answers file after the NAME=VALUE pairs",
              file=sys.stderr)
        return 2
    try:
        root, title, _ = build_target(args.target, assignments, args.loss)
        text = read_answers(answers_path)
        if len(text) > MAX_ANSWERS_BYTES:
            raise TraceInputError("the answers are too large for an answers file")
        where = "stdin" if answers_path == "-" else Path(answers_path).name
        report = check(root, text, title=title, where=where)
    except (MicrogradError, KeyError) as err:
        message = str(err).strip("'\"").splitlines()[0] if str(err) else type(err).__name__
        message = message if len(message) <= 300 else message[:297] + "..."
        print(f"micrograd-mlp check: {message}", file=sys.stderr)
        return 2
    print(str(report).rstrip("\n"))
    return report.exit_code
