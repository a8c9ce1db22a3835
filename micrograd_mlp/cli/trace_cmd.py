"""``micrograd-mlp trace``: print (and draw) backpropagation of an example or expression.

    micrograd-mlp trace task5                      # seed 001 Task 5, every number
    micrograd-mlp trace task5 --loss full --format markdown
    micrograd-mlp trace seed002                    # seed 002 section 3's derivation
    micrograd-mlp trace "tanh(a*b + c)" a=1 b=2 c=0.5 --expand --draw f.svg

An expression is parsed with :mod:`ast` and only these forms are accepted: names
given a value on the command line, numbers, ``+ - * / **``, unary minus and calls of
known functions (:data:`FUNCTIONS` and the registered activations). Anything else
(attributes, subscripts, keywords, other names) is refused with a clear message, so
nothing else is ever evaluated.
"""
from __future__ import annotations

import argparse
import ast
import math
import sys
from pathlib import Path
from typing import Dict, Tuple

from .. import examples
from ..core.engine import Value
from ..errors import GraphvizMissingError, MicrogradError, TraceInputError
from ..functions import activations
from ..views import stepper, trace
from ..views.graph import render

__all__ = ["TraceInputError", "parse_expression", "parse_assignments", "FUNCTIONS",
           "add_arguments", "run"]


FUNCTIONS = {
    "exp": Value.exp, "log": Value.log, "ln": Value.log, "log1p": Value.log1p,
    "expm1": Value.expm1, "tanh": Value.tanh, "relu": Value.relu, "abs": Value.abs,
    "erf": Value.erf, "sqrt": Value.sqrt,
}


def _functions() -> Dict[str, object]:
    funcs = {name: act for name, act in activations.ACTIVATIONS.items()}
    funcs.update(FUNCTIONS)
    return funcs


