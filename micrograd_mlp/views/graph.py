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

import html
import math
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np

from ..core.engine import Value, sum_values
from ..core.checks import check_choice, check_int
from ..errors import ArgumentError, DataTypeError, GraphvizMissingError
from ..functions.composite import symbol_of
from .trace import gradients
from .viewmodel import Namer, View, build_view, constant_operand, format_number

__all__ = ["draw_dot", "draw_mlp", "render", "GraphvizMissingError", "grad_colour",
           "INSTALL_HINT"]

ndarray = np.ndarray

INSTALL_HINT = ("install Graphviz, which provides the 'dot' program: "
                "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' "
                "(macOS), 'conda install -c conda-forge graphviz', or see graphviz.org/download")

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
    g = float(np.mean(g)) if isinstance(g, ndarray) else float(g)
    if not math.isfinite(g):
        return "#bbbbbb"
    if g == 0.0 or scale <= 0.0:
        return "#ffffff"
    t = MAX_MIX * math.sqrt(min(abs(g) / scale, 1.0))
    rgb = POSITIVE if g > 0 else NEGATIVE
    mixed = [round(255 + (c - 255) * t) for c in rgb]
    return "#%02x%02x%02x" % tuple(mixed)


def _magnitude(g) -> float:
    if g is None:
        return 0.0
    v = float(np.mean(np.abs(g))) if isinstance(g, ndarray) else abs(float(g))
    return v if math.isfinite(v) else 0.0


# ---------------------------------------------------------------- text


def _esc(text: str) -> str:
    """Escape text for a Graphviz HTML-like label (``<``, ``>``, ``&``, quotes; control
    characters become ``?``)."""
    text = "".join(ch if ch >= " " or ch == "\n" else "?" for ch in str(text))
    return html.escape(text, quote=False).replace('"', "&quot;").replace("\n", "<BR/>")


def _width(text: str) -> int:
    """A generous width in points for ``text`` at font size 11."""
    return 12 + 7 * len(text)


# ---------------------------------------------------------------- draw_dot


