"""Backpropagation frame by frame: one drawing per step, as pictures, an HTML page a
student can step through, or a quiz.

Two kinds of frames:

* node level (:func:`step_frames`): frame 0 shows the forward pass, frame ``k`` the
  graph after backward step ``k`` (its node highlighted, every gradient known so far
  filled in, ``+...`` on a gradient still being summed; once the last share arrives
  the caption shows the shares added up);
* exercise level (:func:`exercise_frames`): for an MLP, one frame per step of the hand
  solution (:mod:`micrograd_mlp.views.steps`) drawn on the vector view with the
  vectors of the step highlighted and the later ones shown as ``?``.

Outputs: :func:`write_frames` (``frame_000.svg``/``.png``; a PNG carries its step text
under the drawing and is at most ``max_width`` = 1600 px wide), :func:`write_gif`, and
:func:`write_html` / :class:`Stepper` (one self-contained page; ``quiz=True`` hides
every number until the student types it; see :mod:`.stepper_page`). A
:class:`Stepper` shows itself in Jupyter and VS Code (``_repr_html_``).
"""
from __future__ import annotations

import hashlib
import html
import io
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..core import atomic_files
from ..core.validate import (
    check_choice, check_file_to_write, check_flag, check_int, check_iterable, check_path,
    check_text,
)
from ..core.engine import Value, backward_seed
from ..core.validate_values import check_value
from ..errors import ArgumentError, DataTypeError, GraphvizMissingError, TraceInputError
from . import stepper_page
from .dot_run import MAX_NODES, run_dot
from .graph import INSTALL_HINT, draw_dot, draw_mlp, render
from .plots import check_dpi
from .steps import Entry, ExerciseSteps, exercise_steps, is_network
from .trace import backward_steps, traced_gradients
from .viewmodel import Namer, build_view, format_number, paren

__all__ = ["Frame", "Stepper", "step_frames", "exercise_frames", "write_frames", "write_gif",
           "write_html", "page_html", "exam_html", "write_exam", "svg_for_html", "MAX_WIDTH"]

MAX_WIDTH = 1600  # widest PNG frame by default, in pixels
FRAME_FORMATS = ("svg", "png", "pdf", "dot", "gv")


@dataclass
class Frame:
    """One picture of the walk: its ``caption`` (text lines), ``graph`` (a
    ``graphviz.Digraph``), the ``header`` a quiz shows above the questions, and the
    numbers of the step as quiz ``questions`` (:class:`~.steps.Entry`)."""

    index: int
    caption: str
    graph: object
    _svg: Optional[str] = None
    header: str = ""
    questions: List[Entry] = field(default_factory=list)
    label: str = ""

    def svg(self) -> str:
        """The frame rendered as SVG text (rendered once, then reused)."""
        if self._svg is None:
            self._svg = _pipe(self.graph, "svg").decode("utf-8")
        return self._svg


def _pipe(graph, fmt: str, timeout=None) -> bytes:
    """The frame's drawing rendered by ``dot`` under its time limit (:func:`run_dot`)."""
    try:
        return run_dot(graph.source, fmt, timeout)
    except GraphvizMissingError:
        raise GraphvizMissingError(
            f"cannot render step frames: the Graphviz 'dot' program was not found; "
            f"{INSTALL_HINT}") from None


