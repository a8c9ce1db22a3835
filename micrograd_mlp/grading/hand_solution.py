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

**The rounding rule.** Every number is asked with ``decimals`` decimals (4 unless a
course says otherwise). A number written with fewer is "not enough digits" (unless it
is the exact value, such as ``-0.1`` for ``s1[0]``). A number is right when the true
value rounds to it, or when it is what a student gets who carries every earlier
number rounded to ``decimals`` decimals (within one unit of the last decimal: the
rounded-carry key of :func:`rounded_carry`).

**Follow-through.** Each number is also recomputed from the student's *own* earlier
numbers through the graph (:meth:`~micrograd_mlp.grading.slips.Catalog.recompute`): a
value that is wrong but right given the student's earlier values is marked "right,
follows from your X" and earns its point; one slip costs once. ``steps`` (the steps of
a hand solution) give a score per step and in total.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Union

import numpy as np

from ..core.validate import check_int, check_iterable, check_real, check_text
from ..core.engine import Value
from ..errors import DataTypeError, TraceInputError
from ..views.steps import ExerciseSteps
from .answers import Answer, canonical_name, decimals_of, parse_answers
from .slips import Catalog, catalog, entry_of
from ..views.trace import format_array, format_table
from ..functions.composite import COMPOSITES, short_name
from ..views.viewmodel import INDEXED_NAME, fill_template, format_number

__all__ = ["Verdict", "CheckReport", "EntryResult", "check", "graph_steps", "catalog", "rounded_carry",
           "round_half_away", "MAX_ANSWERS", "DECIMALS", "STATUSES"]

MAX_ANSWERS = 5000  # answers in one check: far more than any hand solution
DECIMALS = 4        # decimals asked for unless a course sets its own rule
#: the status of one number: right (or right within the rounding rule), right given
#: the student's own earlier numbers, written with too few decimals, wrong, not given
STATUSES = ("right", "follows", "digits", "wrong", "missing")


def round_half_away(value: float, decimals: int) -> float:
    """``value`` rounded to ``decimals`` decimals as by hand: a 5 rounds away from 0
    (a float's ``...4999999`` for an exact ``...5`` is nudged first)."""
    value = check_real(value, "value", finite=False)
    decimals = check_int(decimals, "decimals", minimum=0, maximum=300)
    if not math.isfinite(value):
        return value
    scale = 10.0 ** decimals
    nudged = abs(value) * scale * (1 + 1e-12)
    return math.copysign(math.floor(nudged + 0.5) / scale, value)


def rounded_carry(root_or_catalog, decimals: int = DECIMALS) -> Dict[str, float]:
    """The rounded-carry key: every number of the graph as a student gets it who
    carries each earlier number rounded to ``decimals`` decimals (forward values,
    local derivatives and gradients alike); ``{key: value before its own rounding}``."""
    cat = root_or_catalog if isinstance(root_or_catalog, Catalog) else Catalog(root_or_catalog)
    decimals = check_int(decimals, "decimals", minimum=0, maximum=15)
    return cat.recompute(lambda key, v: round_half_away(v, decimals))


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
    entries: List["EntryResult"] = field(default_factory=list)

    def line(self, digits: int) -> str:
        """One line of the report."""
        given = _show(self.given if self.given is not None else self.answer.value, digits)
        if self.status == "unknown":
            return f"  unknown  {self.answer.name} = {given}   {self.note}".rstrip()
        if self.status == "digits":
            given = " ".join(self.answer.text.split())
        label = {"right": "right  ", "follows": "right  ", "digits": "DIGITS ",
                 "wrong": "WRONG  "}[self.status]
        text = f"  {label}  {self.name} = {given}"
        if self.status in ("wrong", "digits"):
            text += f"   right value: {_show(self.right, digits)}"
        return text + (f"   ({self.note})" if self.note else "")


