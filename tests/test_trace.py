"""backward_steps, the ledger and its text/Markdown/LaTeX exports."""
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from micrograd_mlp import Value, activations, examples, sum_values, topological_order

from micrograd_mlp.views import trace

from micrograd_mlp.views import viewmodel
from micrograd_mlp.core.registry import PRIMITIVES


def _engine_grads(root, leaves):
    for v in leaves:
        v.grad = 0.0
    root.backward()
    return [v.grad for v in leaves]


def test_steps_follow_the_engine_order_and_rules():
    a, b, c = Value(1.5, "a"), Value(-2.0, "b"), Value(0.5, "c")
    f = (a * b + c).tanh() * a
    f.label = "f"
    steps = list(trace.backward_steps(f))
    expected = [n for n in reversed(topological_order(f)) if n.parents]
    assert [s.node for s in steps] == expected
    grads = {f: 1.0}
    for s in steps:
        assert s.upstream == pytest.approx(grads[s.node])
        for t in s.terms:
            prim = s.node.primitive
            assert t.formula == prim.formula(t.position)
            parts = prim.partials(s.node.data, *[p.data for p in s.node.parents])
            assert t.local == parts[t.position]
            assert t.contribution == pytest.approx(s.upstream * t.local)
            grads[t.inp] = grads.get(t.inp, 0.0) + t.contribution
    assert [grads[v] for v in (a, b, c)] == pytest.approx(_engine_grads(f, [a, b, c]))


def test_steps_do_not_touch_value_grad():
    ex = examples.task5().backward()
    before = {n: n.grad for n in topological_order(ex.root, all_nodes=True)}
    list(trace.backward_steps(ex.root))
    list(trace.backward_steps(ex.root, collapse=True))
    trace.format_table(ex.root)
    assert all(n.grad == g for n, g in before.items())


def test_node_used_twice_gets_both_paths():
    a = Value(3.0, "a")
    f = a * a
    steps = list(trace.backward_steps(f))
    assert len(steps) == 1 and len(steps[0].terms) == 2
    assert steps[0].terms[1].total == pytest.approx(6.0)  # 3 + 3
    assert trace.traced_gradients(f)[a] == pytest.approx(2 * 3.0)


# random expression graphs: the replay equals the engine, collapsed or not
_UNARY = ["tanh", "exp_small", "sigmoid", "relu", "square"]


@st.composite
def graphs(draw):
    xs = draw(st.lists(st.floats(-2, 2), min_size=2, max_size=4))
    leaves = [Value(x, f"v{i}") for i, x in enumerate(xs)]
    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(nodes) - 1))
        j = draw(st.integers(0, len(nodes) - 1))
        kind = draw(st.sampled_from(["add", "mul", "sub"] + _UNARY))
        u, v = nodes[i], nodes[j]
        if kind == "add":
            n = u + v
        elif kind == "mul":
            n = u * v
        elif kind == "sub":
            n = u - v
        elif kind == "tanh":
            n = u.tanh()
        elif kind == "exp_small":
            n = (u * 0.1).exp()
        elif kind == "sigmoid":
            n = activations.sigmoid(u)
        elif kind == "relu":
            n = activations.relu(u)
        else:
            n = u ** 2
        nodes.append(n)
    root = nodes[-1]
    for n in nodes[len(leaves):-1]:  # make every node reach the root
        root = root + n
    return root, leaves


@settings(max_examples=40)
@given(graphs(), st.sampled_from([False, True]))
def test_replayed_gradients_equal_engine(graph, collapse):
    root, leaves = graph
    if not root.requires_grad:
        return
    replay = trace.traced_gradients(root, collapse=collapse)
    engine = _engine_grads(root, leaves)
    for v, g in zip(leaves, engine):
        assert replay.get(v, 0.0) == pytest.approx(g, rel=1e-12, abs=1e-12)


def test_collapsed_sigmoid_local_derivative_is_the_closed_form():
    s = Value(0.7, "s")
    x = activations.sigmoid(s)
    x.label = "x"
    steps = list(trace.backward_steps(x, collapse=True))
    assert len(steps) == 1 and steps[0].group.name == "sigmoid"
    sig = 1 / (1 + math.exp(-0.7))
    assert steps[0].terms[0].local == pytest.approx(sig * (1 - sig), abs=1e-15)
    assert steps[0].terms[0].expr == "sigma'(s)"
    expanded = list(trace.backward_steps(x))
    assert len(expanded) > 3  # the primitives inside the composite


