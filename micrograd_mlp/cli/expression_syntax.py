"""Read an expression program into Python syntax trees, walking long chains in a loop.

``ast.parse`` builds ``a + a + ... + a`` as a tree nested one level per term and
gives up (``RecursionError``) near 3000 terms, though the sum is flat. This reader
takes the same small language the ``trace`` command accepts (names, numbers,
strings as parameters, ``+ - * / **``, unary ``- +``, parentheses, calls by name
with positional and keyword arguments, ``name = ...`` statements separated by ``;``
or new lines) and builds the *same* :mod:`ast` nodes ``ast.parse`` would, with
``+ -`` and ``* /`` chains read in a loop: their length costs no depth. Only real
nesting (parentheses, unary signs, powers, calls) counts against
:data:`MAX_DEPTH`.

Anything outside that language makes :func:`parse_program` fall back to
``ast.parse``, so every refusal message stays the one the command gives for that
construct. Input is bounded first: at most :data:`MAX_CHARS` characters.
"""
from __future__ import annotations

import ast
import io
import keyword
import tokenize
from typing import List

from ..errors import TraceInputError

__all__ = ["parse_program", "MAX_CHARS", "MAX_DEPTH"]

#: the longest expression program read (about 50,000 terms of ``a + a + ...``)
MAX_CHARS = 200_000
#: nesting (parentheses, unary signs, powers, calls) allowed inside one expression
MAX_DEPTH = 200

_SUM = {"+": ast.Add, "-": ast.Sub}
_PRODUCT = {"*": ast.Mult, "/": ast.Div}
_SIGN = {"-": ast.USub, "+": ast.UAdd}
_SKIP = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)


class _Outside(Exception):
    """The text uses something this reader does not take: let ``ast.parse`` say what
    (``token``: where the reader stopped, for when ``ast.parse`` cannot say)."""

    def __init__(self, token=None):
        super().__init__()
        self.token = token


class TooDeep(TraceInputError):
    """Nesting past :data:`MAX_DEPTH`."""


def shown(text: str, limit: int = 60) -> str:
    """``text`` for a message: at most ``limit`` characters, the rest counted."""
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text)} characters)"


def parse_program(text: str) -> List[ast.stmt]:
    """The statements of ``text`` as ``ast.parse(text).body`` would give them (the
    node types and fields; no line numbers). Raises :class:`TraceInputError` for a
    text longer than :data:`MAX_CHARS` or nested deeper than :data:`MAX_DEPTH`, and
    whatever ``ast.parse`` raises for a text outside the reader's language."""
    if len(text) > MAX_CHARS:
        raise TraceInputError(
            f"the expression has {len(text)} characters; at most {MAX_CHARS} are read "
            f"(about {MAX_CHARS // 4} terms of a sum)")
    reader = None
    try:
        reader = _Reader(text)
        return reader.program()
    except _Outside as stop:
        try:
            return ast.parse(text, mode="exec").body
        except RecursionError:  # around a chain too long for ast.parse: say where
            tok = stop.token or (reader.peek() if reader else None)
            if tok is None or not tok.string.strip():
                raise
            raise TraceInputError(
                f"{shown(tok.string, 20)!r} at line {tok.start[0]}, column {tok.start[1] + 1} "
                f"is not allowed in a traced expression; use names, numbers, + - * / **, "
                f"unary minus and function calls") from None


