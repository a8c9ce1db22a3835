"""Backpropagation frame by frame: one drawing per backward step.

Frame 0 shows the forward pass (every value, no gradient yet except ``dE/dE = 1``);
frame ``k`` shows the graph after backward step ``k``: the node of the step is
highlighted, and every gradient known so far is filled in (a gradient still being
summed over several consumers is marked ``+...``). Each frame carries a caption with
the step's chain-rule arithmetic.

* :func:`step_frames` -- the frames as ``(caption, graphviz.Digraph)`` pairs;
* :func:`write_frames` -- numbered ``frame_000.svg``/``.png`` files;
* :func:`write_gif` -- an animated GIF from the PNG frames (Pillow, which ships with
  matplotlib);
* :func:`write_html` -- one self-contained HTML page (inline SVGs, no network access,
  no CDN) with previous/next buttons, a slider and the arrow keys.

The drawings use fixed-width number cells, so every frame has the same layout and the
animation does not jump.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from ..core.engine import Value
from ..errors import GraphvizMissingError
from .graph import INSTALL_HINT, draw_dot, render
from .trace import backward_steps, gradients
from .viewmodel import Namer, build_view, format_number

__all__ = ["Frame", "step_frames", "write_frames", "write_gif", "write_html", "svg_for_html"]


@dataclass
class Frame:
    """One picture of the walk: its ``caption`` (text lines) and ``graph`` (a
    ``graphviz.Digraph``)."""

    index: int
    caption: str
    graph: object
    _svg: Optional[str] = None

    def svg(self) -> str:
        """The frame rendered as SVG text (rendered once, then reused)."""
        if self._svg is None:
            import graphviz
            try:
                self._svg = self.graph.pipe(format="svg").decode("utf-8")
            except graphviz.ExecutableNotFound:
                raise GraphvizMissingError(
                    f"cannot render step frames: the Graphviz 'dot' program was not found; "
                    f"{INSTALL_HINT}") from None
        return self._svg


def step_frames(root: Value, collapse=True, digits: int = 4, rankdir: str = "LR",
                title: str = "") -> List[Frame]:
    """Frame 0 (the forward pass) and one frame per backward step of ``root``
    (composites collapsed unless ``collapse=False``); see the module docstring."""

    view = build_view(root, collapse, fold=False)
    namer = Namer(view.order, view=view)
    namer.root = root
    rname = namer(root, atom=False)
    remaining = {}
    for node in view.edges:
        for e in view.edges[node]:
            remaining[e.inp] = remaining.get(e.inp, 0) + 1
    final = gradients(root, collapse=collapse)
    scale = max([abs(float(g)) if not hasattr(g, "shape") else float(abs(g).mean())
                 for n, g in final.items() if n is not root] or [0.0])
    known = {root: 1.0 if not hasattr(root.data, "shape") else root.data * 0 + 1.0}
    partial = set()
    frames = [Frame(0, f"Forward pass done: {rname} = {format_number(root.data, digits)}. "
                       f"Backward starts with d{rname}/d{rname} = 1.",
                    draw_dot(root, grads=dict(known), highlight=[root], digits=digits,
                             rankdir=rankdir, title=title, view=view, scale=scale))]
    for step in backward_steps(root, view=view):
        lines = [f"Step {step.index}: {step.name}   (d{rname}/d{namer(step.node)} = "
                 f"{format_number(step.upstream, digits)} is final)"]
        for t in step.terms:
            if t.total is None:
                continue
            remaining[t.inp] -= 1
            known[t.inp] = t.total
            if remaining[t.inp] > 0:
                partial.add(t.inp)
            else:
                partial.discard(t.inp)
            local = t.expr if t.expr != "1" else "1"
            up = f"d{rname}/d{namer(step.node)}"
            lines.append(f"  d{rname}/d{namer(t.inp)} += {up} * {local} = "
                         f"{format_number(step.upstream, digits)} * "
                         f"{_paren(format_number(t.local, digits))} = "
                         f"{format_number(t.contribution, digits)}"
                         + ("   (more to come)" if t.inp in partial else ""))
        graph = draw_dot(root, grads=dict(known), partial=set(partial), highlight=[step.node],
                         digits=digits, rankdir=rankdir, title=title, view=view, scale=scale)
        frames.append(Frame(step.index, "\n".join(lines), graph))
    return frames


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def write_frames(root: Value, directory, formats: Sequence[str] = ("svg", "png"),
                 collapse=True, digits: int = 4, dpi: int = 96, title: str = "",
                 frames: Optional[List[Frame]] = None) -> List[Path]:
    """Write ``frame_000.<fmt>``, ``frame_001.<fmt>``, ... (one per frame and format)
    and ``captions.txt`` into ``directory``; returns the image paths in order."""

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = frames if frames is not None else step_frames(root, collapse, digits, title=title)
    paths = []
    for fr in frames:
        for fmt in formats:
            target = directory / f"frame_{fr.index:03d}.{fmt}"
            if fmt == "svg":
                target.write_text(fr.svg(), encoding="utf-8")
                paths.append(target)
            else:
                paths.append(render(fr.graph, target, dpi=dpi if fmt == "png" else None))
    (directory / "captions.txt").write_text(
        "\n\n".join(f"[frame {fr.index:03d}]\n{fr.caption}" for fr in frames) + "\n",
        encoding="utf-8")
    return paths


def write_gif(pngs: Sequence, path, duration_ms: int = 1200) -> Path:
    """An animated GIF (looping) from PNG frames of equal or similar size (smaller
    frames are padded with white)."""
    from PIL import Image

    if not pngs:
        raise ValueError("write_gif(): no PNG frames given")
    images = [Image.open(p).convert("RGB") for p in pngs]
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    padded = []
    for im in images:
        if im.size != (width, height):
            canvas = Image.new("RGB", (width, height), "white")
            canvas.paste(im, (0, 0))
            im = canvas
        padded.append(im)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    padded[0].save(path, save_all=True, append_images=padded[1:], duration=duration_ms, loop=0)
    return path


_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def svg_for_html(svg: str) -> str:
    """Graphviz SVG made fit for inlining in HTML5: no XML declaration, DOCTYPE,
    comments or namespace URLs (HTML parses inline ``<svg>`` without them), and a
    scalable width."""
    svg = _XML_DECL.sub("", svg)
    svg = _DOCTYPE.sub("", svg)
    svg = _COMMENT.sub("", svg)
    svg = _XMLNS.sub("", svg)
    svg = re.sub(r'<svg width="([^"]*)" height="([^"]*)"',
                 r'<svg class="graph" width="\1" height="\2"', svg, count=1)
    return svg.strip()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }}
h1 {{ font-size: 1.3em; margin: 0 0 .4em 0; }}
.controls {{ display: flex; gap: .5em; align-items: center; margin: .5em 0; flex-wrap: wrap; }}
.controls button {{ font-size: 1em; padding: .3em .9em; }}
#counter {{ font-weight: bold; min-width: 8em; }}
#slider {{ flex: 1; min-width: 10em; }}
.frame pre {{ background: #f6f6f6; border-left: 4px solid #ff8c00; padding: .5em 1em;
  white-space: pre-wrap; font-size: .95em; }}
.graphbox {{ overflow: auto; max-height: 78vh; border: 1px solid #ddd; }}
body.fit .graphbox svg.graph {{ width: 100%; height: auto; }}
.help {{ color: #666; font-size: .85em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div class="controls">
<button id="first" type="button" title="first frame (Home)">&laquo; first</button>
<button id="prev" type="button" title="previous step (left arrow)">&#x25C0; previous</button>
<button id="next" type="button" title="next step (right arrow)">next &#x25B6;</button>
<button id="last" type="button" title="last frame (End)">last &raquo;</button>
<label><input id="fit" type="checkbox"> fit to width</label>
<span id="counter"></span>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
</div>
<p class="help">Keys: &larr; / &rarr; step back / forward, Home / End. The orange node is the
current step; blue = positive gradient, red = negative; "?" = not known yet,
"+..." = still being summed.</p>
{frames}
<script>
(function () {{
  var frames = document.querySelectorAll(".frame");
  var slider = document.getElementById("slider");
  var counter = document.getElementById("counter");
  var current = 0;
  function show(i) {{
    current = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) {{ frames[k].hidden = (k !== current); }}
    slider.value = current;
    var mark = frames[current].querySelector('[stroke="#ff8c00"]');
    if (mark && !document.body.classList.contains("fit")) {{
      mark.scrollIntoView({{block: "nearest", inline: "center"}});
    }}
    counter.textContent = current === 0 ? "forward pass" :
      "step " + current + " / " + (frames.length - 1);
  }}
  document.getElementById("first").onclick = function () {{ show(0); }};
  document.getElementById("prev").onclick = function () {{ show(current - 1); }};
  document.getElementById("next").onclick = function () {{ show(current + 1); }};
  document.getElementById("last").onclick = function () {{ show(frames.length - 1); }};
  slider.oninput = function () {{ show(parseInt(slider.value, 10)); }};
  document.getElementById("fit").onchange = function () {{
    document.body.classList.toggle("fit", this.checked); show(current);
  }};
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ show(current + 1); e.preventDefault(); }}
    else if (e.key === "ArrowLeft") {{ show(current - 1); e.preventDefault(); }}
    else if (e.key === "Home") {{ show(0); e.preventDefault(); }}
    else if (e.key === "End") {{ show(frames.length - 1); e.preventDefault(); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""


def write_html(root: Value, path, collapse=True, digits: int = 4,
               title: str = "Backpropagation, step by step",
               frames: Optional[List[Frame]] = None) -> Path:
    """One self-contained HTML page stepping through backward: every frame's SVG is
    inlined with its caption; buttons, a slider and the arrow keys move between
    frames. Needs the Graphviz ``dot`` program (to make the SVGs); uses no network."""
    frames = frames if frames is not None else step_frames(root, collapse, digits)
    parts = []
    for fr in frames:
        svg = fr.svg()
        hidden = "" if fr.index == 0 else " hidden"
        parts.append(f'<section class="frame" data-step="{fr.index}"{hidden}>\n'
                     f"<pre>{html.escape(fr.caption)}</pre>\n<div class=\"graphbox\">"
                     f"{svg_for_html(svg)}</div>\n</section>")
    page = _PAGE.format(title=html.escape(title), last=len(frames) - 1, frames="\n".join(parts))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