@dataclass
class EntryResult:
    """One number of the solution as graded: its ``name``, the ``step`` it belongs to,
    ``status`` (one of :data:`STATUSES`), the student's ``given`` number (None when not
    given), the ``right`` value, ``expected`` (what it is given the student's own
    earlier numbers), ``source`` (for ``"follows"``: the earlier answer it follows
    from) and the ``points`` it earns (1 or 0)."""

    name: str
    key: str
    step: str
    status: str
    given: Optional[float]
    right: float
    expected: float
    source: str = ""

    @property
    def points(self) -> int:
        """1 for a right number (also right given the student's earlier numbers), else 0."""
        return int(self.status in ("right", "follows"))

    def as_dict(self) -> Dict:
        """JSON-ready."""
        return {"name": self.name, "step": self.step, "status": self.status,
                "given": self.given, "right": self.right, "expected": self.expected,
                "follows_from": self.source, "points": self.points}


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
    entries: List[EntryResult] = field(default_factory=list)
    decimals: int = DECIMALS

    @property
    def ok(self) -> bool:
        """True when every answer is right."""
        return all(v.status == "right" for v in self.verdicts)

    @property
    def score(self) -> int:
        """Points earned: one per right number of the solution (follow-through included)."""
        return sum(e.points for e in self.entries)

    @property
    def max_score(self) -> int:
        """One point per number of the solution."""
        return len(self.entries)

    def step_scores(self) -> List[Dict]:
        """``[{"step": name, "score": n, "max_score": m}, ...]`` in the solution's order."""
        out: Dict[str, List[int]] = {}
        for e in self.entries:
            out.setdefault(e.step, [0, 0])
            out[e.step][0] += e.points
            out[e.step][1] += 1
        return [{"step": k, "score": v[0], "max_score": v[1]} for k, v in out.items()]

    @property
    def first_slip(self) -> str:
        """The first wrong number and the slip named for it (``""`` when none)."""
        if self.first_wrong is None:
            return ""
        return f"{self.first_wrong.name}: {self.slip or 'no usual slip'}"

    def as_dict(self) -> Dict:
        """The report as JSON-ready data: ``score``, ``max_score``, ``steps`` (score per
        step), ``values`` (one entry per number with its status), ``answers`` (one per
        line of the answers file), ``first_slip`` and the ``diagnosis`` lines."""
        return {"title": self.title, "score": self.score, "max_score": self.max_score,
                "decimals": self.decimals, "ok": self.ok, "steps": self.step_scores(),
                "values": [e.as_dict() for e in self.entries],
                "answers": [{"name": v.answer.name, "line": v.answer.line, "status": v.status,
                             "note": v.note} for v in self.verdicts],
                "first_slip": self.first_slip, "diagnosis": list(self.diagnosis)}

    @property
    def exit_code(self) -> int:
        """0 when every answer is right, 1 otherwise (for grading scripts)."""
        return 0 if self.ok else 1

    def counts(self) -> Dict[str, int]:
        """``{"right": n, "wrong": n, "unknown": n}`` (a number right given the student's
        earlier ones counts as right; too few digits as wrong)."""
        out = {"right": 0, "wrong": 0, "unknown": 0}
        for v in self.verdicts:
            out[{"follows": "right", "digits": "wrong"}.get(v.status, v.status)] += 1
        return out

    def __str__(self) -> str:
        c = self.counts()
        head = (f"Checked {len(self.verdicts)} answer{'s' * (len(self.verdicts) != 1)} for "
                f"{self.title}: {c['right']} right, {c['wrong']} wrong, {c['unknown']} unknown.")
        digits = 4
        lines = [head] + [v.line(max(self.decimals, _digits_of(v.answer.half_units, digits)))
                          for v in self.verdicts]
        if any(v.status == "digits" for v in self.verdicts):
            lines += ["", f"Not enough digits: give every number with {self.decimals} decimals "
                          f"(a coarser number is not graded right)."]
        if self.first_wrong is not None:
            lines += [""] + self.diagnosis
        elif self.ok:
            lines += ["", "All right."]
        if self.entries:
            given = sum(e.status != "missing" for e in self.entries)
            lines += ["", f"Score: {self.score} / {self.max_score} ({given} of the solution's "
                          f"{self.max_score} numbers given)"]
            lines += [f"  {s['step']}: {s['score']} / {s['max_score']}" for s in self.step_scores()]
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
    """Match one answer with the catalog: its keys, true values and the student's
    numbers in the same shape (the grading itself is done by :func:`_grade`)."""
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
    out_given = float(given) if given.ndim == 0 else given
    return Verdict(answer, "right", name, right, np.zeros(given.shape, bool) if given.ndim
                   else False, "", keys, out_given, half)


def _grade(g: float, h: float, truth: float, carry: float, follow: float,
           decimals: int) -> str:
    """The status of one number: ``g`` written with half-unit ``h``; ``truth`` the
    exact value, ``carry`` the rounded-carry value, ``follow`` the value computed from
    the student's own earlier numbers."""
    if not math.isfinite(g):
        return "wrong"
    exact = abs(g - truth) <= 1e-12 * max(1.0, abs(truth))
    written = decimals_of(h)
    # too few decimals: only when the true value needs more than were written (an
    # integer answer to an integer value is complete) and the coarse number rounds right
    needs_more = abs(truth - round_half_away(truth, written)) > 1e-12 * max(1.0, abs(truth))
    if written < decimals and not exact and needs_more:
        return "digits"
    if exact or bool(_agree(g, truth, h)):
        return "right"
    tol = 2.0 * h * (1 + 1e-9) + 1e-12 * max(1.0, abs(truth))
    if math.isfinite(carry) and abs(g - carry) <= tol:
        return "carried"
    if math.isfinite(follow) and abs(g - follow) <= tol:
        return "follows"
    return "wrong"


