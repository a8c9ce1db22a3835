"""Checkpoint files: a model's architecture and parameters (and an optimiser's state)
as JSON, written atomically."""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Dict

from ..errors import CheckpointError

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "save_checkpoint", "read_checkpoint"]

CHECKPOINT_FORMAT = "micrograd_mlp.MLP"
CHECKPOINT_VERSION = 1


def save_checkpoint(path, model, optimizer=None) -> None:
    """Write ``model`` (and ``optimizer.state_dict()`` when given) to ``path``.

    Format (JSON, UTF-8)::

        {"format": "micrograd_mlp.MLP", "version": 1,
         "architecture": {"nin": 2, "sizes": [8, 1],
                          "activations": ["sigmoid", "sigmoid"], "bias": true},
         "parameters": {"W1[0,0]": 0.12, ..., "b2[0]": 0.0},
         "optimizer": null | {"type": "Adam", ...}}

    Floats are written with ``repr`` precision, so a load gives bit-identical
    parameters. The text goes to a temporary file in the same folder which then
    replaces ``path`` with ``os.replace`` (atomic), so a failure never leaves a
    half-written file: the previous file, if any, stays intact.
    """
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": model.architecture(),
        "parameters": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
    }
    for name, v in doc["parameters"].items():
        if not math.isfinite(v):
            raise CheckpointError(f"parameter {name} is {v}; refusing to save a non-finite model")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_checkpoint(path) -> Dict:
    """The checked JSON document of a checkpoint file (format and version verified);
    raises :class:`CheckpointError` for anything else."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path} is not a micrograd_mlp checkpoint (not UTF-8 text: {e})") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is corrupt or truncated (invalid JSON: {e})") from e
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a micrograd_mlp checkpoint (no format "
                              f"{CHECKPOINT_FORMAT!r} field)")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has format version {doc.get('version')!r}; this "
                              f"library reads version {CHECKPOINT_VERSION}")
    for key in ("architecture", "parameters"):
        if not isinstance(doc.get(key), dict):
            raise CheckpointError(f"{path}: the {key!r} entry is missing or not an object")
    return doc
