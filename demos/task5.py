"""Seed 001, Task 5 (SPEC R20-R22): the hand-worked 2-3-2 sigmoid network, node by node.

Prints the forward values and every gradient (7 decimals, as in the exercise's
solution) and the chain-rule ledger (4 decimals), and writes into ``--out``
(default ``demos/out``):

* ``task5_graph.svg|png``         the computational graph, composites collapsed;
* ``task5_graph_expanded.svg``    every primitive (the sigmoid's inner nodes too);
* ``task5_network.svg|png``       the vector-level view of Figure 1;
* ``task5_steps.html``            a self-contained page stepping through backward
                                  (open it in a browser; arrow keys step);
* with ``--frames``: ``task5_frames/frame_NNN.svg|png`` and ``task5_frames/steps.gif``.

Usage: python demos/task5.py [--loss half|full] [--expand] [--frames] [--out DIR]
"""
import sys

from _common import Printer, make_parser, out_dir

from micrograd_mlp import examples, graph, stepper, trace


def main(argv=None):
    parser = make_parser("task5", __doc__.splitlines()[0])
    parser.add_argument("--loss", choices=("half", "full"), default="half",
                        help="E = 1/2 ||x2 - y||^2 (half, default) or ||x2 - y||^2")
    parser.add_argument("--expand", action="store_true", help="ledger with every primitive")
    parser.add_argument("--frames", action="store_true",
                        help="also write one SVG/PNG per backward step and a GIF")
    args = parser.parse_args(argv)
    say = Printer(args.quiet)

    ex = examples.task5(loss=args.loss)
    summary = trace.summary(ex.root)
    say(ex.title)
    say(ex.description)
    say()
    say(summary)
    say("Chain rule, node by node:")
    say(trace.format_table(ex.root, collapse=not args.expand))
    grads = {label: node.grad for label, node in ex.backward().nodes.items()}

    out = out_dir(args.out)
    title = f"Seed 001 Task 5, E = {'1/2 ' if args.loss == 'half' else ''}||x2 - y||^2"
    files, html = [], None
    try:
        g = graph.draw_dot(ex.root, collapse=True, title=title)
        files += [graph.render(g, out / "task5_graph.svg"),
                  graph.render(g, out / "task5_graph.png", dpi=110)]
        files.append(graph.render(ex.root, out / "task5_graph_expanded.svg",
                                  title=title + " (every primitive)"))
        net = graph.draw_mlp(ex.model, examples.TASK5["x0"], examples.TASK5["y"], loss=args.loss,
                             title=title + ": values and (right columns) gradients")
        files += [graph.render(net, out / "task5_network.svg"),
                  graph.render(net, out / "task5_network.png", dpi=110)]
        frames = stepper.step_frames(ex.root, collapse=True, title=title)
        html = stepper.write_html(ex.root, out / "task5_steps.html", frames=frames,
                                  title="Seed 001 Task 5: backpropagation step by step")
        if args.frames:
            paths = stepper.write_frames(ex.root, out / "task5_frames", frames=frames)
            stepper.write_gif([p for p in paths if p.suffix == ".png"],
                              out / "task5_frames" / "steps.gif")
            say(f"wrote {len(frames)} frames and steps.gif into {out / 'task5_frames'}")
    except graph.GraphvizMissingError as err:
        say(f"note: {err}")
    for path in files + ([html] if html else []):
        say(f"wrote {path}")
    return {"E": ex.root.data, "gradients": grads, "summary": summary,
            "files": [str(f) for f in files], "html": str(html) if html else None}


if __name__ == "__main__":
    main(sys.argv[1:])
