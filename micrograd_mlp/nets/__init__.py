"""Networks and their training: modules and initialisers, optimisers, checkpoint files,
the torch bridge, the training loop and its compiled (replayed) step, and the data sets.
Imports ``errors``, ``core`` and ``functions``."""
