"""``python -m micrograd_mlp ...``: the same as the ``micrograd-mlp`` command."""
from .cli import main

raise SystemExit(main())
