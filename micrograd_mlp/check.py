"""Check a student's work: a hand solution or a numpy backward pass.

* :func:`gradients` -- the gradients of a hand-written backward (a dict ``W1, b1, ...``
  in either layout, or a function returning it) against autodiff, each parameter
  diagnosed (transposed, a constant factor 1/n, 2 or n, a wrong sign, a wrong
  activation derivative, wrong in some rows only);
* :func:`hand_solution` -- the numbers of a hand solution (``name = value`` lines)
  against a traced graph, the first wrong one explained (the same as
  ``micrograd_mlp.trace.check``).
"""
from .nets.backward_check import GradientReport, ParameterVerdict, gradients
from .views.checker import CheckReport, check as hand_solution

__all__ = ["gradients", "GradientReport", "ParameterVerdict", "hand_solution", "CheckReport"]
