"""The stepper: exercise-level frames on the vector view, captioned PNG frames at most
1600 px wide, the page (step in the address, view following the step) and the
notebook display."""
import html
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from micrograd_mlp import examples
from micrograd_mlp.errors import TraceInputError
from micrograd_mlp.views import stepper
from micrograd_mlp.views.steps import exercise_steps

ORANGE = "#ff8c00"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def task5_frames(quiz=False):
    ex = examples.task5()
    steps = exercise_steps(ex.root, ex.model)
    return ex, steps, stepper.exercise_frames(steps, quiz=quiz)


def marked(source):
    """Keys of the vector-view boxes drawn with the orange outline."""
    keys = set(re.findall(r'^\t*(\w+) \[label=<<TABLE BORDER="3" COLOR="' + ORANGE, source, re.M))
    keys |= set(re.findall(r'^\t*(\w+) \[color="' + ORANGE + '"', source, re.M))
    return keys


def test_exercise_frames_highlight_the_step_and_hide_later_vectors():
    ex, steps, frames = task5_frames()
    assert len(frames) == len(steps) + 1 == 17
    assert frames[0].caption.startswith("Given: x0, W1, b1, W2, b2, y")
    # the given frame: forward vectors and every gradient unknown
    first = frames[0].graph.source
    assert "?" in first and not marked(first)
    dW2 = [s.name for s in steps].index("dE/dW2") + 1
    src = frames[dW2].graph.source
    assert marked(src) == {"s2", "mul2", "W2", "x1"}
    assert frames[dW2].caption.startswith("Step 9 (backward): dE/dW2 = dE/ds2 x1^T")
    # dE/dW2 is known in its own frame, dE/dW1 (a later step) is not
    assert ">0.0525<" in src
    assert ">0.0097<" not in src
    # the last frame knows everything
    assert "?" not in frames[-1].graph.source
    assert ">0.0097<" in frames[-1].graph.source
    # drawing did not replace the model's recorded forward pass
    assert exercise_steps(ex.root, ex.model)[0].entries[0].value == steps[0].entries[0].value


def test_quiz_frames_hide_the_current_step_too():
    _, steps, frames = task5_frames(quiz=True)
    ds2 = [s.name for s in steps].index("dE/ds2") + 1
    src = frames[ds2].graph.source
    assert ">0.1105<" not in src           # the answer of this step is not drawn
    assert ">0.4469<" in src                # dE/dx2 (the step before) is
    assert frames[ds2].questions[0].name == "dE/ds2[0]"


def test_node_quiz_frames_draw_the_gradients_known_before_the_step():
    root = examples.task5().root
    shown = stepper.step_frames(root, collapse=True)[1].graph.source
    asked = stepper.step_frames(root, collapse=True, quiz=True)[1].graph.source
    assert "grad 0.4469" in shown       # dE/dx2[0], filled in by step 1
    assert "grad 0.4469" not in asked   # ... which the quiz asks for


def test_node_frames_show_shares_added_up():
    frames = stepper.step_frames(examples.task5().root, collapse=True)
    text = "\n".join(f.caption for f in frames)
    assert "dE/dx1[0] = 0.0442 + (-0.0051) = 0.0390   (all shares in)" in text
    share = [f for f in frames if f.questions and " += dE/ds2[0] *" in f.questions[0].name]
    assert share, "node frames carry their contributions as quiz questions"


