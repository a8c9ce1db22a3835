"""The studio's page in headless Chromium (playwright driving the system's
/usr/bin/chromium): play, pause, step, the graph's numbers against a fresh Value
computation, clicks on the plane, a typed weight, a settings link, the exported file
opened from disk with no other request, and no console error anywhere."""
import json
import os
import re

import numpy as np
import pytest

pytest.importorskip("playwright")
pytest.importorskip("uvicorn")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="no /usr/bin/chromium (make chromium installs it)")]

from playwright.sync_api import sync_playwright  # noqa: E402

from micrograd_mlp.core.engine import Value  # noqa: E402
from micrograd_mlp.nets.fit_inputs import resolve_loss  # noqa: E402
from micrograd_mlp.nets.mlp import MLP  # noqa: E402
from micrograd_mlp.studio.serve import ServerThread  # noqa: E402
from micrograd_mlp.studio.session import Session  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def studio():
    session = Session(net="2-3-2-1")
    server = ServerThread(session).start()
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.refused = 0
    yield pg
    # no console error in any test, but the browser's note on each request refused on purpose
    refused = [p for p in pg.problems if "status of 400 (Bad Request)" in p]
    assert len(refused) == pg.refused
    assert [p for p in pg.problems if p not in refused] == [], pg.problems
    context.close()


def open_studio(pg, url):
    pg.goto(url)
    pg.wait_for_function("window.studio && window.studio.stats.renders > 0", timeout=15000)


def shown_step(pg):
    return int(re.search(r"step (\d+)", pg.inner_text(".status")).group(1))


def wait_version(pg, session):
    pg.wait_for_function(f"Number(document.getElementById('studio-root').dataset.version) >= {session.version}",
                         timeout=10000)


def graph_numbers(pg):
    return pg.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#studio-root svg text.num')]
        .map(t => [t.getAttribute('data-key'), t.textContent]))""")


def fresh_values(session):
    """The selected example's numbers by a fresh Value graph of a new network holding the
    session's parameters (keys as the page names them)."""
    m = session.model
    with session.lock:
        W, b = m.get_parameters()
        i = session.selected
        x, target = session.X[i], session.targets.sample(i)
    model = MLP(m.nin, m.sizes, activation=m.activations)
    model.set_parameters(W, b)
    xs = [Value(float(v), f"x0[{j}]") for j, v in enumerate(x)]
    out = model.forward(xs)
    E = resolve_loss(session.settings["loss"])(out[0], target)
    E.backward()
    want = {"E[0]": E.data}
    for name, nodes in model.intermediates.items():
        for k, n in enumerate(nodes):
            want[f"{name}[{k}]"] = n.data
            want[f"dE/d{name}[{k}]"] = n.grad
    for l, layer in enumerate(model.layers, start=1):
        for r, neuron in enumerate(layer.neurons):
            for c, w in enumerate(neuron.w):
                want[f"W{l}[{r},{c}]"], want[f"dE/dW{l}[{r},{c}]"] = w.data, w.grad
            want[f"b{l}[{r}]"], want[f"dE/db{l}[{r}]"] = neuron.b.data, neuron.b.grad
    return want


def assert_graph_matches(pg, session):
    shown = graph_numbers(pg)
    want = fresh_values(session)
    L = len(session.model.layers)
    if session.model.activations[-1] == "identity":  # a linear output: x_L is s_L, drawn once
        want = {k: v for k, v in want.items() if not k.startswith((f"x{L}[", f"dE/dx{L}["))}
    assert set(shown) == set(want)
    for key, text in shown.items():
        if "e" in text:  # e-notation: 3 significant digits
            assert float(text) == pytest.approx(want[key], rel=6e-3, abs=0), key
        else:  # 4 decimals
            assert abs(float(text) - want[key]) <= 0.5e-4 + 1e-12, (key, text, want[key])


def point_pixel(pg, i):
    """Where point ``i`` is drawn on the plane (page coordinates)."""
    return pg.evaluate("""(i) => {
        const app = window.studio, p = app.plane(), c = app.ui.plane, r = c.getBoundingClientRect();
        const [px, py] = app.toPixel(p, ...app.pointXY(app.state, i));
        return [r.left + px * r.width / c.width, r.top + py * r.height / c.height]; }""", i)


def test_play_pause_step(page, studio):
    s = studio.session
    open_studio(page, studio.url)
    assert shown_step(page) == 0
    page.click("button:text-is('Step')")
    page.wait_for_function("document.querySelector('.status').textContent.includes('step 1 ')")
    assert s.step_count == 1
    page.click("button:text-is('▶ Play')")
    page.wait_for_function("parseInt(/step (\\d+)/.exec(document.querySelector('.status').textContent)[1]) > 20",
                           timeout=15000)
    page.click("button:text-is('❚❚ Pause')")
    page.wait_for_function("!window.studio.state.settings.running")
    stopped = s.step_count
    page.wait_for_timeout(300)
    assert s.step_count == stopped and s.settings["running"] is False
    wait_version(page, s)
    assert shown_step(page) == stopped
    assert_graph_matches(page, s)


