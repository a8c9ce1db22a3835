"""The main demo (``make demo``): seed 001's Task 5 traced node by node.

Prints every forward value and gradient of the hand-worked 2-3-2 sigmoid network
with the chain-rule ledger, and writes its drawings and a self-contained
HTML page that steps through backpropagation into ``demos/out/`` (see
``demos/task5.py``; open ``demos/out/task5_steps.html`` in a browser).
"""
import runpy
import sys
from pathlib import Path


def main(argv=None):
    """Run demos/task5.py with ``argv``; returns its results."""
    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    task5 = runpy.run_path(str(here / "task5.py"))
    return task5["main"](argv)


if __name__ == "__main__":
    main(sys.argv[1:])
