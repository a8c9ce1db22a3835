"""What a ``Value`` may hold: a Python float, or a batch as a 1-D float64 array. Every
other kind of data is converted (ints, numpy scalars, bools) or refused with an error
that says what to give instead."""
from __future__ import annotations

import numbers
import operator

import numpy as np

from ..errors import DataTypeError, DomainError, ShapeError

__all__ = ["as_value_data", "int_as_float", "quote_label", "data_of", "data_vector"]

ndarray = np.ndarray


def int_as_float(number, label):
    """``float(number)``; a number beyond the float range (``10**400``) is a
    :class:`DomainError`, not Python's bare ``OverflowError``."""
    try:
        return float(number)
    except OverflowError:
        size = f"{int(number).bit_length()}-bit" if isinstance(number, numbers.Integral) else "huge"
        raise DomainError(f"Value({quote_label(label)}): a {size} number is too large for a float "
                          f"(the largest is about 1.8e308)") from None


def as_value_data(data, label=""):
    """Validate ``data`` and return it as a Python float or a 1-D float64 array."""
    cls = data.__class__
    if cls is float:
        return data
    if cls is int:
        return int_as_float(data, label)
    if isinstance(data, ndarray):
        if data.dtype.kind not in "biuf":
            raise DataTypeError(
                f"Value({quote_label(label)}): an array of dtype {data.dtype} is not numeric")
        if data.ndim == 0:
            return float(data)
        if data.ndim != 1:
            raise ShapeError(
                f"Value({quote_label(label)}): a batch must be a 1-D array (one entry per sample); "
                f"got shape {data.shape}")
        if data.size == 0:
            raise ShapeError(f"Value({quote_label(label)}): an empty batch has no samples")
        return np.asarray(data, dtype=np.float64)
    if isinstance(data, numbers.Real):  # bool, numpy scalars, Fraction ...
        return int_as_float(data, label)
    if isinstance(data, (list, tuple)):
        raise DataTypeError(
            f"Value({quote_label(label)}): got a {cls.__name__}; a Value holds one number, or a "
            f"batch as a 1-D numpy array (np.asarray(...))")
    raise DataTypeError(
        f"Value({quote_label(label)}): data must be a real number or a 1-D float array, "
        f"not {cls.__name__} ({data!r:.40})")


def quote_label(label):
    return repr(label) if label else ""


# a Value keeps its data in the slot ``_data`` (``data`` is a checking property)
_read_data = operator.attrgetter("_data")


def data_of(values):
    """The ``data`` of each Value, lazily (``v.data`` for ``v`` in ``values``), read
    straight from the slot: a bulk read of many parameters costs half the property's."""
    return map(_read_data, values)


def data_vector(values) -> np.ndarray:
    """``[v.data for v in values]`` of scalar Values (a sized sequence) as one float64
    array, read in bulk (see :func:`data_of`)."""
    return np.fromiter(map(_read_data, values), dtype=np.float64, count=len(values))
