"""Argument checks shared by every public function: each returns the argument in a
plain form (an ``int``, a ``float``, a name) or raises an error of the library's family.

A wrong *type* (None, a string where a number is needed, ``True`` as a size) is a
:class:`~micrograd_mlp.errors.DataTypeError`; a wrong *value* (a size of 0, a negative
learning rate, NaN, an integer beyond the float range, an unknown option) is an
:class:`~micrograd_mlp.errors.ArgumentError`. Both also derive from the built-in
``TypeError`` / ``ValueError``.
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from typing import Iterable, Optional, Tuple, Union

import numpy as np

from ..errors import ArgumentError, DataTypeError, DomainError, ShapeError

__all__ = ["check_int", "check_real", "check_choice", "check_seed", "check_flag",
           "check_iterable", "check_callable", "check_path", "check_text", "check_mapping",
           "check_array", "check_file_to_write"]


def _is_bool(x) -> bool:
    return isinstance(x, (bool, np.bool_))


def check_int(x, what: str, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """``x`` as an ``int`` with ``minimum <= x <= maximum`` (bounds optional). Booleans
    and floats are refused, even ``2.0``: a size is counted, not measured."""
    if _is_bool(x) or not isinstance(x, numbers.Integral):
        raise DataTypeError(f"{what} must be an integer, not {type(x).__name__} ({x!r:.40})")
    x = int(x)
    if minimum is not None and x < minimum:
        raise ArgumentError(f"{what} must be >= {minimum}, got {x}")
    if maximum is not None and x > maximum:
        raise ArgumentError(f"{what} must be <= {maximum}, got {_short(x)}")
    return x


def check_real(x, what: str, minimum: Optional[float] = None, maximum: Optional[float] = None,
               *, above: bool = False, below: bool = False, finite: bool = True) -> float:
    """``x`` as a ``float`` in ``[minimum, maximum]`` (open at the ends where ``above``
    / ``below`` is set); NaN is always refused, infinities unless ``finite=False``."""
    if _is_bool(x) or not isinstance(x, numbers.Real):
        raise DataTypeError(f"{what} must be a number, not {type(x).__name__} ({x!r:.40})")
    try:
        value = float(x)
    except OverflowError:
        raise ArgumentError(f"{what} is too large for a float: {_short(x)}") from None
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ArgumentError(f"{what} must be a finite number, got {value}")
    if minimum is not None and (value < minimum or (above and value == minimum)):
        raise ArgumentError(f"{what} must be {'>' if above else '>='} {minimum}, got {value}")
    if maximum is not None and (value > maximum or (below and value == maximum)):
        raise ArgumentError(f"{what} must be {'<' if below else '<='} {maximum}, got {value}")
    return value


def check_choice(x, what: str, choices: Iterable[str]) -> str:
    """``x`` when it is one of ``choices`` (exact strings)."""
    choices = tuple(choices)
    if not isinstance(x, str):
        raise DataTypeError(f"{what} must be one of {', '.join(map(repr, choices))}, "
                            f"not {type(x).__name__} ({x!r:.40})")
    if x not in choices:
        raise ArgumentError(f"{what} must be one of {', '.join(map(repr, choices))}, not {x!r:.40}")
    return x


def check_seed(seed, what: str = "seed"):
    """A seed for ``np.random.default_rng``: None, an integer >= 0, a
    ``np.random.SeedSequence``, ``BitGenerator`` or ``Generator`` (returned as is)."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator,
                                          np.random.Generator)):
        return seed
    return check_int(seed, what, minimum=0)


def check_flag(x, what: str) -> bool:
    """``x`` as a ``bool``: True/False (numpy's too) or the integers 0 and 1; any other
    value (a string such as ``"no"``, which ``bool()`` would read as True) is refused."""
    if _is_bool(x):
        return bool(x)
    if isinstance(x, numbers.Integral) and int(x) in (0, 1):
        return bool(x)
    raise DataTypeError(f"{what} must be True or False, not {type(x).__name__} ({x!r:.40})")


