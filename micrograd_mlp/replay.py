"""The first version's ``micrograd_mlp.replay``: the recorder
(:mod:`micrograd_mlp.core.recorder`) and the compiled training step
(:mod:`micrograd_mlp.nets.compiled_step`), gathered so old imports keep working."""
from .core.recorder import Recorded, single_threaded_blas
from .nets.compiled_step import CompiledStep, compile_step, train_step

__all__ = ["Recorded", "CompiledStep", "compile_step", "train_step", "single_threaded_blas"]
