"""What the walks of the rest of the library (the stepper and its pages, the plots, the
exercises and the checkers, the examples, schedulers, callbacks, data loaders and
history) found, kept as examples; the tables of every public callable are in
``test_argument_tables.py``."""
import functools

import numpy as np
import pytest

from micrograd_mlp import MLP, Value, examples

from micrograd_mlp.grading import numpy_backward
from micrograd_mlp.errors import ArgumentError, DataTypeError, DomainError, ShapeError
from micrograd_mlp.grading.exercises import make_exercise
from micrograd_mlp.nets import callbacks, data, history, lr_scheduler, metrics, torch_bridge
from micrograd_mlp.nets.optim import SGD
from micrograd_mlp.grading import answers, hand_solution
from micrograd_mlp.views import plots, plots_training, stepper, steps
from .api_calls import (  # the good calls' fixtures, shared
    X4, Y4, _cifar, _exercise, _frames, _history, _png, _root, _scheduler,
)


@pytest.fixture(autouse=True)
def _close_figures():
    """plots_training draws with pyplot: close what a call opened (or left half-built)."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


# ---------------------------------------------------------------- good arguments


def _model(widths=(3, 1)):
    return MLP(2, list(widths), activation="sigmoid", seed=0)


def _student():
    (W1, W2), (b1, b2) = _model((2, 1)).get_parameters("out_in")
    return {"W1": np.zeros_like(W1), "b1": np.zeros_like(b1),
            "W2": np.zeros_like(W2), "b2": np.zeros_like(b2)}


def _sgd():
    return SGD(_model().parameters(), lr=0.1)


def _early_stopping():
    cb = callbacks.EarlyStopping(patience=1)
    cb.set_model(_model())
    cb.on_train_begin()
    return cb


# ---------------------------------------------------------------- what the walk found


@pytest.mark.parametrize("write", [
    lambda p: stepper.write_html(_root(), p, frames=_frames()),
    lambda p: stepper.write_frames(_root(), p, formats=("svg",), frames=_frames()),
    lambda p: stepper.write_gif([_png()], p),
    lambda p: stepper.Stepper(_root()).save(p),
    lambda p: plots.save_figure(plots.new_figure((1, 1), 20), p),
    lambda p: plots_training.plot_history(_history(), p),
    lambda p: data.load_cifar10(p),
], ids=["write_html", "write_frames", "write_gif", "Stepper.save", "plots.save_figure",
        "plot_history", "load_cifar10"])
@pytest.mark.parametrize("fd", [True, 0, 1, 2])
def test_a_file_descriptor_is_not_a_file_name(write, fd, tmp_path, monkeypatch, capfd):
    """``open(1)`` or ``Path(True)`` would write to stdout or fail with a raw error."""
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    with pytest.raises(DataTypeError, match="file name"):
        write(fd)
    assert capfd.readouterr().out == ""
    assert set(tmp_path.iterdir()) - before <= {tmp_path / "frame.png"}  # write_gif's input


def test_a_negative_dpi_is_refused_before_graphviz_runs(tmp_path):
    """``dot -Gdpi=-1`` does not return (the walk's time limit caught it)."""
    for dpi, error, text in ((-1, ArgumentError, ">= 1"), (10 ** 400, ArgumentError, "<= 1200"),
                             (96.0, DataTypeError, "integer"), (True, DataTypeError, "integer")):
        with pytest.raises(error, match=text):
            stepper.write_frames(_root(), tmp_path / "f", formats=("png",), frames=_frames(),
                                 dpi=dpi)
        with pytest.raises(error, match=text):
            plots.save_figure(plots.new_figure((1, 1), 20), tmp_path / "g", dpi=dpi)
    assert not (tmp_path / "f").exists() and not list(tmp_path.glob("g*"))


def test_frame_formats_and_widths():
    with pytest.raises(ArgumentError, match="'svg', 'png'"):
        stepper.write_frames(_root(), "out", formats=("jpeg",), frames=_frames())
    with pytest.raises(DataTypeError, match="formats must be a list"):
        stepper.write_frames(_root(), "out", formats="svg", frames=_frames())
    with pytest.raises(ArgumentError, match="max_width"):
        stepper.write_frames(_root(), "out", frames=_frames(), max_width=0)
    with pytest.raises(DataTypeError, match=r"frames\[1\] must be a Frame"):
        stepper.page_html([_frames()[0], "frame"])


def test_write_gif_writes_a_gif_whatever_the_suffix(tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.chdir(tmp_path)
    out = stepper.write_gif([_png("a.png"), _png("b.png", "red")], "anim.txt", duration_ms=50)
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 2
    with pytest.raises(ArgumentError, match="no PNG frames"):
        stepper.write_gif([], "x.gif")
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ArgumentError, match="not an image"):
        stepper.write_gif(["notes.png"], "x.gif")
    with pytest.raises(ArgumentError, match="duration_ms"):
        stepper.write_gif(["a.png"], "x.gif", duration_ms=0)


def test_examples_get_names_the_known_examples():
    from micrograd_mlp.errors import UnknownExampleError
    for name in ("task9", "TASK5", ""):
        with pytest.raises(UnknownExampleError, match="known: task5, seed002") as info:
            examples.example_named(name)
        assert isinstance(info.value, KeyError) and isinstance(info.value, ArgumentError)
        assert str(info.value).startswith("unknown example")  # not KeyError's quoted repr
    for bad in (None, ["task5"], {"task5": 1}):
        with pytest.raises(DataTypeError, match="name must be a string"):
            examples.example_named(bad)
    with pytest.raises(ArgumentError, match="'half'"):
        examples.task5(loss="quarter")
    with pytest.raises(DataTypeError, match="loss must be a string"):
        examples.task5(loss=np.zeros(3))


def test_parse_value_errors_are_the_checkers():
    from micrograd_mlp.errors import TraceInputError
    for text, message in (("1e400", "float range"), ("[1, [2]]", "different lengths"),
                          ("[]", "empty brackets"), ("abc", "not a number"),
                          ("[[[1]]]", "two levels")):
        with pytest.raises(TraceInputError, match=message):
            answers.parse_value(text)
    with pytest.raises(DataTypeError, match="text must be a string"):
        answers.parse_value(0.5)
    with pytest.raises(DataTypeError, match="name must be a string"):
        answers.canonical_name(None)


def test_exercise_formats_refuse_non_strings():
    ex = _exercise()
    with pytest.raises(DataTypeError, match="fmt must be a string"):
        ex.question(np.zeros(3))
    with pytest.raises(ArgumentError, match="unknown format 'pdf'"):
        ex.solution("pdf")


def test_history_helpers_on_wrong_input():
    assert history.History().logs() == {}  # before the first epoch: nothing to report
    assert history.epoch_line(2, _history()).startswith("epoch      2  loss 0.500000")
    with pytest.raises(ArgumentError, match="no epoch yet"):
        history.epoch_line(1, history.History())
    with pytest.raises(DataTypeError, match="must be a History"):
        history.epoch_line(1, {"loss": [1.0]})
    assert metrics.class_accuracy([0.2, 0.7, 0.9], [0, 1, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ShapeError, match="3 predictions but 2 classes"):
        metrics.class_accuracy([0.2, 0.7, 0.9], [0, 1])
    with pytest.raises(ShapeError, match="dimension"):
        metrics.classes_of(np.zeros((2, 2, 2)))
    with pytest.raises(ShapeError, match=r"\(n, k\)"):
        metrics.class_labels([0, 1], (2,))


def test_scheduler_base_class_and_callback_logs():
    with pytest.raises(DataTypeError, match="base class"):
        lr_scheduler.LRScheduler(_sgd())
    cb = _early_stopping()
    assert cb.on_epoch_end(1, {"val_loss": float("nan")}) is None  # a diverged run: kept
    with pytest.raises(DataTypeError, match="logs must be a dict"):
        cb.on_epoch_end(2, [("val_loss", 0.5)])
    with pytest.raises(DataTypeError, match=r"logs\['val_loss'\] must be a number"):
        cb.on_epoch_end(2, {"val_loss": "0.5"})
    with pytest.raises(DataTypeError, match="restore_best_weights must be True or False"):
        callbacks.EarlyStopping(restore_best_weights="no")


def test_plots_refuse_wrong_shapes_with_the_reason():
    with pytest.raises(ShapeError, match=r"shape \(n, 2\)"):
        plots_training.plot_decision_region(lambda X: X[:, 0], np.zeros((4, 3)), Y4)
    with pytest.raises(ShapeError, match="3 labels for 4 points"):
        plots_training.plot_decision_region(lambda X: X[:, 0], X4, Y4[:3])
    with pytest.raises(ShapeError, match="got 1 numbers"):
        plots_training.plot_decision_region(lambda X: np.zeros(1), X4, Y4, resolution=8)
    with pytest.raises(ArgumentError, match="resolution must be <= 2000"):
        plots_training.plot_decision_region(lambda X: X[:, 0], X4, Y4, resolution=10 ** 6)
    with pytest.raises(ShapeError, match=r"fill an image of shape \(8, 8\)"):
        plots_training.plot_weight_images(np.ones((2, 10)))
    with pytest.raises(ShapeError, match="4 values for a grid of 5"):
        plots_training.plot_hidden_units(np.linspace(0, 1, 5), np.ones((2, 5)), output=[1, 2, 3, 4])
    with pytest.raises(DataTypeError, match="ax must be a matplotlib Axes"):
        plots_training.plot_learning_curves({"a": [1.0]}, ax="left")
    with pytest.raises(DataTypeError, match="must be numbers"):
        plots_training.plot_learning_curves({"a": ["1.0", None]})
    with pytest.raises(ArgumentError, match="history is empty"):
        plots_training.plot_history(history.History())
    with pytest.raises(ArgumentError, match=r"figsize\[0\] must be > 0"):
        plots.new_figure((0, 4))
    fig = plots_training.plot_learning_curves({"train": [1.0, 0.5, float("nan")]})
    assert fig.axes[0].get_title() == "Learning curve"  # a diverged curve is still drawn


def test_check_gradients_refuses_what_is_no_model_or_data():
    with pytest.raises(DataTypeError, match="model must be an MLP"):
        numpy_backward.gradients(_student(), "model", X4, Y4, loss="mse")
    with pytest.raises(DomainError, match="finite"):
        numpy_backward.gradients(_student(), _model((2, 1)), X4 * np.nan, Y4, loss="mse")
    with pytest.raises(ArgumentError, match="rtol must be >= 0"):
        numpy_backward.gradients(_student(), _model((2, 1)), X4, Y4, loss="mse", rtol=-1)
    with pytest.raises(ArgumentError, match="layout must be one of"):
        numpy_backward.gradients(_student(), _model((2, 1)), X4, Y4, loss="mse", layout="rows")


def test_a_folder_is_not_a_file_to_write(tmp_path):
    for write in (lambda p: stepper.write_html(_root(), p, frames=_frames()),
                  lambda p: plots.save_figure(plots.new_figure((1, 1), 20), p)):
        with pytest.raises(ArgumentError, match="is a folder: give a file name"):
            write(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_odd_students_answers_and_example_options():
    from micrograd_mlp.errors import TraceInputError
    model = _model((2, 1))
    with pytest.raises(DomainError, match="too large for a float"):
        numpy_backward.gradients(dict(_student(), W1=[[10 ** 400] * 2] * 2), model, X4, Y4, loss="mse")
    with pytest.raises(DataTypeError, match="the gradient 'W1' must be numbers"):
        numpy_backward.gradients(dict(_student(), W1="abc"), model, X4, Y4, loss="mse")
    with pytest.raises(ArgumentError, match=r"takes 4 parameters; it is called as f\(\)"):
        numpy_backward.gradients(lambda a, b, c, d: _student(), model, X4, Y4, loss="mse")
    with pytest.raises(TraceInputError, match="not a number, vector or matrix"):
        hand_solution.check(_root(), {"f": 10 ** 400})
    with pytest.raises(ArgumentError, match="example 'seed002' takes no options, not loss"):
        examples.example_named("seed002", loss="half")
    with pytest.raises(ArgumentError, match="example 'task5' takes loss, not foo"):
        examples.example_named("task5", foo=1)
    assert examples.example_named("task5", loss="full").numbers["loss"] == "full"


def test_a_nul_character_is_no_file_name(tmp_path):
    """``open("a\\0b")`` raises a bare ValueError (embedded null byte)."""
    class BytesPath:
        def __fspath__(self):
            return b"page.html"

    for write in (lambda p: stepper.write_html(_root(), p, frames=_frames()),
                  lambda p: plots.save_figure(plots.new_figure((1, 1), 20), p),
                  lambda p: data.load_cifar10(p)):
        with pytest.raises(ArgumentError, match="NUL character"):
            write(str(tmp_path / "a\0b"))
        with pytest.raises(DataTypeError, match="as text"):
            write(BytesPath())
    assert list(tmp_path.iterdir()) == []


def test_torch_bridge_and_format_steps_refuse_wrong_objects():
    torch = pytest.importorskip("torch")
    with pytest.raises(DataTypeError, match="to_torch needs an MLP"):
        torch_bridge.to_torch("model")
    with pytest.raises(DataTypeError, match="needs a torch.nn.Sequential"):
        torch_bridge.from_torch([torch.nn.Linear(2, 1)], MLP)
    with pytest.raises(ArgumentError, match="expected Linear before ReLU"):
        torch_bridge.from_torch(torch.nn.Sequential(torch.nn.ReLU()), MLP)
    back = torch_bridge.from_torch(torch_bridge.to_torch(_model()), MLP)
    assert back.state_dict() == _model().state_dict()
    with pytest.raises(DataTypeError, match="steps must be the ExerciseSteps"):
        steps.format_steps("steps")
    with pytest.raises(ArgumentError, match="unknown format 'html'"):
        steps.format_steps(_exercise().steps, "html")