class _Reader:
    """Recursive descent over the tokens, with loops for the chains."""

    def __init__(self, text: str):
        try:
            self.tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                           if t.type not in _SKIP]
        except (tokenize.TokenError, SyntaxError, ValueError):
            raise _Outside from None
        self.i = 0

    # -- tokens
    def peek(self):
        return self.tokens[self.i]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_op(self, *ops) -> bool:
        tok = self.tokens[self.i]
        return tok.type == tokenize.OP and tok.string in ops

    def expect_op(self, op: str) -> None:
        if not self.is_op(op):
            raise _Outside
        self.i += 1

    # -- grammar
    def program(self) -> List[ast.stmt]:
        body = []
        while self.peek().type != tokenize.ENDMARKER:
            if self.peek().type == tokenize.NEWLINE:
                self.i += 1
                continue
            body.append(self.statement())
            end = self.peek()
            if end.type == tokenize.OP and end.string == ";":
                self.i += 1
                if self.is_op(";"):
                    raise _Outside  # ";;" is a syntax error
            elif end.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
                raise _Outside
        return body

    def statement(self) -> ast.stmt:
        first, second = self.tokens[self.i], self.tokens[self.i + 1]
        if (first.type == tokenize.NAME and not keyword.iskeyword(first.string)
                and second.type == tokenize.OP and second.string == "="):
            self.i += 2
            target = ast.Name(id=first.string, ctx=ast.Store())
            return ast.Assign(targets=[target], value=self.expression(0), type_comment=None)
        return ast.Expr(value=self.expression(0))

    def expression(self, depth: int) -> ast.expr:
        """``term (+|- term)*``, read in a loop (left to right, as Python nests it)."""
        left = self.term(depth)
        while self.is_op(*_SUM):
            op = _SUM[self.take().string]()
            left = ast.BinOp(left=left, op=op, right=self.term(depth))
        return left

    def term(self, depth: int) -> ast.expr:
        left = self.factor(depth)
        while self.is_op(*_PRODUCT):
            op = _PRODUCT[self.take().string]()
            left = ast.BinOp(left=left, op=op, right=self.factor(depth))
        return left

    def factor(self, depth: int) -> ast.expr:
        """A signed power: ``-x ** 2`` is ``-(x ** 2)``, as in Python."""
        if depth > MAX_DEPTH:
            raise TooDeep("the expression is too deeply nested")
        if self.is_op(*_SIGN):
            op = _SIGN[self.take().string]()
            return ast.UnaryOp(op=op, operand=self.factor(depth + 1))
        base = self.atom(depth)
        if self.is_op("**"):
            self.i += 1
            return ast.BinOp(left=base, op=ast.Pow(), right=self.factor(depth + 1))
        return base

    def atom(self, depth: int) -> ast.expr:
        tok = self.take()
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            node = ast.Name(id=tok.string, ctx=ast.Load())
            if self.is_op("("):
                node = self.call(node, depth + 1)
        elif tok.type == tokenize.NUMBER:
            node = ast.Constant(value=self.literal(tok.string, (int, float)))
        elif tok.type == tokenize.STRING:
            if self.peek().type == tokenize.STRING:
                raise _Outside  # "a" "b": let Python join them
            node = ast.Constant(value=self.literal(tok.string, (str,)))
        elif tok.type == tokenize.OP and tok.string == "(":
            if self.is_op(")"):
                raise _Outside  # () is a tuple
            node = self.expression(depth + 1)
            self.expect_op(")")
        else:
            raise _Outside(tok)
        if self.is_op("(", "[", "."):
            raise _Outside(self.peek())  # a call of a result, a subscript, an attribute
        return node

    def call(self, func: ast.Name, depth: int) -> ast.Call:
        self.expect_op("(")
        args, keywords = [], []
        while not self.is_op(")"):
            tok, nxt = self.tokens[self.i], self.tokens[self.i + 1]
            if (tok.type == tokenize.NAME and not keyword.iskeyword(tok.string)
                    and nxt.type == tokenize.OP and nxt.string == "="):
                self.i += 2
                keywords.append(ast.keyword(arg=tok.string, value=self.expression(depth)))
            elif keywords:
                raise _Outside  # a positional argument after a keyword one
            else:
                args.append(self.expression(depth))
            if not self.is_op(")"):
                self.expect_op(",")
        self.i += 1
        return ast.Call(func=func, args=args, keywords=keywords)

    @staticmethod
    def literal(text: str, kinds):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError):  # 5000 digits, f-strings ...
            raise _Outside from None
        if type(value) not in kinds:
            raise _Outside
        return value
