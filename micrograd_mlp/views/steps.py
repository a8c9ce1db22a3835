"""Exercise-level steps: an MLP's forward and backward pass the way a hand solution
writes them, one vector (or matrix) per step, layer by layer.

For a network built by :class:`~micrograd_mlp.nets.mlp.MLP` (its forward pass records
``model.intermediates``: ``x0, s1, x1, ...``) and a loss ``E`` on its output::

    forward   s_l = W_l x_(l-1) + b_l          x_l = f(s_l)          E
    backward  dE/dx_L                          (from the loss, e.g. x_L - y)
              f'(s_l)                          (e.g. sigma'(s_l) = x_l (1 - x_l))
              dE/ds_l = dE/dx_l * f'(s_l)      (elementwise)
              dE/dW_l = dE/ds_l x_(l-1)^T      (outer product)
              dE/db_l = dE/ds_l
              dE/dx_(l-1) = W_l^T dE/ds_l      (then layer l-1, down to layer 1)

Every number is read from the graph, never recomputed by these formulas: forward values
are the nodes' data, gradients come from the trace replay (:func:`gradients`), ``f'(s)``
is the activation's local derivative in the collapsed view. The formulas only explain
the numbers; each sum is shown added up term by term (``0.0442 + (-0.0051) = 0.0390``).

* :func:`exercise_steps` -- the steps as :class:`VectorStep` objects;
* :func:`format_steps` -- as text, Markdown or LaTeX-free plain lines for the CLI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.validate import check_flag, check_int, check_text
from ..core.engine import Value
from ..core.graph_walk import topological_order
from ..errors import ArgumentError, DataTypeError, TraceInputError
from ..functions.composite import COMPOSITES, short_name
from .trace import traced_gradients
from .viewmodel import Namer, build_view, fill_template, format_number, paren

__all__ = ["Entry", "VectorStep", "ExerciseSteps", "exercise_steps", "format_steps",
           "is_network", "define_intermediates"]



@dataclass
class Entry:
    """One number of a step: ``name = formula = numbers = terms added up = value``.

    ``formula`` is in the exercise's names (``dE/dx2[0] * sigma'(s2[0])``), ``numbers``
    the same with the numbers put in, ``terms`` the values of the added terms of a
    sum (empty when the entry is not a sum)."""

    name: str
    value: float
    formula: str = ""
    numbers: str = ""
    terms: Tuple[float, ...] = ()

    def line(self, digits: int = 4) -> str:
        """``dE/dx1[0] = formula = numbers = t1 + t2 = value`` (parts left out when
        they would repeat the value)."""
        parts = [self.name]
        result = format_number(self.value, digits)
        for part in (self.formula, self.numbers, self.added(digits)):
            if part and part.strip("()") != result and part not in parts:
                parts.append(part)
        parts.append(result)
        return " = ".join(parts)

    def added(self, digits: int = 4) -> str:
        """The terms of a sum at ``digits`` decimals: ``0.0442 + (-0.0051)``."""
        if len(self.terms) < 2:
            return ""
        return " + ".join(paren(format_number(t, digits)) for t in self.terms)

    def hint(self, digits: int = 4) -> str:
        """What the number is built from, without its value (for a quiz)."""
        parts = [self.name] + [p for p in (self.formula, self.numbers) if p]
        return " = ".join(parts) if len(parts) > 1 else f"{self.name}: given by the step's formula"


@dataclass
class VectorStep:
    """One step of the hand solution: a vector or matrix ``name`` (``dE/ds2``), its
    ``formula`` in the exercise's notation, its ``value`` (numpy array, rows = neurons
    for weight matrices), one :class:`Entry` per component, the ``key`` it fills in the
    vector view (``"s2"`` or ``"dE/ds2"``) and the view's boxes to ``highlight``."""

    index: int
    phase: str
    name: str
    formula: str
    value: np.ndarray
    entries: List[Entry]
    key: str
    highlight: Tuple[str, ...] = ()

    def caption(self, digits: int = 4) -> str:
        """The step as text: a header line and one line per component."""
        head = f"Step {self.index} ({self.phase}): {self.formula}"
        return "\n".join([head] + ["  " + e.line(digits) for e in self.entries])


@dataclass
class ExerciseSteps:
    """The steps of one network and sample, with what the vector view needs to draw
    them: the ``model``, input ``x``, target ``y`` and ``loss`` (``"half"``, ``"full"``
    or None when the loss is not a squared error)."""

    steps: List[VectorStep]
    model: object
    x: np.ndarray
    y: Optional[np.ndarray]
    loss: Optional[str]
    root_name: str = "E"
    given: Dict[str, np.ndarray] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def numbers(self) -> Dict[str, object]:
        """``{step name: value as nested lists}`` for every step (JSON-ready)."""
        return {s.name: np.asarray(s.value, dtype=float).tolist() for s in self.steps}


