"""``micrograd-mlp exercise``: a Task-5-style exercise and its solution, for teachers.

    micrograd-mlp exercise --net 2-3-2 --activation sigmoid --seed 7
    micrograd-mlp exercise --seed 7 --format latex --out handout/
    micrograd-mlp exercise --seed 7 --format json          # every number of the solution
    micrograd-mlp exercise --seed 7 --quiz --out handout/  # and the quiz page
    micrograd-mlp exercise --seed 7 --quiz --exam --out handout/   # a page with no answers
    micrograd-mlp exercise --assignment hw3 --roster roster.csv --out handouts/
    micrograd-mlp exercise --assignment hw3 --student s001 --out handouts/
    micrograd-mlp exercise --expression "e = a*b; d = e + c; L = d*f" --seed 3

Without ``--out`` the question is printed, then the solution after a separator line;
with ``--out DIR`` they go to ``DIR/<stem>-question.<ext>`` and
``DIR/<stem>-solution.<ext>``, and every number to ``DIR/<stem>.json`` (the file
``check`` and ``grade`` read). The stem is ``exercise-<seed>``, or
``<assignment>-<student>`` for a student's variant: the variant is derived from the
assignment and the student's id, so the same command always writes the same files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core import atomic_files
from ..errors import GraphvizMissingError, MicrogradError
from ..grading.exercise_text import FORMATS
from ..grading.exercises import make_exercise
from ..views import stepper
from .exercise_files import expression_exercise, read_roster

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
                        help="write the question, the solution and the numbers (JSON) into DIR")
    parser.add_argument("--quiz", action="store_true",
                        help="also write the quiz page (<stem>-quiz.html) into DIR "
                             "(default: the current folder)")
    parser.add_argument("--exam", action="store_true",
                        help="with --quiz: an exam page (<stem>-exam.html) holding no answer; "
                             "it collects the numbers and saves an answers file to hand in")
    parser.add_argument("--assignment", metavar="NAME",
                        help="an assignment name: with --roster or --student, one variant per "
                             "student, derived from (assignment, student id)")
    parser.add_argument("--roster", metavar="CSV", help="a CSV file with a column 'id'")
    parser.add_argument("--student", metavar="ID", help="one student's variant")
    parser.add_argument("--expression", metavar="PROGRAM",
                        help="an exercise on an expression program (\"e = a*b; L = e*f\"), "
                             "with random one-decimal values")


def run(args) -> int:
    """Run the command; returns the exit code (0 ok, 1 the quiz page failed, 2 bad input)."""
    try:
        students = _students(args)
        if args.exam and not args.quiz:
            raise MicrogradError("--exam makes the quiz page an exam page: give it with --quiz")
        if args.expression is not None:
            if args.quiz:
                raise MicrogradError("--quiz pages are made for network exercises")
            return _expressions(args, students)
        exercises = [make_exercise(args.net, args.activation, args.seed, args.loss, args.digits,
                                   *((args.assignment, s) if s is not None else ()))
                     for s in students]
    except (MicrogradError, ValueError, TypeError) as err:
        print(f"micrograd-mlp exercise: {err}", file=sys.stderr)
        return 2
    status = 0
    for ex in exercises:
        code = _write(ex, args)
        if code == 2:
            return 2
        status = max(status, code)
    return status


def _students(args):
    """``[None]`` for one plain exercise, else the student ids."""
    if args.roster is not None and args.student is not None:
        raise MicrogradError("give --roster (every student) or --student (one), not both")
    if (args.roster is not None or args.student is not None) and not args.assignment:
        raise MicrogradError("--roster and --student need --assignment NAME (the variant is "
                             "derived from the assignment and the student's id)")
    if args.assignment and args.roster is None and args.student is None:
        raise MicrogradError("--assignment needs --roster CSV or --student ID")
    if args.roster is not None:
        if args.out is None:
            raise MicrogradError("--roster writes one handout per student: give --out DIR")
        return read_roster(args.roster)
    if args.student is not None:
        if not args.student.strip():
            raise MicrogradError("--student: an empty id")
        return [args.student.strip()]
    return [None]


def _write(ex, args) -> int:
    """Write (or print) one exercise; 0 ok, 1 the quiz page failed, 2 cannot write."""
    stem = ex.stem
    try:
        if args.out is None:
            text = ex.to_json() if args.format == "json" else \
                ex.question(args.format) + SEPARATOR + ex.solution(args.format)
            print(text.rstrip("\n"))
        else:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            paths = [out / f"{stem}.json"]
            atomic_files.write_text(paths[0], ex.to_json() + "\n")
            if args.format != "json":
                ext = _EXT[args.format]
                paths += [out / f"{stem}-question.{ext}", out / f"{stem}-solution.{ext}"]
                atomic_files.write_text(paths[1], ex.question(args.format))
                atomic_files.write_text(paths[2], ex.solution(args.format))
            for p in paths:
                print(f"wrote {p}", file=sys.stderr)
    except OSError as err:
        print(f"micrograd-mlp exercise: cannot write: {err}", file=sys.stderr)
        return 2
    return _quiz(ex, args, stem) if args.quiz else 0


def _expressions(args, students) -> int:
    """Expression exercises: the data as JSON (printed, or one file per student)."""
    for student in students:
        data = expression_exercise(args.expression, args.seed, args.digits,
                                   *((args.assignment, student) if student is not None else ()))
        text = json.dumps(data, indent=1)
        if args.out is None:
            print(text)
            continue
        stem = (f"{args.assignment}-{student}" if student is not None
                else f"exercise-{data['spec']['seed']}")
        path = Path(args.out) / f"{stem}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_files.write_text(path, text + "\n")
        except OSError as err:
            print(f"micrograd-mlp exercise: cannot write: {err}", file=sys.stderr)
            return 2
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _quiz(ex, args, stem) -> int:
    """Write the quiz page (or the exam page) of the exercise; 1 when it cannot be drawn."""
    exam = bool(args.exam)
    path = Path(args.out or ".") / f"{stem}-{'exam' if exam else 'quiz'}.html"
    try:
        if exam:
            stepper.write_exam(ex.steps, path, title=ex.title, digits=ex.spec["digits"],
                               answers_name=f"{stem}.txt")
        else:
            frames = stepper.exercise_frames(ex.steps, ex.spec["digits"], title=ex.title,
                                             quiz=True)
            stepper.write_html(ex.root, path, frames=frames, title=ex.title,
                               digits=ex.spec["digits"], quiz=True)
    except GraphvizMissingError as err:
        print(f"micrograd-mlp exercise: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"micrograd-mlp exercise: cannot write the quiz page: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}", file=sys.stderr)
    return 0
