"""``micrograd-mlp grade``: grade a class's answer files against their handouts.

    micrograd-mlp grade handouts/ submissions/ --out grades/

``handouts/`` is the folder ``exercise --assignment NAME --roster roster.csv --out``
wrote (one ``<assignment>-<id>.json`` per student); ``submissions/`` holds one answers
file per student, named by the student's id (``s001.txt``; any extension, or the
handout's stem ``hw3-s001.txt``). Writes ``grades/gradebook.csv`` (columns
``student``, ``total``, one per step, ``first_slip``) and one feedback page per
student (``grades/feedback/<id>.md`` and ``.html``). A missing or unreadable
submission scores 0 with a note. Exit code 0 when graded, 2 for unusable input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core import atomic_files
from ..errors import MicrogradError, TraceInputError
from ..grading.gradebook import Grade, feedback_html, feedback_markdown, gradebook_csv
from ..grading.hand_solution import check
from .check_cmd import read_answers
from .exercise_files import exercise_json, load_exercise

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``grade`` subcommand's arguments."""
    parser.description = ("Grade a folder of answer files (one per student, named by the "
                          "student's id) against the handouts folder the roster command wrote; "
                          "write a gradebook CSV and one feedback page per student.")
    parser.add_argument("handouts", help="the folder of handouts (<assignment>-<id>.json)")
    parser.add_argument("submissions", help="the folder of answer files (<id>.txt)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the grades go")
    parser.add_argument("--decimals", type=int, default=None, metavar="N",
                        help="decimals every number needs (default: the exercise's)")


def _handouts(folder: Path):
    """``[(student id, path)]`` of the student variants in ``folder``."""
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            spec = exercise_json(p)["spec"]
        except (TraceInputError, OSError):
            continue
        if spec.get("student") is not None:
            out.append((str(spec["student"]), p))
    return out


def _submission(folder: Path, student: str, stem: str):
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.stem in (student, stem):
            return p
    return None


def run(args) -> int:
    """Run the command; returns the exit code (0 graded, 2 bad input)."""
    handouts, submissions, out = Path(args.handouts), Path(args.submissions), Path(args.out)
    for folder, what in ((handouts, "handouts"), (submissions, "submissions")):
        if not folder.is_dir():
            print(f"micrograd-mlp grade: no {what} folder {str(folder)!r:.80}", file=sys.stderr)
            return 2
    found = _handouts(handouts)
    if not found:
        print(f"micrograd-mlp grade: {handouts} holds no student handout (write them with "
              f"micrograd-mlp exercise --assignment NAME --roster roster.csv --out "
              f"{handouts})", file=sys.stderr)
        return 2
    grades, steps, title = [], [], ""
    try:
        for student, path in found:
            root, title, ex_steps, decimals = load_exercise(path)
            names = [s.name for s in ex_steps] if hasattr(ex_steps, "steps") else \
                [n for n, _ in ex_steps]
            steps = steps or names
            if args.decimals is not None:
                decimals = args.decimals
            grades.append(_grade(root, title, ex_steps, decimals, student,
                                 _submission(submissions, student, path.stem)))
    except MicrogradError as err:
        print(f"micrograd-mlp grade: {err}", file=sys.stderr)
        return 2
    try:
        (out / "feedback").mkdir(parents=True, exist_ok=True)
        atomic_files.write_text(out / "gradebook.csv", gradebook_csv(grades, steps))
        base = title.split(",")[0] if title else "Feedback"
        for g in grades:
            atomic_files.write_text(out / "feedback" / f"{g.student}.md", feedback_markdown(g, base))
            atomic_files.write_text(out / "feedback" / f"{g.student}.html", feedback_html(g, base))
    except OSError as err:
        print(f"micrograd-mlp grade: cannot write: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"graded {len(grades)} students: {out / 'gradebook.csv'} and {out / 'feedback'}/",
          file=sys.stderr)
    return 0


def _grade(root, title, steps, decimals, student, path) -> Grade:
    """One student's grade (a missing, empty or unreadable file scores 0)."""
    names = [s.name for s in steps] if hasattr(steps, "steps") else [n for n, _ in steps]
    if path is None:
        return Grade(student, None, "no submission", names)
    try:
        text = read_answers(str(path))
        if not text.strip() or not any(line.split("#", 1)[0].strip()
                                       for line in text.splitlines()):
            return Grade(student, None, "empty submission", names)
        report = check(root, text, title=title, where=path.name, decimals=decimals, steps=steps)
    except TraceInputError as err:
        return Grade(student, None, f"unreadable submission: {err}", names)
    return Grade(student, report, "", names)
