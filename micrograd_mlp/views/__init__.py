"""Pictures of a graph: the view model (names, visible nodes), the trace and ledger,
graph drawings, the stepper, and plots. Imports ``errors``, ``core`` and ``functions``."""