def step_frames(root: Value, collapse=True, digits: int = 4, rankdir: str = "LR",
                title: str = "", quiz: bool = False,
                max_nodes: Optional[int] = MAX_NODES) -> List[Frame]:
    """Frame 0 (the forward pass) and one frame per backward step of ``root``
    (composites collapsed unless ``collapse=False``); see the module docstring.
    ``quiz=True``: each frame draws the gradients known *before* its step (the
    student computes the step's shares). ``max_nodes``: as in
    :func:`~.graph.draw_dot` (a larger graph is refused before any frame is made)."""
    check_value(root, "root")
    quiz = check_flag(quiz, "quiz")
    view = build_view(root, collapse, fold=False)
    namer = Namer(view.order, view=view)
    namer.root = root
    rname = namer(root, atom=False)
    remaining, shares = {}, {}
    for node in view.edges:
        for e in view.edges[node]:
            remaining[e.inp] = remaining.get(e.inp, 0) + 1
    final = traced_gradients(root, collapse=collapse)
    scale = max([abs(float(g)) if not hasattr(g, "shape") else float(abs(g).mean())
                 for n, g in final.items() if n is not root] or [0.0])
    known = {root: backward_seed(root)}
    partial = set()
    frames = [Frame(0, f"Forward pass done: {rname} = {format_number(root.data, digits)}. "
                       f"Backward starts with d{rname}/d{rname} = 1.",
                    draw_dot(root, grads=dict(known), highlight=[root], digits=digits,
                             rankdir=rankdir, title=title, view=view, scale=scale,
                             max_nodes=max_nodes),
                    label="forward pass")]
    for step in backward_steps(root, view=view):
        up = f"d{rname}/d{namer(step.node)}"
        header = f"Step {step.index}: {step.name}   ({up} = {format_number(step.upstream, digits)} is final)"
        lines, questions = [header], []
        before = (dict(known), set(partial))
        for t in step.terms:
            if t.total is None:
                continue
            remaining[t.inp] -= 1
            known[t.inp] = t.total
            shares.setdefault(t.inp, []).append(t.contribution)
            (partial.add if remaining[t.inp] > 0 else partial.discard)(t.inp)
            target = f"d{rname}/d{namer(t.inp)}"
            nums = f"{format_number(step.upstream, digits)} * {paren(format_number(t.local, digits))}"
            lines.append(f"  {target} += {up} * {t.expr} = {nums} = "
                         f"{format_number(t.contribution, digits)}"
                         + ("   (more to come)" if t.inp in partial else ""))
            if t.inp not in partial and len(shares[t.inp]) > 1:
                added = " + ".join(paren(format_number(c, digits)) for c in shares[t.inp])
                lines.append(f"  {target} = {added} = {format_number(t.total, digits)}   (all shares in)")
            if not hasattr(t.contribution, "shape"):
                # the label names the input the share is for, and keeps the local
                # derivative's parentheses (``d/dn * (1 - tanh(n)^2)``)
                local = f"({t.expr})" if " " in t.expr.strip() else t.expr
                questions.append(Entry(f"{target} += {up} * {local}", float(t.contribution),
                                       "", nums))
        shown, pending = before if quiz else (dict(known), set(partial))
        graph = draw_dot(root, grads=shown, partial=pending, highlight=[step.node],
                         digits=digits, rankdir=rankdir, title=title, view=view, scale=scale,
                         max_nodes=None)  # the same size as frame 0, checked there
        frames.append(Frame(step.index, "\n".join(lines), graph, header=header, questions=questions))
    return frames


def exercise_frames(steps: ExerciseSteps, digits: int = 4, title: str = "", quiz: bool = False,
                    rankdir: str = "LR") -> List[Frame]:
    """Frame 0 (the given numbers) and one frame per exercise-level step, drawn on the
    vector view (:func:`~.graph.draw_mlp`) with the step's vectors highlighted and the
    vectors of later steps shown as ``?`` (``quiz=True``: the step's own too, since the
    student computes them)."""
    if not isinstance(steps, ExerciseSteps):
        raise DataTypeError(f"steps must be the ExerciseSteps of an exercise (exercise_steps(E, "
                            f"model) or make_exercise(...).steps), not {type(steps).__name__}")
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    quiz = check_flag(quiz, "quiz")
    keys = [s.key for s in steps]
    given = ", ".join(steps.given)
    # the drawing has a gradient box for every vector; those no step computes (dE/dx0
    # when x0 is a given constant) stay hidden, so no frame shows a number early
    never = {"dE/dx0"} - set(keys)

    def picture(hidden, highlight=()):
        """The vector view with ``hidden`` vectors as ``?`` and ``highlight`` outlined."""
        saved = steps.model.intermediates  # draw_mlp runs its own forward pass
        try:
            return draw_mlp(steps.model, steps.x, steps.y, loss=steps.loss or "half",
                            digits=digits, rankdir=rankdir, title=title, highlight=highlight,
                            hidden=set(hidden) | never)
        finally:
            steps.model.intermediates = saved

    frames = [Frame(0, f"Given: {given}. Compute every vector below, one step at a time.",
                    picture(set(keys)), label="given numbers")]
    for k, step in enumerate(steps.steps, 1):
        hidden = set(keys[k - 1 if quiz else k:])
        frames.append(Frame(k, step.caption(digits), picture(hidden, step.highlight),
                            header=f"Step {k} ({step.phase}): {step.formula}",
                            questions=list(step.entries), label=f"step {k}: {step.name}"))
    return frames