def test_batched_graph_replay_equals_engine():
    w = Value(0.3, "w")
    xs = Value(np.array([1.0, -2.0, 0.5]), "x", requires_grad=False)
    loss = (activations.sigmoid(w * xs) - 1.0) ** 2
    loss = loss.sum()
    replay = trace.traced_gradients(loss, collapse=True)[w]
    assert replay == pytest.approx(_engine_grads(loss, [w])[0], rel=1e-12)
    table = trace.format_table(loss)
    assert "(n=3)" in table


@pytest.mark.slow
def test_deep_chain_no_recursion():
    x = Value(0.5, "x")
    y = x
    for _ in range(10000):
        y = y * 1.0 + 0.0
    y.label = "y"
    steps = trace.backward_steps(y)
    assert sum(1 for _ in steps) == 20000
    assert trace.traced_gradients(y, collapse=True)[x] == pytest.approx(1.0)
    short = x
    for _ in range(1000):
        short = short * 1.0 + 0.0
    short.label = "y"
    assert trace.format_table(short, collapse=False).splitlines()[-1].startswith("dy/dx =")


def test_ledger_rows_sum_their_parts():
    ex = examples.task5()
    rows = trace.ledger(ex.root)
    assert rows[0].node is ex.root and rows[0].grad == 1.0
    for row in rows[1:]:
        total = sum(p.upstream * p.edge.local for p in row.parts)
        assert row.grad == pytest.approx(total, abs=1e-15)
    labels = [r.node.label for r in rows]
    # exercise-level: one row per labelled node, no helper nodes
    assert all(labels) and len(labels) == len(set(labels))
    for needed in ("x2[0]", "s2[0]", "W2[0,0]", "b2[0]", "x1[0]", "s1[0]", "W1[0,0]", "b1[0]", "x0[0]"):
        assert needed in labels
    # gradients become final in backward order: x2 before s2 before W2
    assert labels.index("x2[0]") < labels.index("s2[0]") < labels.index("W2[0,0]")


def test_text_line_reads_like_a_hand_solution():
    text = trace.format_table(examples.task5().root)
    ref = {}
    from test_examples import task5_reference
    ref = task5_reference()
    line = next(l for l in text.splitlines() if l.startswith("dE/ds2[0] ="))
    assert line == (f"dE/ds2[0] = dE/dx2[0] * sigma'(s2[0]) = {ref['dx2'][0]:.4f} * "
                    f"{ref['dsig2'][0]:.4f} = {ref['ds2'][0]:.4f}")
    line = next(l for l in text.splitlines() if l.startswith("dE/dx1[0] ="))
    assert "dE/ds2[0] * W2[0,0] + dE/ds2[1] * W2[1,0]" in line
    assert line.endswith(f"= {ref['dx1'][0]:.4f}")


def test_expanded_table_shows_every_primitive():
    ex = examples.task5()
    collapsed = trace.format_table(ex.root).splitlines()
    expanded = trace.format_table(ex.root, collapse=False).splitlines()
    assert len(expanded) > 2 * len(collapsed)
    assert any("[s2[0] > 0]" in l for l in expanded)  # relu inside the stable sigmoid


def _md_cells(line):
    return [c for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_markdown_is_a_table():
    md = trace.format_table(examples.task5().root, "markdown")
    lines = md.strip().splitlines()
    header = _md_cells(lines[0])
    assert [c.strip() for c in header] == ["#", "gradient", "chain rule", "numbers", "value"]
    assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[1])
    assert len(_md_cells(lines[1])) == len(header)
    rows = lines[2:]
    assert len(rows) == len(trace.ledger(examples.task5().root))
    for line in rows:
        assert line.startswith("|") and line.endswith("|")
        assert len(_md_cells(line)) == len(header), line
    try:  # a real CommonMark/GFM renderer, where one is installed
        import markdown_it
    except ImportError:
        return
    html = markdown_it.MarkdownIt().enable("table").render(md)
    assert html.count("<tr>") == len(lines) - 1


