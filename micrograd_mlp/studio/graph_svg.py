"""The network's vector view as SVG, laid out once by Graphviz, with an id on every
number so the page can update numbers and colours in place (no new layout).

The drawing follows :func:`micrograd_mlp.views.graph_mlp.draw_mlp` (the vector view of
the exercises): ``x0 -> [W1 x + b1] -> s1 -> f -> x1 -> ... -> E``, each vector (and
weight matrix) a table with a value column and a ``dE/d`` column. Each number cell is
drawn with a placeholder text and a placeholder fill colour that name it; after the
layout both are swapped for an ``id`` (``data-key`` = the number's name, such as
``s1[0]``, ``dE/dW2[0,3]``), so the page finds every cell without parsing the drawing.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Tuple

from ..errors import GraphvizMissingError
from ..functions.composite import symbol_of
from ..views.dot_style import FONT, esc

__all__ = ["graph_svg"]

_PLACEHOLDER = "@{:05d}"   # as wide as a number shown with 4 decimals ("-0.1234")


class _Cells:
    """Numbers the drawing holds: placeholder index -> name."""

    def __init__(self):
        self.keys: List[str] = []

    def cell(self, key: str, small: bool = False) -> str:
        self.keys.append(key)
        k = len(self.keys)
        size = ' POINT-SIZE="9"' if small else ""
        return (f'<TD ALIGN="RIGHT" BGCOLOR="#{k:06x}"><FONT{size}>'
                f'{_PLACEHOLDER.format(k)}</FONT></TD>')


def _table(cells: _Cells, name: str, rows: int, cols: int, fill: str, grads: bool = True,
           matrix: bool = False) -> str:
    """An HTML label: the name over rows of value cells, then the gradient cells
    (cells named ``name[i,j]`` for a ``matrix``, even of one column, else ``name[i]``)."""
    span = cols * (2 if grads else 1)
    out = [f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" '
           f'BGCOLOR="{fill}"><TR><TD COLSPAN="{span}"><B>{esc(name)}</B></TD></TR>']
    for i in range(rows):
        idx = [f"[{i},{j}]" if matrix else f"[{i}]" for j in range(cols)]
        row = "".join(cells.cell(f"{name}{ix}") for ix in idx)
        if grads:
            row += "".join(cells.cell(f"dE/d{name}{ix}", small=True) for ix in idx)
        out.append(f"<TR>{row}</TR>")
    if grads:
        out.append(f'<TR><TD COLSPAN="{cols}"><FONT POINT-SIZE="8">value</FONT></TD>'
                   f'<TD COLSPAN="{cols}"><FONT POINT-SIZE="8">dE/d{esc(name)}</FONT></TD></TR>')
    return "".join(out) + "</TABLE>>"


def _dot(widths: Tuple[int, ...], activations: Tuple[str, ...]):
    import graphviz

    cells = _Cells()
    dot = graphviz.Digraph("studio")
    dot.attr(rankdir="LR", fontname=FONT, nodesep="0.25", ranksep="0.3")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", arrowsize="0.6", color="#666666")
    dot.node("x0", _table(cells, "x0", widths[0], 1, "#f6d5ec"), shape="plain")
    prev = "x0"
    for l in range(1, len(widths)):
        nin, nout, act = widths[l - 1], widths[l], activations[l - 1]
        with dot.subgraph(name=f"cluster_affine{l}") as box:
            box.attr(label=f"W{l} x + b{l}", style="rounded,filled", fillcolor="#e4e4e4",
                     color="#999999", fontsize="11")
            box.node(f"W{l}", _table(cells, f"W{l}", nout, nin, "#cfe0fb", matrix=True), shape="plain")
            box.node(f"b{l}", _table(cells, f"b{l}", nout, 1, "#cfe0fb"), shape="plain")
            box.node(f"mul{l}", "×", shape="square", style="filled", fillcolor="#cfe8c4")
            box.node(f"add{l}", "+", shape="square", style="filled", fillcolor="#cfe8c4")
        dot.edge(prev, f"mul{l}", weight="10")
        dot.edge(f"W{l}", f"mul{l}")
        dot.edge(f"mul{l}", f"add{l}", weight="10")
        dot.edge(f"b{l}", f"add{l}")
        dot.node(f"s{l}", _table(cells, f"s{l}", nout, 1, "#f6d5ec"), shape="plain")
        dot.edge(f"add{l}", f"s{l}", weight="10")
        prev = f"s{l}"
        if act != "identity":
            with dot.subgraph(name=f"cluster_act{l}") as box:
                box.attr(label=act, style="rounded,filled", fillcolor="#e4e4e4",
                         color="#999999", fontsize="10")
                box.node(f"act{l}", symbol_of(act) or act, shape="square", style="filled",
                         fillcolor="#cfe8c4")
            dot.node(f"x{l}", _table(cells, f"x{l}", nout, 1, "#f6d5ec"), shape="plain")
            dot.edge(f"s{l}", f"act{l}", weight="10")
            dot.edge(f"act{l}", f"x{l}", weight="10")
            prev = f"x{l}"
    dot.node("E", _table(cells, "E", 1, 1, "#fde2c8", grads=False), shape="plain")
    dot.node("y", "y", shape="box", style="rounded,filled", fillcolor="#eeeeee")
    dot.edge(prev, "E", weight="10")
    dot.edge("y", "E")
    return dot, cells.keys


_POLY = re.compile(r'<polygon fill="#([0-9a-f]{6})" stroke="transparent" points="([^"]+)"/>')
_TEXT = re.compile(r'<text text-anchor="start" x="([-\d.]+)" (y="[-\d.]+"[^>]*)>@(\d{5})</text>')


@lru_cache(maxsize=16)
def graph_svg(widths: Tuple[int, ...], activations: Tuple[str, ...]) -> str:
    """The SVG of the vector view of a network of ``widths`` (``(2, 8, 8, 1)``) with
    the given activation per layer (``"identity"``: no activation box, ``x_l`` is
    ``s_l``); every number cell is a ``<text class="num" data-key=...>`` over a
    ``<polygon class="cell" data-key=...>``, empty until the page fills it."""
    try:
        dot, keys = _dot(tuple(widths), tuple(activations))
        svg = dot.pipe(format="svg").decode("utf-8")
    except Exception as err:
        if type(err).__name__ in ("ExecutableNotFound",):
            raise GraphvizMissingError("the studio's network view needs Graphviz's `dot` "
                                       "program (apt-get install graphviz)") from None
        raise
    centres = {}

    def poly(m):
        k = int(m.group(1), 16)
        if not 1 <= k <= len(keys):
            return m.group(0)
        xs = [float(p.split(",")[0]) for p in m.group(2).split()]
        centres[k] = (min(xs) + max(xs)) / 2
        return (f'<polygon class="cell" data-key="{esc(keys[k - 1])}" fill="#ffffff" '
                f'stroke="transparent" points="{m.group(2)}"/>')

    def text(m):
        k = int(m.group(3))
        x = centres.get(k, float(m.group(1)))
        return (f'<text class="num" data-key="{esc(keys[k - 1])}" text-anchor="middle" '
                f'x="{x:.2f}" {m.group(2)}></text>')

    svg = _POLY.sub(poly, svg)
    svg = _TEXT.sub(text, svg)
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the page inlines it
    return svg
