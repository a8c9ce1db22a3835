"""Graphviz runs with bounds: a drawing's size is checked before ``dot`` starts, and
``dot`` runs under a time limit and never outlives the command.

Why: the cost of a ``dot`` layout is not the number of nodes. An edge that spans
many ranks (``a`` in ``a + a + ... + a`` feeds every addition along a long chain) is
laid out as a chain of hidden nodes, one per rank it crosses, and crossing
minimisation over those is what runs for minutes: 100 terms of ``a`` (399
characters) take minutes, 1000 different names take a second.

* :func:`layout_size`: the drawn nodes plus the hidden nodes of long edges, with
  ranks as ``dot`` gives them (each node one rank after its inputs, a leaf one rank
  before its first use). :data:`MAX_NODES` bounds it.
* :func:`run_dot`: ``dot -T<fmt>`` in its own process group, killed with its whole
  group at :data:`DOT_TIMEOUT` seconds, on Ctrl-C and on any error; on Linux it is
  also killed when the command itself dies (a parent-death signal).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from typing import Dict, Iterable, List, Sequence, Tuple

from ..core.validate import check_real
from ..errors import DrawingError, DrawingTooLargeError, GraphvizMissingError

__all__ = ["MAX_NODES", "DOT_TIMEOUT", "layout_size", "check_layout_size", "run_dot"]

#: the largest drawing laid out without being asked (nodes + hidden nodes of long
#: edges); task5 at the primitive level is 170, ``a + a + ... `` of 40 terms 1561
#: (under a second), of 60 terms 3541 (about 20 s)
MAX_NODES = 2000
#: seconds a ``dot`` run may take before it is stopped
DOT_TIMEOUT = 60.0


def layout_size(ops: Sequence[Tuple[object, Sequence[object]]], n_values: int) -> int:
    """The size of a layout: ``n_values`` value nodes, one operation node per entry of
    ``ops`` (``(output, its inputs)`` in topological order) and, per edge ``input ->
    operation``, one hidden node for every rank it crosses. Ranks: an operation one
    rank after its latest input, its output one after it; a leaf (an input made by no
    operation) one rank before its first use, as ``dot``'s layering places a source."""
    rank: Dict[object, int] = {}
    first_use: Dict[object, int] = {}
    op_rank: List[int] = []
    for out, inputs in ops:
        r = max([rank.get(i, 0) for i in inputs] or [0]) + 1
        op_rank.append(r)
        rank[out] = r + 1
        for i in inputs:
            if i not in rank:
                first_use[i] = min(first_use.get(i, r), r)
    hidden = 0
    for (out, inputs), r in zip(ops, op_rank):
        for i in inputs:
            start = rank[i] if i in rank else first_use[i] - 1
            hidden += max(0, r - start - 1)
    return n_values + len(ops) + hidden


def check_layout_size(size: int, max_nodes, what: str = "the drawing") -> None:
    """Refuse a layout of ``size`` above ``max_nodes`` (None: no bound) with a
    :class:`DrawingTooLargeError` saying how to draw it anyway."""
    if max_nodes is None or size <= max_nodes:
        return
    err = DrawingTooLargeError(
        f"{what} would lay out {size} nodes (counting the hidden nodes of long edges), more "
        f"than max_nodes={max_nodes}: Graphviz may take minutes. To draw it anyway pass "
        f"max_nodes={size} (or None), or collapse composites (collapse=True), or draw the "
        f"vector view of a network (draw_mlp), or write the .dot text and run dot yourself")
    err.size, err.limit = size, max_nodes  # for a command to word its own hint
    raise err


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, Linux only
    """In the child before ``exec``: ask the kernel for SIGKILL when the parent dies,
    so ``dot`` cannot outlive a command that was killed outright."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and everything it started (its process group), then reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_dot(source: str, fmt: str, timeout=None) -> bytes:
    """``dot -T<fmt>`` of the DOT ``source``; returns its output. ``timeout``: seconds
    (default :data:`DOT_TIMEOUT`, None in the call means the default). The ``dot``
    process runs in its own process group; at the time limit, on Ctrl-C or on any
    other exception the whole group is killed before this returns or raises.

    Raises :class:`GraphvizMissingError` without ``dot`` on PATH and
    :class:`DrawingError` when ``dot`` fails or runs out of time."""
    limit = DOT_TIMEOUT if timeout is None else check_real(timeout, "timeout", 0.0, above=True)
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissingError("the Graphviz 'dot' program was not found on PATH")
    linux = sys.platform.startswith("linux")
    proc = subprocess.Popen([exe, f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_die_with_parent if linux else None)
    try:
        out, err = proc.communicate(source.encode("utf-8"), timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DrawingError(
            f"Graphviz 'dot' did not finish within {limit:g} s and was stopped: the drawing is "
            f"too large for it; collapse composites (collapse=True), draw fewer nodes, write "
            f"the .dot text and run dot yourself, or allow more time (timeout=)") from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        text = " ".join(err.decode("utf-8", "replace").split())[:200]
        raise DrawingError(f"Graphviz 'dot' failed (exit {proc.returncode}): {text}")
    return out