def is_network(model, root: Value) -> bool:
    """True when ``model`` is an MLP whose last forward pass is part of ``root``'s graph
    (so the exercise-level steps can be read from it)."""
    cache = getattr(model, "intermediates", None)
    if not cache or not hasattr(model, "layers"):
        return False
    last = cache.get(f"x{len(model.layers)}")
    return bool(last) and any(n is last[0] for n in topological_order(root))


class _Net:
    """The graph read layer by layer: values, gradients and activation derivatives."""

    def __init__(self, root: Value, model, shown=None):
        if not is_network(model, root):
            raise TraceInputError("exercise-level steps need an MLP whose last forward pass "
                                  "feeds the root (call the model, then the loss, then trace)")
        self.root, self.model = root, model
        self.cache = model.intermediates
        if any(isinstance(n.data, np.ndarray) for nodes in self.cache.values() for n in nodes):
            raise TraceInputError("exercise-level steps follow one sample: call the model on one "
                                  "input (a list of numbers), not on a batch")
        self.grads = traced_gradients(root, collapse=True)
        self.view = build_view(root, collapse=True)
        self.rname = root.label or "E"
        self.shown = shown or {}

    def val(self, node: Value) -> float:
        """The node's forward value (as carried, when ``shown`` replaces it)."""
        return float(self.shown.get(("value", node), node.data))

    def grad(self, node: Value) -> float:
        """``dE/d node`` from the replayed backward pass (0 when none reaches it), or
        the carried value ``shown`` gives."""
        return float(self.shown.get(("grad", node), self.grads.get(node, 0.0)))

    def activated(self, l: int) -> bool:
        """True when layer ``l`` has an activation (``x_l`` is not ``s_l`` itself)."""
        return self.cache[f"x{l}"][0] is not self.cache[f"s{l}"][0]

    def out_name(self, l: int) -> str:
        """The name of layer ``l``'s output vector (``x_l``, or ``s_l`` without activation)."""
        return f"x{l}" if l == 0 or self.activated(l) else f"s{l}"

    def local(self, x: Value, s: Value) -> float:
        """``dx/ds`` of the activation, as the collapsed view computed it (or carried)."""
        if ("local", x) in self.shown:
            return float(self.shown[("local", x)])
        for edge in self.view.edges.get(x, ()):
            if edge.inp is s:
                return float(edge.local)
        raise TraceInputError(f"cannot find the activation between {s.label} and {x.label}")


def _vector(entries: Sequence[Entry], shape=None) -> np.ndarray:
    arr = np.array([e.value for e in entries], dtype=float)
    return arr.reshape(shape) if shape is not None else arr


def _forward_steps(net: _Net, digits: int) -> List[Tuple]:
    """(phase, name, formula, entries, shape, key, highlight) of the forward pass."""
    out = []
    for layer in net.model.layers:
        l = layer.index
        prev, xs = net.out_name(l - 1), net.cache[f"x{l - 1}"]
        entries = []
        for i, (neuron, s) in enumerate(zip(layer.neurons, net.cache[f"s{l}"])):
            names = [f"W{l}[{i},{j}] * {prev}[{j}]" for j in range(len(xs))]
            nums = [f"{paren(format_number(net.val(w), digits))} * {paren(format_number(net.val(x), digits))}"
                    for w, x in zip(neuron.w, xs)]
            terms = [net.val(w) * net.val(x) for w, x in zip(neuron.w, xs)]
            if layer.bias:
                names.append(f"b{l}[{i}]")
                nums.append(paren(format_number(net.val(neuron.b), digits)))
                terms.append(net.val(neuron.b))
            entries.append(Entry(f"s{l}[{i}]", float(net.val(s)), " + ".join(names), " + ".join(nums),
                                 tuple(terms)))
        plus = f" + b{l}" if layer.bias else ""
        keys = (prev, f"W{l}", f"mul{l}", f"s{l}") + ((f"b{l}", f"add{l}") if layer.bias else ())
        out.append(("forward", f"s{l}", f"s{l} = W{l} {prev}{plus}", entries, None, f"s{l}", keys))
        if net.activated(l):
            act = _short(layer.activation_name)
            entries = [Entry(f"x{l}[{i}]", float(net.val(x)), f"{act}(s{l}[{i}])",
                             f"{act}({format_number(net.val(s), digits)})")
                       for i, (s, x) in enumerate(zip(net.cache[f"s{l}"], net.cache[f"x{l}"]))]
            out.append(("forward", f"x{l}", f"x{l} = {act}(s{l})", entries, None, f"x{l}",
                        (f"s{l}", f"act{l}", f"x{l}")))
    out.append(_loss_step(net, digits))
    return out


