"""Seed 001, Task 5: the hand-worked 2-3-2 sigmoid network, node by node.

Prints the forward values and every gradient (7 decimals, as in the exercise's
solution) and the chain-rule ledger (4 decimals), and writes into ``--out``
(default ``demos/out``):

* ``task5_graph.png``             the computational graph layer by layer, composites
                                  collapsed, at most 1600 px wide: each neuron of
                                  layer 1 from the inputs, then layer 2 and the loss
                                  from x1 (leaves holding x1's values and gradients);
* ``task5_graph.svg``             the whole graph in one piece (zoomable);
* ``task5_graph_expanded.svg``    every primitive (the sigmoid's inner nodes too);
* ``task5_network.svg|png``       the vector-level view of Figure 1;
* ``task5_steps.html``            a self-contained page stepping through backward
                                  (open it in a browser; arrow keys step);
* with ``--frames``: ``task5_frames/frame_NNN.svg|png`` and ``task5_frames/steps.gif``.

Usage: python demos/task5.py [--loss half|full] [--expand] [--frames] [--out DIR]
"""
import sys

from _common import Printer, make_parser, out_dir

from micrograd_mlp import Value, examples, losses

from micrograd_mlp.views import trace

from micrograd_mlp.views import graph, stepper
from micrograd_mlp.nets.layers import Layer

MAX_WIDTH = 1600  # pixels: a figure at most this wide stays readable at page width


def layer2_graph(ex, loss: str):
    """Layer 2 and the loss of Task 5 as a graph of its own: ``x1`` as leaves holding
    the forward values, then ``x2 = sigma(W2 x1 + b2)`` and ``E`` with the same weights,
    after its backward pass. Every gradient equals the whole graph's (the chain rule
    from E stops at x1, where ``dE/dx1`` is the leaves' gradient). Returns E."""
    x1 = [Value(ex.nodes[f"x1[{k}]"].data, f"x1[{k}]") for k in range(3)]
    layer2 = Layer(3, 2, activation="sigmoid", index=2)  # names W2, b2, s2, x2, "layer 2"
    layer2.load_state_dict(ex.model.layers[1].state_dict())
    _, x2 = layer2.forward(x1)
    y = [Value(v, f"y[{k}]", requires_grad=False) for k, v in enumerate(examples.TASK5["y"])]
    E = losses.squared_error(x2, y) if loss == "half" else examples.sum_squared_error(x2, y)
    E.label = "E"
    E.backward()
    return E


def stack_pngs(paths, out_path, gap: int = 12):
    """Paste PNGs one below the other on white, left aligned, into ``out_path``."""
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    width = max(im.width for im in images)
    sheet = Image.new("RGB", (width, sum(im.height for im in images) + gap * (len(images) - 1)),
                      "white")
    y = 0
    for im in images:
        sheet.paste(im, (0, y))
        y += im.height + gap
    sheet.save(out_path)
    return out_path


def graph_by_layer(ex, loss: str, title: str, folder, dpi: int = 70):
    """``task5_graph.png``: each layer-1 neuron drawn from the inputs, then layer 2 and
    the loss (see :func:`layer2_graph`), stacked; every part at most ``MAX_WIDTH`` px
    wide (rendered at ``dpi``, lowered for a part that would be wider)."""
    parts = []
    # one colour scale for every part: the strongest gradient of the whole graph
    scale = max(abs(n.grad) for n in ex.nodes.values() if n is not ex.root and n.requires_grad)
    drawings = [(graph.draw_dot(ex.nodes[f"x1[{k}]"], collapse=True, legend=False, scale=scale,
                                title=f"{title}, layer 1, neuron {k}: x1[{k}] = sigma(W1[{k},:] x0 + b1[{k}])"),
                 f"layer1_neuron{k}") for k in range(3)]
    drawings.append((graph.draw_dot(layer2_graph(ex, loss), collapse=True, legend=True, scale=scale,
                                    title=f"{title}, layer 2 and the loss, from x1 "
                                          "(grad of x1[k] = dE/dx1[k])"), "layer2"))
    for drawing, stem in drawings:
        path = graph.render(drawing, folder / f"task5_graph_{stem}.png", dpi=dpi)
        width = _png_width(path)
        if width > MAX_WIDTH:
            path = graph.render(drawing, path, dpi=int(dpi * MAX_WIDTH / width))
        parts.append(path)
    return stack_pngs(parts, folder / "task5_graph.png")


def _png_width(path) -> int:
    with open(path, "rb") as fh:
        return int.from_bytes(fh.read(24)[16:20], "big")


def main(argv=None):
    """Run the demo with command-line ``argv``; returns E, the gradients by label, the
    summary text and the files written."""
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
                  graph_by_layer(ex, args.loss, title, out)]
        files.append(graph.render(ex.root, out / "task5_graph_expanded.svg",
                                  title=title + " (every primitive)"))
        net = graph.draw_mlp(ex.model, examples.TASK5["x0"], examples.TASK5["y"], loss=args.loss,
                             title=title + ": values and (right columns) gradients")
        files += [graph.render(net, out / "task5_network.svg"),
                  graph.render(net, out / "task5_network.png", dpi=80)]
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
