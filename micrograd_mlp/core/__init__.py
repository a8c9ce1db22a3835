"""The engine layer: the table of primitives, ``Value`` and ``backward()``, the gradient
checker, and the recorder that replays a graph on new data. Imports only ``errors``."""