def draw_dot(root: Value, collapse=False, rankdir: str = "LR", grads: Optional[Dict] = None,
             highlight: Optional[Iterable[Value]] = None, partial: Iterable[Value] = (),
             digits: int = 4, legend: bool = True, title: str = "",
             show_constants: bool = True, batch_items: int = 3, view: Optional[View] = None,
             scale: Optional[float] = None):
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
    * ``digits``: decimals shown; batched nodes show the batch size and their first
      ``batch_items`` entries. ``legend``: add the colour legend. ``title``: a caption.

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
    view = view or build_view(root, collapse, fold=False)
    order = view.order
    pos = {n: i for i, n in enumerate(order)}
    namer = Namer(order, view=view)
    highlight = set(highlight or ())
    partial = set(partial)

    def grad_of(n):
        if grads is None:
            return n.grad
        return grads.get(n)

    shown = [n for n in view.visible if show_constants or n.requires_grad or n.parents]
    exponent_of = {}  # a constant operand (the c of u^c): written into the op symbol
    for n in shown:
        if n not in view.groups and n.parents and constant_operand(n) is not None:
            exponent_of[n.parents[n.primitive.constant_input]] = n
    skip = {c for c in exponent_of if all(
        c not in (e.inp for e in view.edges.get(n, ())) or n is exponent_of[c]
        for n in view.edges)}
    if scale is None:
        scale = max([_magnitude(grad_of(n)) for n in shown if n is not root and n.requires_grad]
                    or [0.0])

    data_texts = {n: format_number(n.data, digits, batch_items) for n in shown}
    data_w = max([_width("data n=: " + t) for t in data_texts.values()] + [60])
    grad_w = max([_width("grad  +..." + format_number(n.grad if grads is None else grads.get(n),
                                                     digits, batch_items)) for n in shown] + [74])

    # clusters: a tree of groups, each collecting the statements of its nodes
    cluster_of: Dict[object, list] = {}
    children: Dict[object, list] = {}
    top: list = []
    group_ids: Dict[object, int] = {}

    def body_for(node):
        """The statement list of the innermost drawn group around ``node``."""
        chain = list(node.group.ancestors()) if node.group is not None else []
        cgroup = view.groups.get(node)
        if cgroup is not None:  # a collapsed group's output sits beside the group
            chain = chain[:chain.index(cgroup)] if cgroup in chain else chain
        parent = None
        for g in chain:
            if g not in group_ids:
                group_ids[g] = len(group_ids)
                cluster_of[g] = []
                children.setdefault(parent, []).append(g)
            parent = g
        return top if parent is None else cluster_of[parent]

    edges = []
    for n in shown:
        if n in skip:
            continue
        i = pos[n]
        body = body_for(n)
        body.append(_value_stmt(n, i, namer, data_texts[n], grad_of(n), grads is not None,
                                n in partial, n in highlight, scale, digits, batch_items,
                                data_w, grad_w, root) + "\n")
        if n not in view.edges:
            continue
        group = view.groups.get(n)
        label, tooltip = _op_label(n, group, view, namer, digits)
        style = 'shape=box style="rounded,filled" fillcolor="#fff4d6"' if group is not None \
            else 'shape=circle fixedsize=false width=0.4 style=filled fillcolor="#eeeeee"'
        pen = f' color="{HIGHLIGHT}" penwidth=3' if n in highlight else ""
        body.append(f'\to{i} [label={label} {style} fontname="{FONT}" fontsize=11'
                    f' tooltip="{_esc(tooltip)}"{pen}]\n')
        edges.append(f"\to{i} -> v{i}" + (f' [color="{HIGHLIGHT}" penwidth=2]' if n in highlight else "") + "\n")
        for e in view.edges[n]:
            if e.inp in skip and exponent_of.get(e.inp) is n:
                continue
            attrs = f' [color="{HIGHLIGHT}" penwidth=2]' if n in highlight else ""
            edges.append(f"\tv{pos[e.inp]} -> o{i}{attrs}\n")

    dot = graphviz.Digraph("computational_graph")
    dot.attr(rankdir=rankdir, fontname=FONT, nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", arrowsize="0.6", color="#555555")
    if title:
        dot.attr(label=_esc_attr(title), labelloc="t", fontsize="14")
    dot.body.extend(top)

    def emit(group, into):
        sub = graphviz.Digraph(f"cluster_{group_ids[group]}")
        text = group.title
        if group.params and group.kind == "composite":
            text += "(" + ", ".join(f"{k}={v}" for k, v in group.params.items()) + ")"
        if group.kind == "module":
            sub.attr(label=_esc_attr(text), style="dashed,rounded", color="#888888",
                     fontcolor="#555555", fontsize="10")
        else:
            sub.attr(label=_esc_attr(text), style="rounded,filled", fillcolor="#fbf8e8",
                     color="#c9b458", fontsize="11")
        sub.body.extend(cluster_of[group])
        for child in children.get(group, []):
            emit(child, sub)
        into.subgraph(sub)

    for g in children.get(None, []):
        emit(g, dot)
    dot.body.extend(edges)
    if legend:
        _legend(dot, scale, digits)
    return dot


def _esc_attr(text: str) -> str:
    """A plain-text attribute value as an HTML label (escapes everything safely)."""
    return f"<{_esc(text)}>"


def _value_stmt(n, i, namer, data_text, g, from_dict, is_partial, is_highlight, scale,
                digits, batch_items, data_w, grad_w, root):
    name = namer(n, atom=False) if (n.label or n.parents) else ""
    if not n.parents and not n.label and not n.requires_grad:
        # an unlabelled constant: just its number, small and grey
        return (f'\tv{i} [label={_esc_attr(data_text)} shape=plaintext fontcolor="#666666"'
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
        cells.append(f'<TD COLOR="black"><B>{_esc(name)}</B></TD>')
    cells.append(f'<TD COLOR="black" WIDTH="{data_w}" HEIGHT="22" FIXEDSIZE="TRUE">'
                 f'data {_esc(data_text)}</TD>')
    cells.append(f'<TD COLOR="black" WIDTH="{grad_w}" HEIGHT="22" FIXEDSIZE="TRUE">'
                 f'grad {_esc(grad_text)}</TD>')
    table = (f'<<TABLE{border} CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{fill}">'
             f'<TR>{"".join(cells)}</TR></TABLE>>')
    return f"\tv{i} [label={table} shape=plain]"


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
        return _esc_attr(symbol), prim.formula(0)
    lines = [f"<B>{_esc(group.title)}</B>"]
    edges = [e for e in view.edges[n] if e.inp.requires_grad] or view.edges[n]
    short = symbol_of(group.name) and symbol_of(group.name) + "'"
    for e in edges[:4]:
        value = format_number(e.local, digits)
        if short and len(edges) == 1:
            lines.append(_esc(f"{short} = {value}"))
        else:
            lines.append(_esc(f"∂/∂{namer(e.inp, atom=False)} = {value}"))
    if len(edges) > 4:
        lines.append(_esc(f"... {len(edges) - 4} more inputs"))
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
        ("#ffffff", f"0, unknown (?); strongest = |grad| {_esc(big)}"),
    ]
    cells = "".join(f'<TR><TD BGCOLOR="{c}" WIDTH="18"> </TD><TD ALIGN="LEFT">{t}</TD></TR>'
                    for c, t in rows)
    leg.node("legend", f'<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="2">{cells}</TABLE>>',
             shape="plain", fontsize="10")
    dot.subgraph(leg)


# ---------------------------------------------------------------- the vector view


def draw_mlp(model, x, y=None, loss: str = "half", digits: int = 4, rankdir: str = "LR",
             title: str = "", highlight: Iterable[str] = (), hidden: Iterable[str] = ()):
    """The vector-level view of an MLP, like Figure 1 of seed 001: for each layer
    ``l`` a box ``[W_l x + b_l]`` with the matrix ``W_l`` and vector ``b_l``, then the
    pre-activation ``s_l``, the activation ``f_l`` and ``x_l``, each vector with its
    numbers. With a target ``y`` the loss ``E`` (``loss="half"``: 1/2 ||x_L - y||^2,
    ``"full"``: ||x_L - y||^2) is added and every vector also shows ``dE/d`` it
    (computed by the trace replay; no ``Value.grad`` changes). ``title``: a caption.
    ``highlight``: keys of boxes drawn with an orange border (``"x1"``, ``"W2"``,
    ``"mul2"``, ``"add2"``, ``"act2"``, ``"E"`` ...); ``hidden``: vectors shown as ``?``
    (``"s1"`` its values, ``"dE/ds1"`` its gradients), for step-by-step pictures."""
    import graphviz

    xs = [v if isinstance(v, Value) else Value(float(v), f"x0[{j}]") for j, v in enumerate(x)]
    outs = model.forward(xs)
    cache = model.intermediates
    grads = {}
    E = None
    if y is not None:
        ys = np.atleast_1d(np.asarray(y, dtype=float))
        if ys.size != len(outs):
            raise ValueError(f"draw_mlp: {len(outs)} outputs but {ys.size} targets")
        E = sum_values([(o - float(t)) ** 2 for o, t in zip(outs, ys)])
        E = E * 0.5 if loss == "half" else E
        E.label = "E"
        grads = gradients(E)

    scale = max([abs(float(g)) for n, g in grads.items() if n is not E] or [0.0])

    def vec(nodes):
        return np.array([n.data for n in nodes], dtype=float)

    def gvec(nodes):
        return None if not grads else np.array([grads.get(n, 0.0) for n in nodes], dtype=float)

    dot = graphviz.Digraph("mlp")
    dot.attr(rankdir=rankdir, fontname=FONT, nodesep="0.3", ranksep="0.3")
    if title:
        dot.attr(label=_esc_attr(title), labelloc="t", fontsize="14")
    dot.attr("node", fontname=FONT, fontsize="11")
    dot.attr("edge", arrowsize="0.6", color="#666666")
    vector_style = dict(shape="plain")
    marks, hid = set(highlight), set(hidden)

    def label(name, key, values, g, fill):
        return _vector_label(name, values, g, digits, fill, scale, key in marks, key in hid,
                             f"dE/d{key}" in hid)

    def vnode(name, key, values, g, fill="#f6d5ec"):
        dot.node(key, label(name, key, values, g, fill), **vector_style)

    vnode("x0", "x0", vec(cache["x0"]), gvec(cache["x0"]))
    prev = "x0"
    for layer in model.layers:
        l = layer.index
        with dot.subgraph(name=f"cluster_affine{l}") as box:
            box.attr(label=f"W{l} x + b{l}", style="rounded,filled", fillcolor="#e4e4e4",
                     color="#999999", fontsize="11")
            W = layer.weight_matrix()
            gW = None
            if grads:
                gW = np.array([[grads.get(w, 0.0) for w in n.w] for n in layer.neurons])
            box.node(f"W{l}", label(f"W{l}", f"W{l}", W, gW, "#cfe0fb"), shape="plain")
            box.node(f"mul{l}", "×", shape="square", style="filled", fillcolor="#cfe8c4")
            if layer.bias:
                b = layer.bias_vector()
                gb = np.array([grads.get(n.b, 0.0) for n in layer.neurons]) if grads else None
                box.node(f"b{l}", label(f"b{l}", f"b{l}", b, gb, "#cfe0fb"), shape="plain")
                box.node(f"add{l}", "+", shape="square", style="filled", fillcolor="#cfe8c4")
        dot.edge(prev, f"mul{l}", weight="10")
        dot.edge(f"W{l}", f"mul{l}")
        last = f"mul{l}"
        if layer.bias:
            dot.edge(last, f"add{l}", weight="10")
            dot.edge(f"b{l}", f"add{l}")
            last = f"add{l}"
        s_nodes, x_nodes = cache[f"s{l}"], cache[f"x{l}"]
        vnode(f"s{l}", f"s{l}", vec(s_nodes), gvec(s_nodes))
        dot.edge(last, f"s{l}", weight="10")
        act = layer.activation_name or "f"
        if x_nodes[0] is not s_nodes[0]:
            symbol = symbol_of(act) or act
            with dot.subgraph(name=f"cluster_act{l}") as box:
                box.attr(label=act, style="rounded,filled", fillcolor="#e4e4e4", color="#999999",
                         fontsize="10")
                box.node(f"act{l}", symbol, shape="square", style="filled", fillcolor="#cfe8c4")
            dot.edge(f"s{l}", f"act{l}", weight="10")
            vnode(f"x{l}", f"x{l}", vec(x_nodes), gvec(x_nodes))
            dot.edge(f"act{l}", f"x{l}", weight="10")
            prev = f"x{l}"
        else:
            prev = f"s{l}"
    if E is not None:
        what = "E = ½‖x − y‖²" if loss == "half" else "E = ‖x − y‖²"
        dot.node("y", label("y", "y", np.atleast_1d(np.asarray(y, dtype=float)), None, "#eeeeee"),
                 shape="plain")
        dot.node("E", label(what, "E", np.array([E.data]), None, "#fde2c8"), shape="plain")
        dot.edge(prev, "E", weight="10")
        dot.edge("y", "E")
    for key in sorted(marks & _op_keys(model)):  # operation boxes: an orange outline
        dot.node(key, color=HIGHLIGHT, penwidth="3")
    return dot


def _op_keys(model):
    return {f"{kind}{layer.index}" for layer in model.layers for kind in ("mul", "add", "act")}


def _vector_label(name, values, grads, digits, fill, scale=0.1, mark=False, hide_values=False,
                  hide_grads=False):
    """An HTML label: the vector's name over a column of numbers (a matrix as rows),
    and the gradients in a second column when known; ``mark`` draws an orange border,
    ``hide_values``/``hide_grads`` show ``?`` instead of the numbers."""
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.ndim == 1:
        values = values.reshape(-1, 1)
        grads = None if grads is None else np.asarray(grads, dtype=float).reshape(-1, 1)
    cols = values.shape[1]
    span = cols * (2 if grads is not None else 1)
    head = f'<TR><TD COLSPAN="{span}"><B>{_esc(name)}</B></TD></TR>'
    rows = []
    for r in range(values.shape[0]):
        cells = "".join(f'<TD ALIGN="RIGHT">{"?" if hide_values else _esc(format_number(v, digits))}</TD>'
                        for v in values[r])
        if grads is not None:
            cells += "".join(f'<TD ALIGN="RIGHT" BGCOLOR="{"#ffffff" if hide_grads else grad_colour(g, scale)}"><FONT POINT-SIZE="9">'
                             f'{"?" if hide_grads else _esc(format_number(g, digits))}</FONT></TD>' for g in grads[r])
        rows.append(f"<TR>{cells}</TR>")
    if grads is not None:
        rows.append(f'<TR><TD COLSPAN="{cols}"><FONT POINT-SIZE="8">value</FONT></TD>'
                    f'<TD COLSPAN="{cols}"><FONT POINT-SIZE="8">dE/d{_esc(name)}</FONT></TD></TR>')
    border = f'BORDER="3" COLOR="{HIGHLIGHT}"' if mark else 'BORDER="1"'
    return (f'<<TABLE {border} CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{fill}">'
            f'{head}{"".join(rows)}</TABLE>>')


# ---------------------------------------------------------------- rendering


_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None}
#: first line of a DOT file that render wrote because Graphviz was missing
FALLBACK_MARK = "// micrograd_mlp render: Graphviz was missing, this is the DOT text\n"


