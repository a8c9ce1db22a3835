"""The main demo (``make demo``): seed 001's Task 5 traced node by node.

Prints every forward value and gradient of the hand-worked 2-3-2 sigmoid network
(SPEC R20) with the chain-rule ledger, and writes its drawings and a self-contained
HTML page that steps through backpropagation under ``demos/out/task5/`` (see
``demos/task5.py``; open ``demos/out/task5/steps.html`` in a browser).
"""
import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    task5 = runpy.run_path(str(Path(__file__).resolve().parent / "task5.py"))
    sys.exit(task5["main"](sys.argv[1:]))
