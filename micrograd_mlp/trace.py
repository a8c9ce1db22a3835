"""The first version's ``micrograd_mlp.trace``: the view model and the trace, gathered
from :mod:`micrograd_mlp.views` so old imports keep working."""
from .views.trace import (
    Row, Step, Term, backward_steps, format_array, format_table, gradients, ledger,
    summary, vectors_of,
)
from .views.checker import CheckReport, Verdict, catalog, check
from .views.viewmodel import Namer, View, build_view, format_number

__all__ = ["Step", "Term", "Row", "View", "build_view", "backward_steps", "gradients",
           "ledger", "format_table", "format_number", "format_array", "Namer", "vectors_of",
           "summary", "check", "catalog", "CheckReport", "Verdict"]
