"""The :class:`Primitive` row and the table :data:`PRIMITIVES` it lives in.

A row holds everything about one operation (forward rule, local derivatives, the
templates views write it with, its precedence ...). :func:`register_primitive` adds a
row and :func:`unregister_primitive` removes one; listeners (the engine) hear of every
change through :func:`on_registration`. The engine's own rows are written in
:mod:`micrograd_mlp.core.primitives`; the names here are imported from here only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set, Tuple

from ..errors import ArgumentError, DataTypeError

__all__ = ["Primitive", "PRIMITIVES", "register_primitive", "unregister_primitive",
           "on_registration", "add_row", "seal_built_ins", "BUILT_IN", "ATOM",
           "DEFAULT_VARIABLES"]

#: The precedence of a name, a number or a function call: never parenthesised.
ATOM = 5

# the names the templates use for the inputs, by number of inputs (None: any number)
DEFAULT_VARIABLES = {1: ("u",), 2: ("u", "v"), 3: ("c", "u", "v"), None: ("u_i",)}


@dataclass(frozen=True, slots=True)
class Primitive:
    """One operation of the engine, everything about it in one row.

    * ``name`` -- the key stored in ``Value.op``; ``symbol`` -- what a drawing shows in
      the operation node; ``arity`` -- the number of inputs (None: any number);
    * ``forward(*xs) -> out`` on the inputs' data; ``partials(out, *xs) -> (d out/d x_1,
      ..., d out/d x_n)``, the local derivatives on the same data (``out`` is passed so
      ``d tanh(u)/du = 1 - tanh(u)^2`` reuses the forward result);
    * ``text``/``latex`` -- the expression as a template in the input names
      (``"{u} + {v}"``, ``"\\\\frac{{{u}}}{{{v}}}"``); an n-ary row writes ``{args}``,
      the inputs joined by ``joiner``; ``local_text``/``local_latex`` -- one template
      per input for ``d out/d input`` (one for all inputs of an n-ary row, which may
      name the input ``{u_i}``); ``"1"`` is left out of products;
    * ``precedence`` -- how tightly the expression binds (1 sums, 2 products, 3 a
      negation, 4 powers, ``ATOM`` = 5 names and calls); ``operand_precedence`` -- the
      precedence each input needs to go without parentheses (None: the inputs are
      arguments of a call, never parenthesised);
    * ``constant_input`` -- an input (the exponent of ``u^c``) that is a number known
      when the graph is built: a drawing writes it into ``constant_symbol``
      (``"^{c}"`` gives ``^2``) and hides its node, and ``constant_local(c)`` gives the
      derivative templates ``(text, latex)`` with the number put in (``2 * {u}``);
    * ``check(*xs) -> message or None`` -- the inputs outside the domain (``log`` of a
      non-positive number ...); ``method`` -- the ``Value`` method (and expression-
      language function) it is called by, ``""`` for none; ``doc`` -- its description;
    * ``batched`` -- the name of a replay rule (``"n_ary_sum"``, ``"batch_sum"``,
      registered with ``core.recorder.register_batched_rule``) that runs whole blocks
      of this op's nodes at once; None: replay's generic way (forward and partials on
      stacked arrays);
    * ``compiled_forward``, ``compiled_partials``, ``compiled_check`` -- the same rules
      on single floats, written so numba can compile them (``math`` and plain float
      arithmetic, no numpy): ``compiled_forward(*xs) -> out``,
      ``compiled_partials(out, *xs) -> (d out/d x_1, ...)`` (a tuple, one float per
      input), ``compiled_check(*xs) -> True`` when the inputs are outside the domain
      (the message is then ``check``'s). They run in the compiled tape
      (:mod:`micrograd_mlp.core.tape`), with numpy's floating-point rules (a division by
      0 gives inf, an overflow inf). A built-in n-ary row names a kernel case of the
      tape instead (``compiled_forward="sum"``). A row without them replays with numpy;
    * ``piecewise`` -- True when a local derivative of exactly 0 means "this input's
      branch was not taken" (relu, where, max): the chain rule then gives the input 0,
      whatever arrives from above, also an infinite or NaN gradient (a mask, not a
      product; see ``core.engine.contribution``);
    * ``off_where`` -- for a one-input piecewise row whose local derivative is 1
      wherever it is not 0 (relu): ``off_where(out, u)``, where it is 0 (booleans).
      The row's ``partials`` are then ``1 - [off_where]``, written from it, and a layer
      of replay applies the chain rule as one masked copy (``G_u = G_out``, 0 where
      off) instead of computing the derivative and multiplying;
    * ``bilinear`` -- True for ``u * v``: linear in each input, ``d/du = v``,
      ``d/dv = u``; replay turns a sum of such products into one matrix product.
    """

    name: str
    symbol: str
    forward: Callable
    partials: Callable
    arity: Optional[int]
    text: str
    latex: str
    local_text: Tuple[str, ...]
    local_latex: Tuple[str, ...]
    precedence: int = ATOM
    operand_precedence: Optional[Tuple[int, ...]] = None
    joiner: str = ", "
    variables: Tuple[str, ...] = ()
    constant_input: Optional[int] = None
    constant_symbol: str = ""
    constant_local: Optional[Callable] = None
    check: Optional[Callable] = None
    method: str = ""
    doc: str = ""
    batched: Optional[object] = None
    compiled_forward: Optional[object] = None
    compiled_partials: Optional[Callable] = None
    compiled_check: Optional[Callable] = None
    piecewise: bool = False
    bilinear: bool = False
    off_where: Optional[Callable] = None

    @property
    def compiled(self) -> bool:
        """True when the row can run in the compiled tape: a compiled forward and
        partials, and a compiled check whenever the row has a check."""
        return (self.compiled_forward is not None
                and (isinstance(self.compiled_forward, str) or self.compiled_partials is not None)
                and (self.check is None or self.compiled_check is not None
                     or isinstance(self.compiled_forward, str)))

    def inputs(self) -> Tuple[str, ...]:
        """The names the templates use for the inputs (``u``, ``v`` ...)."""
        return self.variables or DEFAULT_VARIABLES[self.arity]

    def fill(self, template: str, names, index: int = 0) -> str:
        """Put the inputs' ``names`` into ``template`` (``index``: the input an n-ary
        row's ``{u_i}`` stands for)."""
        if self.arity is None:
            return template.format(args=self.joiner.join(names), u_i=names[index])
        return template.format(**dict(zip(self.inputs(), names)))

    @property
    def expr(self) -> str:
        """The expression in the input names: ``u + v``, ``u_1 + ... + u_n``."""
        if self.arity is None:
            return self.fill(self.text, ["u_1", "...", "u_n"], 1)
        return self.fill(self.text, self.inputs())

    @property
    def dexprs(self) -> Tuple[str, ...]:
        """The local derivatives in the input names, one per input."""
        if self.arity is None:
            return (self.fill(self.local_text[0], ["u_1", "u_i", "u_n"], 1),)
        return tuple(self.fill(t, self.inputs()) for t in self.local_text)

    def formula(self, i: int = 0) -> str:
        """The local derivative with respect to input ``i`` as text, e.g.
        ``d tanh(u)/du = 1 - tanh(u)^2``."""
        expr = self.expr if self.precedence >= ATOM else f"({self.expr})"
        if self.arity is None:
            return f"d {expr}/du_i = {self.dexprs[0]}"
        return f"d {expr}/d{self.inputs()[i]} = {self.dexprs[i]}"

    def formulas(self) -> Tuple[str, ...]:
        """All local-derivative formulas of this primitive, one per input."""
        return tuple(self.formula(i) for i in range(self.arity or 1))


