"""The public-API walk of ``test_public_api.py`` (issue 12, class 7) over the rest of
the library: the stepper and its pages, the plots, the exercises and the checkers,
the ready examples, the schedulers, callbacks, data loaders and history.

Every public callable gets each wrong value in all its required parameters at once;
every case of CASES (functions and the methods a user calls) gets each wrong value in
one parameter at a time while the others hold good values. Each call must return or
raise an error of the library's family (or FileNotFoundError): never a bare
TypeError, ValueError, AttributeError, OverflowError, KeyError, IndexError ..."""
import functools
import inspect

import numpy as np
import pytest

from micrograd_mlp import MLP, Value, check as check_module, examples
from micrograd_mlp.exercises import Exercise, make_exercise, parse_net
from micrograd_mlp.nets import callbacks, data, history, lr_scheduler
from micrograd_mlp.nets.optim import SGD
from micrograd_mlp.views import answers, checker, plots, plots_training, stepper

from .api_walk import BAD, DOCUMENTED, call, public_callables, required_arguments
from .test_public_api import MODULES as MAIN_MODULES

MODULES = ["micrograd_mlp.views.stepper", "micrograd_mlp.views.stepper_page",
           "micrograd_mlp.views.plots", "micrograd_mlp.views.plots_training",
           "micrograd_mlp.views.exercise", "micrograd_mlp.views.checker",
           "micrograd_mlp.views.answers", "micrograd_mlp.examples", "micrograd_mlp.exercises",
           "micrograd_mlp.check", "micrograd_mlp.nets.lr_scheduler",
           "micrograd_mlp.nets.callbacks", "micrograd_mlp.nets.data",
           "micrograd_mlp.nets.history", "micrograd_mlp.nets.backward_check"]

# walked already by test_public_api.py (micrograd_mlp.data is micrograd_mlp.nets.data)
_WALKED = {id(fn) for _, fn in public_callables(MAIN_MODULES)}
PUBLIC = [(name.replace("micrograd_mlp.", ""), fn) for name, fn in public_callables(MODULES)]
CALLABLES = [(name, fn) for name, fn in PUBLIC if id(fn) not in _WALKED]