def check_iterable(xs, what: str):
    """``xs`` when it is a list, tuple or other iterable of items (not a lone string,
    number, dict or Value)."""
    if isinstance(xs, (str, bytes, dict)) or not hasattr(xs, "__iter__") or \
            hasattr(xs, "parents"):
        raise DataTypeError(f"{what} must be a list, not {type(xs).__name__} ({xs!r:.40})")
    return xs


def check_callable(f, what: str):
    """``f`` when it can be called."""
    if not callable(f):
        raise DataTypeError(f"{what} must be a function, not {type(f).__name__} ({f!r:.40})")
    return f


def check_path(path, what: str = "path"):
    """``path`` when it names a file: a ``str`` or ``os.PathLike`` (an integer, which
    ``open`` would take for a file descriptor, is refused)."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise DataTypeError(f"{what} must be a file name (str or pathlib.Path), not "
                            f"{type(path).__name__} ({path!r:.40})")
    name = os.fspath(path)
    if not isinstance(name, str):
        raise DataTypeError(f"{what} must name a file as text, not {type(name).__name__}")
    if not name:
        raise ArgumentError(f"{what} is empty")
    if "\0" in name:  # the OS functions would raise a bare ValueError
        raise ArgumentError(f"{what} holds a NUL character: {name!r:.60}")
    return path


def check_file_to_write(path, what: str = "path"):
    """``path`` when it names a file that may be written: a file name
    (:func:`check_path`) that is not an existing folder."""
    if os.path.isdir(check_path(path, what)):
        raise ArgumentError(f"{what} {os.fspath(path)!r:.60} is a folder: give a file name")
    return path


def check_text(x, what: str) -> str:
    """``x`` when it is a ``str`` (a title, a label, a name)."""
    if not isinstance(x, str):
        raise DataTypeError(f"{what} must be a string, not {type(x).__name__} ({x!r:.40})")
    return x


def check_mapping(x, what: str) -> Mapping:
    """``x`` when it is a dict or another mapping (label -> values ...)."""
    if not isinstance(x, Mapping):
        raise DataTypeError(f"{what} must be a dict, not {type(x).__name__} ({x!r:.40})")
    return x


def check_array(x, what: str, ndim: Union[None, int, Tuple[int, ...]] = None, *,
                finite: bool = False, dtype=None) -> np.ndarray:
    """``np.asarray(x)`` checked to hold numbers (bool, int or float dtype) of one
    rectangular shape: strings, None or ragged lists are a ``DataTypeError``, an integer
    beyond the float range a ``DomainError``; ``ndim`` (one or a tuple of allowed
    dimensions) a ``ShapeError``; with ``finite``, NaN and infinities a ``DomainError``.
    ``dtype`` converts the result (``float``)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise DataTypeError(f"{what} must be numbers of one rectangular shape: {e}") from None
    if arr.dtype.kind == "O":
        for item in arr.flat:  # float(None) would be NaN: refuse anything but numbers
            if _is_bool(item) or not isinstance(item, numbers.Real):
                raise DataTypeError(f"{what} must be numbers, got {type(item).__name__} "
                                    f"({item!r:.40})")
        try:
            arr = np.asarray(x, dtype=np.float64)
        except OverflowError:
            raise DomainError(f"{what}: a number is too large for a float") from None
        except (TypeError, ValueError) as e:
            raise DataTypeError(f"{what} must be numbers, got {x!r:.60} ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise DataTypeError(f"{what} must be numbers, not an array of dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ShapeError(f"{what} must have {ndim if isinstance(ndim, int) else ' or '.join(map(str, ndim))} "
                         f"dimension(s), got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype)
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DomainError(f"{what} must be finite numbers (it holds NaN or an infinity)")
    return arr


def _short(x) -> str:
    """A number for a message, without printing all 400 digits of a huge integer."""
    if isinstance(x, numbers.Integral) and abs(int(x)) > 10 ** 15:
        return f"an integer of {int(x).bit_length()} bits"
    return repr(x)
