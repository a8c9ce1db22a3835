"""Check a hand solution: compare a student's numbers with the graph's, and name the slip.

:func:`check` takes the root of a graph (a loss after its forward pass) and the
student's answers (``name = value`` lines, see :mod:`~micrograd_mlp.grading.answers`).
Every name the ledger or the summary prints can be answered: forward values (``s1``,
``x1[0]``, ``E``), gradients (``dE/dW2``, ``dE/ds2[0]``) and the local derivatives of
one-input activations (``sigma'(s2)``). Each answer is right when the true value rounds
to it at the digits written, wrong (the report gives the right value), or unknown (the
report gives the nearest names, by :mod:`difflib`).

For the first wrong value in backward order the report shows how the value is built
(its ledger row, ``dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = 0.4469 * 0.2472``) and tries
the usual slips, each by recomputing the value the way the slip would:

* sign (``-v``); a factor 2 or 1/2 (the 1/2 of ``E = 1/2 ||x2 - y||^2``);
* transposed indices (``dE/dW2[i,j]`` written at ``[j,i]``);
* a missing ``sigma'``: backward through ``x = sigma(s)`` with local derivative 1;
* ``sigma'`` taken at the wrong vector: ``sigma'(x)`` instead of ``sigma'(s)``, or
  ``s (1 - s)`` instead of ``x (1 - x)``;
* an upstream value already wrong: the value follows from the student's own wrong
  numbers (then the report points at the first of them).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Union

import numpy as np

from ..core.validate import check_text
from ..core.engine import Value
from ..errors import TraceInputError
from ..functions.activations import ACTIVATIONS
from .answers import Answer, canonical_name, parse_answers
from .slips import OUTPUT_FORMS, Catalog, catalog
from ..views.trace import format_array, format_table
from ..functions.composite import short_name
from ..views.viewmodel import INDEXED_NAME, fill_template, format_number

__all__ = ["Verdict", "CheckReport", "check", "catalog", "MAX_ANSWERS"]

MAX_ANSWERS = 5000  # answers in one check: far more than any hand solution


# ---------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    """The check of one answer: ``status`` is ``"right"``, ``"wrong"`` or
    ``"unknown"``; ``right`` the true value (None when unknown); ``wrong`` a mask of
    the wrong entries; ``note`` a remark (rounding, a shape, the nearest names)."""

    answer: Answer
    status: str
    name: str = ""
    right: Union[float, np.ndarray, None] = None
    wrong: Union[bool, np.ndarray] = False
    note: str = ""
    keys: object = None
    given: Union[float, np.ndarray, None] = None
    half: Union[float, np.ndarray, None] = None  # the rounding tolerance, shaped as given

    def line(self, digits: int) -> str:
        """One line of the report."""
        given = _show(self.given if self.given is not None else self.answer.value, digits)
        if self.status == "unknown":
            return f"  unknown  {self.answer.name} = {given}   {self.note}".rstrip()
        label = "right  " if self.status == "right" else "WRONG  "
        text = f"  {label}  {self.name} = {given}"
        if self.status == "wrong":
            text += f"   right value: {_show(self.right, digits)}"
        return text + (f"   ({self.note})" if self.note else "")


@dataclass
class CheckReport:
    """The result of :func:`check`: one :class:`Verdict` per answer (in the file's
    order), the ``first_wrong`` verdict in backward order (or None), and the
    ``diagnosis`` lines for it (how it is built, the slip). ``str()`` is the report;
    ``ok`` is True when every answer is right; ``exit_code`` 0 when ok, else 1."""

    title: str
    verdicts: List[Verdict]
    first_wrong: Optional[Verdict] = None
    first_key: str = ""
    slip: str = ""
    diagnosis: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every answer is right."""
        return all(v.status == "right" for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """0 when every answer is right, 1 otherwise (for grading scripts)."""
        return 0 if self.ok else 1

    def counts(self) -> Dict[str, int]:
        """``{"right": n, "wrong": n, "unknown": n}``."""
        out = {"right": 0, "wrong": 0, "unknown": 0}
        for v in self.verdicts:
            out[v.status] += 1
        return out

    def __str__(self) -> str:
        c = self.counts()
        head = (f"Checked {len(self.verdicts)} answer{'s' * (len(self.verdicts) != 1)} for "
                f"{self.title}: {c['right']} right, {c['wrong']} wrong, {c['unknown']} unknown.")
        digits = 4
        lines = [head] + [v.line(_digits_of(v.answer.half_units, digits)) for v in self.verdicts]
        if self.first_wrong is not None:
            lines += [""] + self.diagnosis
        elif self.ok:
            lines += ["", "All right."]
        return "\n".join(lines) + "\n"


def _digits_of(half, default: int) -> int:
    h = float(np.min(half)) if np.size(half) else 0.0
    if h <= 0:
        return default
    return int(min(10, max(0, round(-math.log10(2 * h)))))


def _show(value, digits: int) -> str:
    if value is None:
        return "?"
    arr = np.asarray(value, dtype=float)
    return format_number(float(arr), digits) if arr.ndim == 0 else format_array(arr, digits)


def _agree(given, right, half, slack: float = 1.0):
    """Mask: ``given`` equals ``right`` at the digits written (``slack`` half-units)."""
    given, right, half = (np.asarray(a, dtype=float) for a in (given, right, half))
    float_noise = 1e-12 * np.maximum(1.0, np.abs(right))
    return np.abs(given - right) <= slack * half * (1 + 1e-9) + float_noise


def _judge(answer: Answer, cat: Catalog) -> Verdict:
    """Compare one answer with the catalog."""
    key = answer.key
    if key in cat.scalars:
        q = cat.scalars[key]
        keys, right, name = key, q.value, q.name
    elif key in cat.vectors:
        vec = cat.vectors[key]
        keys, name = vec.keys, vec.name
        right = np.vectorize(lambda k: cat.scalars[k].value, otypes=[float])(keys)
    else:
        lookup = cat.lowercase_names()
        near = difflib.get_close_matches(key.lower(), list(lookup), n=3, cutoff=0.5)
        hint = f"nearest names: {', '.join(lookup[k] for k in near)}" if near else \
            f"no such name; known names look like {', '.join(cat.names()[:4])}"
        return Verdict(answer, "unknown", note=hint)
    given = np.asarray(answer.value, dtype=float)
    half = np.asarray(answer.half_units, dtype=float)
    right_arr = np.asarray(right, dtype=float)
    if given.shape != right_arr.shape:
        if given.squeeze().shape == right_arr.squeeze().shape:  # (3,) for a 3 x 1 matrix
            given, half = given.reshape(right_arr.shape), half.reshape(right_arr.shape)
        else:
            note = f"expected shape {'x'.join(map(str, right_arr.shape)) or 'a single number'}"
            if given.ndim == 2 and given.shape == right_arr.T.shape:
                note = "transposed: " + note
            return Verdict(answer, "wrong", name, right, np.ones(right_arr.shape, bool), note, keys,
                           given, half)
    exact = _agree(given, right_arr, half)
    close = _agree(given, right_arr, half, 2.0) & (np.abs(right_arr) >= 100 * half)
    wrong = ~(exact | close)
    note = "" if (exact | wrong).all() else \
        "last digit off by one: rounding carried from an earlier step?"
    status = "wrong" if wrong.any() else "right"
    out_given = float(given) if given.ndim == 0 else given
    return Verdict(answer, status, name, right, wrong if given.ndim else bool(wrong), note, keys,
                   out_given, half)


def check(root: Value, answers: Union[str, Mapping], title: str = "",
          where: str = "answers") -> CheckReport:
    """Check a student's ``answers`` (answers-file text, or a mapping name -> value)
    against the graph below ``root``; returns a :class:`CheckReport` (``title`` names
    the graph in it, ``where`` the answers in error messages). An answer is
    right when ``|given - true| <= 0.5 * 10^-d`` for the ``d`` decimals written. Raises
    :class:`~micrograd_mlp.errors.TraceInputError` for unreadable answers."""
    check_text(title, "title")
    check_text(where, "where")
    cat = Catalog(root)
    parsed = parse_answers(answers, where)
    if not parsed:
        raise TraceInputError("no answers given: write one 'name = value' line per number")
    if len(parsed) > MAX_ANSWERS:
        raise TraceInputError(f"{where}: {len(parsed)} answers; a hand solution has at most "
                              f"{MAX_ANSWERS} (one line per number)")
    verdicts = [_judge(a, cat) for a in parsed]
    report = CheckReport(title or f"the graph of {cat.root_name}", verdicts)
    wrong = [v for v in verdicts if v.status == "wrong"]
    if wrong:
        _diagnose(report, cat, verdicts)
    return report


# ---------------------------------------------------------------- the first wrong value


def _key_array(v: Verdict) -> np.ndarray:
    """The verdict's scalar keys as an object array (0-d for a single number)."""
    return np.asarray(v.keys, dtype=object) if isinstance(v.keys, np.ndarray) else \
        np.array(v.keys, dtype=object)


def _first_wrong_key(v: Verdict, cat: Catalog) -> str:
    """The verdict's wrong entry that backward reaches first."""
    keys = _key_array(v)
    mask = np.broadcast_to(np.asarray(v.wrong, dtype=bool), keys.shape)
    wrong_keys = [k for k, m in zip(keys.ravel(), mask.ravel()) if m] or list(keys.ravel())
    return min(wrong_keys, key=lambda k: cat.scalars[k].rank)


def _values_at(values: Dict[str, float], v: Verdict) -> np.ndarray:
    keys = _key_array(v)
    return np.vectorize(lambda k: values[k], otypes=[float])(keys) if keys.ndim else \
        np.asarray(values[keys.item()], dtype=float)


def _overrides(verdicts: List[Verdict], cat: Catalog) -> Dict[str, Dict[Value, float]]:
    """The wrong numbers of ``verdicts`` as replacements for :meth:`Catalog.replay`."""
    out = {"grads_given": {}, "values_given": {}, "locals_given": {}}
    where = {"gradient": "grads_given", "forward": "values_given", "local": "locals_given"}
    for v in verdicts:
        keys = _key_array(v)
        given = np.asarray(v.given, dtype=float)
        if given.shape != keys.shape:
            continue
        mask = np.broadcast_to(np.asarray(v.wrong, dtype=bool), keys.shape)
        for k, g, m in zip(keys.ravel(), given.ravel(), mask.ravel()):
            if m:
                q = cat.scalars[k]
                out[where[q.kind]][q.node] = float(g)
    return out


def _layers(cat: Catalog):
    """One-input activation nodes grouped by layer: ``(name, in base, out base) -> nodes``."""
    layers: Dict[tuple, set] = {}
    for node in cat.local_key:
        group = cat.view.groups[node]
        inp = cat.view.edges[node][0].inp
        layers.setdefault((group.name, _base(cat.name_of(inp)), _base(cat.name_of(node))),
                          set()).add(node)
    return layers


def _base(name: str) -> str:
    m = INDEXED_NAME.match(name)
    return m.group(1) + m.group(2) if m else name


def _candidates(v: Verdict, cat: Catalog, verdicts: List[Verdict]):
    """``(slip, explanation, value the slip gives)`` for every slip tried, in order."""
    r = np.asarray(v.right, dtype=float)
    R = cat.root_name
    yield ("sign", "your value is minus the right one: a minus lost or added (y - x2 "
           "written for x2 - y, or the minus of a local derivative)", -r)
    yield ("factor 2", f"your value is twice the right one: the 1/2 of the loss is lost "
           f"(with {R} = 1/2 ||x2 - y||^2 the 1/2 cancels the 2 of the square, so "
           f"d{R}/dx2 = x2 - y)", 2.0 * r)
    yield ("factor 2", "your value is half the right one: the 2 of the square is lost, "
           "or the 1/2 of the loss counted twice", 0.5 * r)
    if r.ndim == 2 and r.shape[0] == r.shape[1]:
        yield ("transposed", "your matrix is the transpose of the right one: entry [i,j] "
               "belongs to row i (neuron i) and column j (its input j)", r.T)
    if r.ndim == 0:
        swapped = _swapped(v, cat)
        if swapped is not None:
            yield ("transposed", f"your value is that of {swapped.name}: the indices are "
                   f"swapped (entry [i,j] is neuron i, input j)", np.asarray(swapped.value))
    for (act, s, x), nodes in _layers(cat).items():
        short = short_name(act)
        yield ("missing " + short + "'", f"your value is what backward gives with {short}'({s}) "
               f"left out: d{R}/d{s} = d{R}/d{x} * {short}'({s}), elementwise",
               _values_at(cat.replay(local_rule=lambda n, e: 1.0 if n in nodes else None), v))
        df = ACTIVATIONS[act].df
        yield (short + "' at the wrong vector", f"your value uses {short}'({x}), the derivative "
               f"taken at the output {x}; it is taken at the input: {short}'({s})",
               _values_at(cat.replay(local_rule=lambda n, e: float(df(n.data)) if n in nodes
                                     else None), v))
        if act in OUTPUT_FORMS:
            form, fn = OUTPUT_FORMS[act]
            yield (short + "' at the wrong vector", f"your value uses {form.format(x=s)}: the "
                   f"formula {short}'({s}) = {form.format(x=x)} needs the output {x}, not {s}",
                   _values_at(cat.replay(local_rule=lambda n, e: float(fn(e.inp.data)) if n in
                                         nodes else None), v))


def _swapped(v: Verdict, cat: Catalog):
    q = cat.scalars[v.keys]
    m = INDEXED_NAME.match(q.inner)
    if not m or "," not in m.group(3):
        return None
    i, j = m.group(3).split(",")[:2]
    other = q.name.replace(f"[{i},{j}]", f"[{j.strip()},{i.strip()}]")
    found = cat.scalars.get(canonical_name(other))
    return found if found is not None and found is not q else None


def _upstream(v: Verdict, cat: Catalog, verdicts: List[Verdict]):
    """The first other wrong answer whose number, used as the student used it, gives
    ``v``'s value: ``(verdict, value)``; or None."""
    g = np.asarray(v.given, dtype=float)
    half = np.broadcast_to(np.asarray(v.half, dtype=float), g.shape)
    mask = np.broadcast_to(np.asarray(v.wrong, dtype=bool), g.shape)
    others = sorted((o for o in verdicts if o.status == "wrong" and o is not v),
                    key=lambda o: cat.scalars[_first_wrong_key(o, cat)].rank)
    for group in [[o] for o in others] + ([others] if len(others) > 1 else []):
        cand = _values_at(cat.replay(**_overrides(group, cat)), v)
        if _fits(g, cand, np.asarray(v.right, dtype=float), half, mask):
            return group[0]
    return None


def _fits(g, cand, right, half, mask) -> bool:
    """The slip's value matches the student's on the wrong entries (and is itself wrong)."""
    mask = np.broadcast_to(mask, g.shape)
    matches = _agree(g, cand, half, 3.0)[mask].all()
    return bool(matches and not _agree(cand, right, half)[mask].all())


def _built(key: str, cat: Catalog, digits: int) -> str:
    """How the entry ``key`` is computed, with its numbers."""
    q = cat.scalars[key]
    if q.kind == "gradient":
        row = cat.rows[int(q.rank)]
        return format_table(cat.root, "text", collapse=True, digits=digits, rows=[row]).strip()
    if q.kind == "local":
        group = cat.view.groups[q.node]
        inp = cat.view.edges[q.node][0].inp
        act = ACTIVATIONS.get(group.name)
        rule = act.derivative if act is not None else group.name
        return (f"{q.name} with {rule}, at {cat.name_of(inp)} = "
                f"{format_number(inp.data, digits)}: {format_number(q.value, digits)}")
    value = format_number(q.value, digits)
    node = q.node
    if node in cat.view.groups:
        edges = cat.view.edges[node]
        ins = [e.inp for e in edges if e.inp.requires_grad] or [e.inp for e in edges]
        group = cat.view.groups[node].name
        args = ", ".join(sorted(dict.fromkeys(cat.name_of(i) for i in ins)))
        return f"{q.name} = {short_name(group) or group}({args}) = {value}"
    if node.parents and node.primitive is not None:
        return f"{q.name} = {fill_template(node.primitive.text, node, cat.namer)} = {value}"
    return f"{q.name} = {value} (given)"


def _diagnose(report: CheckReport, cat: Catalog, verdicts: List[Verdict]) -> None:
    """Fill the report's first wrong value, its slip and the explanation."""
    wrong = [v for v in verdicts if v.status == "wrong"]
    firsts = {id(v): _first_wrong_key(v, cat) for v in wrong}
    first = min(wrong, key=lambda v: cat.scalars[firsts[id(v)]].rank)
    key = firsts[id(first)]
    digits = _digits_of(first.half, 4)
    report.first_wrong, report.first_key = first, key
    entry = cat.scalars[key].name
    head = f"First wrong value, in backward order: {first.name}"
    if entry != first.name:
        head += f" (its entry {entry} first)"
    lines = [head, f"  you wrote:   {_show(first.given, digits)}",
             f"  right value: {_show(first.right, digits)}",
             f"  built as:    {_built(key, cat, digits)}"]
    slip, why = _find_slip(first, cat, verdicts)
    if slip == "upstream":
        lines.append(f"  slip:        upstream value already wrong: {why}")
    elif slip:
        lines.append(f"  slip:        {slip}: {why}")
    else:
        lines.append("  slip:        none of the usual slips (sign, factor 2, transposed, "
                     "sigma', an earlier wrong value) gives your number; redo it from the "
                     "line above")
    report.slip, report.diagnosis = slip, lines


def _find_slip(v: Verdict, cat: Catalog, verdicts: List[Verdict]):
    """``(slip name, explanation)`` for the first slip that gives the student's value."""
    g = np.asarray(v.given, dtype=float)
    r = np.asarray(v.right, dtype=float)
    half = np.asarray(v.half, dtype=float)
    if g.shape != r.shape:
        flipped = g.ndim == 2 and g.shape == r.T.shape
        if flipped and _agree(g.T, r, half.reshape(g.shape).T, 3.0).all():
            return "transposed", (f"your matrix is {' x '.join(map(str, g.shape))}, the transpose "
                                  f"of the right one: {v.name}[i,j] is row i (neuron i), "
                                  f"column j (input j)")
        return "", ""
    half = np.broadcast_to(half, g.shape)
    mask = np.broadcast_to(np.asarray(v.wrong, dtype=bool), g.shape)
    for slip, why, cand in _candidates(v, cat, verdicts):
        if np.shape(cand) == g.shape and _fits(g, cand, r, half, mask):
            return slip, why
    source = _upstream(v, cat, verdicts)
    if source is not None:
        return "upstream", (f"{v.name} follows from your {source.name} = "
                            f"{_show(source.given, 4)}, which is wrong (right: "
                            f"{_show(source.right, 4)}); fix {source.name} first")
    return "", ""