def _balanced(tex):
    depth = 0
    for i, ch in enumerate(tex):
        if ch == "{" and tex[i - 1] != "\\":
            depth += 1
        elif ch == "}" and tex[i - 1] != "\\":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def test_latex_fragment_is_balanced_and_compiles(tmp_path):
    tex = trace.format_table(examples.task5().root, "latex")
    begins = re.findall(r"\\begin\{(\w+\*?)\}", tex)
    ends = re.findall(r"\\end\{(\w+\*?)\}", tex)
    assert begins == ["align*"] and ends == ["align*"]
    assert _balanced(tex)
    assert "\\frac{\\partial E}{\\partial s^{(2)}_{0}}" in tex
    assert "\\sigma'(s^{(2)}_{0})" in tex
    if shutil.which("pdflatex") is None:
        return
    doc = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
           + tex + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_latex_escapes_odd_labels():
    a = Value(1.0, "my_var&#%")
    f = a * a
    f.label = "f"
    tex = trace.format_table(f, "latex")
    assert "\\mathrm{my\\_var\\&\\#\\%}" in tex
    assert _balanced(tex)


def test_summary_vectors():
    text = trace.summary(examples.task5().root)
    assert "sigma'(s2) = (0.2471777, 0.1945517)" in text
    assert text.index("dE/dx2") < text.index("dE/ds2") < text.index("dE/dW1")


def test_format_number():
    assert viewmodel.format_number(-0.0) == "0.0000"
    assert viewmodel.format_number(0.12345, 2) == "0.12"
    assert viewmodel.format_number(np.arange(5.0), 1) == "[0.0, 1.0, 2.0, ...] (n=5)"
    with pytest.raises(ValueError, match="format"):
        trace.format_table(Value(1.0, "a") * 2, "html")


def test_root_without_gradient_is_refused():
    c = Value(2.0, requires_grad=False) * 3
    with pytest.raises(Exception, match="requires a gradient"):
        list(trace.backward_steps(c))


def test_formula_texts_come_from_the_primitive_table():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    f = a / b
    (step,) = trace.backward_steps(f)
    assert [t.formula for t in step.terms] == list(PRIMITIVES["div"].formulas())
    assert step.terms[1].expr == "-a/b^2"


def test_every_primitive_traces_and_draws():
    from micrograd_mlp import max_values, where, sum_values
    from micrograd_mlp.views import graph

    a, b, c = Value(0.7, "a"), Value(1.3, "b"), Value(-0.4, "c")
    parts = [a + b, a - b, a * b, a / b, -a, a ** 3, a ** b, a.exp(), b.log(), a.log1p(),
             a.expm1(), a.tanh(), c.relu(), c.abs(), a.erf(), b.sqrt(),
             where(c, a, b), max_values([a, b, c]),
             Value(np.array([0.5, 1.5]), requires_grad=False) * a]
    f = sum_values(parts[:-1]) + parts[-1].sum()
    f.label = "f"
    replay = trace.traced_gradients(f)
    engine = _engine_grads(f, [a, b, c])
    assert [replay[v] for v in (a, b, c)] == pytest.approx(engine, rel=1e-12)
    for fmt in ("text", "markdown", "latex"):
        for collapse in (False, True):
            text = trace.format_table(f, fmt, collapse=collapse)
            assert "nan" not in text
    src = graph.draw_dot(f).source
    for symbol in ("where", "max", "erf", "Σ_batch", "^3"):
        assert symbol in src


# ---------------------------------------------------------------- the row's templates


def _expression(f):
    """The name a trace gives an unlabelled node (its expression)."""
    from micrograd_mlp.views.viewmodel import Namer, build_view

    view = build_view(f)
    return Namer(view.order, view=view, max_len=80)(f, atom=False)


@pytest.mark.parametrize("build, expected", [
    (lambda a, b, c: (a + b) * c, "(a + b) * c"),
    (lambda a, b, c: a + b * c, "a + b * c"),
    (lambda a, b, c: a - (b - c), "a - (b - c)"),
    (lambda a, b, c: (a - b) - c, "a - b - c"),
    (lambda a, b, c: a / (b * c), "a / (b * c)"),
    (lambda a, b, c: -(a + b), "-(a + b)"),
    (lambda a, b, c: (a * b) ** 2, "(a * b)^2"),
    (lambda a, b, c: a ** b, "a^b"),
    (lambda a, b, c: (a + b).tanh() * c, "tanh(a + b) * c"),
    (lambda a, b, c: (a * b).exp() - 1.0, "exp(a * b) - 1"),
    (lambda a, b, c: a.expm1() * c, "(exp(a) - 1) * c"),
    (lambda a, b, c: sum_values([a, b * c, c]) * a, "(a + b * c + c) * a"),
])
def test_expressions_are_parenthesised_by_the_rows_precedence(build, expected):
    a, b, c = Value(0.7, "a"), Value(1.3, "b"), Value(-0.4, "c")
    assert _expression(build(a, b, c)) == expected


