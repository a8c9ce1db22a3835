"""A graded class: a gradebook row, a feedback page and a Gradescope result per student.

:func:`gradescope_results` turns one :class:`~micrograd_mlp.grading.hand_solution.
CheckReport` into the ``results.json`` of Gradescope's autograder (a top-level
``score`` and a list of ``tests``, each with ``name``, ``score``, ``max_score``,
``output`` and ``visibility``); :func:`feedback_markdown` / :func:`feedback_html` are a
student's feedback page; :func:`gradebook_csv` writes the class's CSV (columns
``student``, ``total``, one per step, ``first_slip``).
"""
from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from ..core.validate import check_text
from ..errors import DataTypeError
from .hand_solution import CheckReport

__all__ = ["Grade", "gradescope_results", "feedback_markdown", "feedback_html",
           "gradebook_csv"]


@dataclass
class Grade:
    """One student's result: the ``student`` id, the ``report`` (None when nothing
    could be graded) and a ``note`` (no submission, an unreadable file)."""

    student: str
    report: Optional[CheckReport]
    note: str = ""
    steps: Sequence[str] = ()

    @property
    def total(self) -> int:
        """Points earned (0 without a report)."""
        return self.report.score if self.report is not None else 0

    def step_score(self, step: str) -> int:
        """Points earned in one step."""
        if self.report is None:
            return 0
        return next((s["score"] for s in self.report.step_scores() if s["step"] == step), 0)

    @property
    def first_slip(self) -> str:
        """The first slip, or the note."""
        if self.report is None:
            return self.note
        return self.report.first_slip or self.note


def _report(report) -> CheckReport:
    if not isinstance(report, CheckReport):
        raise DataTypeError(f"report must be a CheckReport (from check(...)), not "
                            f"{type(report).__name__}")
    return report


def gradescope_results(report: CheckReport) -> Dict:
    """The autograder ``results.json`` data: ``score`` (points earned), ``max_score``,
    ``output`` (the report as text), ``visibility`` and one test per step of the
    solution (``name``, ``score``, ``max_score``, ``output``: each number's status,
    ``visibility``)."""
    report = _report(report)
    tests = []
    by_step: Dict[str, List] = {}
    for e in report.entries:
        by_step.setdefault(e.step, []).append(e)
    for step in report.step_scores():
        lines = [_entry_line(e) for e in by_step.get(step["step"], [])]
        tests.append({"name": step["step"], "score": step["score"],
                      "max_score": step["max_score"], "output": "\n".join(lines),
                      "visibility": "visible"})
    return {"score": report.score, "max_score": report.max_score, "output": str(report),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def _entry_line(e) -> str:
    text = {"right": "right", "follows": f"right, follows from your {e.source}" if e.source
            else "right given your earlier numbers", "digits": "not enough digits",
            "wrong": "wrong", "missing": "not given"}[e.status]
    given = "" if e.given is None else f" = {e.given:g}"
    return f"{e.name}{given}: {text}"


def feedback_markdown(grade: Grade, title: str = "") -> str:
    """A student's feedback page in Markdown: the total, the score per step, each
    number's status and the explanation of the first slip."""
    if not isinstance(grade, Grade):
        raise DataTypeError(f"grade must be a Grade, not {type(grade).__name__}")
    title = check_text(title, "title") or "Feedback"
    lines = [f"# {title}: {grade.student}", ""]
    if grade.report is None:
        return "\n".join(lines + [f"Score: 0. {grade.note}", ""])
    r = grade.report
    lines += [f"**Score: {r.score} / {r.max_score}**", ""]
    if grade.note:
        lines += [grade.note, ""]
    lines += ["| step | score |", "|---|---|"]
    lines += [f"| {s['step']} | {s['score']} / {s['max_score']} |" for s in r.step_scores()]
    lines += ["", "## Every number", "", "```text"] + [_entry_line(e) for e in r.entries]
    lines += ["```", ""]
    if r.diagnosis:
        lines += ["## The first slip", "", "```text", *r.diagnosis, "```", ""]
    return "\n".join(lines)


def feedback_html(grade: Grade, title: str = "") -> str:
    """The feedback page as one HTML file (readable on a phone: a viewport, 16 px text)."""
    text = feedback_markdown(grade, title)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title or 'Feedback')}: {html.escape(grade.student)}</title>"
            "<style>body { font: 16px/1.45 system-ui, sans-serif; margin: 1em; } "
            "pre { white-space: pre-wrap; background: #f6f6f6; padding: .6em; font-size: 15px; }"
            "</style></head><body><pre>" + html.escape(text) + "</pre></body></html>\n")


def gradebook_csv(grades: Sequence[Grade], steps: Sequence[str]) -> str:
    """The gradebook: one row per student, columns ``student``, ``total``, one per step
    (its score) and ``first_slip``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "total", *steps, "first_slip"])
    for g in grades:
        if not isinstance(g, Grade):
            raise DataTypeError(f"grades must hold Grade objects, not {type(g).__name__}")
        writer.writerow([g.student, g.total, *[g.step_score(s) for s in steps], g.first_slip])
    return out.getvalue()
