"""Read a student's answers: ``name = value`` lines, values to the digits written.

One answer per line, in any order; ``#`` starts a comment. The name is what the ledger
prints (``dE/dW2[0,1]``, ``x1``, ``sigma'(s2)``, ``E``); a line may carry the working
before the number (``dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.1105``): only the part
after the last ``=`` is read. A value is a number, a vector ``(0.1105, -0.0515)`` or
``[0.1105 -0.0515]``, or a matrix ``[[0.0525, 0.0092], [-0.0244, -0.0043]]`` (rows may
also be separated by ``;``). Each number keeps its precision: ``0.1105`` is right when
the true value rounds to it, i.e. lies within half a unit of its last digit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import List, Mapping, Tuple, Union

import numpy as np

from ..core.validate import check_text
from ..errors import TraceInputError

__all__ = ["Answer", "parse_answers", "parse_value", "canonical_name"]

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# typographic forms a student may paste from notes or a PDF
_LOOKALIKES = {"\u2212": "-", "\u2013": "-", "\u2202": "d", "\u03c3": "sigma",
               "\u2019": "'", "\u2032": "'", "\u00b4": "'", "\u00d7": "*", "\u22c5": "*"}


@dataclass
class Answer:
    """One answer: the ``name`` as written, its ``key`` (:func:`canonical_name`), the
    ``value`` (float or array), the ``half_units`` (half a unit of each number's last
    digit, same shape as ``value``: the rounding tolerance) and the ``line`` number."""

    name: str
    key: str
    value: Union[float, np.ndarray]
    half_units: Union[float, np.ndarray]
    line: int
    text: str


def _plain(text: str) -> str:
    for odd, plain in _LOOKALIKES.items():
        text = text.replace(odd, plain)
    return text


def canonical_name(name: str) -> str:
    """The form names are compared in: no spaces, ``W[0][1]`` as ``W[0,1]``,
    ``sigmoid'`` and ``sig'`` as ``sigma'``, typographic signs made plain."""
    text = re.sub(r"\s+", "", _plain(check_text(name, "name")))
    text = re.sub(r"\]\[", ",", text)
    text = re.sub(r"\b(?:sigmoid|sig)'", "sigma'", text)
    return text


def _number(token: str) -> Tuple[float, float]:
    """``(value, half a unit of the last digit written)``."""
    try:
        exponent = Decimal(token).as_tuple().exponent
    except InvalidOperation:
        raise TraceInputError(f"not a number: {token!r:.60}") from None
    value = float(token)
    if not np.isfinite(value):
        raise TraceInputError(f"{token!r:.60} is beyond the float range")
    return value, 0.5 * 10.0 ** int(exponent)


def _split_list(body: str) -> List[str]:
    """Top-level items of a bracket's contents, split at commas, ``;`` or spaces."""
    items, depth, current = [], 0, []
    for ch in body:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if depth == 0 and (ch in ",;" or ch.isspace()):
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [i for i in (s.strip() for s in items) if i]


def parse_value(text: str) -> Tuple[Union[float, np.ndarray], Union[float, np.ndarray]]:
    """``"0.1105"`` -> ``(0.1105, 5e-05)``; a vector or matrix gives two arrays.
    Raises :class:`TraceInputError` (a ``ValueError``) on anything else (ragged rows,
    words, empty brackets), :class:`DataTypeError` when ``text`` is no string."""
    text = _plain(check_text(text, "text")).strip()
    if _NUMBER.fullmatch(text):
        return _number(text)
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        raise TraceInputError(f"not a number, vector or matrix: {text!r:.60}")
    inner = text[1:-1].strip()
    if ";" in inner and "[" not in inner and "(" not in inner:  # [a b; c d]
        rows = [r for r in inner.split(";") if r.strip()]
        inner = ", ".join(f"[{r}]" for r in rows)
    items = _split_list(inner)
    if not items:
        raise TraceInputError(f"empty brackets: {text!r:.60}")
    parsed = [parse_value(i) for i in items]
    try:
        values = np.array([p[0] for p in parsed], dtype=float)
    except ValueError:
        raise TraceInputError(f"rows of different lengths: {text!r:.60}") from None
    halves = np.array([p[1] for p in parsed], dtype=float)
    if values.ndim > 2:
        raise TraceInputError(f"more than two levels of brackets: {text!r:.60}")
    return values, halves


def parse_answers(source: Union[str, Mapping], where: str = "answers") -> List[Answer]:
    """The answers in ``source``: the text of an answers file, or a mapping
    ``{name: value}`` (a value given as a string keeps its digits; a float counts its
    digits from ``repr``). Raises :class:`TraceInputError` naming the line that cannot
    be read, or a name given twice."""
    if isinstance(source, Mapping):
        try:
            lines = [(f"{k} = {v if isinstance(v, str) else _literal(v)}", i + 1)
                     for i, (k, v) in enumerate(source.items())]
        except (TypeError, ValueError, OverflowError) as err:
            raise TraceInputError(f"{where}: a value is not a number, vector or matrix "
                                  f"({err})") from None
    elif isinstance(source, str):
        lines = [(line, i + 1) for i, line in enumerate(source.splitlines())]
    else:
        raise TraceInputError(f"answers must be text or a mapping name -> value, "
                              f"not {type(source).__name__}")
    answers: List[Answer] = []
    seen = {}
    for raw, number in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise TraceInputError(f"{where} line {number}: expected 'name = value', got {line!r}")
        name = line.split("=", 1)[0].strip()
        value_text = line.rsplit("=", 1)[1].strip()
        if not name:
            raise TraceInputError(f"{where} line {number}: no name before '='")
        try:
            value, half = parse_value(value_text)
        except (ValueError, RecursionError):
            raise TraceInputError(f"{where} line {number}: cannot read {value_text!r} as a "
                                  f"number, vector (a, b) or matrix [[a, b], [c, d]]") from None
        key = canonical_name(name)
        if key in seen:
            raise TraceInputError(f"{where} line {number}: {name} is already given on line "
                                  f"{seen[key]}")
        seen[key] = number
        answers.append(Answer(name, key, value, half, number, value_text))
    return answers


def _literal(value) -> str:
    """A Python number, list or array written as answer text (floats by ``repr``)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return repr(float(arr))
    return "[" + ", ".join(_literal(v) for v in arr) + "]"