PRIMITIVES: Dict[str, Primitive] = {}
LISTENERS: List[Callable] = []


def on_registration(listener: Callable) -> None:
    """Call ``listener(primitive, added)`` for every row now (``added=True``) and on
    every later registration or removal: how the engine keeps its ``Value`` methods
    and fast lookup tables in step with the table."""
    LISTENERS.append(listener)
    for prim in list(PRIMITIVES.values()):
        listener(prim, True)


def add_row(prim: Primitive) -> Primitive:
    """Put ``prim`` in the table and tell the listeners (no checks: see
    :func:`register_primitive`)."""
    PRIMITIVES[prim.name] = prim
    told = []
    try:
        for listener in LISTENERS:
            listener(prim, True)
            told.append(listener)
    except Exception:  # a listener refused the row: take it back out everywhere
        del PRIMITIVES[prim.name]
        for listener in told:
            listener(prim, False)
        raise
    return prim


def register_primitive(name: str, forward: Callable, partials: Callable, *,
                       local_text, arity: Optional[int] = 1, text: str = "",
                       latex: str = "", local_latex=None, symbol: str = "",
                       check: Optional[Callable] = None, method: Optional[str] = None,
                       doc: str = "", precedence: int = ATOM,
                       operand_precedence: Optional[Tuple[int, ...]] = None,
                       joiner: str = ", ", variables: Tuple[str, ...] = (),
                       batched: Optional[object] = None,
                       compiled_forward: Optional[Callable] = None,
                       compiled_partials: Optional[Callable] = None,
                       compiled_check: Optional[Callable] = None,
                       piecewise: bool = False,
                       off_where: Optional[Callable] = None) -> Primitive:
    """Add the operation ``name`` to the table, and so to ``Value`` (a method named
    ``method``, by default ``name`` for a one-input op), gradcheck, traces, ledgers,
    drawings, replay and the trace command's expressions, all at once.

    ``forward(*xs)`` and ``partials(out, *xs)`` must accept floats and numpy arrays.
    ``local_text`` (one template per input, in ``{u}``, ``{v}`` ...) is required;
    ``text`` defaults to ``name({u})``, ``latex`` to ``\\operatorname{name}({u})``,
    ``local_latex`` to ``local_text`` and ``symbol`` to ``name``; ``piecewise=True``
    makes a local derivative of 0 a mask (see :class:`Primitive`); ``off_where`` (a
    one-input piecewise row whose derivative is 1 except where it says 0) lets replay
    apply that mask directly, and ``partials`` must then be ``1 - [off_where]``.
    Example::

        register_primitive("sin", np.sin, lambda out, u: (np.cos(u),),
                           local_text=("cos({u})",), latex="\\\\sin({u})",
                           local_latex=("\\\\cos({u})",))

    ``compiled_forward``, ``compiled_partials`` (and ``compiled_check`` when there is a
    ``check``) are the same rules on single floats, for numba to compile into the
    compiled tape of a recorded graph (see :class:`Primitive`); without them a graph
    using the primitive replays with numpy.

    Raises :class:`~micrograd_mlp.errors.ArgumentError` for a name already in the
    table (unregister it first), templates that do not fit the number of inputs, or
    compiled rules given in part.
    """
    if not (isinstance(name, str) and name.isidentifier()):
        raise ArgumentError(f"register_primitive: the name must be an identifier, not {name!r}")
    if name in PRIMITIVES:
        raise ArgumentError(f"register_primitive: {name!r} is already a primitive; "
                            f"unregister_primitive({name!r}) first")
    names = DEFAULT_VARIABLES.get(arity, ()) if not variables else tuple(variables)
    if arity is not None and (arity < 1 or len(names) != arity):
        raise ArgumentError(f"register_primitive({name!r}): give variables for {arity} inputs")
    call_args = "{args}" if arity is None else ", ".join("{%s}" % v for v in names)
    local_text = tuple(local_text)
    local_latex = tuple(local_latex) if local_latex is not None else local_text
    if len(local_text) != (arity or 1) or len(local_latex) != len(local_text):
        raise ArgumentError(f"register_primitive({name!r}): give one local-derivative "
                            f"template per input ({arity or 1})")
    if method is None:
        method = name if arity == 1 else ""
    _check_compiled(name, arity, check, compiled_forward, compiled_partials, compiled_check)
    if off_where is not None and not (arity == 1 and piecewise and callable(off_where)):
        raise ArgumentError(f"register_primitive({name!r}): off_where is for a one-input "
                            f"piecewise primitive (arity=1, piecewise=True), as a function")
    prim = Primitive(name, symbol or name, forward, partials, arity,
                     text or f"{name}({call_args})",
                     latex or f"\\operatorname{{{{{_latex_word(name)}}}}}({call_args})",
                     local_text, local_latex, precedence, operand_precedence, joiner,
                     tuple(variables), check=check, method=method, doc=doc, batched=batched,
                     compiled_forward=compiled_forward, compiled_partials=compiled_partials,
                     compiled_check=compiled_check, piecewise=bool(piecewise),
                     off_where=off_where)
    _check_templates(prim)
    return add_row(prim)