def fallback_dot_path(path: Path) -> Path:
    """Where :func:`render` puts the DOT text when Graphviz is missing: ``f.dot`` beside
    ``f.svg``, unless a ``f.dot`` exists that render did not write itself (its first
    line is not :data:`FALLBACK_MARK`): then ``f.svg.dot``, ``f.svg.1.dot``, ... the first
    free or render-written name. A user's own file is never overwritten."""
    candidates = [path.with_suffix(".dot"), path.with_name(path.name + ".dot")]
    n = 1
    while True:
        for c in candidates:
            if not c.exists():
                return c
            try:
                with open(c, encoding="utf-8", errors="replace") as f:
                    if f.readline() == FALLBACK_MARK:
                        return c
            except OSError:
                pass
        candidates = [path.with_name(f"{path.name}.{n}.dot")]
        n += 1


def render(graph_or_value, path, dpi: Optional[int] = None, **draw_kwargs) -> Path:
    """Write a drawing to ``path``; the format comes from the extension: ``.svg``,
    ``.png``, ``.pdf`` (rendered by Graphviz ``dot``) or ``.dot``/``.gv`` (the source
    text). ``graph_or_value`` is a ``graphviz.Digraph`` or a Value (drawn with
    :func:`draw_dot` and ``draw_kwargs``). ``dpi`` sets the PNG resolution.

    Without the ``dot`` program the DOT text is written next to the target (same name,
    ``.dot``; :func:`fallback_dot_path` says which file, never one the user wrote) and
    :class:`GraphvizMissingError` says where it is and how to install Graphviz."""
    import graphviz

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _FORMATS:
        raise ArgumentError(f"render(): cannot tell the format of {str(path)!r}; use a file name "
                         f"ending in {', '.join(_FORMATS)}")
    graph = draw_dot(graph_or_value, **draw_kwargs) if isinstance(graph_or_value, Value) \
        else graph_or_value
    if draw_kwargs and not isinstance(graph_or_value, Value):
        raise TypeError("render(): drawing options apply only when given a Value")
    if dpi is not None and ext == ".png":
        graph = graph.copy()
        graph.attr(dpi=str(int(dpi)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = _FORMATS[ext]
    if fmt is None:
        path.write_text(graph.source, encoding="utf-8")
        return path
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        dot_path = fallback_dot_path(path)
        dot_path.write_text(FALLBACK_MARK + graph.source, encoding="utf-8")
        raise GraphvizMissingError(
            f"cannot write {path}: the Graphviz 'dot' program was not found on PATH. To render "
            f"drawings, {INSTALL_HINT}. The DOT text was written to {dot_path} (render it "
            f"later with: dot -T{fmt} {dot_path} -o {path})") from None
    path.write_bytes(data)
    return path