#: what a run of :func:`write_frames` owns in its folder: a re-run replaces all of it
FRAME_FILES = ("frame_[0-9][0-9][0-9].*", "captions.txt")


def write_frames(root: Value, directory, formats: Sequence[str] = ("svg", "png"),
                 collapse=True, digits: int = 4, dpi: int = 96, title: str = "",
                 frames: Optional[List[Frame]] = None, max_width: int = MAX_WIDTH,
                 gif: Optional[str] = None, timeout: Optional[float] = None) -> List[Path]:
    """Write ``frame_000.<fmt>``, ``frame_001.<fmt>``, ... (one per frame and format)
    and ``captions.txt`` into ``directory``; returns the image paths in order. A PNG
    carries its caption under the drawing and is at most ``max_width`` pixels wide
    (a wider drawing is scaled down); all PNGs of one call have the same size.
    ``formats``: some of :data:`FRAME_FORMATS`. ``gif``: a file name (``"steps.gif"``)
    for an animated GIF of the PNG frames, written into the folder with them.
    ``timeout``: seconds each ``dot`` run may take (:func:`~.dot_run.run_dot`).

    All or nothing: the files are made in a temporary folder beside ``directory`` and
    moved in only when every one is complete, so an interrupted run (Ctrl-C, a
    failure) leaves the folder as it was; and a run replaces the frames, captions and
    GIF of an earlier run (a shorter walk leaves no old frame behind). Other files in
    the folder are left alone."""
    directory = Path(check_path(directory, "directory"))
    formats = [check_choice(f, "a format", FRAME_FORMATS) for f in check_iterable(formats, "formats")]
    dpi = check_dpi(dpi)
    max_width = check_int(max_width, "max_width", minimum=16, maximum=100_000)
    if gif is not None:
        gif = check_text(gif, "gif")
        if Path(gif).name != gif or not gif.lower().endswith(".gif") or gif.startswith("frame_"):
            raise ArgumentError(f"gif must be a file name ending in .gif (no folder, not "
                                f"frame_...), got {gif!r:.60}")
        if "png" not in formats:
            raise ArgumentError("gif= animates the PNG frames: include 'png' in formats")
    frames = _frames(frames) if frames is not None else step_frames(root, collapse, digits, title=title)
    if directory.exists() and not directory.is_dir():
        raise ArgumentError(f"directory {str(directory)!r:.80} is a file: give a folder")
    stale = FRAME_FILES + ((gif,) if gif else ())
    names = []
    with atomic_files.staged_folder(directory, stale) as stage:
        pngs = {}
        for fr in frames:
            for fmt in formats:
                name = f"frame_{fr.index:03d}.{fmt}"
                target = stage / name
                if fmt == "svg":
                    target.write_text(fr.svg(), encoding="utf-8")
                elif fmt == "png":
                    graph = fr.graph.copy()
                    graph.attr(dpi=str(int(dpi)))
                    pngs[target] = (_pipe(graph, "png", timeout), fr.caption)
                else:
                    render(fr.graph, target, timeout=timeout)
                names.append(name)
        if pngs:
            _captioned_pngs(pngs, max_width)
        (stage / "captions.txt").write_text(
            "\n\n".join(f"[frame {fr.index:03d}]\n{fr.caption}" for fr in frames) + "\n",
            encoding="utf-8")
        if gif:
            write_gif(list(pngs), stage / gif)
    return [directory / name for name in names]


