"""The vector-level drawing of an MLP (Figure 1 of seed 001): one box per vector and
per layer's affine map and activation, each vector with its numbers and gradients."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..core.validate import check_choice, check_int, check_iterable
from ..core.validate_values import check_values
from ..core.engine import Value, sum_values
from ..errors import DataTypeError, ShapeError
from ..functions.targets import numeric_array
from ..functions.composite import symbol_of
from .dot_style import FONT, HIGHLIGHT, esc, esc_attr, grad_colour
from .trace import traced_gradients
from .viewmodel import format_number

__all__ = ["draw_mlp"]


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

    check_choice(loss, "loss", ("half", "full"))
    check_choice(rankdir, "rankdir", ("LR", "TB", "RL", "BT"))
    check_int(digits, "digits", minimum=0, maximum=17)
    if not isinstance(title, str):
        raise DataTypeError(f"title must be a str, not {type(title).__name__}")
    for name, keys in (("highlight", highlight), ("hidden", hidden)):
        if not all(isinstance(k, str) for k in check_iterable(keys, name)):
            raise DataTypeError(f"{name} must be a list of box names (str)")
    cache, E, grads = _forward_and_loss(model, x, y, loss)
    scale = max([abs(float(g)) for n, g in grads.items() if n is not E] or [0.0])

    def vec(nodes):
        return np.array([n.data for n in nodes], dtype=float)

    def gvec(nodes):
        return None if not grads else np.array([grads.get(n, 0.0) for n in nodes], dtype=float)

    dot = graphviz.Digraph("mlp")
    dot.attr(rankdir=rankdir, fontname=FONT, nodesep="0.3", ranksep="0.3")
    if title:
        dot.attr(label=esc_attr(title), labelloc="t", fontsize="14")
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
        prev = _draw_layer(dot, layer, cache, grads, prev, label, vnode, vec, gvec)
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


def _forward_and_loss(model, x, y, loss):
    """Run ``model`` on ``x``; with targets ``y`` also the loss ``E`` and every
    gradient ``dE/dnode`` (by the trace replay, no ``Value.grad`` changes)."""
    if not hasattr(model, "forward") or not hasattr(model, "layers"):
        raise DataTypeError(f"draw_mlp needs an MLP, not {type(model).__name__}")
    xs = [v if isinstance(v, Value) else Value(v, f"x0[{j}]")
          for j, v in enumerate(check_values(x, "draw_mlp: x", numbers_too=True))]
    outs = model.forward(xs)
    if y is None:
        return model.intermediates, None, {}
    ys = numeric_array(y, "draw_mlp: y").astype(float).ravel()
    if ys.size != len(outs):
        raise ShapeError(f"draw_mlp: {len(outs)} outputs but {ys.size} targets")
    E = sum_values([(o - float(t)) ** 2 for o, t in zip(outs, ys)])
    E = E * 0.5 if loss == "half" else E
    E.label = "E"
    return model.intermediates, E, traced_gradients(E)


def _draw_layer(dot, layer, cache, grads, prev, label, vnode, vec, gvec) -> str:
    """Layer ``l``'s boxes: ``[W_l x + b_l]``, ``s_l``, the activation and ``x_l``,
    joined to the vector ``prev`` that feeds it; returns the key of its output."""
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
        return f"x{l}"
    return f"s{l}"


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
    head = f'<TR><TD COLSPAN="{span}"><B>{esc(name)}</B></TD></TR>'
    rows = []
    for r in range(values.shape[0]):
        cells = "".join(f'<TD ALIGN="RIGHT">{"?" if hide_values else esc(format_number(v, digits))}</TD>'
                        for v in values[r])
        if grads is not None:
            cells += "".join(f'<TD ALIGN="RIGHT" BGCOLOR="{"#ffffff" if hide_grads else grad_colour(g, scale)}"><FONT POINT-SIZE="9">'
                             f'{"?" if hide_grads else esc(format_number(g, digits))}</FONT></TD>' for g in grads[r])
        rows.append(f"<TR>{cells}</TR>")
    if grads is not None:
        rows.append(f'<TR><TD COLSPAN="{cols}"><FONT POINT-SIZE="8">value</FONT></TD>'
                    f'<TD COLSPAN="{cols}"><FONT POINT-SIZE="8">dE/d{esc(name)}</FONT></TD></TR>')
    border = f'BORDER="3" COLOR="{HIGHLIGHT}"' if mark else 'BORDER="1"'
    return (f'<<TABLE {border} CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{fill}">'
            f'{head}{"".join(rows)}</TABLE>>')
