"""Seed 001, Task 5 (SPEC R20-R22): the hand-worked 2-3-2 sigmoid network, node by node.

Prints the forward values and every gradient (7 decimals, as in the exercise's
solution), the chain-rule ledger (4 decimals), and writes under ``demos/out/task5/``:

* ``graph.svg``/``graph.png``       the computational graph, composites collapsed;
* ``graph_expanded.svg``            every primitive (the sigmoid's inner nodes too);
* ``network.svg``/``network.png``   the vector-level view of Figure 1;
* ``steps.html``                    a self-contained page stepping through backward;
* with ``--frames``: ``frames/frame_NNN.svg|png`` and ``frames/steps.gif``.

Usage: python demos/task5.py [--loss half|full] [--expand] [--frames] [--out DIR]
"""
import argparse
import sys
from pathlib import Path

from micrograd_mlp import examples, graph, stepper, trace

OUT = Path(__file__).resolve().parent / "out" / "task5"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=("half", "full"), default="half")
    parser.add_argument("--expand", action="store_true", help="ledger with every primitive")
    parser.add_argument("--frames", action="store_true", help="also write PNG/SVG frames and a GIF")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    ex = examples.task5(loss=args.loss)
    print(ex.title)
    print(ex.description)
    print()
    print(trace.summary(ex.root))
    print("Chain rule, node by node:")
    print(trace.format_table(ex.root, collapse=not args.expand))
    ex.backward()

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    title = f"Seed 001 Task 5, E = {'1/2 ' if args.loss == 'half' else ''}||x2 - y||^2"
    written = []
    try:
        g = graph.draw_dot(ex.root, collapse=True, title=title)
        written += [graph.render(g, out / "graph.svg"), graph.render(g, out / "graph.png", dpi=110)]
        written.append(graph.render(ex.root, out / "graph_expanded.svg", title=title + " (every primitive)"))
        net = graph.draw_mlp(ex.model, examples.TASK5["x0"], examples.TASK5["y"], loss=args.loss,
                             title=title + ": values and gradients (right columns)")
        written += [graph.render(net, out / "network.svg"), graph.render(net, out / "network.png", dpi=110)]
        frames = stepper.step_frames(ex.root, collapse=True, title=title)
        written.append(stepper.write_html(ex.root, out / "steps.html", frames=frames,
                                          title="Seed 001 Task 5: backpropagation step by step"))
        if args.frames:
            paths = stepper.write_frames(ex.root, out / "frames", frames=frames)
            written.append(stepper.write_gif([p for p in paths if p.suffix == ".png"],
                                             out / "frames" / "steps.gif"))
    except graph.GraphvizMissingError as err:
        print(f"note: {err}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
