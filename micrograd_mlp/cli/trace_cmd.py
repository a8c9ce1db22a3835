"""``micrograd-mlp trace``: print (and draw) backpropagation of an example or expression.

    micrograd-mlp trace task5                      # seed 001 Task 5, every number
    micrograd-mlp trace task5 --loss full --format markdown
    micrograd-mlp trace seed002                    # seed 002 section 3's derivation
    micrograd-mlp trace "tanh(a*b + c)" a=1 b=2 c=0.5 --expand --draw f.svg

An expression is parsed with :mod:`ast` and only these forms are accepted: names
given a value on the command line, numbers, ``+ - * / **``, unary minus and calls of
known functions (:func:`known_functions`: the primitives' methods, the registered
activations and :data:`FUNCTIONS`). Anything else
(attributes, subscripts, keywords, other names) is refused with a clear message, so
nothing else is ever evaluated.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import math
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

from .. import examples
from ..core.engine import Value, max_values
from ..core.registry import PRIMITIVES
from ..errors import (
    ArgumentError, DrawingError, DrawingTooLargeError, GraphvizMissingError, MicrogradError,
    TraceInputError,
)
from ..functions import activations
from ..views import stepper, steps, trace
from ..views.dot_run import MAX_NODES
from .expression_syntax import parse_program, shown
from ..views.graph import render

__all__ = ["TraceInputError", "parse_expression", "parse_assignments", "FUNCTIONS",
           "build_target", "add_arguments", "run"]


# the functions that are not a primitive's method: another name, or a power
FUNCTIONS = {"ln": Value.log, "sqrt": Value.sqrt}


def known_functions() -> Dict[str, object]:
    """Every function an expression may call, read when called (so a primitive
    registered later is known): the registered activations, every primitive with a
    ``Value`` method (``exp``, ``tanh`` ... and e.g. a registered ``sin``) and
    :data:`FUNCTIONS`."""
    funcs = {name: act for name, act in activations.ACTIVATIONS.items()}
    for prim in PRIMITIVES.values():
        if prim.method and prim.arity == 1:
            funcs[prim.method] = getattr(Value, prim.method)
    funcs.update(FUNCTIONS)
    return funcs


def parse_assignments(items) -> Dict[str, float]:
    """``["a=1", "b=2.5"]`` -> ``{"a": 1.0, "b": 2.5}`` (clear errors otherwise)."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise TraceInputError(f"cannot read {shown(item)!r}: give variables as name=number, "
                                  f"e.g. a=1.5")
        try:
            value = float(text)
        except ValueError:
            raise TraceInputError(f"cannot read {shown(name, 20)}=...: {shown(text, 40)!r} is not a "
                                  f"number") from None
        if not math.isfinite(value):
            raise TraceInputError(f"{shown(item)!r}: the value must be finite")
        if name in values:
            raise TraceInputError(f"{shown(name)} is given twice")
        values[name] = value
    return values


_BINOPS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__",
           ast.Div: "__truediv__", ast.Pow: "__pow__"}
ROOT_NAME = "out"  # the result of a program whose last line is no assignment
MAX_DEPTH = 200     # nesting of an expression (deeper is refused, not a RecursionError)


def parse_expression(text: str, values: Dict[str, float],
                     root_label: Optional[str] = None) -> Tuple[Value, Dict[str, Value]]:
    """Build the graph of ``text`` with leaves ``values`` (name -> number); returns
    ``(root, leaves)``.

    ``text`` is an expression (``"(a*b + c)*f"``) or a small program of assignments
    separated by ``;`` or new lines (``"e = a*b; d = e + c; L = d*f"``): each assigned
    name labels its node, so the ledger prints ``dL/de``. The root is the last
    assignment, or, when the last line is a bare expression, ``root_label`` (default
    ``out``; never a name already taken: then ``out1``, ``out2`` ...). Allowed: names,
    numbers, ``+ - * / **``, unary ``-``/``+``, ``max(a, b, ...)``, ``min(a, b, ...)``
    and calls of known functions, activations with their parameters
    (``leaky_relu(x, 0.1)``, ``prelu(x, alpha=0.2)``)."""
    if not isinstance(text, str) or not text.strip():
        raise TraceInputError("the expression is empty")
    try:
        statements = parse_program(text.strip())
    except TraceInputError:  # too long, too deep, or refused where the reader stopped
        raise
    except SyntaxError as err:
        raise TraceInputError(f"cannot parse {shown(text)!r}: {err.msg} (at column {err.offset})") from None
    except (RecursionError, MemoryError):
        raise TraceInputError("the expression is too deeply nested") from None
    except ValueError as err:  # a NUL character, a lone surrogate (bytes not UTF-8)
        raise TraceInputError(f"cannot parse the expression: {shown(str(err), 80)}") from None
    builder = _ProgramBuilder(values)
    if not statements:
        raise TraceInputError("the expression is empty")
    root = None
    for i, stmt in enumerate(statements):
        last = i == len(statements) - 1
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            root = builder.assign(stmt.targets[0].id, stmt.value)
        elif isinstance(stmt, ast.Expr) and last:
            root = builder.expression(stmt.value)
            if isinstance(root, Value) and root.parents and not root.label:
                root.label = _free_name(root_label or ROOT_NAME, builder.taken())
        elif isinstance(stmt, ast.Expr):
            raise TraceInputError(f"{_code(stmt)!r} computes a value nobody uses: only the "
                                  f"last line may be a bare expression (name the others: e = ...)")
        else:
            raise TraceInputError(f"{_code(stmt)!r} is not allowed: write assignments "
                                  f"'name = expression' separated by ';', the last one is the result")
    if not isinstance(root, Value) or not builder.leaves:
        raise TraceInputError("the expression has no variables: nothing to differentiate")
    builder.check_all_used(root)
    unused = sorted(set(values) - set(builder.leaves))
    if unused:
        raise TraceInputError(f"{', '.join(unused)} given but not used in the expression")
    return root, builder.leaves


