"""The studio's points as CSV text: what ``Data CSV`` downloads and what loading a CSV
file reads (a header line, then ``x0,x1,label`` per point, or ``x,y`` for a curve)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import DataError

__all__ = ["parse_csv", "csv_text", "MAX_POINTS"]

MAX_POINTS = 2000  #: training points the studio holds


def csv_text(X, y, kind: str) -> str:
    """The points ``(X, y)`` as CSV text: ``x0,x1,label`` rows for a classification
    set, ``x,y`` rows for a regression (numbers written in full, so they read back
    exactly)."""
    head = "x,y" if kind == "regression" else "x0,x1,label"
    rows = [",".join([*(repr(float(v)) for v in x),
                      repr(float(t)) if kind == "regression" else str(int(t))])
            for x, t in zip(X, y)]
    return "\n".join([head] + rows) + "\n"


def parse_csv(text: str, cols: int):
    """``(X, y)`` from CSV text with a header and ``cols`` numeric columns, the last the
    target; a clear :class:`DataError` naming the first bad line."""
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    if len(lines) < 2:
        raise DataError("the CSV needs a header line and at least one row")
    if len(lines) - 1 > MAX_POINTS:
        raise DataError(f"the CSV has {len(lines) - 1} rows; the studio holds at most {MAX_POINTS}")
    rows = []
    for k, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != cols:
            raise DataError(f"CSV line {k}: {len(cells)} columns, expected {cols}")
        try:
            row = [float(c) for c in cells]
        except ValueError:
            raise DataError(f"CSV line {k}: {line.strip()[:60]!r} is not all numbers") from None
        if not all(math.isfinite(v) and abs(v) <= 1e6 for v in row):
            raise DataError(f"CSV line {k}: a number is NaN, infinite or beyond 1e6")
        rows.append(row)
    A = np.array(rows, dtype=np.float64)
    return A, A[:, -1]