def _solution_order(cat: Catalog, key: str) -> float:
    """Forward values first (in forward order), then the backward numbers in backward
    order: the order a hand solution computes them in."""
    q = cat.scalars[key]
    return q.rank - 3e6 if q.kind == "forward" else q.rank


def check(root: Value, answers: Union[str, Mapping], title: str = "",
          where: str = "answers", decimals: int = DECIMALS, steps=None) -> CheckReport:
    """Check a student's ``answers`` (answers-file text, or a mapping name -> value)
    against the graph below ``root``; returns a :class:`CheckReport` (``title`` names
    the graph in it, ``where`` the answers in error messages).

    A number is right when ``|given - true| <= 0.5 * 10^-d`` for the ``d`` decimals
    written, or when it is the rounded-carry value (within one unit of its last
    digit); "follows" when it is right given the student's own earlier numbers;
    "digits" when written with fewer than ``decimals`` decimals (0: any number of
    decimals is enough); else wrong. ``steps``: the hand solution's steps, as
    ``[(step name, [number names]), ...]`` or an :class:`~micrograd_mlp.views.steps.
    ExerciseSteps`; they give the score (one point per number; the numbers not given
    are "missing"). Raises :class:`~micrograd_mlp.errors.TraceInputError` for
    unreadable answers."""
    check_text(title, "title")
    check_text(where, "where")
    decimals = check_int(decimals, "decimals", minimum=0, maximum=15)
    cat = Catalog(root)
    parsed = parse_answers(answers, where)
    if not parsed:
        raise TraceInputError("no answers given: write one 'name = value' line per number")
    if len(parsed) > MAX_ANSWERS:
        raise TraceInputError(f"{where}: {len(parsed)} answers; a hand solution has at most "
                              f"{MAX_ANSWERS} (one line per number)")
    verdicts = [_judge(a, cat) for a in parsed]
    student: Dict[str, tuple] = {}
    for v in verdicts:
        for k, g, h in _entries_of(v):
            student[k] = (g, h, v)
    carry = rounded_carry(cat, decimals) if decimals else {}
    follow = cat.recompute(lambda k, val: student[k][0] if k in student else None)
    status: Dict[str, str] = {}
    for k, (g, h, v) in student.items():
        q = cat.scalars[k]
        status[k] = _grade(g, h, q.value, carry.get(k, math.nan), follow[k], decimals)
    _settle(verdicts, status)
    report = CheckReport(title or f"the graph of {cat.root_name}", verdicts, decimals=decimals)
    sources = _sources(cat, verdicts, student, status)
    report.entries = _entries(cat, steps, student, status, follow, sources)
    for v in verdicts:
        if v.status == "follows":
            names = sorted({sources[k] for k, _, _ in _entries_of(v) if sources.get(k)})
            v.note = ("right, follows from your " + " and ".join(names)) if names else \
                "right given your earlier numbers"
    if any(v.status == "wrong" for v in verdicts):
        _diagnose(report, cat, verdicts)
    return report


def graph_steps(root: Value) -> List[tuple]:
    """The numbers of a graph that is no network (an expression program), one step
    each, in the order a hand solution computes them: the forward value of every
    labelled intermediate, then the gradient of every labelled node in backward
    order (``[(name, [name]), ...]``, for :func:`check`'s ``steps``)."""
    cat = Catalog(root)
    forward = [q for q in cat.scalars.values() if q.kind == "forward" and q.node.parents]
    backward = [q for q in cat.scalars.values() if q.kind == "gradient"
                and q.node is not root and q.node.label]
    ordered = sorted(forward + backward, key=lambda q: _solution_order(cat, canonical_name(q.name)))
    return [(q.name, [q.name]) for q in ordered]


def _entries_of(v: Verdict):
    """``(key, given, half)`` of each number of a verdict whose shape fits."""
    if v.status == "unknown" or v.keys is None:
        return []
    keys = _key_array(v)
    given = np.asarray(v.given, dtype=float)
    if given.shape != keys.shape:
        return []
    half = np.broadcast_to(np.asarray(v.half, dtype=float), keys.shape)
    return [(k, float(g), float(h)) for k, g, h in zip(keys.ravel(), given.ravel(), half.ravel())]