def test_click_selects_and_adds_points_and_errors_show(page, studio):
    s = studio.session
    open_studio(page, studio.url)
    x, y = point_pixel(page, 17)
    page.mouse.click(x, y)
    page.wait_for_function("window.studio.state.example.index === 17")
    assert s.selected == 17
    assert_graph_matches(page, s)
    n = s.X.shape[0]
    page.select_option("#studio-root select[title='what a click on the plane does']", "add1")
    page.mouse.click(*point_pixel(page, 17))
    page.wait_for_function(f"window.studio.state.data.X.length === {n + 1}")
    assert s.X.shape[0] == n + 1 and s.y[-1] == 1
    np.testing.assert_allclose(s.X[-1], s.X[17], atol=0.05)
    # a bad setting: the page shows the server's message, the server goes on
    page.refused = 1
    page.fill("input[data-key=net]", "2-1000000-1")
    page.press("input[data-key=net]", "Enter")
    page.wait_for_selector(".error:not([hidden])")
    assert "1000000 neurons" in page.inner_text(".error")
    assert s.settings["net"] == "2-3-2-1"


def test_typed_weight_gives_a_fresh_value_computation(page, studio):
    s = studio.session
    open_studio(page, studio.url)
    page.click("#studio-root svg polygon.cell[data-key='W1[1,0]']")
    page.wait_for_selector("input.editor:not([hidden])")
    page.fill("input.editor", "0.25")
    page.press("input.editor", "Enter")
    page.wait_for_function("window.studio.stats.lastEdit && window.studio.stats.lastEdit.ms !== null")
    assert s.model.layers[0].neurons[1].w[0].data == 0.25
    assert graph_numbers(page)["W1[1,0]"] == "0.2500"
    assert_graph_matches(page, s)


def test_settings_link_reproduces_the_setup(page, studio):
    s = studio.session
    query = "data=circles&seed=4&net=2-5-1&activation=sigmoid&loss=binary_cross_entropy&optimizer=sgd&lr=0.3&batch_size=16"
    open_studio(page, studio.url + "?" + query)
    page.wait_for_function("window.studio.state.settings.net === '2-5-1'")
    want = {"data": "circles", "seed": 4, "net": "2-5-1", "activation": "sigmoid",
            "loss": "binary_cross_entropy", "optimizer": "sgd", "lr": 0.3, "batch_size": 16}
    assert {k: s.settings[k] for k in want} == want
    assert page.url.endswith("?" + query)  # the address holds the settings
    assert_graph_matches(page, s)


def test_two_tabs_see_one_state(browser, studio):
    s = studio.session
    a, b = browser.new_page(), browser.new_page()
    open_studio(a, studio.url)
    open_studio(b, studio.url)
    a.click("button:text-is('Step')")
    b.wait_for_function("window.studio.state.step === 1", timeout=10000)
    a.close()
    b.close()
    assert s.step_count == 1


