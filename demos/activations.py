"""Seed 000, Exercise 1: every activation function beside its derivative.

For each registered activation the closed-form derivative f'(x) is drawn next to f(x),
and the derivative that backward() computes through the composite graph is drawn on
top as dots. The script also prints, for each activation, the largest difference
between the two derivatives at 201 points in [-10, 10] (kinks at 0 left out), and
checks that f and f' stay finite at x = -1000 and x = +1000.

Writes OUT/activations.png and OUT/activations.svg (``make figures`` copies the PNG
to demos/figures/ for the README).

    python demos/activations.py [--out DIR] [--quick]
"""
from __future__ import annotations

import math

import numpy as np

try:
    from . import _common  # imported as demos.activations
except ImportError:
    import _common  # run as a script

from micrograd_mlp import activations as A
from micrograd_mlp.views.plots import plot_activations, save_figure

KINKED = {"relu", "prelu", "leaky_relu", "selu", "selu_standard"}


def derivative_check(name, n=201):
    """Largest |autodiff f' - closed-form f'| at n points of [-10, 10] (0 left out for
    kinked functions), and (f, f') at -1000 and +1000."""
    x = np.linspace(-10.0, 10.0, n)
    if name in KINKED:
        x = x[x != 0]
    _, grad = A.evaluate(name, x)
    err = float(np.max(np.abs(grad - A.ACTIVATIONS[name].df(x))))
    f_ext, g_ext = A.evaluate(name, [-1000.0, 1000.0])
    return err, f_ext, g_ext


def main(argv=None) -> dict:
    parser = _common.make_parser("activations", __doc__.split("\n")[0])
    args = parser.parse_args(argv)
    say = _common.Printer(args.quiet)
    out = _common.out_dir(args.out)

    say("Activations and their derivatives (seed 000, Exercise 1)\n")
    rows, errors, finite = [], {}, {}
    for name in A.names():
        err, f_ext, g_ext = derivative_check(name)
        errors[name] = err
        finite[name] = bool(np.all(np.isfinite(f_ext)) and np.all(np.isfinite(g_ext)))
        f_ext, g_ext = f_ext + 0.0, g_ext + 0.0  # print -0.0 as 0
        rows.append((name, err, f"{f_ext[0]:.4g}", f"{g_ext[0]:.4g}",
                     f"{f_ext[1]:.4g}", f"{g_ext[1]:.4g}"))
    say(_common.table(["activation", "max |autodiff - closed form|", "f(-1000)", "f'(-1000)",
                       "f(1000)", "f'(1000)"], rows, ".1e"))

    fig = plot_activations(n_dots=13 if args.quick else 21)
    paths = save_figure(fig, out / "activations")
    worst = max(errors.values())
    say(f"\nlargest derivative difference: {worst:.1e} (autodiff vs closed form)")
    say("every value and derivative finite at +-1000: " + str(all(finite.values())))
    say("wrote " + ", ".join(paths))
    return {"errors": errors, "max_error": worst, "finite": finite, "paths": paths}


if __name__ == "__main__":
    result = main()
    raise SystemExit(0 if result["max_error"] < 1e-9 and all(result["finite"].values())
                     and not math.isnan(result["max_error"]) else 1)
