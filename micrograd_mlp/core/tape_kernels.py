"""The numba kernels of the compiled tape (:mod:`micrograd_mlp.core.tape`).

Two kernels run a tape: ``forward`` computes every operation in order, ``backward``
applies the chain rule in reverse order. Both are *generated* from the primitives table:
every row with compiled rules (``compiled_forward``, ``compiled_partials``,
``compiled_check``, see :class:`~micrograd_mlp.core.registry.Primitive`) gets an op
code and one branch of each kernel, calling its own scalar functions; the n-ary rows
(``sum``, ``max``, ``batch_sum``) name a case written here. Graphs of the engine's own
primitives share one kernel pair; a graph using a registered primitive with compiled
rules gets a pair generated for its own primitives at its recording, so the primitive
joins the tape in the same registration.

The generated source is written to a cache directory (``$MICROGRAD_MLP_CACHE``, else
``~/.cache/micrograd_mlp``) under a name made from a hash of the source and of the
rules' code, and compiled by numba with ``cache=True``: the first compilation takes
seconds, later processes load it from disk (:func:`kernels` reports which, and how
long it took). Kernels read and write

* ``V``, ``G`` -- ``(n_nodes, B)`` values and gradients, one row per node (a scalar
  node holds its value in every column); ``forward1`` and ``backward1`` are the same
  kernels compiled for ``B = 1`` (a scalar graph),
* ``codes``, ``outs``, ``ptr``, ``args`` -- operation ``k`` has op code ``codes[k]``,
  writes row ``outs[k]`` and reads rows ``args[ptr[k]:ptr[k + 1]]``,
* ``needs`` -- per entry of ``args``: that input receives a gradient; ``rg`` -- per
  operation: its output requires a gradient (else backward skips it).

``forward`` returns ``(k, b)``: ``k = -1`` when every check passed, else the operation
and the sample whose inputs are outside the domain (Python raises the error).
"""
from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from .registry import BUILT_IN, PRIMITIVES

__all__ = ["available", "kernels", "KernelSet", "cache_dir", "NARY_CASES"]

# numba is optional (the `compiled` extra): without it replay uses numpy. It is imported
# at the first recording that uses it (importing it takes a while), not with the package.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

#: the kernel cases an n-ary row may name in ``compiled_forward``
NARY_CASES = ("sum", "max", "batch_sum")
#: an internal case: ``batch_sum`` of a scalar node is the node itself
COPY = "copy"


def available() -> bool:
    """True when numba is installed (the compiled tape can run)."""
    return HAVE_NUMBA


