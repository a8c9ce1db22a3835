"""The text of an exercise: the question (given numbers, what to compute) and,
separately, its full solution, as Markdown, LaTeX, HTML or JSON.

The numbers are those of an :class:`~micrograd_mlp.views.steps.ExerciseSteps` (read
from the network's graph); this module only writes them down.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from ..core.validate import check_text
from ..core.engine import Value
from ..errors import ArgumentError
from ..functions.composite import short_name
from ..views.steps import ExerciseSteps
from ..views.trace import format_array
from ..views.viewmodel import format_number

__all__ = ["Exercise", "FORMATS"]

FORMATS = ("markdown", "latex", "html", "json")

_LOSS_TEXT = {"half": "E = 1/2 ||x{L} - y||^2", "full": "E = ||x{L} - y||^2"}


@dataclass
class Exercise:
    """One exercise: its ``spec`` (net, activation, seed, loss, digits), the solution
    ``steps`` and the loss ``root`` Value. :meth:`question` and :meth:`solution` give
    the two texts, :meth:`to_json` every number."""

    spec: Dict
    steps: ExerciseSteps
    root: Value

    @property
    def title(self) -> str:
        """``Exercise 7: a 2-3-2 sigmoid network``."""
        s = self.spec
        return f"Exercise {s['seed']}: a {s['net']} {s['activation']} network"

    @property
    def layers(self) -> int:
        """The number of weight layers."""
        return len(self.spec["net"].split("-")) - 1

    def _model_lines(self) -> List[str]:
        act = short_name(self.spec["activation"]) or self.spec["activation"]
        lines = [f"s{l} = W{l} x{l - 1} + b{l},   x{l} = {act}(s{l})" for l in range(1, self.layers + 1)]
        lines.append(_LOSS_TEXT[self.spec["loss"]].format(L=self.layers))
        return lines

    def _tasks(self) -> List[str]:
        L, d = self.layers, self.spec["digits"]
        fwd = ", ".join(f"s{l}, x{l}" for l in range(1, L + 1))
        back = [s.name for s in self.steps if s.phase == "backward"]
        return [f"The forward pass: {fwd} and E.",
                "The backward pass, from the output layer back: " + ", ".join(back) + ".",
                f"Give every number with {d} decimals."]

    def question(self, fmt: str = "markdown") -> str:
        """The question: the network, the given numbers (weights and biases with one
        decimal, rows = neurons), the input ``x0``, the target ``y`` and what to compute."""
        _check(fmt)
        given = self.steps.given
        if fmt == "json":
            return json.dumps(self._question_data(), indent=1)
        if fmt == "latex":
            return _latex_question(self, given)
        md = [f"## {self.title}", "", "A fully connected network (weights: rows = neurons):", "",
              "```text", *self._model_lines(), "```", "", "Given:", "", "```text"]
        md += [f"{name} = {format_array(value, 1)}" for name, value in given.items()]
        md += ["```", "", "Compute:", ""] + [f"{i}. {t}" for i, t in enumerate(self._tasks(), 1)]
        text = "\n".join(md) + "\n"
        return _html_page(self.title + " (question)", text) if fmt == "html" else text

    def solution(self, fmt: str = "markdown") -> str:
        """The full solution: every step's formula, each number worked out, and the
        vectors it adds up to."""
        _check(fmt)
        digits = self.spec["digits"]
        if fmt == "json":
            return self.to_json()
        if fmt == "latex":
            return _latex_solution(self, digits)
        md = [f"## {self.title}: solution", ""]
        for step in self.steps:
            md += [f"**Step {step.index} ({step.phase}).** `{step.formula}`", "", "```text"]
            md += [e.line(digits) for e in step.entries]
            if len(step.entries) > 1:
                md.append(f"{step.name} = {format_array(step.value, digits)}")
            md += ["```", ""]
        text = "\n".join(md)
        return _html_page(self.title + " (solution)", text) if fmt == "html" else text

    def _question_data(self) -> Dict:
        return {"title": self.title, "spec": dict(self.spec), "model": self._model_lines(),
                "given": {k: np.asarray(v, dtype=float).tolist() for k, v in self.steps.given.items()},
                "compute": self._tasks()}

    def to_json(self) -> str:
        """Every number: the question's data and, per step, its formula, value and
        each component's value and worked line."""
        digits = self.spec["digits"]
        data = self._question_data()
        data["solution"] = self.steps.numbers()
        data["steps"] = [{"index": s.index, "phase": s.phase, "name": s.name, "formula": s.formula,
                          "value": np.asarray(s.value, dtype=float).tolist(),
                          "entries": [{"name": e.name, "value": e.value, "line": e.line(digits)}
                                      for e in s.entries]}
                         for s in self.steps]
        return json.dumps(data, indent=1)


def _check(fmt: str) -> None:
    if check_text(fmt, "fmt") not in FORMATS:
        raise ArgumentError(f"unknown format {fmt!r:.40}; expected one of {', '.join(FORMATS)}")


def _html_page(title: str, markdown_text: str) -> str:
    """A minimal offline page: the Markdown text shown as preformatted lines."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body {{ font-family: system-ui, sans-serif; "
            "margin: 1em 2em; }} pre {{ background: #f6f6f6; padding: .8em; white-space: pre-wrap; }}"
            f"</style></head><body><pre>{html.escape(markdown_text)}</pre></body></html>\n")


def _bmatrix(value, digits: int) -> str:
    a = np.atleast_2d(np.asarray(value, dtype=float))
    if np.asarray(value).ndim == 1:
        a = a.T
    rows = " \\\\ ".join(" & ".join(format_number(v, digits) for v in row) for row in a)
    return "\\begin{bmatrix} " + rows + " \\end{bmatrix}"


def _latex_name(name: str) -> str:
    """``W1`` -> ``W^{(1)}``, ``x0`` -> ``x^{(0)}``, ``y`` -> ``y``."""
    return f"{name[0]}^{{({name[1:]})}}" if len(name) > 1 and name[1:].isdigit() else name


def _latex_question(ex: Exercise, given) -> str:
    parts = [f"% {ex.title} (needs \\usepackage{{amsmath}})", f"\\section*{{{ex.title}}}",
             "A fully connected network (weights: rows = neurons):",
             "\\begin{verbatim}", *ex._model_lines(), "\\end{verbatim}", "Given:", "\\[",
             ",\\quad ".join(f"{_latex_name(k)} = {_bmatrix(v, 1)}"
                             for k, v in given.items()), "\\]", "Compute:", "\\begin{enumerate}"]
    parts += [f"\\item {t}" for t in ex._tasks()] + ["\\end{enumerate}"]
    return "\n".join(parts) + "\n"


def _latex_solution(ex: Exercise, digits: int) -> str:
    parts = [f"% {ex.title}: solution (needs \\usepackage{{amsmath}})",
             f"\\section*{{{ex.title}: solution}}"]
    for step in ex.steps:
        parts += [f"\\paragraph{{Step {step.index} ({step.phase}).}}", "\\begin{verbatim}",
                  step.formula, *[e.line(digits) for e in step.entries], "\\end{verbatim}"]
    return "\n".join(parts) + "\n"