def parse_assignments(items) -> Dict[str, float]:
    """``["a=1", "b=2.5"]`` -> ``{"a": 1.0, "b": 2.5}`` (clear errors otherwise)."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise TraceInputError(f"cannot read {item!r}: give variables as name=number, e.g. a=1.5")
        try:
            value = float(text)
        except ValueError:
            raise TraceInputError(f"cannot read {item!r}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise TraceInputError(f"{item!r}: the value must be finite")
        if name in values:
            raise TraceInputError(f"{name} is given twice")
        values[name] = value
    return values


_BINOPS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__",
           ast.Div: "__truediv__", ast.Pow: "__pow__"}


def parse_expression(text: str, values: Dict[str, float], root_label: str = "f") -> Tuple[Value, Dict[str, Value]]:
    """Build the graph of ``text`` with leaves ``values`` (name -> number); returns
    ``(root, leaves)``. Only names, numbers, ``+ - * / **``, unary ``-``/``+`` and
    calls of known functions are allowed."""
    if not text or not text.strip():
        raise TraceInputError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise TraceInputError(f"cannot parse {text!r}: {err.msg} (at column {err.offset})") from None
    funcs = _functions()
    leaves: Dict[str, Value] = {}

    def build(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in funcs:
                raise TraceInputError(f"{node.id} is a function: call it, e.g. {node.id}(x)")
            if node.id not in values:
                raise TraceInputError(f"the variable {node.id!r} has no value: give it on the "
                                      f"command line, e.g. {node.id}=1.0")
            if node.id not in leaves:
                leaves[node.id] = Value(values[node.id], node.id)
            return leaves[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = build(node.left), build(node.right)
            if not isinstance(left, Value) and not isinstance(right, Value):
                return _number_op(node.op, left, right)
            if not isinstance(left, Value):
                left = Value(left, requires_grad=False)
            return getattr(left, _BINOPS[type(node.op)])(right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise TraceInputError(f"calling {ast.unparse(node.func)!r} is not allowed: only "
                                      f"known functions, called by name, e.g. exp(a)")
            if node.func.id not in funcs:
                raise TraceInputError(f"unknown function {node.func.id!r}; known: "
                                      f"{', '.join(sorted(funcs))}")
            if node.keywords or len(node.args) != 1:
                raise TraceInputError(f"{node.func.id}() takes exactly one argument")
            arg = build(node.args[0])
            if not isinstance(arg, Value):
                arg = Value(arg, requires_grad=False)
            return funcs[node.func.id](arg)
        what = type(node).__name__
        raise TraceInputError(f"{ast.unparse(node)!r} is not allowed in a traced expression "
                              f"({what}); use names, numbers, + - * / **, unary minus and "
                              f"function calls")

    root = build(tree.body)
    if not isinstance(root, Value) or not leaves:
        raise TraceInputError("the expression has no variables: nothing to differentiate")
    if root.label == "" or root.label in leaves:
        if root.parents:
            root.label = root_label
    unused = sorted(set(values) - set(leaves))
    if unused:
        raise TraceInputError(f"{', '.join(unused)} given but not used in {text!r}")
    return root, leaves


def _number_op(op, a, b):
    try:
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(op)] if type(op) in (
            ast.Add, ast.Sub, ast.Mult) else (a / b if isinstance(op, ast.Div) else a ** b)
    except (ZeroDivisionError, OverflowError) as err:
        raise TraceInputError(f"constant arithmetic failed: {err}") from None


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
    parser.add_argument("--expand", action="store_true",
                        help="show every primitive step instead of collapsing composites "
                             "(sigmoid, loss) into exercise-level steps")
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


def _build(args):

    if args.target in examples.EXAMPLES:
        if args.assignments:
            raise TraceInputError(f"{args.target} is a ready example: it takes no NAME=VALUE pairs")
        kwargs = {}
        if args.loss is not None:
            if args.target != "task5":
                raise TraceInputError("--loss applies to task5 only")
            kwargs["loss"] = args.loss
        ex = examples.get(args.target, **kwargs)
        return ex.root, ex.title, ex.description
    if args.loss is not None:
        raise TraceInputError("--loss applies to task5 only")
    values = parse_assignments(args.assignments)
    root, _ = parse_expression(args.target, values)
    given = ", ".join(f"{k}={v:g}" for k, v in values.items())
    return root, f"f = {args.target.strip()}", f"at {given}"


def run(args) -> int:
    """Run the command; returns the exit code (0 ok, 1 a drawing failed, 2 bad input)."""

    if args.digits < 1 or args.digits > 15:
        print("micrograd-mlp trace: --digits must be between 1 and 15", file=sys.stderr)
        return 2
    try:
        root, title, description = _build(args)
    except (TraceInputError, MicrogradError, KeyError) as err:
        print(f"micrograd-mlp trace: {err}", file=sys.stderr)
        return 2
    if not root.requires_grad:
        print("micrograd-mlp trace: the expression depends on no variable", file=sys.stderr)
        return 2
    collapse = not args.expand
    table = trace.format_table(root, args.format, collapse=collapse, digits=args.digits)
    summary = trace.summary(root)
    if args.format == "text":
        out = [title, description, "", summary, "Chain rule, node by node "
               f"({'every primitive' if args.expand else 'composites collapsed'}):", table]
    elif args.format == "markdown":
        out = [f"## {title}", "", description, "", "```text", summary.rstrip(), "```", "", table]
    else:
        out = [f"% {title}", f"% {description}"] + [f"% {line}" for line in summary.splitlines()] + [table]
    print("\n".join(out).rstrip("\n"))
    root.backward()  # fill Value.grad for the drawings
    return _draw(root, args, collapse, title)


def _draw(root, args, collapse, title) -> int:

    status = 0
    try:
        if args.draw:
            path = render(root, args.draw, collapse=collapse, title=title)
            print(f"wrote {path}", file=sys.stderr)
        frames = None
        if args.frames or args.html:
            frames = stepper.step_frames(root, collapse, title=title)
        if args.frames:
            paths = stepper.write_frames(root, args.frames, frames=frames)
            gif = stepper.write_gif([p for p in paths if p.suffix == ".png"],
                                    Path(args.frames) / "steps.gif")
            print(f"wrote {len(frames)} frames and {gif} into {args.frames}", file=sys.stderr)
        if args.html:
            path = stepper.write_html(root, args.html, frames=frames, title=title)
            print(f"wrote {path}", file=sys.stderr)
    except GraphvizMissingError as err:
        print(f"micrograd-mlp trace: {err}", file=sys.stderr)
        status = 1
    except (OSError, ValueError) as err:
        print(f"micrograd-mlp trace: cannot write a drawing: {err}", file=sys.stderr)
        status = 1
    return status
