"""One BLAS thread while replayed training runs, restored when the last user leaves.

numpy's ``@`` calls a BLAS library whose thread pool is one setting for the whole
process. Limiting it inside one ``fit`` and restoring "the previous limit" on exit is
wrong when two ``fit`` calls overlap in threads: the second one saves the first one's
limit (1) as "previous" and, exiting last, leaves the process on one thread for good.
So the limit is counted: the first user saves the original limits and sets one thread,
the last user (whatever the order of exits) restores the saved limits.

threadpoolctl (3.6 and later) lets only the thread that last set OpenBLAS's limit change
it again (other threads' calls silently do nothing), so the last user, in another
thread than the first, could not restore. The count above already decides who sets and
restores, so each change here first releases that ownership.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

__all__ = ["single_threaded_blas"]

_lock = threading.Lock()
_users = 0          # how many callers are inside single_threaded_blas() now
_limiter = None     # threadpoolctl's limiter of the first of them (holds the original limits)


@contextmanager
def single_threaded_blas():
    """Run the enclosed code with the BLAS library (behind numpy's ``@``) limited to one
    thread; the original limit comes back when the last of the overlapping callers
    leaves (in any thread, in any order). Uses ``threadpoolctl``; without it, nothing
    changes. Replay's matrix products are small: a threaded BLAS on a busy machine
    spends longer waking its threads than computing (see docs/performance.md)."""
    global _users, _limiter
    with _lock:
        if _users == 0:
            _limiter = _limit_to_one_thread()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _limiter is not None:
                _release_ownership()
                _limiter.restore_original_limits()
                _release_ownership()
                _limiter = None


def _limit_to_one_thread():
    """threadpoolctl's limiter set to one BLAS thread, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    _release_ownership()
    limiter = threadpool_limits(limits=1, user_api="blas")
    _release_ownership()
    return limiter


def _release_ownership():
    """Let any thread set OpenBLAS's limit next (threadpoolctl >= 3.6 gives it to the
    thread that set it last; older versions have no such owner)."""
    import threadpoolctl
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                    "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