def _short(activation_name: str) -> str:
    return short_name(activation_name) or activation_name or "f"


def _loss_kind(net: _Net):
    """The registry entry of the loss at the root when it declares a per-output term
    and gradient (``term``, ``output_gradient``), else None: the steps read the loss's
    formulas from its entry, never from its name."""
    group = net.view.groups.get(net.root)
    entry = COMPOSITES.get(group.name) if group is not None else None
    if entry is None or not (entry.term and entry.output_gradient and entry.term_fn):
        return None
    return entry


def _vector_form(template: str, top: str) -> str:
    """A per-output term written for whole vectors: ``1/2 * ({out} - {target})^2`` ->
    ``1/2 ||x2 - y||^2``."""
    inner = template.replace("{out} - {target}", f"{top} - y")
    return inner.replace(f"({top} - y)^2", f"||{top} - y||^2").replace(" * ||", " ||")


def _targets(net: _Net) -> Optional[List[Value]]:
    """The constant targets the loss compares the outputs with, in the outputs' order
    (target ``k`` is the constant that meets output ``k`` in one node, as in ``x - y``)."""
    ys = [e.inp for e in net.view.edges.get(net.root, ()) if not e.inp.requires_grad]
    outs = net.cache[f"x{len(net.model.layers)}"]
    if len(ys) != len(outs):
        return None
    partner = {}
    for node in topological_order(net.root):
        ids = [id(p) for p in node.parents]
        for y in ys:
            for k, o in enumerate(outs):
                if id(y) in ids and id(o) in ids:
                    partner.setdefault(k, y)
    return [partner[k] for k in range(len(outs))] if len(partner) == len(outs) else ys


def _loss_step(net: _Net, digits: int) -> Tuple:
    L = len(net.model.layers)
    top, outs, ys = net.out_name(L), net.cache[f"x{L}"], _targets(net)
    kind = _loss_kind(net)
    keys = (top, "y", "E")
    if kind is None or ys is None:
        group = net.view.groups.get(net.root)
        formula = COMPOSITES[group.name].formula if group is not None and group.name in COMPOSITES \
            else f"{net.rname} = loss({top}, y)"
        entry = Entry(net.rname, float(net.val(net.root)))
        return ("forward", net.rname, formula, [entry], None, "E", keys)
    names = [kind.term.format(out=f"{top}[{i}]", target=f"y[{i}]") for i in range(len(outs))]
    nums = [kind.term.format(out=format_number(net.val(o), digits),
                             target=format_number(net.val(y), digits)) for o, y in zip(outs, ys)]
    terms = tuple(float(kind.term_fn(net.val(o), net.val(y))) for o, y in zip(outs, ys))
    what = f"{net.rname} = {_vector_form(kind.term, top)}"
    entry = Entry(net.rname, float(net.val(net.root)), " + ".join(names), " + ".join(nums), terms)
    return ("forward", net.rname, what, [entry], None, "E", keys)


def _output_gradient(net: _Net, digits: int) -> Tuple:
    L = len(net.model.layers)
    top, outs, ys, r = net.out_name(L), net.cache[f"x{L}"], _targets(net), net.rname
    kind = _loss_kind(net)
    if kind is None or ys is None:
        group = net.view.groups.get(net.root)
        rule = COMPOSITES[group.name].derivative if group is not None and group.name in COMPOSITES \
            else "the loss's derivative"
        entries = [Entry(f"d{r}/d{top}[{i}]", net.grad(o)) for i, o in enumerate(outs)]
        formula = f"d{r}/d{top} from the loss: {rule}"
    else:
        template = kind.output_gradient
        entries = [Entry(f"d{r}/d{top}[{i}]", net.grad(o),
                         template.format(out=f"{top}[{i}]", target=f"y[{i}]"),
                         template.format(out=format_number(net.val(o), digits),
                                         target=paren(format_number(net.val(y), digits))))
                   for i, (o, y) in enumerate(zip(outs, ys))]
        formula = f"d{r}/d{top} = " + template.format(out=top, target="y")
    return ("backward", f"d{r}/d{top}", formula, entries, None, f"d{r}/d{top}", (top, "y", "E"))