def cache_dir() -> Path:
    """Where generated kernels (and numba's compiled copies of them) are kept."""
    root = os.environ.get("MICROGRAD_MLP_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "micrograd_mlp"
    path = path / "tape"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError:  # read-only home: a private temporary directory
        path = Path(tempfile.gettempdir()) / f"micrograd_mlp_tape_{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


class KernelSet:
    """The kernels for one set of compiled primitives: ``codes`` (op name -> code),
    ``forward``, ``backward``, and how they were obtained (``seconds``: import plus
    compilation or loading from the disk cache; ``from_cache``)."""

    def __init__(self, names, module, seconds, from_cache, path):
        self.names = tuple(names)
        self.codes: Dict[str, int] = {name: i for i, name in enumerate(names)}
        self.copy_code = len(names)
        self.forward = module.forward
        self.backward = module.backward
        self._module = module
        self.seconds = seconds
        self.from_cache = from_cache
        self.path = path
        self.single_seconds = None     # the one-sample pair, made at its first use
        self.single_from_cache = None

    def single(self):
        """``(forward1, backward1)``: the kernels compiled for one sample (a scalar graph),
        compiled or loaded at the first call (their time in :attr:`single_seconds`)."""
        if self.single_seconds is None:
            with _LOCK:
                if self.single_seconds is None:
                    secs, hits = _warm(self._module.forward1, self._module.backward1)
                    self.single_from_cache = hits
                    self.single_seconds = secs
        return self._module.forward1, self._module.backward1

    def __repr__(self):
        how = "loaded from the disk cache" if self.from_cache else "compiled"
        return f"KernelSet({len(self.names)} primitives, {how} in {self.seconds:.2f} s)"


_LOCK = threading.RLock()
_LOADED: Dict[str, KernelSet] = {}
_BY_TABLE: Dict[tuple, tuple] = {}     # the table's rows -> (rows, their KernelSet)
#: primitives whose compiled rules numba refused, with the reason
REFUSED: Dict[str, str] = {}


def compiled_names(ops=None):
    """The primitives with compiled rules, in table order: the engine's own (``ops``
    None, or only built-in ones), else those of ``ops``."""
    own = ops is None or all(op in BUILT_IN for op in ops)
    return [name for name, prim in PRIMITIVES.items()
            if prim.compiled and name not in REFUSED
            and (name in BUILT_IN if own else name in ops)]


def kernels(ops=None) -> Optional[KernelSet]:
    """The kernels for the graphs whose primitives are ``ops`` (made or loaded on first
    use for this set of rules), or None without numba.

    A graph of the engine's own primitives (``ops`` None, or only built-in ones) shares
    one pair of kernels knowing all of them, compiled once and cached on disk; a graph
    using a registered primitive gets kernels knowing just its own primitives (quick to
    compile, and a rule written in a notebook or ``exec``'d code cannot be cached)."""
    if not HAVE_NUMBA:
        return None
    own = ops is None or all(op in BUILT_IN for op in ops)
    # the rows themselves (not their names) key the kernels: a primitive registered
    # again is a new row; kept in the memo, so an id is never reused while it is there
    rows = tuple(PRIMITIVES.values())
    fingerprint = (tuple(map(id, rows)), len(REFUSED), None if own else frozenset(ops))
    found = _BY_TABLE.get(fingerprint)
    if found is not None:
        return found[1]
    with _LOCK:
        while True:
            names = compiled_names(None if own else ops)
            found = None
            for cache in ((True, False) if _cacheable(names) else (False,)):
                source = _source(names, cache)
                key = _key(source, names)
                found = _LOADED.get(key)
                if found is not None:
                    break
                try:
                    found = _load(names, source, key)
                    break
                except Exception as err:  # noqa: BLE001 - a cache that cannot load, a rule numba refuses
                    error = err
            if found is None:   # not even compiled afresh: find the rule, leave it out
                if _refused_rule(names, error) is None:
                    raise error
                continue
            _LOADED[key] = found
            if len(_BY_TABLE) > 16:
                _BY_TABLE.clear()
            _BY_TABLE[(tuple(map(id, rows)), len(REFUSED), fingerprint[2])] = (rows, found)
            return found


def _cacheable(names) -> bool:
    """True when numba can cache kernels calling these rules: loading a cached kernel
    imports each rule's module by name, so a rule written in ``exec``'d code (a module
    not in ``sys.modules``) makes kernels compiled in every process instead."""
    for name in names:
        prim = PRIMITIVES[name]
        for fn in (prim.compiled_forward, prim.compiled_partials, prim.compiled_check):
            if fn is None or isinstance(fn, str):
                continue
            module = getattr(getattr(fn, "py_func", fn), "__globals__", {}).get("__name__")
            if module not in sys.modules:
                return False
    return True


def _refused_rule(names, err) -> Optional[str]:
    """Compile each row's rules alone to find the one numba refused (recorded in
    :data:`REFUSED`, so the graphs using it replay with numpy); None when every rule
    compiles (the error is elsewhere)."""
    from numba import njit
    from numba.core import types

    f64 = types.float64
    for name in names:
        prim = PRIMITIVES[name]
        if isinstance(prim.compiled_forward, str):
            continue
        arity = prim.arity
        try:
            rules = [(prim.compiled_forward, (f64,) * arity),
                     (prim.compiled_partials, (f64,) * (arity + 1))]
            if prim.compiled_check is not None:
                rules.append((prim.compiled_check, (f64,) * arity))
            for fn, sig in rules:
                njit(error_model="numpy")(getattr(fn, "py_func", fn)).compile(sig)
        except Exception as e:  # noqa: BLE001 - numba's errors have many classes
            REFUSED[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return name
    return None


def _key(source: str, names) -> str:
    """A hash of the generated source and of every rule's code (so a changed rule, or a
    primitive registered again with other rules, never meets a stale compiled copy)."""
    h = hashlib.sha256(source.encode())
    import numba
    h.update(f"{sys.version}|{numba.__version__}|{np.__version__}".encode())
    for name in names:
        prim = PRIMITIVES[name]
        for fn in (prim.compiled_forward, prim.compiled_partials, prim.compiled_check):
            h.update(_code_bytes(fn))
    return h.hexdigest()[:20]


def _code_bytes(fn) -> bytes:
    if fn is None or isinstance(fn, str):
        return repr(fn).encode()
    fn = getattr(fn, "py_func", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn).encode()
    parts = [marshal.dumps(code)]
    for cell in getattr(fn, "__closure__", None) or ():
        parts.append(repr(cell.cell_contents).encode())
    glb = getattr(fn, "__globals__", {})
    for name in code.co_names:   # the numbers a rule reads from its module
        value = glb.get(name)
        if isinstance(value, (int, float)):
            parts.append(f"{name}={value!r}".encode())
    return b"|".join(parts)


def _load(names, source, key) -> KernelSet:
    path = cache_dir() / f"tape_kernels_{key}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)   # atomic: another process may be loading it
    t0 = time.perf_counter()
    name = f"micrograd_mlp_tape_kernels_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # numba finds the module by name when loading its cache
    spec.loader.exec_module(module)
    seconds, hits = _warm(module.forward, module.backward)
    return KernelSet(names, module, time.perf_counter() - t0, hits, path)


def _warm(forward, backward):
    """Compile (or load from the disk cache) a pair of kernels on the argument types the
    tape passes: ``(seconds, True when loaded from the cache)``."""
    t0 = time.perf_counter()
    i64, flags = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    none = np.zeros(0, dtype=np.int64)
    V = np.zeros((1, 1))
    forward(none, none, i64, none, V)
    backward(none, none, i64, none, flags, flags, V, V.copy())
    hits = sum(forward.stats.cache_hits.values()) + sum(backward.stats.cache_hits.values())
    return time.perf_counter() - t0, hits > 0


# ---------------------------------------------------------------- code generation


def _source(names, cache: bool = True) -> str:
    """The kernel module for the primitives ``names`` (op code = position), cached on
    disk by numba when ``cache``."""
    head = ['"""Generated by micrograd_mlp.core.tape_kernels for the primitives',
            f"{', '.join(names)}. Do not edit: it is made again when a rule changes.\"\"\"",
            "import math", "from numba import njit",
            "from micrograd_mlp.core.registry import PRIMITIVES", "",
            "_rule = njit(error_model='numpy')", "",
            "", "def _plain(f):", "    return getattr(f, 'py_func', f)", "", ""]
    for i, name in enumerate(names):
        prim = PRIMITIVES[name]
        if isinstance(prim.compiled_forward, str):
            continue
        row = f"PRIMITIVES[{name!r}]"
        head.append(f"F{i} = _rule(_plain({row}.compiled_forward))")
        head.append(f"P{i} = _rule(_plain({row}.compiled_partials))")
        if prim.compiled_check is not None:
            head.append(f"C{i} = _rule(_plain({row}.compiled_check))")
    head += ["", "",
             "@_rule",
             "def chain(g, d):",
             "    # the chain rule's one product: d root/d input += d root/d node * d node/d input",
             "    return g * d", "", "",
             "@_rule",
             "def masked_chain(g, d):",
             "    # a piecewise row (relu, where, max): a local derivative of 0 is a mask, the",
             "    # input gets 0 whatever arrived from above (inf * 0 would be NaN)",
             "    return 0.0 if d == 0.0 else g * d", ""]
    fwd = ["", f"@njit(cache={cache}, error_model='numpy')",
           "def forward(codes, outs, ptr, args, V):",
           "    B = V.shape[1]",
           "    for k in range(codes.shape[0]):",
           "        c = codes[k]", "        o = outs[k]", "        p = ptr[k]"]
    bwd = ["", "", f"@njit(cache={cache}, error_model='numpy')",
           "def backward(codes, outs, ptr, args, needs, rg, V, G):",
           "    B = V.shape[1]",
           "    for k in range(codes.shape[0] - 1, -1, -1):",
           "        if not rg[k]:", "            continue",
           "        c = codes[k]", "        o = outs[k]", "        p = ptr[k]"]
    cases = [(i, name) for i, name in enumerate(names)] + [(len(names), COPY)]
    for n, (i, name) in enumerate(cases):
        kw = "if" if n == 0 else "elif"
        fwd.append(f"        {kw} c == {i}:  # {name}")
        bwd.append(f"        {kw} c == {i}:  # {name}")
        spec = COPY if name == COPY else PRIMITIVES[name].compiled_forward
        if isinstance(spec, str):
            f, b = _NARY[spec]
        else:
            f, b = _fixed(i, PRIMITIVES[name])
        fwd += ["            " + line for line in f]
        bwd += ["            " + line for line in b]
    fwd.append("    return -1, 0")
    # the same kernels for one sample (a scalar graph): B a constant, so the loops over
    # the samples vanish when compiled
    one = [line.replace("B = V.shape[1]", "B = 1").replace("def forward(", "def forward1(")
           .replace("def backward(", "def backward1(") for line in fwd + bwd]
    return "\n".join(head + fwd + bwd + ["", ""] + one) + "\n"


def _fixed(i, prim):
    """Forward and backward lines of a row with scalar compiled rules."""
    n = prim.arity
    xs = ", ".join(f"x{j}" for j in range(n))
    ds = "".join(f"d{j}, " for j in range(n))
    load = [f"a{j} = args[p + {j}]" for j in range(n)]
    f = list(load) + ["for b in range(B):"]
    f += [f"    x{j} = V[a{j}, b]" for j in range(n)]
    if prim.compiled_check is not None:
        f += [f"    if C{i}({xs}):", "        return k, b"]
    f += [f"    V[o, b] = F{i}({xs})"]
    b = list(load) + [f"n{j} = needs[p + {j}]" for j in range(n)] + ["for b in range(B):"]
    b += [f"    x{j} = V[a{j}, b]" for j in range(n)]
    b += ["    g = G[o, b]", f"    ({ds}) = P{i}(V[o, b], {xs})"]
    rule = "masked_chain" if prim.piecewise else "chain"
    for j in range(n):
        b += [f"    if n{j}:", f"        G[a{j}, b] += {rule}(g, d{j})"]
    return f, b


_NARY = {
    "sum": ([
        "q = ptr[k + 1]",
        "for b in range(B):",
        "    s = V[args[p], b]",
        "    for j in range(p + 1, q):",
        "        s = s + V[args[j], b]",
        "    V[o, b] = s",
    ], [
        "q = ptr[k + 1]",
        "for j in range(p, q):",
        "    if needs[j]:",
        "        a = args[j]",
        "        for b in range(B):",
        "            G[a, b] += chain(G[o, b], 1.0)",
    ]),
    # max: NaN when an input is NaN, else the largest; the derivative goes to the first
    # input equal to the maximum (or the first NaN), as the row's partials
    "max": ([
        "q = ptr[k + 1]",
        "for b in range(B):",
        "    m = V[args[p], b]",
        "    for j in range(p, q):",
        "        x = V[args[j], b]",
        "        if x != x:",
        "            m = x",
        "            break",
        "        if x > m:",
        "            m = x",
        "    V[o, b] = m",
    ], [
        "q = ptr[k + 1]",
        "for b in range(B):",
        "    out = V[o, b]",
        "    g = G[o, b]",
        "    taken = 0.0",
        "    for j in range(p, q):",
        "        x = V[args[j], b]",
        "        hit = (1.0 if (x == out or x != x) else 0.0) * (1.0 - taken)",
        "        taken = taken + hit",
        "        if needs[j]:",
        "            G[args[j], b] += masked_chain(g, hit)",
    ]),
    # a batch reduced to one number (held in every column); its gradient is the sum
    # of its columns' gradients (a scalar node's gradient is spread over the columns)
    "batch_sum": ([
        "a = args[p]",
        "s = 0.0",
        "for b in range(B):",
        "    s = s + V[a, b]",
        "for b in range(B):",
        "    V[o, b] = s",
    ], [
        "a = args[p]",
        "g = 0.0",
        "for b in range(B):",
        "    g = g + G[o, b]",
        "if needs[p]:",
        "    for b in range(B):",
        "        G[a, b] += chain(g, 1.0)",
    ]),
    COPY: ([
        "a = args[p]",
        "for b in range(B):",
        "    V[o, b] = V[a, b]",
    ], [
        "a = args[p]",
        "if needs[p]:",
        "    for b in range(B):",
        "        G[a, b] += chain(G[o, b], 1.0)",
    ]),
}
