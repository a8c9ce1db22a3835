"""Checkpoint files: a model's architecture and parameters (and an optimiser's state)
as JSON, written atomically and read defensively.

Writing never loses a file: the document is checked first (``verify``: the loader's own
checks, run on the text about to be written), then written to a temporary file beside
the target which replaces it with ``os.replace``. A symlink is followed (the file it
points to is replaced, the link stays a link) and an existing file keeps its
permission bits (a new one gets the usual ``0666 & ~umask``).

Reading refuses anything malformed with :class:`~micrograd_mlp.errors.CheckpointError`,
and checks the sizes the architecture declares against the parameters stored before
anything is built, so a small file cannot make the loader allocate a huge network.
"""
from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from typing import Callable, Dict, List, Optional

from ..core.validate import check_path
from ..errors import CheckpointError, DataTypeError

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "save_checkpoint", "read_checkpoint",
           "parse_checkpoint", "check_architecture", "checkpoint_document", "write_atomic"]

CHECKPOINT_FORMAT = "micrograd_mlp.MLP"
CHECKPOINT_VERSION = 1


def checkpoint_document(model, optimizer=None) -> Dict:
    """The JSON document of ``model`` (and ``optimizer.state_dict()``), refused with
    :class:`CheckpointError` when it could not be loaded back: a non-finite parameter,
    or an optimiser that does not hold exactly the model's parameters, in order."""
    if not (hasattr(model, "architecture") and hasattr(model, "state_dict")):
        raise DataTypeError(f"save_checkpoint needs a model (an MLP), not {type(model).__name__}")
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": model.architecture(),
        "parameters": model.state_dict(),
        "optimizer": None,
    }
    for name, v in doc["parameters"].items():
        if not math.isfinite(v):
            raise CheckpointError(f"parameter {name} is {v}; refusing to save a non-finite model")
    if optimizer is not None:
        mine = [id(p) for p in model.parameters()]
        theirs = [id(p) for p in getattr(optimizer, "params", ())]
        if theirs != mine:
            raise CheckpointError(
                f"cannot save {type(optimizer).__name__} with the model: it holds "
                f"{len(theirs)} parameters, not exactly the model's {len(mine)} in order, so "
                f"the file could not be loaded back; save the model alone (model.save(path)) "
                f"or use an optimiser over model.parameters()")
        doc["optimizer"] = optimizer.state_dict()
    return doc


def save_checkpoint(path, model, optimizer=None,
                    verify: Optional[Callable[[Dict], object]] = None) -> None:
    """Write ``model`` (and ``optimizer``'s state when given) to ``path``.

    Format (JSON, UTF-8)::

        {"format": "micrograd_mlp.MLP", "version": 1,
         "architecture": {"nin": 2, "sizes": [8, 1],
                          "activations": ["sigmoid", "sigmoid"], "bias": true},
         "parameters": {"W1[0,0]": 0.12, ..., "b2[0]": 0.0},
         "optimizer": null | {"type": "Adam", ...}}

    Floats are written with ``repr`` precision, so a load gives bit-identical
    parameters. ``verify(doc)`` (``MLP.save`` passes the loader) runs on the document
    parsed back from its text before the file is touched; see :func:`write_atomic`
    for how the file is replaced."""
    check_path(path)
    doc = checkpoint_document(model, optimizer)
    text = json.dumps(doc, indent=1, allow_nan=False)
    if verify is not None:
        verify(parse_checkpoint(text.encode("utf-8"), os.fspath(path)))
    write_atomic(path, lambda f: json.dump(doc, f, indent=1, allow_nan=False))


def _target_mode(real: str) -> int:
    """The permission bits the written file gets: the existing file's, else those of a
    new file under the process umask."""
    try:
        return stat.S_IMODE(os.stat(real).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the system tells it
    (``os.umask`` sets it, for a moment, for every thread of the process)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, write: Callable) -> None:
    """Replace the file at ``path`` with what ``write(f)`` writes to a text file, all or
    nothing: a temporary file in the same folder, flushed to disk, then ``os.replace``.
    A symlink is followed (its target is replaced) and the target's mode is kept."""
    real = os.path.realpath(os.fspath(path))
    if os.path.isdir(real):
        raise IsADirectoryError(f"cannot save a checkpoint to {path}: it is a folder")
    mode = _target_mode(real)
    folder = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_checkpoint(path) -> Dict:
    """The checked JSON document of a checkpoint file (see :func:`parse_checkpoint`).
    A missing file raises ``FileNotFoundError``; a malformed one :class:`CheckpointError`."""
    with open(check_path(path), "rb") as f:
        raw = f.read()
    return parse_checkpoint(raw, os.fspath(path))


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise CheckpointError(f"the key {dup!r:.60} appears twice in one object")
    return dict(pairs)


