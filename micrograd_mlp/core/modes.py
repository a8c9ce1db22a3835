"""The engine's switches, per thread: record the graph or not (``no_grad``), check for
NaN/inf (``anomaly_mode``), and the composite group new nodes belong to.

As PyTorch's grad modes, the switches belong to the thread that sets them: a thread
inside ``no_grad()`` leaves another thread's graph building alone. One object per thread
holds all three, found through a context variable (every thread has its own context,
and ``ContextVar.get()`` is the cheapest per-thread lookup: building a node does one).
"""
from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager

__all__ = ["Modes", "current_modes", "own_modes", "is_grad_enabled", "no_grad",
           "anomaly_mode", "is_anomaly_enabled", "set_group", "current_group"]


class Modes:
    """One thread's switches: record the graph (``grad_enabled``), check for NaN/inf
    (``anomaly``), and the composite ``group`` new nodes are tagged with."""

    __slots__ = ("grad_enabled", "anomaly", "group", "thread")

    def __init__(self, thread=None):
        self.grad_enabled = True
        self.anomaly = False
        self.group = None  # the composite group being built (see composite.py)
        self.thread = thread  # the thread that owns (may change) these switches


_DEFAULT_MODES = Modes()  # read by threads that never changed a switch; never changed
_MODES = contextvars.ContextVar("micrograd_mlp_modes", default=_DEFAULT_MODES)
current_modes = _MODES.get


def own_modes() -> Modes:
    """This thread's switches, to change: made on the thread's first change (a thread
    that inherited another's context gets its own too)."""
    modes = current_modes()
    me = threading.get_ident()
    if modes.thread != me:
        modes = Modes(me)
        _MODES.set(modes)
    return modes


def is_grad_enabled() -> bool:
    """True unless this thread is inside ``with no_grad():``."""
    return current_modes().grad_enabled


@contextmanager
def no_grad():
    """Inside this block operations compute values but record no graph (like
    ``torch.no_grad()``): results have no parents and ``backward()`` on them fails.
    Only the calling thread is affected."""
    modes = own_modes()
    before = modes.grad_enabled
    modes.grad_enabled = False
    try:
        yield
    finally:
        modes.grad_enabled = before


@contextmanager
def anomaly_mode(enabled: bool = True):
    """Check every forward result and every gradient contribution for NaN/inf; the
    first one found raises :class:`AnomalyError` naming the node that produced it.
    Only the calling thread is affected."""
    modes = own_modes()
    before = modes.anomaly
    modes.anomaly = bool(enabled)
    try:
        yield
    finally:
        modes.anomaly = before


def is_anomaly_enabled() -> bool:
    """True when this thread is inside ``with anomaly_mode():``."""
    return current_modes().anomaly


def set_group(group):
    """Make ``group`` the one this thread's new nodes belong to; returns the previous one."""
    modes = own_modes()
    before = modes.group
    modes.group = group
    return before


def current_group():
    """The composite group this thread's new nodes are tagged with (None outside
    composites)."""
    return current_modes().group
