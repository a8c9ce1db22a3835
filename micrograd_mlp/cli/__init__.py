"""The ``micrograd-mlp`` command (also ``python -m micrograd_mlp``).

Subcommands:

* ``trace``: step through backpropagation of a ready example or of an expression
  (see :mod:`micrograd_mlp.views.trace`);
* ``check TARGET [NAME=VALUE ...] ANSWERS``: check a hand solution (see
  :mod:`micrograd_mlp.cli.check_cmd`);
* ``exercise``: a forward/backward exercise on a small network and its solution,
  one variant per student (see :mod:`micrograd_mlp.cli.exercise_cmd`);
* ``grade HANDOUTS SUBMISSIONS --out DIR``: a gradebook and feedback pages (see
  :mod:`micrograd_mlp.cli.grade_cmd`);
* ``studio``: the live training studio in the browser (see
  :mod:`micrograd_mlp.cli.studio_cmd`);
* ``demo NAME``: run one of the scripts in the checkout's ``demos/`` folder;
  ``demo --list`` lists them, each with what it shows;
* ``--version``: the library's version.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import runpy
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional

import micrograd_mlp  # the package's __version__ (same level: the face)
from ..errors import MicrogradError
from . import check_cmd, exercise_cmd, grade_cmd, studio_cmd, trace_cmd

DEMOS_DIR = Path(__file__).resolve().parent.parent.parent / "demos"


def demo_names() -> List[str]:
    """The demos available in the checkout's ``demos/`` folder: every script except a
    demo's helper modules (which only define things and have no ``main``)."""
    if not DEMOS_DIR.is_dir():
        return []
    return sorted(p.stem for p in DEMOS_DIR.glob("*.py")
                  if not p.stem.startswith("_") and _defines_main(p))


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign,
                ast.AnnAssign)


def _defines_main(path: Path) -> bool:
    """False only for a readable module that defines things and runs nothing."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return True  # listed, with a note that it cannot be read
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    runs_something = any(not isinstance(node, _DEFINITIONS) for node in body)
    has_main = any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in body)
    return runs_something or has_main


def demo_summary(name: str) -> str:
    """What demo ``name`` shows: the first sentence of its module docstring on one line,
    read from the source without running it (so nothing heavy is imported)."""
    try:
        tree = ast.parse((DEMOS_DIR / f"{name}.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return "(no description: the file cannot be read)"
    paragraph = " ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    return sentence.replace("``", "`") or "(no description)"


def demo_listing() -> List[str]:
    """One line per demo: its name, then :func:`demo_summary`."""
    names = demo_names()
    width = max((len(n) for n in names), default=0)
    return [f"{n:<{width}}  {demo_summary(n)}" for n in names]


def run_demo(name: str, argv: List[str]) -> int:
    """Run ``demos/NAME.py`` as a script with the arguments ``argv``."""
    names = demo_names()
    if not names:
        print(f"micrograd-mlp demo: no demos folder at {DEMOS_DIR} (demos ship with the "
              "source checkout, not with an installed wheel)", file=sys.stderr)
        return 2
    if name not in names:
        print(f"micrograd-mlp demo: unknown demo {name!r}; known: {', '.join(names)}",
              file=sys.stderr)
        return 2
    path = DEMOS_DIR / f"{name}.py"
    saved = sys.argv
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(DEMOS_DIR))  # as `python demos/NAME.py` would: finds demos/_common.py
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = saved
        sys.path.remove(str(DEMOS_DIR))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="micrograd-mlp",
        description="Learn and teach backpropagation: trace the chain rule, run the demos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {micrograd_mlp.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a demo script (demo --list shows them)")
    demo.add_argument("name", nargs="?", help="the demo to run")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the demo")

    trace = sub.add_parser("trace", help="print every forward value and gradient, step by step")
    trace_cmd.add_arguments(trace)

    check = sub.add_parser("check", help="check a hand solution (answers file) against the trace")
    check_cmd.add_arguments(check)

    exercise = sub.add_parser("exercise", help="write a forward/backward exercise and its solution")
    exercise_cmd.add_arguments(exercise)

    grade = sub.add_parser("grade", help="grade a folder of answer files: a gradebook and feedback")
    grade_cmd.add_arguments(grade)
    studio = sub.add_parser("studio", help="watch a network learn, live, in the browser")
    studio_cmd.add_arguments(studio)
    return parser


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage is behind
    ``--help``); its subcommand parsers are of the same class."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code: 0 done, 1 a failure (a drawing could
    not be written ...), 2 bad input. Never a traceback: an error is one line on
    stderr, and a reader that closes the pipe early (``| head -1``) ends the command
    quietly. ``--help``, ``--version`` and usage errors raise ``SystemExit`` as
    argparse does (code 0, or 2 after a one-line message)."""
    restore = _terminate_like_ctrl_c()
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        print("micrograd-mlp: interrupted", file=sys.stderr)
        return 130
    except MicrogradError as err:  # bad input that a subcommand did not report itself
        print(f"micrograd-mlp: {_one_line(err)}", file=sys.stderr)
        return 2
    except (RecursionError, MemoryError) as err:
        print(f"micrograd-mlp: the input is too large or too deeply nested "
              f"({type(err).__name__})", file=sys.stderr)
        return 2
    except Exception as err:  # a bug or an environment failure: still one line
        print(f"micrograd-mlp: failed: {type(err).__name__}: {_one_line(err)}", file=sys.stderr)
        return 1
    finally:
        restore()


def _terminate_like_ctrl_c():
    """Make SIGTERM (``kill``, a closing terminal's manager, a CI timeout) end the command
    as Ctrl-C does: as an exception, so that half-made files are removed and a running
    ``dot`` is stopped, rather than the process vanishing mid-write. Returns the
    function that puts the previous handler back (nothing outside the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return lambda: None

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush on exit does not
    report the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests)
        pass


def _dispatch(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv`` and run the subcommand."""
    parser = _build_parser()
    args = parser.parse_args(argv)  # --help, --version and usage errors: SystemExit
    if args.command == "demo":
        if args.list or not args.name:
            for line in demo_listing():
                print(line)
            return 0
        return run_demo(args.name, args.args)
    if args.command == "trace":
        return trace_cmd.run(args)
    if args.command == "check":
        return check_cmd.run(args)
    if args.command == "exercise":
        return exercise_cmd.run(args)
    if args.command == "grade":
        return grade_cmd.run(args)
    if args.command == "studio":
        return studio_cmd.run(args)
    parser.print_help()
    return 0