@pytest.mark.slow
@needs_dot
def test_png_frames_at_most_1600_wide_with_their_step_text(tmp_path):
    from PIL import Image

    root = examples.task5().root
    frames = stepper.step_frames(root, collapse=True)[:4]  # the node graph is wide
    paths = stepper.write_frames(root, tmp_path, formats=("png",), frames=frames)
    images = [np.asarray(Image.open(p).convert("RGB"), dtype=float) for p in paths]
    assert {im.shape for im in images} == {images[0].shape}  # same size: the GIF does not jump
    assert images[0].shape[1] <= 1600
    raw = frames[1].graph.copy()
    raw.attr(dpi="96")
    assert Image.open(io.BytesIO(raw.pipe(format="png"))).width > 1600
    # the caption: below an orange rule across the frame, dark text, different per frame
    strips = []
    for im in images:
        orange = np.all(np.abs(im - [255, 140, 0]) < 30, axis=2).mean(axis=1) > 0.9
        assert orange.any(), "no caption rule"
        strips.append(im[np.nonzero(orange)[0][-1] + 1:].mean(axis=2))
    assert all((s < 128).sum() > 200 for s in strips)
    assert np.abs(strips[1] - strips[2]).sum() > 0
    small = stepper.write_frames(root, tmp_path / "small", formats=("png",), frames=frames[:1],
                                 max_width=500)
    assert Image.open(small[0]).width <= 900  # the caption keeps a readable minimum width


@pytest.mark.slow
@needs_dot
def test_page_keeps_the_step_in_the_address_and_is_offline(tmp_path):
    _, _, frames = task5_frames()
    page = stepper.page_html(frames, "Task 5")
    assert 'history.replaceState(null, "", "#step=" + current)' in page
    assert "hashchange" in page and "scrollLeft" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert page.count("<svg") == len(frames)


def test_stepper_object_and_notebook_display():
    ex = examples.task5()
    st = stepper.Stepper(ex.root, ex.model)
    assert st.level == "exercise" and len(st) == 17
    assert "exercise level" in repr(st)
    node = stepper.Stepper(ex.root)
    assert node.level == "node" and len(node) > 17
    with pytest.raises(TraceInputError, match="exercise level needs the MLP"):
        stepper.Stepper(ex.root, level="exercise")
    with pytest.raises(TraceInputError, match="level must be one of"):
        stepper.Stepper(ex.root, level="vectors")


@pytest.mark.slow
@needs_dot
def test_repr_html_is_a_self_contained_iframe():
    ex = examples.task5()
    shown = stepper.Stepper(ex.root, ex.model, quiz=True)._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"")
    inner = html.unescape(re.search(r'srcdoc="(.*?)" style=', shown, re.S).group(1))
    assert inner.startswith("<!DOCTYPE html>") and '<tr class="q"' in inner
    assert "http://" not in inner and "https://" not in inner


@pytest.mark.slow
@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed")
def test_view_follows_the_highlighted_node(tmp_path):
    """The node-level Task 5 graph is wider than the window: the first backward step
    (the loss, at the right end) is scrolled into view at full size."""
    root = examples.task5().root
    page = stepper.write_html(root, tmp_path / "steps.html")
    url = page.as_uri() + "?autotest=#step=1"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={tmp_path / 'browser'}", "--window-size=1200,900",
                           "--dump-dom", url], capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="autotest"[^>]*>(.*?)</pre>', done.stdout, re.S)
    out = json.loads(html.unescape(m.group(1)))
    left, top, width, client = out["scroll"]
    assert out["visible"] == [1]
    assert width > client       # drawn at a readable size, not shrunk to fit
    assert left > 0             # scrolled towards the highlighted node


@pytest.mark.slow
@needs_dot
def test_cli_frames_and_page_at_the_exercise_level(tmp_path):
    from PIL import Image

    from micrograd_mlp.cli import main

    page = tmp_path / "steps.html"
    assert main(["trace", "task5", "--frames", str(tmp_path / "frames"), "--html", str(page)]) == 0
    pngs = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert len(pngs) == 17
    assert all(Image.open(p).width <= 1600 for p in pngs)
    assert Image.open(tmp_path / "frames" / "steps.gif").n_frames == 17
    captions = (tmp_path / "frames" / "captions.txt").read_text()
    assert "Step 11 (backward): dE/dx1 = W2^T dE/ds2" in captions
    text = page.read_text()
    assert text.count('<section class="frame"') == 17 and '<tr class="q"' not in text