def _settle(verdicts: List[Verdict], status: Dict[str, str]) -> None:
    """Each verdict's status and mask of wrong entries from its numbers' statuses."""
    for v in verdicts:
        entries = _entries_of(v)
        if not entries:
            continue
        states = [status[k] for k, _, _ in entries]
        bad = [s in ("wrong", "digits") for s in states]
        v.wrong = np.reshape(bad, np.shape(v.given)) if np.ndim(v.given) else bool(bad[0])
        if "wrong" in states:
            v.status = "wrong"
        elif "digits" in states:
            v.status, v.note = "digits", "not enough digits"
        elif "follows" in states:
            v.status = "follows"
        else:
            v.status = "right"
        if v.status == "right" and "carried" in states:
            v.note = "right within the rounding rule: earlier numbers carried rounded"


def _sources(cat: Catalog, verdicts: List[Verdict], student, status) -> Dict[str, str]:
    """For each number that follows from the student's earlier numbers, the name of
    the answer it follows from (the nearest one whose replacement by the true value
    changes it)."""
    follows = [k for k, s in status.items() if s == "follows"]
    if not follows:
        return {}
    suspects = sorted((v for v in verdicts if v.status in ("wrong", "follows", "digits")),
                      key=lambda v: -min(_solution_order(cat, k) for k, _, _ in _entries_of(v)))
    out: Dict[str, str] = {}
    for v in suspects:
        own = {k for k, _, _ in _entries_of(v)}
        without = cat.recompute(lambda k, val: cat.scalars[k].value if k in own else
                                student[k][0] if k in student else None)
        for k in follows:
            if k in out or k in own or _solution_order(cat, k) <= min(
                    _solution_order(cat, o) for o in own):
                continue
            g, h, _ = student[k]
            if abs(without[k] - g) > 2.0 * h:
                out[k] = v.name
    return out


def _entries(cat: Catalog, steps, student, status, follow, sources) -> List[EntryResult]:
    """One :class:`EntryResult` per number of ``steps`` (none without steps)."""
    out = []
    for step_name, names in _step_list(steps):
        for name in names:
            key = canonical_name(name)
            q = cat.scalars.get(key)
            if q is None:
                continue
            if key in student:
                st = status[key]
                st = "right" if st == "carried" else st
                out.append(EntryResult(q.name, key, step_name, st, student[key][0], q.value,
                                       follow[key], sources.get(key, "")))
            else:
                out.append(EntryResult(q.name, key, step_name, "missing", None, q.value,
                                       follow[key]))
    return out


