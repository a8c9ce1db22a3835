"""The live training studio: a local web app (and a Jupyter widget) that trains an MLP
with this library and shows every number of its forward and backward pass while it
learns. Start it with ``micrograd-mlp studio``; see docs/studio.md."""