def _frames(frames) -> List[Frame]:
    """``frames`` as a list of :class:`Frame` (from :func:`step_frames` ...)."""
    frames = list(check_iterable(frames, "frames"))
    for i, fr in enumerate(frames):
        if not isinstance(fr, Frame):
            raise DataTypeError(f"frames[{i}] must be a Frame (from step_frames or "
                                f"exercise_frames), not {type(fr).__name__} ({fr!r:.40})")
    return frames


def _font(size: int):
    from PIL import ImageFont
    for name in ("DejaVuSansMono.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _captioned_pngs(pngs, max_width: int) -> None:
    """Write each ``{path: (png bytes, caption)}`` as one image: the drawing scaled to
    at most ``max_width`` pixels, the caption wrapped below it; every image padded to
    the largest size, so an animation does not jump."""
    from PIL import Image, ImageDraw

    font = _font(14)
    line_h = 18
    pictures = {}
    for path, (data, caption) in pngs.items():
        im = Image.open(io.BytesIO(data)).convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, max(1, round(im.height * max_width / im.width))), Image.LANCZOS)
        pictures[path] = (im, caption)
    width = max(max(im.width for im, _ in pictures.values()), min(max_width, 900))
    chars = max(20, (width - 20) // 9)
    wrapped = {p: [w for line in cap.splitlines() for w in textwrap.wrap(
        line, chars, subsequent_indent="      ") or [""]] for p, (_, cap) in pictures.items()}
    text_h = max(len(lines) for lines in wrapped.values()) * line_h + 16
    height = max(im.height for im, _ in pictures.values()) + text_h
    for path, (im, _) in pictures.items():
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(im, (0, 0))
        draw = ImageDraw.Draw(canvas)
        top = height - text_h + 8
        draw.line([(0, top - 6), (width, top - 6)], fill="#ff8c00", width=2)
        for i, line in enumerate(wrapped[path]):
            draw.text((10, top + i * line_h), line, fill="black", font=font)
        canvas.save(path)


def write_gif(pngs: Sequence, path, duration_ms: int = 1200) -> Path:
    """An animated GIF (looping) from PNG frames of equal or similar size (smaller
    frames are padded with white), written as GIF whatever the suffix of ``path``;
    ``duration_ms``: how long each frame shows."""
    from PIL import Image, UnidentifiedImageError

    pngs = [check_path(p, "a PNG frame") for p in check_iterable(pngs, "pngs")]
    if not pngs:
        raise ArgumentError("write_gif(): no PNG frames given")
    path = Path(check_file_to_write(path))
    duration_ms = check_int(duration_ms, "duration_ms", minimum=1, maximum=3_600_000)
    try:
        images = [Image.open(p).convert("RGB") for p in pngs]
    except UnidentifiedImageError as e:
        raise ArgumentError(f"write_gif(): a frame is not an image: {e}") from None
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    padded = []
    for im in images:
        if im.size != (width, height):
            canvas = Image.new("RGB", (width, height), "white")
            canvas.paste(im, (0, 0))
            im = canvas
        padded.append(im)
    buffer = io.BytesIO()
    padded[0].save(buffer, format="GIF", save_all=True, append_images=padded[1:],
                   duration=duration_ms, loop=0)
    return atomic_files.write_bytes(path, buffer.getvalue())  # whole, or not at all


_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def svg_for_html(svg: str) -> str:
    """Graphviz SVG made fit for inlining in HTML5: no XML declaration, DOCTYPE,
    comments or namespace URLs (HTML parses inline ``<svg>`` without them), and a
    scalable width."""
    svg = _XML_DECL.sub("", check_text(svg, "svg"))
    svg = _DOCTYPE.sub("", svg)
    svg = _COMMENT.sub("", svg)
    svg = _XMLNS.sub("", svg)
    svg = re.sub(r'<svg width="([^"]*)" height="([^"]*)"',
                 r'<svg class="graph" width="\1" height="\2"', svg, count=1)
    return svg.strip()


def _questions_html(frame: Frame, first: int, digits: int) -> str:
    """The quiz table of a frame: one row per number, numbered from ``first``."""
    rows = []
    for q, e in enumerate(frame.questions, first):
        rows.append(
            f'<tr class="q" data-q="{q}" data-answer="{e.value!r}" '
            f'data-hint="{html.escape(e.hint(digits))}" data-line="{html.escape(e.line(digits))}">'
            f'<td class="qname">{html.escape(e.name)} =</td>'
            f'<td><input type="text" inputmode="decimal" autocomplete="off" '
            f'aria-label="{html.escape(e.name)}"></td>'
            f'<td><button class="check" type="button">check</button> '
            f'<button class="reveal" type="button">reveal</button></td>'
            f'<td class="feedback" aria-live="polite"></td></tr>')
    return ('<div class="caption"><p class="formula">' + html.escape(frame.header) + "</p>"
            + '<table class="quiz">' + "".join(rows) + "</table></div>")


def page_html(frames: List[Frame], title: str = "Backpropagation, step by step",
              digits: int = 4, quiz: bool = False) -> str:
    """The stepper page (or, with ``quiz=True``, the quiz page) of ``frames`` as one
    self-contained HTML text: inline SVGs, style and script, no network access."""
    frames = _frames(frames)
    check_text(title, "title")
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    quiz = check_flag(quiz, "quiz")
    parts, q = [], 0
    for fr in frames:
        hidden = "" if fr.index == 0 else " hidden"
        label = f' data-label="{html.escape(fr.label)}"' if fr.label else ""
        if quiz and fr.questions:
            text = _questions_html(fr, q, digits)
            q += len(fr.questions)
        else:
            text = f"<pre>{html.escape(fr.caption)}</pre>"
        parts.append(f'<section class="frame" data-step="{fr.index}"{label}{hidden}>\n{text}\n'
                     f'<div class="graphbox">{svg_for_html(fr.svg())}</div>\n</section>')
    if quiz:
        parts.append(f'<section class="frame" data-step="{len(frames)}" data-label="score" hidden>'
                     '<h2>Your score</h2><p id="results"></p>'
                     '<p><button id="reset" type="button">start again</button></p></section>')
    answers = "|".join(f"{e.name}={e.value!r}" for fr in frames for e in fr.questions)
    quiz_id = hashlib.sha1((title + answers).encode("utf-8")).hexdigest()[:12] if quiz else ""
    help_text = stepper_page.QUIZ_HELP.format(digits=digits) if quiz else stepper_page.HELP
    return stepper_page.PAGE.format(
        title=html.escape(title), style=stepper_page.STYLE, script=stepper_page.SCRIPT,
        digits=digits, quiz_id=quiz_id, last=len(parts) - 1, help=help_text,
        frames="\n".join(parts))


def write_html(root: Value, path, collapse=True, digits: int = 4,
               title: str = "Backpropagation, step by step",
               frames: Optional[List[Frame]] = None, quiz: bool = False) -> Path:
    """One self-contained HTML page stepping through backward (node-level frames of
    ``root`` unless ``frames`` are given): every frame's SVG is inlined with its
    caption; buttons, a slider, the arrow keys and the address (``#step=7``) move
    between frames. ``quiz=True``: the numbers are asked instead of shown. Needs the
    Graphviz ``dot`` program (to make the SVGs); uses no network."""
    path = Path(check_file_to_write(path))
    frames = _frames(frames) if frames is not None else step_frames(root, collapse, digits)
    page = page_html(frames, title, digits, quiz)
    return atomic_files.write_text(path, page)  # whole, or not at all


def exam_html(steps: ExerciseSteps, title: str = "Exam", digits: int = 4,
              answers_name: str = "answers.txt") -> str:
    """The exam page of an exercise: the given numbers (one decimal), one field per
    number of each step under the step's formula, and a button that saves what was
    typed as an answers file (``name = value`` lines, for ``micrograd-mlp grade``).
    It holds no answer and checks nothing: no computed number is in the page."""
    if not isinstance(steps, ExerciseSteps):
        raise DataTypeError(f"steps must be the ExerciseSteps of an exercise, not "
                            f"{type(steps).__name__}")
    title, answers_name = check_text(title, "title"), check_text(answers_name, "answers_name")
    digits = check_int(digits, "digits", minimum=0, maximum=17)
    given = "\n".join(f"{k} = {_one_decimal_text(v)}" for k, v in steps.given.items())
    sections = []
    for step in steps:
        fields = "".join(
            f'<label>{html.escape(e.name)} = <input type="text" inputmode="decimal" '
            f'autocomplete="off" data-name="{html.escape(e.name)}"></label>'
            for e in step.entries)
        sections.append(f'<section><h2>Step {step.index} ({step.phase})</h2>'
                        f'<p class="formula">{html.escape(step.formula)}</p>{fields}</section>')
    return stepper_page.EXAM_PAGE.format(title=html.escape(title), digits=digits,
                                         answers_name=html.escape(answers_name),
                                         question=html.escape("Given:\n" + given),
                                         sections="\n".join(sections))


def _one_decimal_text(value) -> str:
    """A given vector or matrix with one decimal, rows = neurons."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 1:
        return "(" + ", ".join(f"{v:.1f}" for v in a) + ")"
    return "[" + ", ".join("[" + ", ".join(f"{v:.1f}" for v in row) + "]" for row in a) + "]"


def write_exam(steps: ExerciseSteps, path, title: str = "Exam", digits: int = 4,
               answers_name: str = "answers.txt") -> Path:
    """Write :func:`exam_html` to ``path``; returns the path."""
    path = Path(check_file_to_write(path))
    page = exam_html(steps, title, digits, answers_name)
    return atomic_files.write_text(path, page)  # whole, or not at all


class Stepper:
    """A step-through of backpropagation that shows itself in Jupyter / VS Code.

    ``Stepper(root, model=None, level=None, quiz=False)``: ``level`` is
    ``"exercise"`` (the hand solution's vector steps; needs the MLP ``model`` whose
    forward pass feeds ``root``; the default when it is given), ``"node"`` (composites
    collapsed) or ``"primitive"`` (every primitive). In a notebook the last line
    ``Stepper(...)`` displays the page (in an ``iframe``, self-contained, no network);
    :meth:`save` writes it as a file, :attr:`frames` holds the pictures."""

    LEVELS = ("exercise", "node", "primitive")

    def __init__(self, root: Value, model=None, level: Optional[str] = None, quiz: bool = False,
                 digits: int = 4, title: str = "Backpropagation, step by step"):
        check_value(root, "root")
        quiz, title = check_flag(quiz, "quiz"), check_text(title, "title")
        digits = check_int(digits, "digits", minimum=0, maximum=17)
        if level is None:
            level = "exercise" if model is not None else "node"
        if not isinstance(level, str) or level not in self.LEVELS:
            raise TraceInputError(f"level must be one of {', '.join(self.LEVELS)}, not {level!r}")
        if level == "exercise" and not (model is not None and is_network(model, root)):
            raise TraceInputError("the exercise level needs the MLP whose forward pass feeds the "
                                  "root (Stepper(E, model)); use level='node' for other graphs")
        self.root, self.level, self.quiz, self.digits, self.title = root, level, quiz, digits, title
        if level == "exercise":
            self.steps = exercise_steps(root, model, digits)
            self.frames = exercise_frames(self.steps, digits, quiz=quiz)
        else:
            self.steps = None
            self.frames = step_frames(root, collapse=level == "node", digits=digits, quiz=quiz)

    def html(self) -> str:
        """The page as one HTML text."""
        return page_html(self.frames, self.title, self.digits, self.quiz)

    def save(self, path) -> Path:
        """Write the page to ``path`` (an ``.html`` file); returns the path."""
        path = Path(check_file_to_write(path))
        return atomic_files.write_text(path, self.html())

    def _repr_html_(self) -> str:
        # an iframe keeps the page's ids, style and script apart from the notebook's
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                f'style="width: 100%; height: 720px; border: 1px solid #ddd;" '
                f'title="{html.escape(self.title)}"></iframe>')

    def __len__(self):
        return len(self.frames)

    def __repr__(self):
        return f"Stepper({self.level} level, {len(self.frames)} frames{', quiz' if self.quiz else ''})"
