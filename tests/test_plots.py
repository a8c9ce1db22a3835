"""The activation figure: one readable panel per activation, autodiff dots on the
closed-form derivative, PNG + SVG written; the demo script end to end."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from micrograd_mlp import activations as A# noqa: E402
from micrograd_mlp.views import plots# noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_one_labelled_panel_per_activation():
    fig = plots.plot_activations()
    axes = visible_axes(fig)
    assert len(axes) == len(A.names())
    for ax, name in zip(axes, A.names()):
        assert ax.get_title().startswith(name)
        assert ax.get_xlabel() == "x" and ax.get_ylabel()
        legend = ax.get_legend()
        assert legend is not None
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels == ["f(x)", "f'(x) closed form", "f'(x) autodiff"]
    assert fig._suptitle is not None and fig._suptitle.get_text()


def test_plotted_data_are_the_functions_and_their_derivatives():
    x = np.linspace(-3, 3, 61)
    fig = plots.plot_activations(["sigmoid", "relu"], x=x, n_dots=7)
    for ax, name in zip(visible_axes(fig), ["sigmoid", "relu"]):
        f_line, df_line, dots = ax.get_lines()[:3]
        act = A.ACTIVATIONS[name]
        np.testing.assert_allclose(f_line.get_ydata(), act.f(x))
        xd, yd = dots.get_xdata(), dots.get_ydata()
        assert 0.0 not in xd  # no dot on a kink
        np.testing.assert_allclose(yd, act.df(xd), atol=1e-12)  # autodiff on the closed form
        yline = np.asarray(df_line.get_ydata(), dtype=float)
        assert np.isnan(yline).sum() == (1 if name == "relu" else 0)  # the jump is broken


def test_save_figure_writes_png_and_svg(tmp_path):
    fig = plots.plot_activations(["tanh"])
    paths = plots.save_figure(fig, tmp_path / "sub" / "act.png")
    assert [Path(p).name for p in paths] == ["act.png", "act.svg"]
    assert Path(paths[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in Path(paths[1]).read_text()[:1000]


def test_bad_arguments():
    with pytest.raises(KeyError, match="known"):
        plots.plot_activations(["nope"])
    with pytest.raises(ValueError):
        plots.plot_activations([])


def test_import_does_not_load_matplotlib():
    code = ("import sys, micrograd_mlp, micrograd_mlp.views.plots, micrograd_mlp.functions.activations, "
            "micrograd_mlp.functions.losses; assert 'matplotlib' not in sys.modules, 'matplotlib loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_activations_demo(tmp_path):
    spec = importlib.util.spec_from_file_location("demo_activations", ROOT / "demos" / "activations.py")
    sys.path.insert(0, str(ROOT / "demos"))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = module.main(["--out", str(tmp_path), "--quick", "--quiet"])
    finally:
        sys.path.remove(str(ROOT / "demos"))
    assert result["max_error"] < 1e-9
    assert all(result["finite"].values())
    assert set(result["errors"]) == set(A.names())
    assert sorted(Path(p).name for p in result["paths"]) == ["activations.png", "activations.svg"]
    for p in result["paths"]:
        assert Path(p).stat().st_size > 1000
