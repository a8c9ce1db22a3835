"""Replay chooses the layer program from the model's graph, not its method names: a
model whose graph is its layers chained gets the layer program whatever its methods are
called; one whose graph differs (even by a constant) replays its recorded graph."""
import numpy as np

from micrograd_mlp.functions import losses
from micrograd_mlp.nets.compiled_step import compile_step
from micrograd_mlp.nets.mlp import MLP
from micrograd_mlp.nets.replay_programs import GraphProgram, LayerProgram


class Renamed(MLP):
    """The same graph as an MLP, built by a method of another name."""

    def run_layers(self, x):
        xs = x
        for layer in self.layers:
            xs = layer(xs)
        return xs[0] if len(xs) == 1 else xs

    def __call__(self, x):
        return self.run_layers(x)


class Scaled(MLP):
    def __call__(self, x):
        out = super().__call__(x)
        return [1.5 * o for o in out] if isinstance(out, list) else 1.5 * out


def _step_and_built(model, X, y):
    step = compile_step(model, losses.mse, X[:1])
    loss, grads = step(X, y)
    for p in model.parameters():
        p.grad = 0.0
    built = losses.mse(model(X), y)
    built.backward()
    return step, loss, grads, built.data, np.array([p.grad for p in model.parameters()])


def _assert_replayed_by(program_type, model, seed):
    """The model's step replays by ``program_type`` with the built graph's numbers."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    step, loss, grads, want_loss, want_grads = _step_and_built(model, X, y)
    assert isinstance(step.program, program_type)
    assert abs(loss - want_loss) < 1e-12
    np.testing.assert_allclose(grads, want_grads, rtol=1e-10, atol=1e-14)


def test_the_same_graph_under_other_method_names_takes_the_layer_program():
    _assert_replayed_by(LayerProgram, Renamed(3, [4, 1], activation=["tanh", None], seed=1), 4)


def test_another_graph_takes_the_recorded_graph():
    _assert_replayed_by(GraphProgram, Scaled(3, [4, 1], activation=["relu", None], seed=2), 5)


def test_choosing_leaves_the_model_as_it_was():
    model = MLP(2, [3, 1], seed=0)
    model([0.1, 0.2])
    before = {k: list(v) for k, v in model.intermediates.items()}
    compile_step(model, losses.mse, np.zeros((1, 2)))
    assert {k: list(v) for k, v in model.intermediates.items()} == before


class ScaledForward(MLP):
    """Only ``forward`` is its own (``__call__`` is the library's, which calls it)."""

    def forward(self, x):
        return [2.0 * o for o in super().forward(x)]


def test_the_library_mlp_takes_the_layer_program_without_comparing_graphs(monkeypatch):
    from micrograd_mlp.nets import replay_programs

    def refuse(*_):
        raise AssertionError("the one-sample graphs were built and compared")

    monkeypatch.setattr(replay_programs, "_builds_the_stack_graph", refuse)
    step = compile_step(MLP(3, [4, 1], seed=0), losses.mse, np.zeros((1, 3)))
    assert isinstance(step.program, LayerProgram)


def test_a_forward_of_its_own_is_compared_and_replayed_as_its_graph():
    _assert_replayed_by(GraphProgram, ScaledForward(3, [4, 1], activation=["tanh", None], seed=3), 6)


def test_a_forward_replaced_on_the_instance_is_replayed_as_its_graph():
    model = MLP(3, [4, 1], activation=["relu", None], seed=4)
    plain = model.forward
    model.forward = lambda x: [o + 0.5 for o in plain(x)]
    _assert_replayed_by(GraphProgram, model, 7)
