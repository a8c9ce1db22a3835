"""Functions built from primitives as composite nodes: activations and losses, with
one registry of composites. Imports ``errors`` and ``core``."""
