"""Draw computational graphs with Graphviz.

* :func:`draw_dot` -- any graph of Values: a record per value node (name | data |
  grad), an operation node (the primitive's symbol) between a node and its inputs, one
  edge per use (``a * a`` has two edges from ``a``), composite groups (sigmoid, a loss)
  as labelled clusters or collapsed into one node showing the group's overall
  derivative, neurons and layers as dashed clusters, fill colour by the sign and size
  of the gradient (with a legend). Node ids follow the topological position, so the
  same graph always gives byte-identical DOT source.
* :func:`draw_mlp` -- the vector-level view of an MLP, like Figure 1 of seed 001:
  ``x0 -> [W1 x + b1] -> s1 -> sigma -> x1 -> ... -> E``, with the vectors' numbers.
* :func:`render` -- write a drawing (or a Value's drawing) to ``.svg``, ``.png``,
  ``.pdf`` or ``.dot`` by the file extension. When the Graphviz ``dot`` program is
  missing it writes the ``.dot`` text anyway and raises :class:`GraphvizMissingError`
  saying how to install Graphviz.

``graphviz.Digraph`` objects display inline in Jupyter (they have ``_repr_mimebundle_``
and ``_repr_svg_``); ``graphviz`` itself is imported only when a drawing is made.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np

from ..core import atomic_files
from ..core.engine import Value
from ..core.validate import check_choice, check_flag, check_int, check_path, check_real
from ..core.validate_values import check_values
from ..errors import ArgumentError, DataTypeError, GraphvizMissingError
from ..functions.composite import symbol_of
from .dot_run import MAX_NODES, check_layout_size, layout_size, run_dot
from .dot_style import (
    FONT, HIGHLIGHT, esc, esc_attr, grad_colour, magnitude, text_width,
)
from .graph_mlp import draw_mlp
from .viewmodel import Namer, View, build_view, check_view, constant_operand, format_number

__all__ = ["draw_dot", "draw_mlp", "render", "GraphvizMissingError", "grad_colour",
           "INSTALL_HINT", "MAX_NODES"]

ndarray = np.ndarray

INSTALL_HINT = ("install Graphviz, which provides the 'dot' program: "
                "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' "
                "(macOS), 'conda install -c conda-forge graphviz', or see graphviz.org/download")

# ---------------------------------------------------------------- draw_dot


#: the caption of a drawing made before ``backward()``
NO_GRADIENTS_NOTE = "gradients not computed yet: call backward()"


def _check_drawing_options(grads, highlight, partial, legend, title, show_constants, scale):
    """draw_dot's options of the right types (a library error otherwise)."""
    if grads is not None and not isinstance(grads, dict):
        raise DataTypeError(f"grads must be a dict {{node: gradient}}, not {type(grads).__name__}")
    for name, nodes in (("highlight", highlight), ("partial", partial)):
        if nodes is not None:
            check_values(nodes, name)
    check_flag(legend, "legend")
    check_flag(show_constants, "show_constants")
    if not isinstance(title, str):
        raise DataTypeError(f"title must be a str, not {type(title).__name__}")
    if scale is not None:
        check_real(scale, "scale", 0.0)