def _check_compiled(name, arity, check, forward, partials, compiled_check) -> None:
    """Compiled rules come whole: a forward with its partials (and a check when the row
    has one), callables, for a fixed number of inputs."""
    given = [f for f in (forward, partials, compiled_check) if f is not None]
    if not given:
        return
    if not all(callable(f) for f in given):
        raise ArgumentError(f"register_primitive({name!r}): the compiled rules must be "
                            f"functions of floats")
    if forward is None or partials is None:
        raise ArgumentError(f"register_primitive({name!r}): give compiled_forward and "
                            f"compiled_partials together")
    if check is not None and compiled_check is None:
        raise ArgumentError(f"register_primitive({name!r}): the primitive has a check; "
                            f"give compiled_check too (the compiled tape checks the domain)")
    if arity is None:
        raise ArgumentError(f"register_primitive({name!r}): compiled rules need a fixed "
                            f"number of inputs (arity)")


def _latex_word(name: str) -> str:
    """``name`` as LaTeX text: underscores escaped (``log_cosh`` -> ``log\\_cosh``)."""
    return name.replace("_", "\\_")


def _check_templates(prim: Primitive) -> None:
    """Fill every template once with the input names, so a template naming an input
    the row does not have fails at registration, not in the middle of a trace."""
    names = ["u_1", "u_2"] if prim.arity is None else list(prim.inputs())
    try:
        for template in (prim.text, prim.latex) + prim.local_text + prim.local_latex:
            prim.fill(template, names)
    except (KeyError, IndexError, ValueError) as err:
        raise ArgumentError(f"register_primitive({prim.name!r}): a template does not fit "
                            f"the inputs {names}: {err!r}") from None


def unregister_primitive(name: str) -> Primitive:
    """Remove a primitive added by :func:`register_primitive` (and its ``Value``
    method); returns its row. The engine's own operations cannot be removed."""
    if not isinstance(name, str):
        raise DataTypeError(f"unregister_primitive: the name must be a str, not {type(name).__name__}")
    if name in BUILT_IN:
        raise ArgumentError(f"unregister_primitive: {name!r} is one of the engine's own "
                            f"operations and cannot be removed")
    try:
        prim = PRIMITIVES.pop(name)
    except KeyError:
        raise ArgumentError(f"unregister_primitive: no primitive called {name!r}") from None
    for listener in LISTENERS:
        listener(prim, False)
    return prim


#: The engine's own operations (they cannot be unregistered).
BUILT_IN: Set[str] = set()


def seal_built_ins() -> None:
    """Mark every row in the table now as one of the engine's own operations."""
    BUILT_IN.update(PRIMITIVES)