def _layer_backward(net: _Net, layer, digits: int) -> List[Tuple]:
    """The steps of one layer: f'(s), dE/ds, dE/dW, dE/db, dE/dx of the layer below."""
    l, r = layer.index, net.rname
    ss, xs = net.cache[f"s{l}"], net.cache[f"x{l}"]
    below, prev = net.cache[f"x{l - 1}"], net.out_name(l - 1)
    out = []
    ds = f"d{r}/ds{l}"
    if net.activated(l):
        act = _short(layer.activation_name)
        locals_ = [net.local(x, s) for s, x in zip(ss, xs)]
        rule, numbers = _derivative_rule(layer.activation_name, l, digits, xs, net)
        out.append(("backward", f"{act}'(s{l})", f"{act}'(s{l}) = {rule(f'x{l}', f's{l}')}",
                    [Entry(f"{act}'(s{l}[{i}])", v, rule(f"x{l}[{i}]", f"s{l}[{i}]"), numbers(i))
                     for i, v in enumerate(locals_)], None, f"{act}'(s{l})",
                    (f"s{l}", f"act{l}", f"x{l}")))
        out.append(("backward", ds, f"{ds} = d{r}/dx{l} * {act}'(s{l})   (elementwise)",
                    [Entry(f"{ds}[{i}]", net.grad(s), f"d{r}/dx{l}[{i}] * {act}'(s{l}[{i}])",
                           f"{paren(format_number(net.grad(x), digits))} * "
                           f"{paren(format_number(v, digits))}")
                     for i, (s, x, v) in enumerate(zip(ss, xs, locals_))],
                    None, ds, (f"x{l}", f"act{l}", f"s{l}")))
    rows, cols = len(ss), len(below)
    dW = [Entry(f"d{r}/dW{l}[{i},{j}]", net.grad(n.w[j]), f"{ds}[{i}] * {prev}[{j}]",
                f"{paren(format_number(net.grad(ss[i]), digits))} * "
                f"{paren(format_number(net.val(below[j]), digits))}")
          for i, n in enumerate(layer.neurons) for j in range(cols)]
    out.append(("backward", f"d{r}/dW{l}", f"d{r}/dW{l} = {ds} {prev}^T   (outer product)",
                dW, (rows, cols), f"d{r}/dW{l}", (f"s{l}", f"mul{l}", f"W{l}", prev)))
    if layer.bias:
        db = [Entry(f"d{r}/db{l}[{i}]", net.grad(n.b), f"{ds}[{i}]") for i, n in enumerate(layer.neurons)]
        out.append(("backward", f"d{r}/db{l}", f"d{r}/db{l} = {ds}", db, None, f"d{r}/db{l}",
                    (f"s{l}", f"add{l}", f"b{l}")))
    if below[0].requires_grad:
        out.append(_input_gradient(net, layer, digits))
    return out


def _input_gradient(net: _Net, layer, digits: int) -> Tuple:
    """``dE/dx_(l-1) = W_l^T dE/ds_l``, each component a sum shown added up."""
    l, r = layer.index, net.rname
    ss, below, prev = net.cache[f"s{l}"], net.cache[f"x{l - 1}"], net.out_name(l - 1)
    entries = []
    for j, x in enumerate(below):
        names = [f"W{l}[{i},{j}] * d{r}/ds{l}[{i}]" for i in range(len(ss))]
        nums = [f"{paren(format_number(net.val(n.w[j]), digits))} * "
                f"{paren(format_number(net.grad(s), digits))}" for n, s in zip(layer.neurons, ss)]
        terms = tuple(net.val(n.w[j]) * net.grad(s) for n, s in zip(layer.neurons, ss))
        entries.append(Entry(f"d{r}/d{prev}[{j}]", net.grad(x), " + ".join(names),
                             " + ".join(nums), terms))
    return ("backward", f"d{r}/d{prev}", f"d{r}/d{prev} = W{l}^T d{r}/ds{l}", entries, None,
            f"d{r}/d{prev}", (f"s{l}", f"mul{l}", f"W{l}", prev))


def _derivative_rule(activation: str, l: int, digits: int, xs, net: "_Net"):
    """``(rule(x_name, s_name) -> text, numbers(i) -> text)`` for ``f'(s)``: through
    the layer's output when the activation's registry entry declares that form
    (``x * (1 - x)``, as by hand), else its registered derivative with ``x`` replaced by
    the pre-activation."""
    info = COMPOSITES.get(activation)
    form = info.output_derivative if info is not None else ""
    if form:
        return (lambda x, s: form.format(out=x),
                lambda i: form.format(out=paren(format_number(net.val(xs[i]), digits))))
    text = info.derivative if info is not None and info.derivative else ""
    if "=" in text:  # "ReLU'(x) = 1 if x > 0 else 0": the right-hand side
        text = text.split("=", 1)[1].strip()
    return (lambda x, s: re.sub(r"\bx\b", s, text) if text else f"d{x}/d{s}", lambda i: "")