def draw_dot(root: Value, collapse=False, rankdir: str = "LR", grads: Optional[Dict] = None,
             highlight: Optional[Iterable[Value]] = None, partial: Iterable[Value] = (),
             digits: int = 4, legend: bool = True, title: str = "",
             show_constants: bool = True, batch_items: int = 3, view: Optional[View] = None,
             scale: Optional[float] = None, max_nodes: Optional[int] = MAX_NODES):
    """A ``graphviz.Digraph`` of the graph below ``root``.

    * ``collapse``: False (every primitive), True (every composite group such as a
      sigmoid or a loss becomes one node showing ``d out/d in``), or a set of group
      names (``{"sigmoid"}``; module groups ``"neuron"``/``"layer"`` too).
    * ``rankdir``: ``"LR"`` (left to right, default) or ``"TB"``.
    * ``grads``: ``{node: gradient}`` to show instead of ``node.grad``; a node missing
      from the dict shows ``?`` (used by step frames). ``partial``: nodes whose shown
      gradient is still being summed (marked ``+...``). ``highlight``: nodes drawn with
      a thick orange border (the current step).
    * ``scale``: the ``|grad|`` drawn with the strongest colour (default: the largest
      shown, the root excepted).
    * Drawn before ``backward()`` (the root's gradient is still 0 or None), every
      gradient shows ``?`` and the caption says ``NO_GRADIENTS_NOTE``.
    * ``digits``: decimals shown; batched nodes show the batch size and their first
      ``batch_items`` entries. ``legend``: add the colour legend. ``title``: a caption.
    * ``max_nodes``: the largest layout drawn (default :data:`MAX_NODES`; None: no
      bound). The size counts the drawn nodes plus one hidden node per rank a long
      edge crosses (:func:`~.dot_run.layout_size`), which is what makes Graphviz slow;
      a larger drawing raises :class:`~micrograd_mlp.errors.DrawingTooLargeError`
      before any work, saying how to draw it anyway.

    Value nodes are filled by the sign (blue +, red -) and size of their gradient.
    Node ids are the nodes' topological positions, so the same graph gives the same
    source byte for byte.
    """
    import graphviz

    if not isinstance(root, Value):
        raise DataTypeError(f"draw_dot needs the Value to draw, not {type(root).__name__}")
    check_choice(rankdir, "rankdir", ("LR", "TB", "RL", "BT"))
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    batch_items = check_int(batch_items, "batch_items", minimum=0)
    if max_nodes is not None:
        max_nodes = check_int(max_nodes, "max_nodes", minimum=1)
    _check_drawing_options(grads, highlight, partial, legend, title, show_constants, scale)
    view = check_view(view, root) or build_view(root, collapse, fold=False)
    order = view.order
    pos = {n: i for i, n in enumerate(order)}
    namer = Namer(order, view=view)
    highlight = set(highlight or ())
    partial = set(partial or ())
    if grads is None and (root.grad is None or not np.any(np.asarray(root.grad) != 0)):
        # before backward() every grad still reads 0, which is not an answer: show ?
        grads = {}
        title = f"{title} ({NO_GRADIENTS_NOTE})" if title else NO_GRADIENTS_NOTE

    def grad_of(n):
        if grads is None:
            return n.grad
        return grads.get(n)

    shown = [n for n in view.visible if show_constants or n.requires_grad or n.parents]
    exponent_of, skip = _inline_constants(shown, view)
    check_layout_size(_layout_size(shown, skip, view, exponent_of), max_nodes)
    if scale is None:
        scale = max([magnitude(grad_of(n)) for n in shown if n is not root and n.requires_grad]
                    or [0.0])

    data_texts = {n: format_number(n.data, digits, batch_items) for n in shown}
    data_w = max([text_width("data n=: " + t) for t in data_texts.values()] + [60])
    grad_w = max([text_width("grad  +..." + format_number(n.grad if grads is None else grads.get(n),
                                                     digits, batch_items)) for n in shown] + [74])

    clusters = _Clusters(view)
    edges = []
    for n in shown:
        if n in skip:
            continue
        i = pos[n]
        body = clusters.body_for(n)
        body.append(_value_stmt(n, i, namer, data_texts[n], grad_of(n), grads is not None,
                                n in partial, n in highlight, scale, digits, batch_items,
                                data_w, grad_w, root) + "\n")
        if n in view.edges:
            body.append(_op_stmt(n, i, view, namer, digits, n in highlight))
            inputs = [pos[e.inp] for e in view.edges[n]
                      if not (e.inp in skip and exponent_of.get(e.inp) is n)]
            edges.extend(_op_edges(i, inputs, n in highlight))

    dot = graphviz.Digraph("computational_graph")
    dot.attr(rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", arrowsize="0.6", color="#555555")
    if title:
        dot.attr(label=esc_attr(title), labelloc="t", fontsize="14")
    clusters.emit(dot)
    dot.body.extend(edges)
    if legend:
        _legend(dot, scale, digits)
    return dot


def _layout_size(shown, skip, view, exponent_of) -> int:
    """:func:`~.dot_run.layout_size` of the nodes and edges :func:`draw_dot` draws."""
    drawn = [n for n in shown if n not in skip]
    ops = [(n, [e.inp for e in view.edges[n]
                if not (e.inp in skip and exponent_of.get(e.inp) is n)])
           for n in drawn if n in view.edges]
    return layout_size(ops, len(drawn))


def _inline_constants(shown, view):
    """The constant operands written into their operation's symbol (the ``c`` of
    ``u^c`` drawn as ``^2``): ``{constant: its node}``, and the constants that need no
    node of their own (used by no other shown operation)."""
    inline_in = {}
    for n in shown:
        if n not in view.groups and n.parents and constant_operand(n) is not None:
            inline_in[n.parents[n.primitive.constant_input]] = n
    hidden = {c for c in inline_in if all(
        c not in (e.inp for e in view.edges.get(n, ())) or n is inline_in[c]
        for n in view.edges)}
    return inline_in, hidden


class _Clusters:
    """The tree of groups drawn as clusters (composites, neurons, layers), each
    collecting the DOT statements of its nodes."""

    def __init__(self, view: View):
        self.view = view
        self.top: list = []                       # statements outside every group
        self.statements: Dict[object, list] = {}  # group -> its statements
        self.children: Dict[object, list] = {}    # group (None: the top) -> inner groups
        self.ids: Dict[object, int] = {}

    def body_for(self, node) -> list:
        """The statement list of the innermost drawn group around ``node``."""
        chain = list(node.group.ancestors()) if node.group is not None else []
        collapsed = self.view.groups.get(node)
        if collapsed is not None:  # a collapsed group's output sits beside the group
            chain = chain[:chain.index(collapsed)] if collapsed in chain else chain
        parent = None
        for g in chain:
            if g not in self.ids:
                self.ids[g] = len(self.ids)
                self.statements[g] = []
                self.children.setdefault(parent, []).append(g)
            parent = g
        return self.top if parent is None else self.statements[parent]

    def emit(self, dot) -> None:
        """Add the top statements and every cluster, nested, to ``dot``."""
        dot.body.extend(self.top)
        for g in self.children.get(None, []):
            self._emit(g, dot)

    def _emit(self, group, into) -> None:
        import graphviz

        sub = graphviz.Digraph(f"cluster_{self.ids[group]}")
        text = group.title
        if group.params and group.kind == "composite":
            text += "(" + ", ".join(f"{k}={v}" for k, v in group.params.items()) + ")"
        if group.kind == "module":
            sub.attr(label=esc_attr(text), style="dashed,rounded", color="#888888",
                     fontcolor="#555555", fontsize="10")
        else:
            sub.attr(label=esc_attr(text), style="rounded,filled", fillcolor="#fbf8e8",
                     color="#c9b458", fontsize="11")
        sub.body.extend(self.statements[group])
        for child in self.children.get(group, []):
            self._emit(child, sub)
        into.subgraph(sub)


def _value_stmt(n, i, namer, data_text, g, from_dict, is_partial, is_highlight, scale,
                digits, batch_items, data_w, grad_w, root):
    name = namer(n, atom=False) if (n.label or n.parents) else ""
    if not n.parents and not n.label and not n.requires_grad:
        # an unlabelled constant: just its number, small and grey
        return (f'\tv{i} [label={esc_attr(data_text)} shape=plaintext fontcolor="#666666"'
                f' fontsize=10]')
    if not n.requires_grad:
        grad_text = "const"
        fill = "#f3f3f3"
    else:
        grad_text = format_number(g, digits, batch_items) if (g is not None or not from_dict) else "?"
        if is_partial and g is not None:
            grad_text += " +..."
        fill = grad_colour(g, scale if n is not root else max(scale, 1.0))
    if isinstance(n.data, ndarray):
        data_text = f"n={n.data.size}: {data_text.split(' (n=')[0]}"
    # the same border width on every node, so highlighting never moves the layout
    border = f' COLOR="{HIGHLIGHT}" BORDER="3"' if is_highlight else ' COLOR="transparent" BORDER="3"'
    cells = []
    if name:
        cells.append(f'<TD COLOR="black"><B>{esc(name)}</B></TD>')
    cells.append(f'<TD COLOR="black" WIDTH="{data_w}" HEIGHT="22" FIXEDSIZE="TRUE">'
                 f'data {esc(data_text)}</TD>')
    cells.append(f'<TD COLOR="black" WIDTH="{grad_w}" HEIGHT="22" FIXEDSIZE="TRUE">'
                 f'grad {esc(grad_text)}</TD>')
    table = (f'<<TABLE{border} CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{fill}">'
             f'<TR>{"".join(cells)}</TR></TABLE>>')
    return f"\tv{i} [label={table} shape=plain]"


def _op_stmt(n, i, view, namer, digits, is_highlight) -> str:
    """The DOT statement of the operation node ``o{i}`` that made node ``n``."""
    group = view.groups.get(n)
    label, tooltip = _op_label(n, group, view, namer, digits)
    style = 'shape=box style="rounded,filled" fillcolor="#fff4d6"' if group is not None \
        else 'shape=circle fixedsize=false width=0.4 style=filled fillcolor="#eeeeee"'
    pen = f' color="{HIGHLIGHT}" penwidth=3' if is_highlight else ""
    return (f'\to{i} [label={label} {style} fontname="{FONT}" fontsize=11'
            f' tooltip="{esc(tooltip)}"{pen}]\n')


def _op_edges(i, inputs, is_highlight):
    """The edges ``o{i} -> v{i}`` and ``v{j} -> o{i}`` for every input position ``j``."""
    attrs = f' [color="{HIGHLIGHT}" penwidth=2]' if is_highlight else ""
    return [f"\to{i} -> v{i}{attrs}\n"] + [f"\tv{j} -> o{i}{attrs}\n" for j in inputs]


def _op_label(n, group, view, namer, digits):
    """The label of an operation node: the primitive's symbol, or for a collapsed
    group its title and overall local derivative(s)."""
    if group is None:
        prim = n.primitive
        symbol = prim.symbol
        constant = constant_operand(n)
        if constant is not None and prim.constant_symbol:
            key = prim.inputs()[prim.constant_input]
            symbol = prim.constant_symbol.format(**{key: f"{constant:g}"})
        return esc_attr(symbol), prim.formula(0)
    lines = [f"<B>{esc(group.title)}</B>"]
    edges = [e for e in view.edges[n] if e.inp.requires_grad] or view.edges[n]
    short = symbol_of(group.name) and symbol_of(group.name) + "'"
    for e in edges[:4]:
        value = format_number(e.local, digits)
        if short and len(edges) == 1:
            lines.append(esc(f"{short} = {value}"))
        else:
            lines.append(esc(f"∂/∂{namer(e.inp, atom=False)} = {value}"))
    if len(edges) > 4:
        lines.append(esc(f"... {len(edges) - 4} more inputs"))
    return "<" + "<BR/>".join(lines) + ">", f"{group.title}: d out/d in"


def _legend(dot, scale, digits):
    import graphviz

    leg = graphviz.Digraph("cluster_legend")
    leg.attr(label="<<B>gradient colour</B>>", style="rounded", color="#bbbbbb", fontsize="10")
    big = format_number(scale, digits) if scale else "0"
    rows = [
        (grad_colour(1.0, 1.0), "grad &gt; 0"),
        (grad_colour(-1.0, 1.0), "grad &lt; 0"),
        (grad_colour(0.1, 1.0), "lighter = smaller |grad|"),
        ("#ffffff", f"0, unknown (?); strongest = |grad| {esc(big)}"),
    ]
    cells = "".join(f'<TR><TD BGCOLOR="{c}" WIDTH="18"> </TD><TD ALIGN="LEFT">{t}</TD></TR>'
                    for c, t in rows)
    leg.node("legend", f'<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="2">{cells}</TABLE>>',
             shape="plain", fontsize="10")
    dot.subgraph(leg)


# ---------------------------------------------------------------- rendering


_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None}
#: last line of a DOT file that render wrote because Graphviz was missing
FALLBACK_MARK = "// written by micrograd_mlp render: Graphviz was missing\n"


