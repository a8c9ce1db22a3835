"""Exercise files on disk: a generated exercise's JSON (or its folder) read back as
the graph to check, a handout written for one student, and expression exercises.

A network exercise's JSON keeps its ``spec`` (net, activation, seed, loss, digits and,
for a student's variant, assignment and student) and its ``given`` numbers: reading
it rebuilds the exercise from the spec and refuses a file whose given numbers differ
(edited by hand, or made by another version). An expression exercise's spec holds the
``expression`` program and its ``values``.
"""
from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..core.graph_walk import topological_order
from ..errors import MicrogradError, TraceInputError
from ..grading.exercises import make_exercise, variant_seed
from ..grading.hand_solution import graph_steps
from .trace_cmd import build_target, parse_expression

__all__ = ["load_target", "load_exercise", "expression_exercise",
           "read_roster", "exercise_json", "MAX_EXERCISE_BYTES"]

MAX_EXERCISE_BYTES = 5_000_000


def exercise_json(path: Path) -> Dict:
    """The data of an exercise file (a clear error for anything else)."""
    if path.stat().st_size > MAX_EXERCISE_BYTES:
        raise TraceInputError(f"{path.name}: too large for an exercise file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise TraceInputError(f"{path.name}: not an exercise file (JSON expected)") from None
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise TraceInputError(f"{path.name}: not an exercise file (no 'spec' block); write "
                              f"one with micrograd-mlp exercise --format json")
    return data


def _find_json(folder: Path) -> Path:
    found = []
    for p in sorted(folder.glob("*.json")):
        try:
            exercise_json(p)
        except (TraceInputError, OSError):
            continue
        found.append(p)
    if len(found) != 1:
        raise TraceInputError(f"{folder}: holds {len(found)} exercise files; give the one to "
                              f"check ({', '.join(p.name for p in found[:3])})" if found else
                              f"{folder}: holds no exercise file (.json)")
    return found[0]


def load_target(target: str):
    """``(root, title, steps, decimals)`` of a generated exercise named by its JSON file
    or folder, or None when ``target`` names no file or folder (an example name or an
    expression)."""
    if "\n" in target or ";" in target or len(target) > 4096:
        return None
    path = Path(target)
    try:
        if not path.exists() and Path(target + ".json").is_file():  # "exercise-7" names its JSON
            path = Path(target + ".json")
        is_dir, is_file = path.is_dir(), path.is_file()
    except (OSError, ValueError):
        return None
    if not (is_dir or is_file or path.suffix.lower() == ".json"):
        return None
    if path.suffix.lower() == ".json" and not is_file:
        raise TraceInputError(f"no exercise file {target!r:.80}")
    return load_exercise(_find_json(path) if is_dir else path)


def load_exercise(path: Path):
    """``(root, title, steps, decimals)`` of the exercise file ``path``."""
    data = exercise_json(path)
    spec = data["spec"]
    try:
        if "expression" in spec:
            values = spec.get("values") or {}
            root, _, _ = build_target(str(spec["expression"]),
                                      [f"{k}={float(v)!r}" for k, v in values.items()])
            return root, data.get("title", str(spec["expression"])), graph_steps(root), \
                int(spec.get("digits", 4))
        kwargs = dict(net=spec["net"], activation=spec["activation"], loss=spec["loss"],
                      digits=int(spec["digits"]))
        if spec.get("student") is not None:
            kwargs.update(assignment=str(spec["assignment"]), student=str(spec["student"]))
        else:
            kwargs["seed"] = int(spec["seed"])
        ex = make_exercise(**kwargs)
    except (KeyError, TypeError, ValueError) as err:
        raise TraceInputError(f"{path.name}: an incomplete exercise spec ({err})") from None
    given = data.get("given")
    if isinstance(given, dict):
        for name, value in ex.steps.given.items():
            try:
                same = np.allclose(np.asarray(given.get(name), dtype=float), value, atol=1e-12)
            except (TypeError, ValueError):
                same = False
            if not same:
                raise TraceInputError(f"{path.name}: its given {name} differs from what its spec "
                                      f"makes (edited, or made by another version)")
    return ex.root, ex.title, ex.steps, ex.spec["digits"]


def _free_names(program: str) -> List[str]:
    """The variables a program reads without assigning them, in order of appearance."""
    try:
        tree = ast.parse(program.strip(), mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    assigned, called, seen = set(), set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned.add(node.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                node.id not in assigned | called and node.id not in seen:
            seen.append(node.id)
    return sorted(seen)


def expression_exercise(program: str, seed: int = 0, digits: int = 4,
                        assignment: Optional[str] = None, student: Optional[str] = None) -> Dict:
    """An exercise on an expression program (``"e = a*b; d = e + c; L = d*f"``): each
    variable gets a random value with one decimal (never 0), drawn from ``seed`` (or
    the student's variant). Returns the exercise data (the JSON written to disk)."""
    if assignment is not None:
        seed = variant_seed(assignment, student)
    names = _free_names(program)
    if not names:
        raise TraceInputError("the expression has no variables: nothing to differentiate")
    for attempt in range(200):
        rng = np.random.default_rng(seed if attempt == 0 else [seed, attempt])
        tenths = rng.integers(1, 31, size=len(names)) * rng.choice([-1, 1], size=len(names))
        values = {n: float(t) / 10.0 for n, t in zip(names, tenths)}
        try:
            root, _ = parse_expression(program, values)
        except MicrogradError:
            continue
        nodes = [n for n in topological_order(root, all_nodes=True) if n.parents]
        if any(abs(float(n.data)) < 1e-9 for n in nodes):
            continue  # a zero intermediate: a kink for max/relu, a trivial product
        spec = {"expression": program.strip(), "values": values, "seed": seed, "digits": digits}
        if assignment is not None:
            spec.update(assignment=assignment, student=student)
        title = (f"{assignment}, {student}: " if student else f"Exercise {seed}: ") + program.strip()
        steps = graph_steps(root)
        return {"title": title, "spec": spec, "given": values,
                "compute": [name for name, _ in steps]}
    raise TraceInputError(f"no usable values for {program!r:.60} in 200 draws")




def read_roster(path: str) -> List[str]:
    """The student ids of a roster CSV (a column named ``id``), in file order."""
    p = Path(path)
    if not p.is_file():
        raise TraceInputError(f"no roster file {path!r:.80}")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TraceInputError(f"{path}: not a text file (UTF-8 expected)") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "id" not in (rows[0].keys() if rows else ()):
        raise TraceInputError(f"{path}: the roster needs a column named 'id'")
    ids = [str(r["id"] or "").strip() for r in rows]
    ids = [i for i in ids if i]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise TraceInputError(f"{path}: the id {dup[0]} is given twice")
    if not ids:
        raise TraceInputError(f"{path}: no student ids")
    return ids
