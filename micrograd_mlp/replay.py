"""The first version's ``micrograd_mlp.replay``: the recorder
(:mod:`micrograd_mlp.core.recorder`) and the compiled training step
(:mod:`micrograd_mlp.nets.compiled_step`), gathered so old imports keep working
(``train_step`` here is :func:`~micrograd_mlp.nets.compiled_step.replayed_train_step`)."""
from .core.recorder import Recorded, single_threaded_blas
from .nets.compiled_step import CompiledStep, compile_step, replayed_train_step

train_step = replayed_train_step

__all__ = ["Recorded", "CompiledStep", "compile_step", "train_step", "replayed_train_step",
           "single_threaded_blas"]
