"""Good calls of every public callable the argument tables cover, and the bad values
the tables give them.

``CALLS`` maps a public name to a builder of one good call ``(callable, args, kwargs)``
(asked again for every row: nothing is shared between rows); a table row replaces one
parameter of that call with a bad value (see ``test_argument_tables.py``)."""
import contextlib
import functools
import importlib
import inspect
import pathlib
import signal
import warnings

import numpy as np

from micrograd_mlp import MLP, Value, examples
from micrograd_mlp.grading import answers, hand_solution, numpy_backward
from micrograd_mlp.grading.exercises import Exercise, make_exercise, parse_net, variant_seed
from micrograd_mlp.nets import (callbacks, checkpoint, data, history, lr_scheduler, metrics,
                                torch_bridge)
from micrograd_mlp.nets.optim import SGD
from micrograd_mlp.views import plots, plots_training, stepper, steps

# the modules whose every public callable has a table
MODULES = ["micrograd_mlp", "micrograd_mlp.nets.layers", "micrograd_mlp.nets.mlp",
           "micrograd_mlp.nets.init", "micrograd_mlp.nets.optim", "micrograd_mlp.functions.losses",
           "micrograd_mlp.functions.activations", "micrograd_mlp.nets.train",
           "micrograd_mlp.nets.data", "micrograd_mlp.views.graph", "micrograd_mlp.views.trace",
           "micrograd_mlp.views.viewmodel", "micrograd_mlp.core.gradcheck",
           "micrograd_mlp.views.stepper", "micrograd_mlp.views.stepper_page",
           "micrograd_mlp.views.plots", "micrograd_mlp.views.plots_training",
           "micrograd_mlp.grading.exercise_text", "micrograd_mlp.grading.hand_solution",
           "micrograd_mlp.grading.answers", "micrograd_mlp.examples",
           "micrograd_mlp.grading.exercises", "micrograd_mlp.nets.lr_scheduler",
           "micrograd_mlp.nets.callbacks", "micrograd_mlp.nets.history",
           "micrograd_mlp.nets.metrics", "micrograd_mlp.grading.numpy_backward",
           "micrograd_mlp.nets.torch_bridge", "micrograd_mlp.views.steps",
           "micrograd_mlp.nets.checkpoint"]

BAD = {"None": None, "str": "abc", "bool": True, "huge": 10 ** 400, "nan": float("nan"),
       "inf": float("inf"), "neg": -1, "fraction": 2.5, "ragged": [[1, 2], [3]],
       "3d": np.zeros((2, 2, 2)), "empty": [], "dict": {"a": 1}, "folder": "."}

TIME_LIMIT = 10.0  # seconds for one call: far above any call of the tables