def test_exported_file_works_from_disk_alone(page, studio, tmp_path):
    s = studio.session
    s.step(12)
    s.select(5)
    html = page.request.post(studio.url + "api/export").text()
    path = tmp_path / "studio.html"
    path.write_text(html, encoding="utf-8")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    open_studio(page, path.as_uri())
    assert requests == [path.as_uri()]
    assert page.evaluate("window.studio.state.example.index") == 5
    assert shown_step(page) == 12
    # scrub back to the first snapshot: step 0, the initial weights
    page.evaluate("(() => { const r = window.studio.ui.scrub; r.value = 0; r.dispatchEvent(new Event('input')); })()")
    page.wait_for_function("window.studio.state.step === 0")
    first = json.loads(html.split('id="studio-export">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert page.evaluate("window.studio.state.parameters") == first["frames"][0]["parameters"]
    # pick another recorded example by clicking it
    other = [i for i in first["recorded"] if i != 5][0]
    page.mouse.click(*point_pixel(page, other))
    page.wait_for_function(f"window.studio.state.example.index === {other}")
    text = graph_numbers(page)
    assert text["x0[0]"] == f"{first['frames'][0]['examples'][str(other)]['x0'][0]:.4f}"
    assert requests == [path.as_uri()]


def test_hovering_a_number_shows_its_formula(page, studio):
    from micrograd_mlp.views.steps import exercise_steps

    s = studio.session
    s.select(3)
    open_studio(page, studio.url)
    page.hover("#studio-root svg polygon.cell[data-key='dE/ds1[1]']")
    page.wait_for_function("document.querySelector('.tooltip').textContent.includes(' = ') && "
                           "!document.querySelector('.tooltip').hidden && "
                           "document.querySelector('.tooltip').textContent.length > 30")
    shown = page.inner_text(".tooltip")
    # the line of the hand solution for a fresh graph of the same network and example
    W, b = s.model.get_parameters()
    model = MLP(s.model.nin, s.model.sizes, activation=s.model.activations)
    model.set_parameters(W, b)
    out = model.forward([Value(float(v), f"x0[{j}]") for j, v in enumerate(s.X[3])])
    E = resolve_loss(s.settings["loss"])(out[0], s.targets.sample(3))
    E.label = "E"
    lines = {e.name: e.line(4) for step in exercise_steps(E, model) for e in step.entries}
    assert shown == lines["dE/ds1[1]"]
    assert shown.startswith("dE/ds1[1] = dE/dx1[1]")


def test_the_widget_runs_the_page_own_script():
    pytest.importorskip("anywidget")
    from micrograd_mlp.studio.export import static_text
    from micrograd_mlp.studio.widget import Studio

    w = Studio(net="2-3-1")
    try:
        assert w._esm == static_text("studio.js") and "export default { render }" in w._esm
        assert w._css == static_text("studio.css")
    finally:
        w.close()
    assert w.trainer._thread is None  # closing stops the training thread


def test_a_regression_curve_page(page, studio):
    s = studio.session
    open_studio(page, studio.url + "?data=sinusoid&net=1-4-1&activation=tanh")
    page.wait_for_function("window.studio.state.kind === 'regression'")
    assert s.kind == "regression" and s.settings["net"] == "1-4-1"
    page.click("button:text-is('Epoch')")
    page.wait_for_function("window.studio.state.epoch === 1")
    wait_version(page, s)
    assert_graph_matches(page, s)


def test_the_widget_front_end_talks_to_the_kernel_by_messages(page):
    """The page's script as anywidget runs it: ``render({model, el})`` with a model
    whose messages go to the kernel side's :func:`answer` (here, in this process)."""
    pytest.importorskip("anywidget")
    from micrograd_mlp.studio.export import static_text
    from micrograd_mlp.studio.widget import answer

    session = Session(net="2-3-1")
    page.expose_function("kernel", lambda message: answer(session, message))
    page.route("http://widget.test/studio.js", lambda route: route.fulfill(
        body=static_text("studio.js"), content_type="text/javascript"))
    page.route("http://widget.test/", lambda route: route.fulfill(content_type="text/html", body=(
        "<!DOCTYPE html><html><head><style>" + static_text("studio.css") + "</style></head>"
        "<body><div id='host'></div><script type='module'>"
        "import widget from 'http://widget.test/studio.js';"
        "const listeners = [];"
        "const model = {send: (m) => window.kernel(m).then((r) => listeners.forEach((f) => f(r))),"
        "               on: (name, f) => { if (name === 'msg:custom') listeners.push(f); }};"
        "widget.render({model, el: document.getElementById('host')});"
        "</script></body></html>")))
    page.goto("http://widget.test/")
    page.wait_for_function("document.querySelector('#host .status') && "
                           "document.querySelector('#host .status').textContent.includes('step 0')")
    page.click("button:text-is('Step')")
    page.wait_for_function("document.querySelector('#host .status').textContent.includes('step 1 ')")
    assert session.step_count == 1
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#host svg text.num')]
        .map(t => [t.getAttribute('data-key'), t.textContent]))""")
    W, b = session.model.get_parameters()
    assert shown["W1[2,1]"] == f"{W[0][2, 1]:.4f}"


def test_a_new_network_while_training_is_drawn_whole_without_an_error(page, studio):
    s = studio.session
    open_studio(page, studio.url)
    page.click("button:text-is('▶ Play')")
    page.wait_for_function("parseInt(/step (\\d+)/.exec(document.querySelector('.status').textContent)[1]) > 5",
                           timeout=15000)
    page.fill("input[data-key=net]", "2-4-1")
    page.press("input[data-key=net]", "Enter")
    page.wait_for_function("document.querySelector(\"#studio-root svg [data-key='W2[0,3]']\") !== null",
                           timeout=15000)
    page.wait_for_timeout(300)   # a few more states drawn while training goes on
    assert page.evaluate("window.studio.stats.errors") == []
    page.click("button:text-is('❚❚ Pause')")
    page.wait_for_function("!window.studio.state.settings.running")
    wait_version(page, s)
    assert_graph_matches(page, s)
