"""Checks of Value arguments (the root of a graph, a list of inputs), raising
:class:`~micrograd_mlp.errors.DataTypeError`; the plain-argument checks are in
:mod:`~micrograd_mlp.core.validate`."""
from __future__ import annotations

import numbers
from typing import List

from ..errors import DataTypeError
from .validate import check_iterable
from .engine import Value

__all__ = ["check_value", "check_values"]


def check_value(x, what: str) -> Value:
    """``x`` when it is a :class:`~micrograd_mlp.core.engine.Value` (the root of a graph ...)."""
    if not isinstance(x, Value):
        raise DataTypeError(f"{what} must be a Value, not {type(x).__name__} ({x!r:.40})")
    return x


def check_values(xs, what: str, numbers_too: bool = False) -> List:
    """``xs`` as a list of Values (of Values or real numbers with ``numbers_too``): a
    list, tuple or other iterable, never a lone Value, string or number."""
    items = list(check_iterable(xs, what))
    for i, x in enumerate(items):
        if isinstance(x, Value):
            continue
        if numbers_too and isinstance(x, numbers.Real) and not isinstance(x, bool):
            continue
        raise DataTypeError(f"{what}[{i}] must be a Value, not {type(x).__name__} ({x!r:.40})")
    return items