def _step_list(steps):
    """``steps`` as ``[(name, [number names])]``."""
    if steps is None:
        return []
    if isinstance(steps, ExerciseSteps):
        return [(s.name, [e.name for e in s.entries]) for s in steps.steps]
    out = []
    for item in check_iterable(steps, "steps"):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], (tuple, list))
                and all(isinstance(n, str) for n in item[1])):
            raise DataTypeError(f"steps must be ExerciseSteps or (step name, [number names]) "
                                f"pairs, not {item!r:.60}")
        out.append((item[0], list(item[1])))
    return out


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
    return min(wrong_keys, key=lambda k: _solution_order(cat, k))


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
    for order in ("last", "first"):
        yield ("overwritten, not summed", f"a value used more than once gets one gradient "
               f"share per use, added up; yours keeps only the {order} share (the gradient "
               f"was overwritten)", _values_at(cat.replay(keep=order), v))
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
        entry = COMPOSITES.get(act)
        short = short_name(act)
        yield ("missing " + short + "'", f"your value is what backward gives with {short}'({s}) "
               f"left out: d{R}/d{s} = d{R}/d{x} * {short}'({s}), elementwise",
               _values_at(cat.replay(local_rule=lambda n, e: 1.0 if n in nodes else None), v))
        df = entry.df if entry is not None else None
        if df is not None:
            yield (short + "' at the wrong vector", f"your value uses {short}'({x}), the "
                   f"derivative taken at the output {x}; it is taken at the input: {short}'({s})",
                   _values_at(cat.replay(local_rule=lambda n, e: float(df(n.data)) if n in nodes
                                         else None), v))
        form, fn = (entry.output_derivative, entry.output_derivative_fn) if entry is not None \
            else ("", None)
        if fn is not None:
            yield (short + "' at the wrong vector", f"your value uses "
                   f"{form.format(out=s).replace(' * ', ' ')}: the formula {short}'({s}) = "
                   f"{form.format(out=x).replace(' * ', ' ')} needs the output {x}, not {s}",
                   _values_at(cat.replay(local_rule=lambda n, e: float(fn(e.inp.data)) if n in
                                         nodes else None), v))
        f = entry.f if entry is not None else None
        if f is not None:
            yield ("composition as a product", f"your value uses {short}({s}) = {x} where the "
                   f"chain rule needs {short}'({s}): the derivative of a composition is the "
                   f"outer derivative at the inner value, not the outer function times the inner",
                   _values_at(cat.replay(local_rule=lambda n, e: float(n.data) if n in nodes
                                         else None), v))
        if df is not None:
            yield (short + "' multiplied, not applied", f"your value uses {short}' * {s} (the "
                   f"derivative multiplied by {s}); {short}'({s}) means the derivative taken "
                   f"at {s}",
                   _values_at(cat.replay(local_rule=lambda n, e: float(df(e.inp.data)) *
                                         float(e.inp.data) if n in nodes else None), v))
            yield (f"{short}'(0) at a kink", f"a pre-activation is exactly 0, where {short} has "
                   f"a kink: the library (as PyTorch) takes the derivative from the left there, "
                   f"{short}'(0) = {float(df(0.0)):g}; your value takes it from the right",
                   _values_at(cat.replay(local_rule=lambda n, e: float(df(1e-9)) if n in nodes
                                         and e.inp.data == 0.0 else None), v))
        yield ("dot product, not elementwise", f"your d{R}/d{s} has every entry equal to "
               f"the sum of d{R}/d{x} * {short}'({s}): a dot (matrix) product where the "
               f"elementwise product belongs", _dot_instead(cat, nodes, v))
    yield ("derivative at a kink", "an input of a piecewise function is exactly 0, at its "
           "kink: the library (as PyTorch) takes the derivative from the left there "
           "(ReLU'(0) = 0); your value takes it from the right",
           _values_at(cat.replay(kink=True), v))
    for carried in range(cat_decimals(v) - 1, 0, -1):
        yield ("rounded too early", f"your numbers follow from carrying earlier numbers "
               f"rounded to {carried} decimals; carry them with {cat_decimals(v)} (within "
               f"that rule a value is right)",
               _values_at(cat.recompute(lambda k, val, c=carried: round_half_away(val, c)), v))


def _unsummed(v: Verdict, cat: Catalog, g: np.ndarray) -> str:
    """The explanation when ``g`` holds a vector's gradient shares one by one (a matrix
    of terms ``W[i,j] dE/ds[i]`` never summed), else ``""``."""
    keys = _key_array(v)
    if keys.ndim != 1 or g.ndim != 2:
        return ""
    shares = cat.shares()
    rows = [shares.get(cat.scalars[k].node, []) for k in keys]
    if len({len(r) for r in rows}) != 1 or len(rows[0]) < 2:
        return ""
    terms = np.array(rows, dtype=float)
    half = np.broadcast_to(np.asarray(v.half, dtype=float).reshape(-1)[0], g.shape)
    for cand in (terms, terms.T):
        if cand.shape == g.shape and _agree(g, cand, half, 3.0).all():
            return (f"your {v.name} holds its terms one by one (an elementwise product); the "
                    f"chain rule adds them up: each entry is a sum over the uses of the "
                    f"value (a matrix product, {v.name} = W^T times the next gradient)")
    return ""


def cat_decimals(v: Verdict) -> int:
    """The decimals of the student's answer (the carry rule's digits)."""
    return max(1, _digits_of(v.half, 4))


def _dot_instead(cat: Catalog, nodes, v: Verdict):
    """Every ``dE/ds`` of one layer replaced by the layer's sum of
    ``dE/dx * f'(s)`` (a dot product where the elementwise product belongs)."""
    total = 0.0
    ins = []
    for node in nodes:
        edge = cat.view.edges[node][0]
        grad = cat.scalars.get(cat.grad_key.get(node, ""))
        if grad is None:
            return np.full(np.shape(v.right), np.nan)
        total += grad.value * float(edge.local)
        ins.append(edge.inp)
    given = {n: total for n in ins}
    return _values_at(cat.replay(grads_given=given), v)


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
        act = entry_of(group)
        rule = act.derivative if act is not None and act.derivative else group.name
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
    first = min(wrong, key=lambda v: _solution_order(cat, firsts[id(v)]))
    key = firsts[id(first)]
    digits = max(report.decimals, _digits_of(first.half, 4))
    report.first_wrong, report.first_key = first, key
    entry = cat.scalars[key].name
    head = f"First wrong value: {first.name}"
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
        unsummed = _unsummed(v, cat, g)
        if unsummed:
            return "elementwise, not a matrix product", unsummed
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
