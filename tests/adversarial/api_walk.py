"""The pieces of the public-API walk (issue 12, class 7) shared by
``test_public_api.py`` and ``test_public_api_views.py``: the wrong values, what a caller
may legitimately get besides a result, and a call that runs generators to their end
under a time limit (a hang is a failure, not a stuck suite)."""
import contextlib
import importlib
import inspect
import signal
import warnings

import numpy as np

from micrograd_mlp.errors import MicrogradError

BAD = {"None": None, "str": "abc", "bool": True, "huge": 10 ** 400, "nan": float("nan"),
       "neg": -1, "ragged": [[1, 2], [3]], "3d": np.zeros((2, 2, 2)), "empty": [],
       "dict": {"a": 1}}

# What a caller may legitimately get besides the library's errors: a missing file.
DOCUMENTED = (MicrogradError, FileNotFoundError)

TIME_LIMIT = 10.0  # seconds for one call: far above any call of the walk


class WalkTimeout(Exception):
    """A call of the walk ran past TIME_LIMIT (a hang or a huge allocation)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT):
    """Raise :class:`WalkTimeout` in the main thread after ``seconds``."""
    def expire(signum, frame):
        raise WalkTimeout(f"call ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn, *args, **kwargs):
    """Call ``fn``; a generator is run to its end (its errors come on iteration)."""
    with warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        result = fn(*args, **kwargs)
        if inspect.isgenerator(result):
            list(result)
    return result


def each_value_in_turn(make_call, param, values):
    """Call ``fn(*args, **kwargs)`` (from ``make_call()``, asked again for every value)
    with argument ``param`` replaced by each of ``values``; only an error of the
    documented family may come out."""
    for bad in values:
        fn, args, kwargs = make_call()
        trial = dict(inspect.signature(fn).bind_partial(*args, **kwargs).arguments)
        trial[param] = bad
        try:
            call(fn, **trial)
        except DOCUMENTED:
            pass


def public_callables(modules):
    """``[(module.name, callable)]`` for every public callable of ``modules`` (each
    object once; exception classes left out)."""
    seen, out = set(), []
    for name in modules:
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, attr, None)
            if (not callable(obj) or inspect.ismodule(obj) or id(obj) in seen
                    or (inspect.isclass(obj) and issubclass(obj, BaseException))):
                continue
            seen.add(id(obj))
            out.append((f"{name}.{attr}", obj))
    return out


def required_arguments(fn, value):
    """``(args, kwargs)`` giving ``value`` to every parameter of ``fn`` without a default."""
    sig = inspect.signature(fn)
    positional = [p for p in sig.parameters.values() if p.default is p.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = {p.name: value for p in sig.parameters.values()
               if p.default is p.empty and p.kind == p.KEYWORD_ONLY}
    return [value] * len(positional), keyword