def _no_constant(name):
    raise CheckpointError(f"{name} is not a number a checkpoint may hold")


def parse_checkpoint(raw: bytes, source: str = "<bytes>") -> Dict:
    """The checked document of a checkpoint's bytes: UTF-8 JSON without NaN/Infinity
    or duplicate keys, the right format and version, an architecture of the right
    types whose parameter count equals the number of stored parameters, and numbers
    for parameters. Anything else raises :class:`CheckpointError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{source} is not a micrograd_mlp checkpoint (not UTF-8 text: {e})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except CheckpointError as e:
        raise CheckpointError(f"{source} is corrupt: {e}") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{source} is corrupt or truncated (invalid JSON: {e})") from None
    except RecursionError:
        raise CheckpointError(f"{source} is corrupt (JSON nested too deeply)") from None
    except ValueError as e:  # an integer literal of thousands of digits
        raise CheckpointError(f"{source} is corrupt ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{source} is not a micrograd_mlp checkpoint (no format "
                              f"{CHECKPOINT_FORMAT!r} field)")
    version = doc.get("version")
    if type(version) is not int or version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{source} has format version {version!r:.40}; this "
                              f"library reads version {CHECKPOINT_VERSION}")
    for key in ("architecture", "parameters"):
        if not isinstance(doc.get(key), dict):
            raise CheckpointError(f"{source}: the {key!r} entry is missing or not an object")
    if doc.get("optimizer") is not None and not isinstance(doc["optimizer"], dict):
        raise CheckpointError(f"{source}: the 'optimizer' entry must be an object or null")
    arch = check_architecture(doc["architecture"], source)
    params = doc["parameters"]
    expected = _parameter_count(arch)
    if expected != len(params):
        raise CheckpointError(f"{source}: the architecture declares {expected} parameters but "
                              f"{len(params)} are stored")
    for name, v in params.items():
        if type(v) not in (int, float) or not _finite(v):
            raise CheckpointError(f"{source}: parameter {name} must be a finite number, "
                                  f"got {v!r:.40}")
    return doc


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond the float range
        return False


def _is_int(x) -> bool:
    return type(x) is int


def check_architecture(arch: Dict, source: str = "checkpoint") -> Dict:
    """``arch`` when it is a well-typed architecture (``nin`` and every size an int
    >= 1, one activation name per layer, ``bias`` a bool); else :class:`CheckpointError`
    saying which field is wrong (``"invalid architecture ..."``)."""
    def bad(msg):
        return CheckpointError(f"{source}: invalid architecture {arch!r:.120}: {msg}")
    nin, sizes, acts = arch.get("nin"), arch.get("sizes"), arch.get("activations")
    if not _is_int(nin) or nin < 1:
        raise bad("'nin' must be an integer >= 1")
    if not isinstance(sizes, list) or not sizes or not all(_is_int(s) and s >= 1 for s in sizes):
        raise bad("'sizes' must be a non-empty list of integers >= 1")
    if not isinstance(acts, list) or len(acts) != len(sizes) or \
            not all(isinstance(a, str) for a in acts):
        raise bad("'activations' must be a list of names, one per layer")
    if not isinstance(arch.get("bias", True), bool):
        raise bad("'bias' must be true or false")
    unknown = set(arch) - {"nin", "sizes", "activations", "bias"}
    if unknown:
        raise bad(f"unknown field(s) {sorted(unknown)!r:.60}")
    return arch


def _parameter_count(arch: Dict) -> int:
    """Weights plus biases of the declared layers (exact Python ints: no overflow)."""
    widths: List[int] = [arch["nin"]] + list(arch["sizes"])
    bias = 1 if arch.get("bias", True) else 0
    return sum(widths[l + 1] * (widths[l] + bias) for l in range(len(widths) - 1))