class CallTimeout(Exception):
    """A call ran past TIME_LIMIT (a hang or a huge allocation)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT):
    """Raise :class:`CallTimeout` in the main thread after ``seconds``."""
    def expire(signum, frame):
        raise CallTimeout(f"call ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn, *args, **kwargs):
    """Call ``fn`` under the time limit; a generator is run to its end (its errors come
    on iteration)."""
    with warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        result = fn(*args, **kwargs)
        if inspect.isgenerator(result):
            list(result)
    return result


def public_callables(modules=MODULES):
    """``{module.name: callable}`` for every public callable of ``modules`` (each object
    once, under the first name found; exception classes left out)."""
    seen, out = set(), {}
    for name in modules:
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, attr, None)
            if (not callable(obj) or inspect.ismodule(obj) or id(obj) in seen
                    or (inspect.isclass(obj) and issubclass(obj, BaseException))):
                continue
            seen.add(id(obj))
            out[f"{name}.{attr}"] = obj
    return out


def trial_call(name, param, bad):
    """``(callable, kwargs)`` of the good call of ``name`` with ``param`` set to the bad
    value ``BAD[bad]``. ``param`` "*": no good call, every required parameter gets the
    bad value; "+": the bad value as one positional argument more than the function
    takes; "()": called with no argument at all."""
    value = BAD[bad]
    if param in ("*", "+", "()"):
        fn = PUBLIC[name]
        sig = inspect.signature(fn)
        if param == "()":
            return fn, (), {}
        if param == "+":
            return fn, (value,) * (1 + sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                            for p in sig.parameters.values())), {}
        args = [value for p in sig.parameters.values() if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        kwargs = {p.name: value for p in sig.parameters.values()
                  if p.default is p.empty and p.kind == p.KEYWORD_ONLY}
        return fn, tuple(args), kwargs
    fn, args, kwargs = CALLS[name]()
    trial = dict(inspect.signature(fn).bind_partial(*args, **kwargs).arguments)
    trial[param] = value
    return fn, (), trial


# ---------------------------------------------------------------- good calls


def _model(widths=(3, 1)):
    return MLP(2, list(widths), seed=0)


def _sigmoid_model(widths=(3, 1)):
    return MLP(2, list(widths), activation="sigmoid", seed=0)


X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y4 = np.array([0.0, 1.0, 1.0, 0.0])


def _tanh_root():
    a, b = Value(0.5, "a"), Value(-1.5, "b")
    f = (a * b + a).tanh()
    f.label = "f"
    return f


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


def _png(name="frame.png", color="white"):
    from PIL import Image
    Image.new("RGB", (4, 3), color).save(name)
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
    (W1, W2), (b1, b2) = _sigmoid_model((2, 1)).get_parameters("out_in")
    return {"W1": np.zeros_like(W1), "b1": np.zeros_like(b1),
            "W2": np.zeros_like(W2), "b2": np.zeros_like(b2)}


def _sgd():
    return SGD(_sigmoid_model().parameters(), lr=0.1)


def _early_stopping():
    cb = callbacks.EarlyStopping(patience=1)
    cb.set_model(_sigmoid_model())
    cb.on_train_begin()
    return cb


def _scheduler():
    return lr_scheduler.StepLR(_sgd(), 2)


# name -> (the function whose parameters are walked, a builder of the good call:
# (callable, args, kwargs)); a method's first parameter (self) is not walked
def _doc():
    return checkpoint.checkpoint_document(_model())


_MAIN_GOOD = {
    "Value": lambda: ((1.5,), {}),
    "optimizer_named": lambda: (("sgd", [Value(1.0)]), {"lr": 0.1}),
    "MLP": lambda: ((2, [3, 1]), {}),
    "Neuron": lambda: ((2,), {}),
    "Layer": lambda: ((2, 3), {}),
    "chains_its_layers": lambda: ((lambda self, x: x,), {}),
    "fit": lambda: ((_model(), X4, Y4), {"epochs": 2, "progress": False}),
    "predict": lambda: ((_model(), X4), {}),
    "accuracy": lambda: ((_model(), X4, Y4), {}),
    "listing": lambda: ((_model(), X4, Y4), {}),
    "SGD": lambda: ((_model().parameters(),), {}),
    "Adam": lambda: ((_model().parameters(),), {}),
    "draw_dot": lambda: ((_tanh_root(),), {}),
    "draw_mlp": lambda: ((_model(), [0.5, -1.0], [1.0]), {}),
    "render": lambda: ((_tanh_root(), "g.dot"), {}),
    "gradcheck": lambda: ((lambda v: v * v, [Value(1.5)]), {}),
    "numeric_grad": lambda: ((lambda v: v * v, [Value(1.5)]), {}),
    "mse": lambda: (([Value(0.5), Value(0.1)], [1.0, 0.0]), {}),
    "squared_error": lambda: (([Value(0.5), Value(0.1)], [1.0, 0.0]), {}),
    "binary_cross_entropy": lambda: ((Value(0.3), 1.0), {}),
    "binary_cross_entropy_with_logits": lambda: ((Value(0.3), 1.0), {}),
    "softmax_cross_entropy": lambda: (([Value(0.5), Value(0.1)], 1), {}),
    "hinge": lambda: ((Value(0.3), -1.0), {}),
    "l2": lambda: ((_model(), 0.1, 4), {}),
    "prelu": lambda: ((Value(-0.5),), {}),
    "leaky_relu": lambda: ((Value(-0.5),), {}),
    "parametric_sigmoid": lambda: ((Value(-0.5),), {}),
    "selu": lambda: ((Value(-0.5),), {}),
    "soboleva_tanh": lambda: ((Value(-0.5),), {}),
    "gelu": lambda: ((Value(-0.5),), {}),
    "evaluate": lambda: (("tanh", 0.5), {}),
    "moons": lambda: ((), {}),
    "generate_linear": lambda: ((), {}),
    "sinusoid": lambda: ((), {}),
    "train_val_split": lambda: ((X4, np.array([0, 1, 1, 0])), {}),
    "one_hot": lambda: (([0, 2, 1],), {}),
    "format_table": lambda: ((_tanh_root(),), {}),
    "ledger": lambda: ((_tanh_root(),), {}),
    "summary": lambda: ((_tanh_root(),), {}),
    "format_number": lambda: ((0.25,), {}),
    "anomaly_mode": lambda: ((), {}),
    "topological_order": lambda: ((_tanh_root(),), {}),
    "backward_steps": lambda: ((_tanh_root(),), {}),
}


_VIEW_CASES = {
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
    "grading.hand_solution.check": (hand_solution.check, lambda: (hand_solution.check, (_root(), "f = -0.25"), {})),
    "grading.hand_solution.catalog": (hand_solution.catalog, lambda: (hand_solution.catalog, (_root(),), {})),
    "Verdict.line": (hand_solution.Verdict.line, lambda: (
        hand_solution.check(_root(), "f = -0.25").verdicts[0].line, (4,), {})),
    "grading.answers.parse_answers": (answers.parse_answers, lambda: (
        answers.parse_answers, ("a = 1\nb = [1, 2]",), {})),
    "grading.answers.parse_value": (answers.parse_value,
                                  lambda: (answers.parse_value, ("0.5",), {})),
    "grading.answers.canonical_name": (answers.canonical_name, lambda: (
        answers.canonical_name, ("dE/dx",), {})),
    "views.stepper.exam_html": (stepper.exam_html, lambda: (
        stepper.exam_html, (_exercise().steps,), {})),
    "views.stepper.write_exam": (stepper.write_exam, lambda: (
        stepper.write_exam, (_exercise().steps, "exam.html"), {})),
    "grading.hand_solution.EntryResult": (hand_solution.EntryResult, lambda: (
        hand_solution.EntryResult, ("E", "E", "loss", "right", 0.5, 0.5, 0.5), {})),
    "grading.hand_solution.graph_steps": (hand_solution.graph_steps, lambda: (
        hand_solution.graph_steps, (_root(),), {})),
    "grading.hand_solution.rounded_carry": (hand_solution.rounded_carry, lambda: (
        hand_solution.rounded_carry, (_root(),), {})),
    "grading.hand_solution.round_half_away": (hand_solution.round_half_away, lambda: (
        hand_solution.round_half_away, (0.125, 2), {})),
    "grading.answers.quote": (answers.quote, lambda: (answers.quote, ("x" * 100,), {})),
    "grading.answers.decimals_of": (answers.decimals_of, lambda: (
        answers.decimals_of, (5e-05,), {})),
    "grading.exercises.variant_seed": (variant_seed, lambda: (variant_seed, ("hw3", "s1"), {})),
    "examples.task5": (examples.task5, lambda: (examples.task5, (), {})),
    "examples.example_named": (examples.example_named, lambda: (examples.example_named, ("task5",), {})),
    "grading.exercises.make_exercise": (make_exercise, lambda: (make_exercise, ("1-1",), {})),
    "grading.exercises.parse_net": (parse_net, lambda: (parse_net, ("2-3",), {})),
    "grading.numpy_backward.gradients": (numpy_backward.gradients, lambda: (
        numpy_backward.gradients, (_student(), _sigmoid_model((2, 1)), X4, Y4), {"loss": "mse"})),
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
    "views.steps.format_steps": (steps.format_steps, lambda: (
        steps.format_steps, (_exercise().steps,), {})),
    "views.steps.exercise_steps": (steps.exercise_steps, lambda: (
        steps.exercise_steps, (_exercise().root, _exercise().steps.model), {})),
    "nets.torch_bridge.to_torch": (torch_bridge.to_torch, lambda: (
        torch_bridge.to_torch, (_sigmoid_model(),), {})),
    "nets.data.xor": (data.xor, lambda: (data.xor, (), {})),
    "nets.data.digits": (data.digits, lambda: (data.digits, (), {"n": 20})),
    "nets.data.load_cifar10": (data.load_cifar10, lambda: (
        data.load_cifar10, (_cifar(),), {"n_train": 1})),
    "nets.metrics.classes_of": (metrics.classes_of, lambda: (
        metrics.classes_of, (np.array([0.2, 0.7]),), {})),
    "nets.metrics.class_accuracy": (metrics.class_accuracy, lambda: (
        metrics.class_accuracy, (np.array([0.2, 0.7]), np.array([0, 1])), {})),
    "nets.metrics.class_labels": (metrics.class_labels, lambda: (
        metrics.class_labels, ([0, 1], (2, 1)), {})),
    "nets.metrics.score_threshold": (metrics.score_threshold, lambda: (
        metrics.score_threshold, ([0, 1],), {})),
    "nets.history.epoch_line": (history.epoch_line, lambda: (
        history.epoch_line, (1, _history()), {})),
}



_CHECKPOINT = {
    "checkpoint_document": lambda: (checkpoint.checkpoint_document, (_model(),), {}),
    "save_checkpoint": lambda: (checkpoint.save_checkpoint, ("m.json", _model()), {}),
    "write_atomic": lambda: (checkpoint.write_atomic, ("w.txt", lambda f: f.write("x")), {}),
    "parse_checkpoint": lambda: (checkpoint.parse_checkpoint, (
        __import__("json").dumps(_doc()).encode(),), {"source": "m.json"}),
    "check_architecture": lambda: (checkpoint.check_architecture, (_doc()["architecture"],),
                                   {"source": "m.json"}),
}

PUBLIC = public_callables()


def _calls():
    """Every good-call builder under the public name of its callable (a method, under
    "Class.method")."""
    out = {}
    for name, fn in PUBLIC.items():
        short = name.rsplit(".", 1)[1]
        key = name.replace("micrograd_mlp.", "")
        if key in _VIEW_CASES:
            out[name] = _VIEW_CASES[key][1]
        elif short in _MAIN_GOOD:
            out[name] = (lambda f=fn, s=short: (f,) + _MAIN_GOOD[s]())
        elif name.startswith("micrograd_mlp.nets.checkpoint.") and short in _CHECKPOINT:
            out[name] = _CHECKPOINT[short]
    for key, (fn, build) in _VIEW_CASES.items():
        if key[0].isupper():  # a method a user calls
            out[key] = build
            PUBLIC.setdefault(key, fn)
    return out


CALLS = _calls()