def _code(node: ast.AST, limit: int = 60) -> str:
    """A part of the program, as text for a message (long ones shortened)."""
    try:
        return shown(ast.unparse(node), limit)
    except RecursionError:  # a chain of thousands of terms: unparse recurses
        return "(a very long expression)"


def _free_name(wanted: str, taken) -> str:
    """``wanted``, or ``wanted1``, ``wanted2`` ... whichever is not taken."""
    name, k = wanted, 0
    while name in taken:
        k += 1
        name = f"{wanted}{k}"
    return name


class _ProgramBuilder:
    """Builds the nodes of an expression program, statement by statement."""

    def __init__(self, values: Dict[str, float]):
        self.values = values
        self.funcs = known_functions()
        self.leaves: Dict[str, Value] = {}
        self.named: Dict[str, object] = {}  # assigned name -> Value or number
        self.used = set()

    def taken(self):
        """Every name in use: inputs, assigned names, functions."""
        return set(self.values) | set(self.named) | set(self.funcs) | set(_MULTI)

    def assign(self, name: str, node: ast.AST):
        """``name = node``: build the value and label it ``name``."""
        if name in self.values:
            raise TraceInputError(f"{name} is an input (given as {name}={self.values[name]:g}); "
                                  f"choose another name for the assignment")
        if name in self.named:
            raise TraceInputError(f"{name} is assigned twice: give each step its own name")
        if name in self.funcs or name in _MULTI:
            raise TraceInputError(f"{name} is a function: choose another name")
        value = self.expression(node)
        if isinstance(value, Value):
            if value.label:
                raise TraceInputError(f"{name} = {_code(node)} only renames {value.label}: "
                                      f"assign an operation, or use {value.label} itself")
            value.label = name
        self.named[name] = value
        return value

    def expression(self, node: ast.AST):
        """Build one expression (a Value, or a float when it uses no variable)."""
        try:
            return self._build(node, 0)
        except RecursionError:
            raise TraceInputError("the expression is too deeply nested") from None

    def check_all_used(self, root) -> None:
        """Refuse assignments that the result does not use."""
        for name, value in self.named.items():
            if value is not root and name not in self.used:
                raise TraceInputError(f"{name} is assigned but never used")

    def _name(self, node: ast.Name):
        name = node.id
        if name in self.named:
            self.used.add(name)
            return self.named[name]
        if name in self.funcs or name in _MULTI:
            raise TraceInputError(f"{name} is a function: call it, e.g. {name}(x)")
        if name not in self.values:
            raise TraceInputError(f"the variable {shown(name)!r} has no value: give it on the "
                                  f"command line, e.g. {shown(name)}=1.0")
        if name not in self.leaves:
            self.leaves[name] = Value(self.values[name], name)
        return self.leaves[name]

    def _build(self, node, depth: int):
        if depth > MAX_DEPTH:
            raise RecursionError
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return _finite(node.value, _code(node))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._binary_chain(node, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self._build(node.operand, depth + 1)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        what = type(node).__name__
        raise TraceInputError(f"{_code(node)!r} is not allowed in a traced expression "
                              f"({what}); use names, numbers, + - * / **, unary minus and "
                              f"function calls")

    def _binary_chain(self, node: ast.BinOp, depth: int):
        """``a + b + c + ...`` nests to the left, one level per term: walk that spine in
        a loop, so a long sum counts as one level of nesting, not one per term."""
        spine = []
        while isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            spine.append(node)
            node = node.left
        result = self._build(node, depth + 1)
        for op_node in reversed(spine):
            right = self._build(op_node.right, depth + 1)
            if not isinstance(result, Value) and not isinstance(right, Value):
                result = _number_op(op_node.op, result, right)
                continue
            if not isinstance(result, Value):
                result = Value(result, requires_grad=False)
            result = getattr(result, _BINOPS[type(op_node.op)])(right)
        return result

    def _call(self, node: ast.Call, depth: int):
        if not isinstance(node.func, ast.Name):
            raise TraceInputError(f"calling {_code(node.func)!r} is not allowed: only "
                                  f"known functions, called by name, e.g. exp(a)")
        fname = node.func.id
        if fname not in self.funcs and fname not in _MULTI:
            raise TraceInputError(f"unknown function {shown(fname)!r}; known: "
                                  f"{', '.join(sorted(set(self.funcs) | set(_MULTI)))}")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise TraceInputError(f"{fname}(): *args and **kwargs are not allowed")
        if fname in _MULTI:
            if node.keywords or len(node.args) < 2:
                raise TraceInputError(f"{fname}() takes two or more arguments, e.g. {fname}(a, b)")
            args = [_as_value(self._build(a, depth + 1)) for a in node.args]
            return _MULTI[fname](args)
        func = self.funcs[fname]
        params = getattr(func, "params", None)
        if params is None and (len(node.args) != 1 or node.keywords):
            raise TraceInputError(f"{fname}() takes exactly one argument")
        if not node.args:
            raise TraceInputError(f"{fname}() needs an input first, e.g. {fname}(x)")
        arg = _as_value(self._build(node.args[0], depth + 1))
        if params is None:
            return func(arg)
        return func(arg, **_parameters(fname, params, node))


def _parameters(fname: str, params: Dict, node: ast.Call) -> Dict[str, object]:
    """An activation's parameters from a call: ``leaky_relu(x, 0.1)`` -> ``{alpha: 0.1}``
    (positional in the registered order, or by keyword; numbers, or text constants)."""
    names = list(params)
    extra = node.args[1:]
    if len(extra) > len(names):
        allowed = f"parameters {', '.join(names)}" if names else "no parameters"
        raise TraceInputError(f"{fname}() takes one input and {allowed}; got {len(extra)} more")
    out = {}
    given = list(zip(names, extra)) + [(k.arg, k.value) for k in node.keywords]
    for key, value in given:
        if key not in names:
            raise TraceInputError(f"{fname}() has no parameter {key!r}; its parameters: "
                                  f"{', '.join(names) or 'none'}")
        if key in out:
            raise TraceInputError(f"{fname}(): {key} given twice")
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            out[key] = value.value
            continue
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            value, sign = value.operand, -1.0
        else:
            sign = 1.0
        if not (isinstance(value, ast.Constant) and type(value.value) in (int, float)):
            raise TraceInputError(f"{fname}(): the parameter {key} must be a number, "
                                  f"not {_code(value)!r}")
        out[key] = sign * _finite(value.value, _code(value))
    return out


def _finite(number, text: str) -> float:
    try:
        value = float(number)
    except OverflowError:
        raise TraceInputError(f"the number {text[:20]}... is too large for a float") from None
    if not math.isfinite(value):
        raise TraceInputError(f"the number {text[:20]} is not finite")
    return value


def _as_value(x):
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


def _min_values(values):
    """``min(a, b, ...) = -max(-a, -b, ...)``."""
    return -max_values([-v for v in values])


_MULTI = {"max": max_values, "min": _min_values}


def _number_op(op, a, b):
    try:
        result = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(op)] if type(op) in (
            ast.Add, ast.Sub, ast.Mult) else (a / b if isinstance(op, ast.Div) else a ** b)
    except (ZeroDivisionError, OverflowError) as err:
        raise TraceInputError(f"the constant part cannot be computed ({err})") from None
    if isinstance(result, complex) or not math.isfinite(result):
        raise TraceInputError("constant arithmetic gives no finite real number")
    return float(result)


