"""matplotlib figures: the activation functions beside their derivatives, and small
helpers shared by figure code (saving as PNG + SVG).

This module is a set of independent functions. matplotlib is imported inside them, so
importing the module costs nothing; figures are built on ``matplotlib.figure.Figure``
directly (no pyplot state, no interactive backend needed, nothing to close).
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..core import atomic_files
from ..core.validate import (
    check_array, check_choice, check_file_to_write, check_int, check_iterable, check_real,
)
from ..errors import ArgumentError, DataTypeError
from ..functions import activations

__all__ = ["plot_activations", "save_figure", "new_figure", "check_figure", "check_figsize",
           "check_dpi", "MAX_DPI", "IMAGE_FORMATS"]

MAX_DPI = 1200        # a 6 x 4 inch figure at 1200 dpi is already 35 million pixels
MAX_INCHES = 100.0    # a side of a figure (or of one panel)
IMAGE_FORMATS = ("png", "svg", "pdf", "jpg")


def check_dpi(dpi, what: str = "dpi") -> int:
    """``dpi`` as an ``int`` in 1..:data:`MAX_DPI` (a huge resolution would allocate
    gigabytes for one picture)."""
    return check_int(dpi, what, minimum=1, maximum=MAX_DPI)


def check_figsize(size, what: str = "figsize"):
    """``(width, height)`` in inches: two finite numbers in (0, :data:`MAX_INCHES`]."""
    pair = tuple(check_iterable(size, what))
    if len(pair) != 2:
        raise DataTypeError(f"{what} must be a pair (width, height) in inches, got {size!r:.40}")
    return tuple(check_real(v, f"{what}[{i}]", 0.0, MAX_INCHES, above=True)
                 for i, v in enumerate(pair))


def check_figure(fig, what: str = "fig"):
    """``fig`` when it is a matplotlib ``Figure`` (anything with ``savefig``)."""
    if not callable(getattr(fig, "savefig", None)):
        raise DataTypeError(f"{what} must be a matplotlib Figure, not {type(fig).__name__} "
                            f"({fig!r:.40})")
    return fig


def new_figure(figsize=(6, 4), dpi: int = 100):
    """A matplotlib ``Figure`` not tied to pyplot (rendered with the Agg canvas)."""
    from matplotlib.figure import Figure
    return Figure(figsize=check_figsize(figsize), dpi=check_dpi(dpi))


def save_figure(fig, path, formats: Sequence[str] = ("png", "svg"), dpi: int = 110) -> List[str]:
    """Write ``fig`` as ``path`` with each extension of ``formats`` (``"out/act"`` ->
    ``out/act.png``, ``out/act.svg``; an extension already on ``path`` is replaced),
    creating the folder; returns the paths written. ``formats``: some of
    :data:`IMAGE_FORMATS`; ``dpi``: 1 to :data:`MAX_DPI`."""
    check_figure(fig)
    path = Path(check_file_to_write(path))
    formats = [check_choice(ext, "a format", IMAGE_FORMATS)
               for ext in check_iterable(formats, "formats")]
    if not formats:
        raise ArgumentError(f"formats is empty: give some of {', '.join(IMAGE_FORMATS)}")
    dpi = check_dpi(dpi)
    if path.suffix.lower().lstrip(".") in ("png", "svg", "pdf", "jpg"):
        path = path.with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in formats:
        target = path.parent / f"{path.name}.{ext}"
        atomic_files.write_figure(fig, target, ext, dpi=dpi if ext != "svg" else None,
                                 bbox_inches="tight")  # whole, or not at all
        written.append(str(target))
    return written


def _param_text(params) -> str:
    shown = {k: v for k, v in params.items() if not (k == "approximate" and v == "none")}
    if not shown:
        return ""
    return "(" + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in shown.items()) + ")"


def _broken_at_jumps(x, df):
    """``(x, df(x))`` with a NaN inserted where ``df`` jumps (a kink of ``f``): a step
    much larger than both neighbouring steps. The line then shows no vertical segment."""
    y = np.asarray(df(x), dtype=float) * np.ones_like(x)
    d = np.abs(np.diff(y))
    jumps = [k + 1 for k in range(d.size)
             if d[k] > 1e-2
             and d[k] > 5 * max(d[k - 1] if k > 0 else 0.0, d[k + 1] if k + 1 < d.size else 0.0)]
    if not jumps:
        return x, y
    return np.insert(x, jumps, np.nan), np.insert(y, jumps, np.nan)


def plot_activations(names: Optional[Sequence[str]] = None, x=None, *, ncols: int = 4,
                     n_dots: int = 21, panel_size=(3.2, 2.6)):
    """One panel per activation: ``f(x)`` and its closed-form derivative ``df(x)`` as
    lines, and the derivative that ``backward()`` computes through the composite as
    dots on top (they must sit on the dashed line). ``names`` default to every
    registered activation (aliases left out); ``x`` to 401 points in [-5, 5].
    Returns the matplotlib ``Figure``."""

    names = list(check_iterable(names, "names")) if names is not None else activations.names()
    if not names:
        raise ArgumentError("plot_activations: no activations to plot")
    acts = [activations.activation_named(n) for n in names]
    x = np.linspace(-5.0, 5.0, 401) if x is None else check_array(
        x, "x", 1, finite=True, dtype=float)
    if x.size < 2:
        raise ArgumentError(f"x must hold at least 2 points, got {x.size}")
    ncols = check_int(ncols, "ncols", minimum=1)
    n_dots = check_int(n_dots, "n_dots", minimum=2, maximum=10 ** 5)
    panel_size = check_figsize(panel_size, "panel_size")
    # dots at points that avoid x = 0, where kinked functions have no derivative
    xd = np.linspace(x.min(), x.max(), n_dots)
    xd = xd[np.abs(xd) > 1e-12]

    ncols = max(1, min(ncols, len(acts)))
    nrows = -(-len(acts) // ncols)
    fig = new_figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, act in zip(axes.flat, acts):
        name = getattr(act, "name", getattr(act, "__name__", "activation"))
        f = getattr(act, "f", None)
        df = getattr(act, "df", None)
        if f is not None:
            ax.plot(x, f(x), color="C0", lw=1.8, label="f(x)")
            ax.plot(*_broken_at_jumps(x, df), color="C3", lw=1.4, ls="--",
                    label="f'(x) closed form")
        _, grad = activations.evaluate(act, xd)
        ax.plot(xd, grad, "o", color="C3", ms=3.5, mfc="none", label="f'(x) autodiff")
        ax.axhline(0, color="0.7", lw=0.6, zorder=0)
        ax.axvline(0, color="0.7", lw=0.6, zorder=0)
        params = getattr(act, "params", {})
        formula = getattr(act, "formula", "")
        wrapped = textwrap.fill(formula, width=44)
        ax.set_title(f"{name} {_param_text(params)}\n{wrapped}", fontsize=7.5)
        ax.set_xlabel("x", fontsize=8)
        ax.set_ylabel("f(x), f'(x)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(acts):]:
        ax.set_visible(False)
    fig.suptitle("Activation functions (solid) and their derivatives: closed form (dashed) "
                 "and autodiff through the composite graph (dots)", fontsize=10)
    fig.tight_layout()
    return fig
