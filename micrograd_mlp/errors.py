"""Every exception the library raises on purpose: one family under :class:`MicrogradError`.

Each class also derives from the built-in exception a Python user would expect
(``TypeError`` for a wrong type, ``ValueError`` for a wrong value ...), so code that
catches the built-in ones keeps working. This module is the bottom layer: it imports
nothing of the package.
"""
from __future__ import annotations

__all__ = [
    "MicrogradError", "DataTypeError", "DomainError", "ShapeError", "GradientError",
    "AnomalyError", "GradcheckError", "CheckpointError", "UnknownActivationError",
    "GraphvizMissingError", "TraceInputError", "ArgumentError", "UnknownLossError",
    "DataError", "DataMissingError", "UnknownExampleError",
]


class MicrogradError(Exception):
    """Base class of every error this library raises on purpose."""


class DataTypeError(MicrogradError, TypeError):
    """A Value was given something that is not a number or a 1-D array of numbers."""


class DomainError(MicrogradError, ValueError):
    """An operation's input lies outside its domain (log of 0, division by zero ...)."""


class ShapeError(MicrogradError, ValueError):
    """Batch lengths or array shapes do not fit together."""


class GradientError(MicrogradError, RuntimeError):
    """``backward()`` cannot run from this node (no gradient path, bad seed)."""


class AnomalyError(MicrogradError, FloatingPointError):
    """In anomaly mode: a forward value or a gradient became NaN or infinite."""


class GradcheckError(MicrogradError, AssertionError):
    """The analytic and the numeric gradients of some inputs differ."""


class CheckpointError(MicrogradError, ValueError):
    """A saved model cannot be read or does not fit: corrupt or truncated file, unknown
    format version, or parameters of another architecture."""


class UnknownActivationError(MicrogradError, KeyError, ValueError):
    """An activation name that is not registered (the message lists the known ones)."""

    def __str__(self):  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class GraphvizMissingError(MicrogradError, RuntimeError):
    """The Graphviz ``dot`` program is not installed (the DOT text was still written)."""


class TraceInputError(MicrogradError, ValueError):
    """An expression or assignment given to ``trace`` that cannot be used."""


class ArgumentError(MicrogradError, ValueError):
    """An argument has a value the function does not accept (a size below 1, a
    negative learning rate, NaN where a number is needed, an unknown option)."""


class UnknownLossError(ArgumentError, KeyError):
    """A loss name that is not one of the library's losses (the message lists them)."""

    def __str__(self):  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class UnknownExampleError(ArgumentError, KeyError):
    """A ready example's name that is not one of the library's (the message lists them)."""

    def __str__(self):  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class DataError(MicrogradError, ValueError):
    """A data file that cannot be read as its format says: truncated (size not a
    whole number of records), a label out of range, a damaged archive."""


class DataMissingError(DataError, FileNotFoundError):
    """The data files are not where they were looked for (the message says where to
    get them and where to put them; nothing is downloaded)."""


class DrawingTooLargeError(MicrogradError, ValueError):
    """A drawing larger than the bound set for Graphviz (``max_nodes``): refused before
    any work, with how to draw it anyway (a higher ``max_nodes``, collapsed
    composites, the vector view, or the ``.dot`` text)."""


class DrawingError(MicrogradError, RuntimeError):
    """The Graphviz ``dot`` program failed, or did not finish within its time limit
    (it was stopped)."""
