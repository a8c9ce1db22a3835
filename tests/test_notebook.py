"""The tutorial notebook (demos/tutorial.ipynb) runs top to bottom in a Jupyter kernel
of this Python, and the numbers of its tagged cells hold (checked against a numpy
forward/backward of seed 001 Task 5 written here). Also: a drawing made before
backward() shows the gradients as unknown, with a note."""
import ast
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from micrograd_mlp import Value, draw_dot, examples

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "demos" / "tutorial.ipynb"

# seed 001, Task 5
W1 = np.array([[0.2, -0.3], [0.1, -1.2], [0.4, 0.3]])
B1 = np.array([0.3, -0.1, 1.2])
W2 = np.array([[0.4, 0.2, 0.2], [0.1, 0.3, 0.5]])
B2 = np.array([-0.6, 0.5])
X0, Y = np.array([1.0, 2.0]), np.array([0.0, 1.0])


def task5_by_numpy():
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    x1 = sig(W1 @ X0 + B1)
    x2 = sig(W2 @ x1 + B2)
    E = 0.5 * np.sum((x2 - Y) ** 2)
    ds2 = (x2 - Y) * x2 * (1 - x2)
    return E, x2 - Y, ds2, np.outer(ds2, x1)


def test_a_drawing_before_backward_shows_unknown_gradients():
    root = examples.task5().root
    before = draw_dot(root, collapse=True).source
    assert "gradients not computed yet: call backward()" in before
    assert "grad ?" in before and "grad 0.0000" not in before
    root.backward()
    after = draw_dot(root, collapse=True).source
    assert "grad ?" not in after and "call backward()" not in after
    # a single leaf never differentiated: unknown too; with a seed: known
    a = Value(2.0, "a")
    assert "grad ?" in draw_dot(a).source
    b = a * 3
    b.backward()
    assert "grad 3.0000" in draw_dot(b).source


# ---------------------------------------------------------------- the notebook


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:  # the inline drawings need Graphviz's program
        pytest.skip("Graphviz 'dot' is not installed (make test installs it)")
    # a kernel spec for this very interpreter, in a private Jupyter path (no user setup
    # and no other Python's "python3" kernel can get in the way)
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "kernels" / "micrograd-mlp-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "micrograd-mlp test", "language": "python"}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(home))
    mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    workdir = tmp_path_factory.mktemp("run")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="micrograd-mlp-test",
                                resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        mp.undo()
    return nb


def cell(nb, tag):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"one cell tagged {tag!r}"
    return found[0]


def result(c):
    """The cell's last expression, read back from its text/plain output."""
    texts = [o["data"]["text/plain"] for o in c.outputs if o.output_type == "execute_result"]
    assert texts, "the cell shows no result"
    return ast.literal_eval(texts[-1])


def stdout(c):
    return "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream"
                   and o.get("name") == "stdout")


def test_notebook_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""


def test_notebook_task5_numbers(executed):
    E, dx2, ds2, dW2 = task5_by_numpy()
    assert result(cell(executed, "check-loss")) == round(E, 4)
    np.testing.assert_array_equal(np.array(result(cell(executed, "check-dW2"))), np.round(dW2, 4))


def test_notebook_draws_inline_unknown_then_known(executed):
    drawings = [o["data"]["image/svg+xml"] for c in executed.cells if c.cell_type == "code"
                for o in c.outputs if "image/svg+xml" in o.get("data", {})
                and "computational_graph" in o["data"]["image/svg+xml"]]
    assert len(drawings) == 2
    assert "call backward()" in drawings[0] and "grad ?" in drawings[0]
    assert "call backward()" not in drawings[1] and "grad ?" not in drawings[1]


def test_notebook_stepper_shows_inline_and_offline(executed):
    pages = [o["data"]["text/html"] for c in executed.cells if c.cell_type == "code"
             for o in c.outputs if "text/html" in o.get("data", {})
             and "<iframe srcdoc=" in o["data"]["text/html"]]
    assert len(pages) == 1
    assert "http://" not in pages[0] and "https://" not in pages[0]


def test_notebook_hand_answers_are_judged(executed):
    E, dx2, ds2, dW2 = task5_by_numpy()
    c = cell(executed, "check-answers")
    counts = result(c)
    assert counts["right"] == 2 and counts["wrong"] == 1
    text = stdout(c)
    assert "dE/db2" in text and f"{ds2[0]:.4f}" in text  # the right value of the wrong one


def test_notebook_trains_xor(executed):
    c = cell(executed, "check-xor")
    loss, acc = result(c)
    assert acc == 1.0 and loss < 0.05
    # the progress bar, left in place at 300/300: text on stderr, or (where ipywidgets is
    # installed) a widget, whose last state the notebook keeps in its metadata
    shown = "".join(o.get("text", "") for o in c.outputs if o.get("name") == "stderr")
    shown += json.dumps(executed.metadata.get("widgets", {}))
    assert "300/300" in shown
    assert any("image/png" in o.get("data", {}) for c2 in executed.cells
               if c2.cell_type == "code" for o in c2.outputs)  # the learning curve