def fallback_dot_path(path: Path) -> Path:
    """Where :func:`render` puts the DOT text when Graphviz is missing: ``f.dot`` beside
    ``f.svg``, unless a ``f.dot`` exists that render did not write itself (render ends
    its files with :data:`FALLBACK_MARK`): then ``f.svg.dot``, ``f.svg.1.dot``, ... the
    first free or render-written name. A user's own file is never overwritten."""
    candidates = [path.with_suffix(".dot"), path.with_name(path.name + ".dot")]
    n = 1
    while True:
        for c in candidates:
            if not c.exists():
                return c
            try:
                if c.read_text(encoding="utf-8", errors="replace").endswith(FALLBACK_MARK):
                    return c
            except OSError:  # a folder or an unreadable file: not ours
                pass
        candidates = [path.with_name(f"{path.name}.{n}.dot")]
        n += 1


def render(graph_or_value, path, dpi: Optional[int] = None, timeout: Optional[float] = None,
           **draw_kwargs) -> Path:
    """Write a drawing to ``path``; the format comes from the extension: ``.svg``,
    ``.png``, ``.pdf`` (rendered by Graphviz ``dot``) or ``.dot``/``.gv`` (the source
    text). ``graph_or_value`` is a ``graphviz.Digraph`` or a Value (drawn with
    :func:`draw_dot` and ``draw_kwargs``). ``dpi`` sets the PNG resolution.

    Without the ``dot`` program the DOT text is written next to the target (same name,
    ``.dot``; :func:`fallback_dot_path` says which file, never one the user wrote) and
    :class:`GraphvizMissingError` says where it is and how to install Graphviz.
    ``dot`` runs under a time limit (``timeout`` seconds, default
    :data:`~.dot_run.DOT_TIMEOUT`) and is stopped with the command
    (:func:`~.dot_run.run_dot`). The file appears only when complete: it is written
    beside the target under a temporary name and then renamed into place."""
    path = Path(check_path(path))
    ext = path.suffix.lower()
    if ext not in _FORMATS:
        raise ArgumentError(f"render(): cannot tell the format of {str(path)!r}; use a file name "
                         f"ending in {', '.join(_FORMATS)}")
    if not isinstance(graph_or_value, Value) and not hasattr(graph_or_value, "pipe"):
        raise DataTypeError(f"render() draws a Value or a graphviz.Digraph, not "
                            f"{type(graph_or_value).__name__}")
    if dpi is not None:
        dpi = check_int(dpi, "dpi", 1, 10000)
    if _FORMATS[ext] is None and isinstance(graph_or_value, Value):
        draw_kwargs["max_nodes"] = None  # DOT text runs no Graphviz: any size is quick
    graph = draw_dot(graph_or_value, **draw_kwargs) if isinstance(graph_or_value, Value) \
        else graph_or_value
    if draw_kwargs and not isinstance(graph_or_value, Value):
        raise ArgumentError("render(): drawing options apply only when given a Value")
    if dpi is not None and ext == ".png":
        graph = graph.copy()
        graph.attr(dpi=str(int(dpi)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = _FORMATS[ext]
    if fmt is None:
        return atomic_files.write_text(path, graph.source)
    try:
        data = run_dot(graph.source, fmt, timeout)
    except GraphvizMissingError:
        dot_path = fallback_dot_path(path)
        atomic_files.write_text(dot_path, graph.source + FALLBACK_MARK)
        raise GraphvizMissingError(
            f"cannot write {path}: the Graphviz 'dot' program was not found on PATH. To render "
            f"drawings, {INSTALL_HINT}. The DOT text was written to {dot_path} (render it "
            f"later with: dot -T{fmt} {dot_path} -o {path})") from None
    return atomic_files.write_bytes(path, data)