@pytest.fixture(autouse=True)
def _close_figures():
    """plots_training draws with pyplot: close what a call opened (or left half-built)."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


# ---------------------------------------------------------------- good arguments


def _root():
    a, b = Value(0.5, "a"), Value(-1.5, "b")
    f = a * b + a
    f.label = "f"
    return f


@functools.lru_cache(maxsize=None)
def _frames():
    """One rendered frame (its SVG kept): the pages need no Graphviz run."""
    frame = stepper.step_frames(_root())[0]
    frame.svg()
    return (frame,)


@functools.lru_cache(maxsize=None)
def _exercise():
    return make_exercise("1-1", seed=0)


def _model(widths=(3, 1)):
    return MLP(2, list(widths), activation="sigmoid", seed=0)


X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([0.0, 1.0, 1.0, 0.0])


def _png(name="frame.png"):
    from PIL import Image
    Image.new("RGB", (4, 3), "white").save(name)
    return name


def _history():
    h = history.History()
    h.loss, h.lr, h.metrics = [1.0, 0.5], [0.1, 0.1], {"accuracy": [0.5, 0.75]}
    return h


def _cifar(folder="cifar"):
    """Six CIFAR-10 files of one record each (label 3, grey pixels)."""
    import pathlib
    root = pathlib.Path(folder)
    root.mkdir(exist_ok=True)
    for name in data.CIFAR10_TRAIN_FILES + (data.CIFAR10_TEST_FILE,):
        (root / name).write_bytes(bytes([3]) + bytes([128]) * 3072)
    return str(root)


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


def _scheduler():
    return lr_scheduler.StepLR(_sgd(), 2)


# name -> (the function whose parameters are walked, a builder of the good call:
# (callable, args, kwargs)); a method's first parameter (self) is not walked
CASES = {
    "views.stepper.Stepper": (stepper.Stepper, lambda: (stepper.Stepper, (_root(),), {})),
    "views.stepper.step_frames": (stepper.step_frames,
                                  lambda: (stepper.step_frames, (_root(),), {})),
    "views.stepper.exercise_frames": (stepper.exercise_frames, lambda: (
        stepper.exercise_frames, (_exercise().steps,), {})),
    "views.stepper.write_frames": (stepper.write_frames, lambda: (
        stepper.write_frames, (_root(), "frames"), {"formats": ("png",), "frames": _frames()})),
    "views.stepper.write_gif": (stepper.write_gif, lambda: (
        stepper.write_gif, ([_png()], "anim.gif"), {})),
    "views.stepper.write_html": (stepper.write_html, lambda: (
        stepper.write_html, (_root(), "page.html"), {"frames": _frames()})),
    "views.stepper.page_html": (stepper.page_html,
                                lambda: (stepper.page_html, (_frames(),), {})),
    "views.stepper.svg_for_html": (stepper.svg_for_html, lambda: (
        stepper.svg_for_html, ('<svg width="1pt" height="1pt"></svg>',), {})),
    "Stepper.save": (stepper.Stepper.save, lambda: (
        stepper.Stepper(_root()).save, ("page.html",), {})),
    "views.plots.plot_activations": (plots.plot_activations, lambda: (
        plots.plot_activations, (["relu"],), {"n_dots": 5})),
    "views.plots.save_figure": (plots.save_figure, lambda: (
        plots.save_figure, (plots.new_figure((1, 1), 20), "fig"), {"formats": ("png",)})),
    "views.plots.new_figure": (plots.new_figure, lambda: (plots.new_figure, ((1, 1),), {})),
    "views.plots_training.plot_history": (plots_training.plot_history, lambda: (
        plots_training.plot_history, (_history(),), {})),
    "views.plots_training.save_figure": (plots_training.save_figure, lambda: (
        plots_training.save_figure, (plots.new_figure((1, 1), 20), "fig.png"), {"dpi": 20})),
    "views.plots_training.plot_learning_curves": (plots_training.plot_learning_curves, lambda: (
        plots_training.plot_learning_curves, ({"train": [1.0, 0.5]},), {})),
    "views.plots_training.plot_decision_region": (plots_training.plot_decision_region, lambda: (
        plots_training.plot_decision_region, (lambda X: X[:, 0], X4, Y4), {"resolution": 8})),
    "views.plots_training.plot_truth_vs_prediction": (
        plots_training.plot_truth_vs_prediction,
        lambda: (plots_training.plot_truth_vs_prediction, (X4, Y4, 1 - Y4), {})),
    "views.plots_training.plot_regression_fits": (plots_training.plot_regression_fits, lambda: (
        plots_training.plot_regression_fits,
        (X4[:, 0], Y4, np.linspace(0, 1, 5), {"fit": np.linspace(0, 1, 5)}), {})),
    "views.plots_training.plot_hidden_units": (plots_training.plot_hidden_units, lambda: (
        plots_training.plot_hidden_units, (np.linspace(0, 1, 5), np.ones((5, 2))), {})),
    "views.plots_training.plot_error_vs": (plots_training.plot_error_vs, lambda: (
        plots_training.plot_error_vs, ([1, 2, 3], {"train": [0.3, 0.2, 0.1]}), {})),
    "views.plots_training.plot_weight_images": (plots_training.plot_weight_images, lambda: (
        plots_training.plot_weight_images, (np.ones((2, 4)),), {"shape": (2, 2)})),
    "Exercise.question": (Exercise.question, lambda: (_exercise().question, (), {})),
    "Exercise.solution": (Exercise.solution, lambda: (_exercise().solution, (), {})),
    "views.checker.check": (checker.check, lambda: (checker.check, (_root(), "f = -0.25"), {})),
    "views.checker.catalog": (checker.catalog, lambda: (checker.catalog, (_root(),), {})),
    "Verdict.line": (checker.Verdict.line, lambda: (
        checker.check(_root(), "f = -0.25").verdicts[0].line, (4,), {})),
    "views.answers.parse_answers": (answers.parse_answers, lambda: (
        answers.parse_answers, ("a = 1\nb = [1, 2]",), {})),
    "views.answers.parse_value": (answers.parse_value,
                                  lambda: (answers.parse_value, ("0.5",), {})),
    "views.answers.canonical_name": (answers.canonical_name, lambda: (
        answers.canonical_name, ("dE/dx",), {})),
    "examples.task5": (examples.task5, lambda: (examples.task5, (), {})),
    "examples.get": (examples.get, lambda: (examples.get, ("task5",), {})),
    "exercises.make_exercise": (make_exercise, lambda: (make_exercise, ("1-1",), {})),
    "exercises.parse_net": (parse_net, lambda: (parse_net, ("2-3",), {})),
    "check.gradients": (check_module.gradients, lambda: (
        check_module.gradients, (_student(), _model((2, 1)), X4, Y4), {"loss": "mse"})),
    "nets.lr_scheduler.LRScheduler": (lr_scheduler.LRScheduler, lambda: (
        lr_scheduler.LRScheduler, (_sgd(),), {})),
    "nets.lr_scheduler.StepLR": (lr_scheduler.StepLR, lambda: (
        lr_scheduler.StepLR, (_sgd(), 2), {})),
    "nets.lr_scheduler.ExponentialLR": (lr_scheduler.ExponentialLR, lambda: (
        lr_scheduler.ExponentialLR, (_sgd(), 0.9), {})),
    "nets.lr_scheduler.CosineAnnealingLR": (lr_scheduler.CosineAnnealingLR, lambda: (
        lr_scheduler.CosineAnnealingLR, (_sgd(), 10), {})),
    "nets.lr_scheduler.LambdaLR": (lr_scheduler.LambdaLR, lambda: (
        lr_scheduler.LambdaLR, (_sgd(), lambda epoch: 0.9 ** epoch), {})),
    "StepLR.load_state_dict": (lr_scheduler.StepLR.load_state_dict, lambda: (
        _scheduler().load_state_dict, (_scheduler().state_dict(),), {})),
    "nets.callbacks.EarlyStopping": (callbacks.EarlyStopping, lambda: (
        callbacks.EarlyStopping, (), {})),
    "nets.callbacks.LambdaCallback": (callbacks.LambdaCallback, lambda: (
        callbacks.LambdaCallback, (), {"on_epoch_end": lambda epoch, logs: None})),
    "EarlyStopping.on_epoch_end": (callbacks.EarlyStopping.on_epoch_end, lambda: (
        _early_stopping().on_epoch_end, (0, {"val_loss": 0.5}), {})),
    "nets.data.xor": (data.xor, lambda: (data.xor, (), {})),
    "nets.data.digits": (data.digits, lambda: (data.digits, (), {"n": 20})),
    "nets.data.load_cifar10": (data.load_cifar10, lambda: (
        data.load_cifar10, (_cifar(),), {"n_train": 1})),
    "nets.history.classes_of": (history.classes_of, lambda: (
        history.classes_of, (np.array([0.2, 0.7]),), {})),
    "nets.history.class_accuracy": (history.class_accuracy, lambda: (
        history.class_accuracy, (np.array([0.2, 0.7]), np.array([0, 1])), {})),
    "nets.history.class_labels": (history.class_labels, lambda: (
        history.class_labels, ([0, 1], (2, 1)), {})),
    "nets.history.score_threshold": (history.score_threshold, lambda: (
        history.score_threshold, ([0, 1],), {})),
    "nets.history.epoch_line": (history.epoch_line, lambda: (
        history.epoch_line, (1, _history()), {})),
}


def _walked_parameters(name, fn):
    params = list(inspect.signature(fn).parameters.values())
    if name[0].isupper():
        params = params[1:]  # a method ("Class.method"): self is bound
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


ONE_AT_A_TIME = [(name, param) for name, (fn, _) in CASES.items()
                 for param in _walked_parameters(name, fn)]


def test_the_walk_covers_these_modules():
    names = {n for n, _ in CALLABLES}
    assert len(CALLABLES) > 40
    assert {"views.stepper.write_frames", "views.stepper.page_html", "views.plots.save_figure",
            "views.plots_training.save_figure", "examples.get", "check.gradients",
            "nets.lr_scheduler.StepLR", "nets.callbacks.EarlyStopping"} <= names
    # every function of CASES is a public one of these modules, under the name it has
    functions = {n: fn for n, (fn, _) in CASES.items() if n[0].islower()}
    assert {n: fn for n, fn in PUBLIC if n in functions} == functions


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
@pytest.mark.parametrize("name, fn", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_required_arguments_all_wrong(name, fn, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a function taking a path writes here, if anywhere
    args, kwargs = required_arguments(fn, BAD[bad])
    try:
        call(fn, *args, **kwargs)
    except DOCUMENTED:
        pass


@pytest.mark.parametrize("name, param", ONE_AT_A_TIME, ids=[f"{n}({p}=)" for n, p in ONE_AT_A_TIME])
def test_each_argument_wrong_in_turn(name, param, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for bad in BAD.values():
        fn, args, kwargs = CASES[name][1]()
        trial = dict(inspect.signature(fn).bind_partial(*args, **kwargs).arguments)
        trial[param] = bad
        try:
            call(fn, **trial)
        except DOCUMENTED:
            pass
