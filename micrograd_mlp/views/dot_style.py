"""The look shared by every drawing: fonts, the gradient colour scale, and escaping
text for Graphviz's HTML-like labels."""
from __future__ import annotations

import html
import math

import numpy as np

from ..errors import DataTypeError

__all__ = ["FONT", "POSITIVE", "NEGATIVE", "HIGHLIGHT", "MAX_MIX", "grad_colour",
           "magnitude", "esc", "esc_attr", "text_width"]

ndarray = np.ndarray

FONT = "Helvetica"
POSITIVE = (66, 133, 214)   # blue: a positive gradient
NEGATIVE = (222, 84, 72)    # red: a negative gradient
HIGHLIGHT = "#ff8c00"       # the current node of a step frame
MAX_MIX = 0.7               # strongest fill, light enough to read black text on


def grad_colour(g, scale: float) -> str:
    """Fill colour for gradient ``g``: white for 0 (or unknown), towards blue for
    ``g > 0`` and red for ``g < 0``, stronger as ``sqrt(|g| / scale)`` grows (the
    square root keeps small gradients visible next to large ones)."""
    if g is None:
        return "#ffffff"
    try:
        g = float(np.mean(g)) if isinstance(g, ndarray) else float(g)
        scale = float(scale)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataTypeError(f"grad_colour needs numbers (g, scale): {e}") from None
    if not math.isfinite(g):
        return "#bbbbbb"
    if g == 0.0 or not scale > 0.0:  # also a NaN scale
        return "#ffffff"
    t = MAX_MIX * math.sqrt(min(abs(g) / scale, 1.0))
    rgb = POSITIVE if g > 0 else NEGATIVE
    mixed = [round(255 + (c - 255) * t) for c in rgb]
    return "#%02x%02x%02x" % tuple(mixed)


def magnitude(g) -> float:
    if g is None:
        return 0.0
    v = float(np.mean(np.abs(g))) if isinstance(g, ndarray) else abs(float(g))
    return v if math.isfinite(v) else 0.0


def esc(text: str) -> str:
    """Escape text for a Graphviz HTML-like label (``<``, ``>``, ``&``, quotes; control
    characters become ``?``)."""
    text = "".join(ch if ch >= " " or ch == "\n" else "?" for ch in str(text))
    return html.escape(text, quote=False).replace('"', "&quot;").replace("\n", "<BR/>")


def text_width(text: str) -> int:
    """A generous width in points for ``text`` at font size 11."""
    return 12 + 7 * len(text)


def esc_attr(text: str) -> str:
    """A plain-text attribute value as an HTML label (escapes everything safely)."""
    return f"<{esc(text)}>"