def build_target(target: str, assignments=(), loss: Optional[str] = None, with_model: bool = False):
    """The graph a ``trace`` or ``check`` command works on: a ready example
    (``task5``, ``seed002``) or an expression program with its ``NAME=VALUE``
    assignments. Returns ``(root, title, description)`` (``with_model=True``: and the
    example's MLP, or None)."""
    if target in examples.EXAMPLES:
        if assignments:
            raise TraceInputError(f"{target} is a ready example: it takes no NAME=VALUE pairs")
        kwargs = {}
        if loss is not None:
            if target != "task5":
                raise TraceInputError("--loss applies to task5 only")
            kwargs["loss"] = loss
        ex = examples.example_named(target, **kwargs)
        return (ex.root, ex.title, ex.description) + ((ex.model,) if with_model else ())
    if loss is not None:
        raise TraceInputError("--loss applies to task5 only")
    values = parse_assignments(assignments)
    if target.strip().isidentifier() and target.strip() not in values:
        known = ", ".join(examples.EXAMPLES)
        close = difflib.get_close_matches(target.strip(), list(examples.EXAMPLES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise TraceInputError(f"unknown example {shown(target.strip())!r}{hint}; ready examples: "
                              f"{known}; or an expression with values, e.g. \"a*b + c\" a=2 b=-3 c=10")
    root, _ = parse_expression(target, values)
    given = ", ".join(f"{k}={v:g}" for k, v in values.items())
    program = target.strip()
    title = program if "=" in program else f"{root.label or ROOT_NAME} = {program}"
    title = shown(title, 200)  # a 20,000-term sum keeps a readable heading
    return (root, title, f"at {given}") + ((None,) if with_model else ())


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``trace`` subcommand's arguments."""
    parser.description = ("Print every forward value and every gradient of a ready example "
                          "(task5, seed002) or of an expression, as a chain-rule ledger; "
                          "optionally draw the graph and its backward steps.")
    parser.add_argument("target", nargs="?", default="task5",
                        help="task5 (default), seed002, or an expression such as "
                             "\"tanh(a*b + c)\" followed by name=value pairs")
    parser.add_argument("assignments", nargs="*", metavar="NAME=VALUE",
                        help="values of the expression's variables, e.g. a=1 b=2 c=0.5")
    parser.add_argument("--format", choices=("text", "markdown", "latex"), default="text",
                        help="output format of the ledger (default text)")
    parser.add_argument("--level", choices=LEVELS, default=None,
                        help="exercise: the hand solution's vector steps, layer by layer (the "
                             "default for a network); node: one row per node, composites "
                             "collapsed (the default otherwise); primitive: every primitive")
    parser.add_argument("--expand", action="store_true",
                        help="the same as --level primitive: every primitive step")
    parser.add_argument("--digits", type=int, default=4,
                        help="decimals in the ledger (default 4; the summary uses 7)")
    parser.add_argument("--loss", choices=("half", "full"), default=None,
                        help="task5 only: E = 1/2 ||x2 - y||^2 (half, default) or ||x2 - y||^2")
    parser.add_argument("--draw", metavar="FILE",
                        help="draw the computational graph to FILE (.svg, .png, .pdf or .dot)")
    parser.add_argument("--frames", metavar="DIR",
                        help="write one drawing per backward step (SVG+PNG) and an animated GIF")
    parser.add_argument("--html", metavar="FILE",
                        help="write a self-contained HTML page stepping through backward")
    parser.add_argument("--max-nodes", type=int, default=MAX_NODES, metavar="N",
                        help=f"largest graph drawn, counting the hidden nodes of long edges "
                             f"(default {MAX_NODES}; 0: no limit, Graphviz may take minutes)")
    parser.add_argument("--quiz", action="store_true",
                        help="with --html: the page asks for every number of each step and "
                             "checks the typed answers (hints, score, progress kept)")


LEVELS = ("exercise", "node", "primitive")
DRAW_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")  # what --draw can write


def _level(args, model) -> str:
    """The level asked for (``--expand`` is ``primitive``), checked against the target."""
    level = args.level
    if args.expand:
        if level not in (None, "primitive"):
            raise TraceInputError(f"--expand means --level primitive; it cannot go with --level {level}")
        level = "primitive"
    if level is None:
        level = "exercise" if model is not None else "node"
    if level == "exercise" and model is None:
        raise TraceInputError("--level exercise needs a network (task5, or micrograd-mlp exercise); "
                              "use --level node or primitive for this target")
    if args.quiz and not args.html:
        raise TraceInputError("--quiz makes the HTML page a quiz: give it with --html FILE")
    return level


def _ledger_text(root, args, level, model, title, description) -> str:
    """What ``trace`` prints: the vector summary, then the steps at ``level``."""
    collapse = level != "primitive"
    summary = trace.summary(root)
    if level == "exercise" and args.format != "latex":
        body = steps.format_steps(steps.exercise_steps(root, model, args.digits), args.format,
                                  args.digits)
        heading = "Hand solution, step by step (--level node or primitive for finer steps):"
    else:
        if level == "exercise":
            print("micrograd-mlp trace: the exercise level has no LaTeX form; printing the node "
                  "level", file=sys.stderr)
        body = steps.define_intermediates(root, collapse, args.digits, args.format) + \
            trace.format_table(root, args.format, collapse=collapse, digits=args.digits)
        heading = ("Chain rule, node by node "
                   f"({'every primitive' if not collapse else 'composites collapsed'}):")
    if args.format == "text":
        out = [title, description, "", summary, heading, body]
    elif args.format == "markdown":
        out = [f"## {title}", "", description, "", "```text", summary.rstrip(), "```", "",
               heading, "", body]
    else:
        out = [f"% {title}", f"% {description}"] + [f"% {line}" for line in summary.splitlines()] + [body]
    return "\n".join(out).rstrip("\n")


def run(args) -> int:
    """Run the command; returns the exit code (0 ok, 1 a drawing failed, 2 bad input)."""

    if args.digits < 1 or args.digits > 15:
        print("micrograd-mlp trace: --digits must be between 1 and 15", file=sys.stderr)
        return 2
    if args.draw and Path(args.draw).suffix.lower() not in DRAW_SUFFIXES:
        print(f"micrograd-mlp trace: cannot draw to {Path(args.draw).name!r:.60}: use a file name "
              f"ending in {', '.join(DRAW_SUFFIXES)}", file=sys.stderr)
        return 2
    try:
        root, title, description, model = build_target(args.target, args.assignments, args.loss,
                                                        with_model=True)
        level = _level(args, model)
    except (TraceInputError, MicrogradError, KeyError) as err:
        print(f"micrograd-mlp trace: {_short(err)}", file=sys.stderr)
        return 2
    if not root.requires_grad:
        print("micrograd-mlp trace: the expression depends on no variable", file=sys.stderr)
        return 2
    print(_ledger_text(root, args, level, model, title, description))
    root.backward()  # fill Value.grad for the drawings
    return _draw(root, args, level, model, title)


def _frames(root, level, model, digits, title, max_nodes, quiz=False):
    if level == "exercise":
        return stepper.exercise_frames(steps.exercise_steps(root, model, digits), digits,
                                       title=title, quiz=quiz)
    return stepper.step_frames(root, collapse=level == "node", digits=digits, title=title,
                               quiz=quiz, max_nodes=max_nodes)


def _draw(root, args, level, model, title) -> int:
    """Write the drawings asked for; each file appears only when complete (a frames
    folder as a whole). Exit code: 0, 2 for a graph too large to draw, 1 when Graphviz
    is missing, fails or runs out of time, or a file cannot be written."""
    status = 0
    max_nodes = None if args.max_nodes <= 0 else args.max_nodes
    try:
        if args.draw:
            path = render(root, args.draw, collapse=level != "primitive", title=title,
                          max_nodes=max_nodes)
            print(f"wrote {path}", file=sys.stderr)
        frames = None
        if args.frames or (args.html and not args.quiz):
            frames = _frames(root, level, model, args.digits, title, max_nodes)
        if args.frames:
            stepper.write_frames(root, args.frames, frames=frames, gif="steps.gif")
            gif = Path(args.frames) / "steps.gif"
            print(f"wrote {len(frames)} frames and {gif} into {args.frames}", file=sys.stderr)
        if args.html:
            if args.quiz:
                frames = _frames(root, level, model, args.digits, title, max_nodes, quiz=True)
            path = stepper.write_html(root, args.html, frames=frames, title=title,
                                      digits=args.digits, quiz=args.quiz)
            print(f"wrote {path}", file=sys.stderr)
    except DrawingTooLargeError as err:
        size = getattr(err, "size", "?")
        print(f"micrograd-mlp trace: the graph is too large to draw ({size} nodes with the "
              f"hidden nodes of long edges, more than --max-nodes {args.max_nodes}); draw it "
              f"anyway with --max-nodes {size} (or 0), or as .dot text (--draw FILE.dot)",
              file=sys.stderr)
        status = 2
    except (GraphvizMissingError, DrawingError) as err:
        print(f"micrograd-mlp trace: {_short(err)}", file=sys.stderr)
        status = 1
    except ArgumentError as err:
        print(f"micrograd-mlp trace: {_short(err)}", file=sys.stderr)
        status = 2
    except (OSError, ValueError) as err:
        print(f"micrograd-mlp trace: cannot write a drawing: {_short(err)}", file=sys.stderr)
        status = 1
    return status


def _short(err: BaseException, limit: int = 300) -> str:
    """An error as one line of at most ``limit`` characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