def test_latex_expression_templates():
    from micrograd_mlp.views.viewmodel import Namer, build_view

    a, b = Value(0.7, "a"), Value(1.3, "b")
    f = (a / b).log() * a ** 2
    view = build_view(f)
    namer = Namer(view.order, "latex", view=view, max_len=80)
    assert namer(f, atom=False) == "\\ln(\\frac{a}{b}) \\cdot a^{2}"


@pytest.mark.parametrize("exponent, text, latex", [
    (2.0, "2 * x", "2 x"), (3.0, "3 * x^2", "3 \\cdot x^{2}"),
    (-1.0, "-1 * x^-2", "-1 \\cdot x^{-2}"), (0.5, "0.5 * x^-0.5", "0.5 \\cdot x^{-0.5}"),
])
def test_a_constant_exponent_is_written_as_its_number(exponent, text, latex):
    x = Value(1.7, "x")
    f = x ** exponent
    f.label = "f"
    (step,) = trace.backward_steps(f)
    local = text[1:] if text.startswith("-") else text
    assert step.terms[0].expr.lstrip("-") == local
    assert step.terms[0].local == pytest.approx(exponent * 1.7 ** (exponent - 1.0), rel=1e-15)
    tex = trace.format_table(f, "latex", collapse=False)
    assert latex.lstrip("-") in tex


def test_a_constant_exponent_is_drawn_inside_its_operation():
    from micrograd_mlp.views import graph

    x = Value(1.7, "x")
    f = x ** 3 * x
    src = graph.draw_dot(f).source
    assert "label=<^3>" in src
    assert "data 3.0000" not in src and ">3<" not in src  # the constant has no node


def test_n_ary_rows_name_the_input_they_are_for():
    from micrograd_mlp import max_values

    a, b, c = Value(0.7, "a"), Value(1.3, "b"), Value(-0.4, "c")
    f = max_values([a, b, c]) * 2.0
    f.label = "f"
    step = next(s for s in trace.backward_steps(f) if s.node.op == "max")
    assert [t.expr for t in step.terms] == ["[a = max]", "[b = max]", "[c = max]"]
    assert [t.local for t in step.terms] == [0.0, 1.0, 0.0]


def test_short_names_come_from_the_composite_registry():
    from micrograd_mlp.functions.composite import COMPOSITES

    s = Value(0.3, "s")
    f = activations.tanh(s) * activations.sigmoid(s)
    f.label = "f"
    text = trace.format_table(f, "text", collapse=True)
    assert "sigma'(s)" in text
    assert "\\sigma'(s)" in trace.format_table(f, "latex", collapse=True)
    # the activation table is a view of the one registry, not a second one
    assert all(activations.ACTIVATIONS[k] is COMPOSITES[k] for k in activations.ACTIVATIONS)
    assert set(activations.ACTIVATIONS) < set(COMPOSITES)


def test_a_batched_scalar_gets_the_batch_sum_in_the_trace_as_in_backward():
    rng = np.random.default_rng(3)
    w = Value(0.4, "w")
    x = Value(rng.normal(size=5), "x", requires_grad=False)
    f = ((x * w).tanh() * (x - w)).sum()
    grads = trace.traced_gradients(f)
    w.grad = 0.0
    f.backward()
    assert isinstance(grads[w], float)
    assert grads[w] == pytest.approx(w.grad, rel=1e-13)


def test_a_sum_of_single_numbers_is_not_written_twice():
    s = Value(0.3, "s")
    f = activations.tanh(s) * activations.sigmoid(s)
    f.label = "f"
    line = trace.format_table(f, "text", collapse=True).splitlines()[1]
    numbers = line.split(" = ")[2:]
    assert len(numbers) == len(set(numbers)), line