def exercise_steps(root: Value, model, digits: int = 4, forward: bool = True,
                   shown=None) -> ExerciseSteps:
    """The hand solution's steps for ``model`` (an MLP whose last forward pass feeds
    ``root``): the forward vectors (``forward=True``) then, from the output layer back,
    ``dE/dx_L``, ``f'(s_l)``, ``dE/ds_l``, ``dE/dW_l``, ``dE/db_l``, ``dE/dx_(l-1)``.
    ``digits`` sets the decimals of the numbers written into the formulas.
    ``shown``: numbers to show instead of the graph's, ``{("value" | "grad" | "local",
    node): number}`` (the rounded-carry solution of an exercise)."""
    forward = check_flag(forward, "forward")
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    if shown is not None and not isinstance(shown, dict):
        raise DataTypeError(f"shown must be a dict {{(kind, node): number}}, not "
                            f"{type(shown).__name__}")
    net = _Net(root, model, shown)
    raw = _forward_steps(net, digits) if forward else []
    raw.append(_output_gradient(net, digits))
    for layer in reversed(model.layers):
        raw.extend(_layer_backward(net, layer, digits))
    steps = [VectorStep(i, phase, name, formula, _vector(entries, shape), entries, key, keys)
             for i, (phase, name, formula, entries, shape, key, keys) in enumerate(raw, 1)]
    ys = _targets(net)
    kind = _loss_kind(net)
    # the vector view writes the loss as "half" (1/2 ||x - y||^2) or "full"
    loss = None if kind is None or ys is None else \
        ("half" if kind.term.startswith("1/2") else "full")
    x = np.array([v.data for v in net.cache["x0"]], dtype=float)
    y = None if ys is None else np.array([v.data for v in ys], dtype=float)
    given = {"x0": x}
    for layer in model.layers:
        given[f"W{layer.index}"] = layer.weight_matrix()
        if layer.bias:
            given[f"b{layer.index}"] = layer.bias_vector()
    if y is not None:
        given["y"] = y
    return ExerciseSteps(steps, model, x, y, loss, net.rname, given)


def format_steps(steps: ExerciseSteps, fmt: str = "text", digits: int = 4) -> str:
    """The steps as ``"text"`` (a header per step, one line per component) or
    ``"markdown"`` (a section per step with the lines in a code block)."""
    if not isinstance(steps, ExerciseSteps):
        raise DataTypeError(f"steps must be the ExerciseSteps of exercise_steps(...), not "
                            f"{type(steps).__name__} ({steps!r:.40})")
    if check_text(fmt, "fmt") not in ("text", "markdown"):
        raise ArgumentError(f"unknown format {fmt!r:.40}; expected 'text' or 'markdown'")
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    out = []
    for step in steps:
        if fmt == "text":
            out.append(step.caption(digits))
        else:
            out.append(f"**Step {step.index} ({step.phase}):** `{step.formula}`\n\n```text\n"
                       + "\n".join(e.line(digits) for e in step.entries) + "\n```\n")
    return "\n".join(out) + "\n"


def define_intermediates(root: Value, collapse=True, digits: int = 4, fmt: str = "text") -> str:
    """The definitions of the intermediates a ledger names ``t1, t2, ...`` (those whose
    expression is too long to write out), in forward order so each is defined before
    it is used: ``t44 = exp(s2[0] - relu(s2[0])) + t43 = 1.8080``. Empty when the
    ledger names none; ``fmt="latex"`` gives the lines as LaTeX comments."""
    view = build_view(root, collapse)
    namer = Namer(view.order, view=view)
    namer.root = root
    lines = []
    for node in view.visible:
        if not node.parents or node.label or node in view.folded:
            continue
        name = namer(node, atom=False)
        if not re.fullmatch(r"t\d+", name):
            continue
        group = view.groups.get(node)
        if group is not None:
            ins = ", ".join(namer(e.inp, atom=False) for e in view.edges.get(node, ()))
            text = f"{short_name(group.name) or group.name}({ins})"
        else:
            text = fill_template(node.primitive.text, node, namer)
        lines.append(f"{name} = {text} = {format_number(node.data, digits)}")
    if not lines:
        return ""
    if fmt == "latex":
        return "".join(f"% {line}\n" for line in lines)
    if fmt == "markdown":
        return "Where:\n\n```text\n" + "\n".join(lines) + "\n```\n\n"
    return "Where (defined in forward order):\n" + "".join(f"  {line}\n" for line in lines)
