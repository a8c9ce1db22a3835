"""draw_dot structure, rendering with and without Graphviz, the vector view, step frames."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from micrograd_mlp import Value, activations, examples

from micrograd_mlp.views import trace

from micrograd_mlp.views import viewmodel

from micrograd_mlp.views import graph, stepper

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="the Graphviz dot program is not installed")


def _nodes(source):
    return re.findall(r"^\s*([vo]\d+) \[", source, flags=re.M)


def _edges(source):
    return re.findall(r"^\s*([vo]\d+) -> ([vo]\d+)", source, flags=re.M)


def small():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(0.5, "c")
    s = a * b + c
    s.label = "s"
    f = activations.sigmoid(s)
    f.label = "f"
    return f


def test_value_and_op_nodes():
    f = small()
    f.backward()
    src = graph.draw_dot(f, legend=False).source
    nodes = _nodes(src)
    values = [n for n in nodes if n.startswith("v")]
    ops = [n for n in nodes if n.startswith("o")]
    order = viewmodel.build_view(f).order
    assert len(values) == len(order)  # every node (no constants here)
    assert len(ops) == sum(1 for n in order if n.parents)
    for n in order:  # each op node feeds exactly its value node
        if n.parents:
            assert len(re.findall(rf"^\s*o\d+ -> v{order.index(n)}\b", src, flags=re.M)) == 1
    assert "data 0.5000" in src and f"grad {format(f.grad, '.4f')}" in src
    assert "rankdir=LR" in src


def test_edge_multiplicity_for_a_times_a():
    a = Value(3.0, "a")
    f = a * a
    f.label = "f"
    edges = _edges(graph.draw_dot(f).source)
    assert edges.count(("v0", "o1")) == 2
    b = a + a
    assert _edges(graph.draw_dot(b).source).count(("v0", "o1")) == 2


def test_clusters_for_composites_neurons_layers():
    src = graph.draw_dot(examples.task5().root).source
    labels = re.findall(r"subgraph (cluster_\w+) \{\s*\n\s*[^\n]*label=<([^>]*)>", src)
    names = {label for _, label in labels}
    assert {"sigmoid", "squared_error", "neuron 1.0", "neuron 2.1", "layer 1", "layer 2"} <= names
    assert len([n for n in names if n == "sigmoid"]) == 1  # several clusters, one title
    assert src.count("label=<sigmoid>") == 5  # 3 hidden + 2 output sigmoids


def test_collapse_reduces_nodes_and_shows_overall_derivative():
    ex = examples.task5()
    full = graph.draw_dot(ex.root).source
    collapsed = graph.draw_dot(ex.root, collapse=True).source
    only_sig = graph.draw_dot(ex.root, collapse={"sigmoid"}).source
    assert len(_nodes(collapsed)) < len(_nodes(only_sig)) < len(_nodes(full))
    assert "label=<sigmoid>" not in collapsed  # no sigmoid cluster left
    ref = trace.summary(ex.root)
    sig2 = re.search(r"sigma'\(s2\) = \(([-\d.]+)", ref).group(1)
    assert f"σ' = {float(sig2):.4f}" in collapsed
    # the collapsed drawing still shows the group outputs with their labels
    assert "<B>x2[0]</B>" in collapsed and "<B>E</B>" in collapsed


def test_same_graph_same_source():
    one = graph.draw_dot(examples.task5().root, collapse=True).source
    two = graph.draw_dot(examples.task5().root, collapse=True).source
    assert one == two
    assert graph.draw_dot(small()).source == graph.draw_dot(small()).source


ODD = 'a<b> & "q" {x|y} ü∂√ \\ ]['


def test_special_characters_are_escaped():
    a = Value(1.0, ODD)
    f = a * 2.0
    f.label = "<f>"
    src = graph.draw_dot(f).source
    assert "a&lt;b&gt; &amp; &quot;q&quot; {x|y} ü∂√" in src
    assert "<B>&lt;f&gt;</B>" in src


@needs_dot
def test_special_characters_render(tmp_path):
    a = Value(1.0, ODD)
    f = a * 2.0
    f.label = "<f>"
    out = graph.render(f, tmp_path / "odd.svg")
    svg = out.read_text(encoding="utf-8")
    assert "a&lt;b&gt; &amp; &quot;q&quot; {x|y} ü∂√" in svg or "a&lt;b&gt; &amp; \"q\"" in svg


def test_batched_nodes_show_size_and_first_entries():
    w = Value(0.5, "w")
    x = Value(np.arange(10.0), "x", requires_grad=False)
    y = (w * x).sum()
    y.backward()
    src = graph.draw_dot(y).source
    assert "n=10: [0.0000, 1.0000, 2.0000, ...]" in src


def test_grad_colours():
    assert graph.grad_colour(0.0, 1.0) == "#ffffff"
    assert graph.grad_colour(None, 1.0) == "#ffffff"
    pos, neg = graph.grad_colour(0.5, 1.0), graph.grad_colour(-0.5, 1.0)
    assert pos != neg
    r, g, b = (int(pos[i:i + 2], 16) for i in (1, 3, 5))
    assert b > r  # positive = blue
    r, g, b = (int(neg[i:i + 2], 16) for i in (1, 3, 5))
    assert r > b  # negative = red
    # a larger |grad| is a stronger colour
    assert int(graph.grad_colour(1.0, 1.0)[1:3], 16) < int(graph.grad_colour(0.1, 1.0)[1:3], 16)
    src = graph.draw_dot(small()).source
    assert "cluster_legend" in src and "grad &gt; 0" in src


def test_grads_dict_highlight_and_partial():
    f = small()
    src = graph.draw_dot(f, grads={f: 1.0}, highlight=[f]).source
    # every node that takes a gradient, f excepted, shows "?" (constants show none)
    unknown = [n for n in viewmodel.build_view(f).order if n is not f and n.requires_grad]
    assert src.count("grad ?") == len(unknown)
    assert 'COLOR="#ff8c00" BORDER="3"' in src
    a = f.parents[0]
    src = graph.draw_dot(f, grads={f: 1.0, a: 0.25}, partial=[a]).source
    assert "grad 0.2500 +..." in src


def test_bad_rankdir():
    with pytest.raises(ValueError, match="rankdir"):
        graph.draw_dot(small(), rankdir="XY")


@needs_dot
def test_render_svg_png_pdf_dot(tmp_path):
    import matplotlib.image as mpimg

    ex = examples.task5()
    ex.backward()
    svg = graph.render(ex.root, tmp_path / "g.svg", collapse=True)
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    png = graph.render(ex.root, tmp_path / "g.png", collapse=True)
    img = mpimg.imread(png)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.var(img[..., :3])) > 1e-3  # not blank
    pdf = graph.render(graph.draw_dot(ex.root), tmp_path / "g.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    dot = graph.render(ex.root, tmp_path / "g.dot")
    assert dot.read_text().startswith("digraph")
    with pytest.raises(ValueError, match="format"):
        graph.render(ex.root, tmp_path / "g.jpeg2")


def test_render_without_dot(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    f = small()
    target = tmp_path / "out" / "g.png"
    with pytest.raises(graph.GraphvizMissingError) as info:
        graph.render(f, target)
    msg = str(info.value)
    assert "apt-get install graphviz" in msg and "brew install graphviz" in msg
    dot_file = tmp_path / "out" / "g.dot"
    assert dot_file.exists() and str(dot_file) in msg
    assert dot_file.read_text() == graph.draw_dot(f).source + graph.FALLBACK_MARK
    assert not target.exists()


@needs_dot
def test_jupyter_inline_display():
    g = graph.draw_dot(small())
    bundle = g._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def test_import_does_not_load_graphviz_or_matplotlib():
    code = ("import sys, micrograd_mlp, micrograd_mlp.views.graph, micrograd_mlp.views.trace, "
            "micrograd_mlp.views.stepper, micrograd_mlp.examples; "
            "print(sorted(m for m in ('graphviz', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_draw_mlp_vector_view():
    ex = examples.task5()
    g = graph.draw_mlp(ex.model, [1.0, 2.0], [0.0, 1.0])
    src = g.source
    for name in ("x0", "W1", "b1", "s1", "x1", "W2", "b2", "s2", "x2"):
        assert f"<B>{name}</B>" in src
    assert "cluster_affine1" in src and "W1 x + b1" in src and "σ" in src
    from test_examples import task5_reference
    ref = task5_reference()
    for v in ref["x1"]:
        assert f">{v:.4f}<" in src
    for v in ref["dW1"].ravel():
        assert f">{v:.4f}<" in src
    assert f">{ref['E']:.4f}<" in src
    no_target = graph.draw_mlp(ex.model, [1.0, 2.0]).source
    assert "dE/d" not in no_target


def _small_frames():
    f = small()
    return f, stepper.step_frames(f)


def test_step_frames_one_per_step():
    f, frames = _small_frames()
    steps = list(trace.backward_steps(f, collapse=True, fold=False))  # frames draw every node
    assert len(frames) == len(steps) + 1
    assert frames[0].caption.startswith("Forward pass")
    # the last frame knows every gradient, the first only the root's
    assert "grad ?" not in frames[-1].graph.source
    assert frames[0].graph.source.count("grad ?") > 0
    for k, (fr, st) in enumerate(zip(frames[1:], steps), 1):
        assert fr.caption.startswith(f"Step {k}: {st.name}")


@needs_dot
def test_frames_gif_and_html(tmp_path):
    from PIL import Image

    f, frames = _small_frames()
    paths = stepper.write_frames(f, tmp_path / "frames", frames=frames)
    pngs = [p for p in paths if p.suffix == ".png"]
    svgs = [p for p in paths if p.suffix == ".svg"]
    assert len(pngs) == len(svgs) == len(frames)
    assert [p.name for p in pngs] == [f"frame_{i:03d}.png" for i in range(len(frames))]
    sizes = {Image.open(p).size for p in pngs}
    assert len(sizes) == 1  # fixed-width cells: the layout does not jump
    gif = stepper.write_gif(pngs, tmp_path / "steps.gif")
    im = Image.open(gif)
    assert im.n_frames == len(frames)
    page = stepper.write_html(f, tmp_path / "steps.html", frames=frames).read_text()
    check_html(page, len(frames))


def check_html(page, n_frames):
    """One section per frame, each with an inline SVG; navigation code; offline."""
    sections = re.findall(r'<section class="frame" data-step="(\d+)"', page)
    assert [int(s) for s in sections] == list(range(n_frames))
    assert page.count("<svg") == n_frames
    for needle in ('id="prev"', 'id="next"', "ArrowRight", "ArrowLeft", "addEventListener",
                   "function show("):
        assert needle in page
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page and "<link" not in page


@needs_dot
@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="chromium is not installed")
def test_html_screenshot_not_blank(tmp_path):
    import matplotlib.image as mpimg

    f, frames = _small_frames()
    page = stepper.write_html(f, tmp_path / "steps.html", frames=frames)
    shot = tmp_path / "shot.png"
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
                   capture_output=True, timeout=120)
    img = mpimg.imread(shot)
    assert float(np.var(img[..., :3])) > 1e-3
