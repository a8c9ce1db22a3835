"""The HTML page of the stepper and of the quiz: one offline file (inline CSS, SVG and
script; no network, no CDN).

The script keeps the current step in the address (``#step=7``: a reload or a link
opens that step), scrolls the drawing so the highlighted boxes sit in the middle at a
readable size (zoom buttons, or "fit to width" to see the whole graph), and, in quiz
mode, checks typed answers: a value within one unit of the last shown decimal of the
right one turns green (hand round-off of the intermediate numbers is allowed); a wrong
one shows what it is built from (the upstream value and the local factor) and can be
retried or revealed; the score is kept with the typed values in ``localStorage``, so a
reload keeps the progress. ``?autotest=3:0.1105;4:-1`` types those answers into
questions 3 and 4 and writes the results as JSON into ``#autotest`` (for headless tests).
"""
from __future__ import annotations

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 16px; margin: 1em 2em; color: #222; }
@media (max-width: 600px) { body { margin: .5em; } .controls button { padding: .3em .5em; } }
h1 { font-size: 1.3em; margin: 0 0 .4em 0; }
.controls { display: flex; gap: .5em; align-items: center; margin: .5em 0; flex-wrap: wrap;
  position: sticky; top: 0; background: #fff; padding: .3em 0; z-index: 2; }
.controls button { font-size: 1em; padding: .3em .9em; }
#counter { font-weight: bold; min-width: 8em; }
#score { font-weight: bold; color: #1a6b1a; }
#slider { flex: 1; min-width: 10em; }
.frame pre, .frame .caption { background: #f6f6f6; border-left: 4px solid #ff8c00;
  padding: .5em 1em; white-space: pre-wrap; font-size: .95em; }
.formula { font-family: ui-monospace, monospace; font-weight: bold; margin: .2em 0 .5em 0;
  font-size: 15px; }
/* a monospace font without a size in px is shrunk to 13 px by browsers: sizes in px */
pre, code, table.quiz, table.quiz input { font-size: 15px; }
button, input, select, label { font-size: 15px; }
.graphbox { overflow: auto; max-height: 70vh; border: 1px solid #ddd; }
body.fit .graphbox svg.graph { width: 100% !important; height: auto !important; }
.help { color: #666; font-size: 14px; }
table.quiz { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 15px; }
table.quiz td { padding: .2em .5em; vertical-align: top; white-space: nowrap; }
table.quiz td.feedback { white-space: normal; }
table.quiz input { font: inherit; width: 9em; padding: .15em .3em; border: 2px solid #bbb;
  border-radius: 4px; }
tr.right input { border-color: #2e9b2e; background: #e6f7e6; }
tr.wrong input { border-color: #d04a3c; background: #fdecea; }
tr.revealed input { border-color: #999; background: #eee; }
.feedback { color: #444; max-width: 60em; }
tr.right .feedback { color: #1a6b1a; }
tr.wrong .feedback { color: #a32a1e; }
#results { font-size: 1.1em; }
"""

SCRIPT = r"""
(function () {
  var frames = document.querySelectorAll(".frame");
  var slider = document.getElementById("slider");
  var counter = document.getElementById("counter");
  var body = document.body;
  var digits = parseInt(body.getAttribute("data-digits") || "4", 10);
  var current = 0, zoom = 1;
  function store(key, value) {
    try { if (value === undefined) { return window.localStorage.getItem(key); }
          window.localStorage.setItem(key, value); } catch (e) { return null; }
  }
  function size(svg) {
    if (!svg.dataset.w) {
      svg.dataset.w = parseFloat(svg.getAttribute("width")) * 4 / 3;
      svg.dataset.h = parseFloat(svg.getAttribute("height")) * 4 / 3;
    }
    svg.style.width = (svg.dataset.w * zoom) + "px";
    svg.style.height = (svg.dataset.h * zoom) + "px";
  }
  function follow(frame) {
    var box = frame.querySelector(".graphbox");
    if (!box || body.classList.contains("fit")) { return; }
    var svg = box.querySelector("svg");
    if (svg) { size(svg); }
    var marks = box.querySelectorAll('[stroke="#ff8c00"], [fill="#ff8c00"]');
    if (!marks.length) { return; }
    var l = Infinity, t = Infinity, r = -Infinity, b = -Infinity;
    for (var k = 0; k < marks.length; k++) {
      var q = marks[k].getBoundingClientRect();
      l = Math.min(l, q.left); t = Math.min(t, q.top); r = Math.max(r, q.right); b = Math.max(b, q.bottom);
    }
    var o = box.getBoundingClientRect();
    box.scrollLeft += (l + r) / 2 - o.left - box.clientWidth / 2;
    box.scrollTop += (t + b) / 2 - o.top - box.clientHeight / 2;
  }
  function show(i, keepHash) {
    current = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) { frames[k].hidden = (k !== current); }
    slider.value = current;
    follow(frames[current]);
    var label = frames[current].getAttribute("data-label");
    counter.textContent = label ? label : (current === 0 ? "start" :
      "step " + current + " / " + (frames.length - 1));
    if (!keepHash) {
      try { history.replaceState(null, "", "#step=" + current); } catch (e) { }
    }
  }
  function fromHash() {
    var m = /step=(\d+)/.exec(location.hash || "");
    return m ? parseInt(m[1], 10) : 0;
  }
  document.getElementById("first").onclick = function () { show(0); };
  document.getElementById("prev").onclick = function () { show(current - 1); };
  document.getElementById("next").onclick = function () { show(current + 1); };
  document.getElementById("last").onclick = function () { show(frames.length - 1); };
  document.getElementById("zoomin").onclick = function () { zoom *= 1.25; show(current, true); };
  document.getElementById("zoomout").onclick = function () { zoom /= 1.25; show(current, true); };
  slider.oninput = function () { show(parseInt(slider.value, 10)); };
  document.getElementById("fit").onchange = function () {
    body.classList.toggle("fit", this.checked); show(current, true);
  };
  window.addEventListener("hashchange", function () { show(fromHash(), true); });
  document.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "INPUT" && e.target.type === "text") { return; }
    if (e.key === "ArrowRight") { show(current + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { show(current - 1); e.preventDefault(); }
    else if (e.key === "Home") { show(0); e.preventDefault(); }
    else if (e.key === "End") { show(frames.length - 1); e.preventDefault(); }
  });

  // ------------------------------------------------------------ quiz
  var rows = document.querySelectorAll("tr.q");
  var key = "micrograd-quiz:" + (body.getAttribute("data-quiz") || "");
  var state = {};
  if (rows.length) { try { state = JSON.parse(store(key) || "{}") || {}; } catch (e) { state = {}; } }
  function judge(text, answer) {
    var t = String(text).trim().replace(",", ".").replace(/^\u2212/, "-");
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) { return "unreadable"; }
    var v = parseFloat(t), unit = Math.pow(10, -digits);
    var m = /\.(\d*)/.exec(t), typed = /[eE]/.test(t) ? digits : (m ? m[1].length : 0);
    if (typed >= digits) { return Math.abs(v - answer) <= unit * 1.000001 ? "right" : "wrong"; }
    if (Math.abs(v - parseFloat(answer.toFixed(digits))) < unit / 10) { return "right"; }
    return Math.abs(v - answer) <= 0.5 * Math.pow(10, -typed) ? "short" : "wrong";
  }
  function slip(v, answer) {
    var unit = Math.pow(10, -digits);
    if (Math.abs(v + answer) <= unit && Math.abs(answer) > unit) { return " The size is right: check the sign."; }
    if (Math.abs(v - 2 * answer) <= 2 * unit || Math.abs(2 * v - answer) <= unit) {
      return " It is off by a factor 2.";
    }
    return "";
  }
  function paint(row) {
    var s = state[row.getAttribute("data-q")] || {};
    var input = row.querySelector("input"), fb = row.querySelector(".feedback");
    row.className = "q" + (s.s ? " " + s.s : "");
    if (s.v !== undefined && input.value === "") { input.value = s.v; }
    if (s.s === "right") { fb.textContent = "right: " + row.getAttribute("data-line"); }
    else if (s.s === "revealed") { fb.textContent = "answer: " + row.getAttribute("data-line"); }
    else if (s.s === "wrong") {
      fb.textContent = "not yet." + (s.why || "") + " Built from: " + row.getAttribute("data-hint") +
        ". Try again or reveal.";
    } else if (s.s === "short") { fb.textContent = "give " + digits + " decimals"; }
    else if (s.s === "unreadable") { fb.textContent = "type a number such as 0.1234"; }
    else { fb.textContent = ""; }
  }
  function score() {
    var right = 0, first = 0, revealed = 0;
    for (var k = 0; k < rows.length; k++) {
      var s = state[rows[k].getAttribute("data-q")] || {};
      if (s.s === "right") { right++; if (s.t === 1) { first++; } }
      if (s.s === "revealed") { revealed++; }
    }
    var text = "score " + right + " / " + rows.length;
    var el = document.getElementById("score");
    if (el) { el.textContent = rows.length ? text : ""; }
    var res = document.getElementById("results");
    if (res) {
      res.textContent = right + " of " + rows.length + " right (" + first + " at the first try), " +
        revealed + " revealed, " + (rows.length - right - revealed) + " still open.";
    }
    return {right: right, first: first, revealed: revealed, total: rows.length};
  }
  function check(row) {
    var q = row.getAttribute("data-q"), s = state[q] || {t: 0};
    if (s.s === "right" || s.s === "revealed") { return s.s; }
    var input = row.querySelector("input"), answer = parseFloat(row.getAttribute("data-answer"));
    var verdict = judge(input.value, answer);
    s.v = input.value;
    if (verdict !== "unreadable") { s.t = (s.t || 0) + 1; }
    s.s = verdict;
    s.why = verdict === "wrong" ? slip(parseFloat(input.value.replace(",", ".")), answer) : "";
    state[q] = s;
    store(key, JSON.stringify(state));
    paint(row); score();
    return verdict;
  }
  function reveal(row) {
    var q = row.getAttribute("data-q"), s = state[q] || {t: 0};
    if (s.s !== "right") { s.s = "revealed"; }
    state[q] = s; store(key, JSON.stringify(state));
    paint(row); score();
  }
  for (var k = 0; k < rows.length; k++) {
    (function (row) {
      row.querySelector("button.check").onclick = function () { check(row); };
      row.querySelector("button.reveal").onclick = function () { reveal(row); };
      row.querySelector("input").addEventListener("keydown", function (e) {
        if (e.key === "Enter") { check(row); e.preventDefault(); }
      });
      paint(row);
    })(rows[k]);
  }
  var reset = document.getElementById("reset");
  if (reset) {
    reset.onclick = function () {
      state = {}; store(key, "{}");
      for (var k = 0; k < rows.length; k++) { rows[k].querySelector("input").value = ""; paint(rows[k]); }
      score();
    };
  }
  score();
  show(fromHash(), true);

  // ------------------------------------------------------------ headless tests
  var auto = /[?&]autotest=([^&#]*)/.exec(location.search);
  if (auto) {
    var out = {answers: [], score: null, step: current};
    var pairs = decodeURIComponent(auto[1]).split(";").filter(function (p) { return p; });
    for (var k = 0; k < pairs.length; k++) {
      var cut = pairs[k].indexOf(":"), q = pairs[k].slice(0, cut), value = pairs[k].slice(cut + 1);
      var row = document.querySelector('tr.q[data-q="' + q + '"]');
      if (!row) { out.answers.push({q: q, verdict: "no such question"}); continue; }
      row.querySelector("input").value = value;
      var verdict = value === "reveal" ? (reveal(row), "revealed") : check(row);
      out.answers.push({q: q, verdict: verdict, cls: row.className,
                        feedback: row.querySelector(".feedback").textContent});
    }
    out.score = score();
    out.states = state;
    var box = frames[current].querySelector(".graphbox");
    out.scroll = box ? [box.scrollLeft, box.scrollTop, box.scrollWidth, box.clientWidth] : null;
    var smallest = 1e9;
    var all = document.querySelectorAll("body *");
    for (var k = 0; k < all.length; k++) {
      if (all[k].closest("svg") || !all[k].childNodes.length) { continue; }
      var own = false;
      for (var c = 0; c < all[k].childNodes.length; c++) {
        if (all[k].childNodes[c].nodeType === 3 && all[k].childNodes[c].textContent.trim()) { own = true; }
      }
      var size = parseFloat(getComputedStyle(all[k]).fontSize);
      if (own && size < smallest) { smallest = size; out.smallest_at = all[k].tagName + "." + all[k].className; }
    }
    out.smallest_font = smallest;
    out.viewport = window.innerWidth;
    out.visible = [];
    for (var k = 0; k < frames.length; k++) { if (!frames[k].hidden) { out.visible.push(k); } }
    var pre = document.createElement("pre");
    pre.id = "autotest";
    pre.hidden = true;
    pre.textContent = JSON.stringify(out);
    body.appendChild(pre);
  }
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body data-digits="{digits}" data-quiz="{quiz_id}">
<h1>{title}</h1>
<div class="controls">
<button id="first" type="button" title="first frame (Home)">&laquo; first</button>
<button id="prev" type="button" title="previous step (left arrow)">&#x25C0; previous</button>
<button id="next" type="button" title="next step (right arrow)">next &#x25B6;</button>
<button id="last" type="button" title="last frame (End)">last &raquo;</button>
<button id="zoomout" type="button" title="smaller drawing">&minus;</button>
<button id="zoomin" type="button" title="larger drawing">+</button>
<label><input id="fit" type="checkbox"> fit to width</label>
<span id="counter"></span>
<span id="score"></span>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
</div>
<p class="help">{help}</p>
{frames}
<script>{script}</script>
</body>
</html>
"""

HELP = ("Keys: &larr; / &rarr; step back / forward, Home / End. The address keeps the step "
        "(#step=7): reload or share the link to come back to it. The orange boxes are the "
        "current step; blue = positive gradient, red = negative; \"?\" = not known yet, "
        "\"+...\" = still being summed.")

QUIZ_HELP = ("Type each number with {digits} decimals and press Enter (or check). Green: right "
             "(within one unit of the last decimal, so hand round-off is fine). Red: not yet, "
             "with what it is built from; try again or reveal. Your answers stay in this browser "
             "across reloads. Keys: &larr; / &rarr; move between steps when not typing.")


EXAM_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; font-size: 16px; margin: 1em; color: #222;
  max-width: 60em; }}
pre {{ background: #f6f6f6; padding: .6em; white-space: pre-wrap; font-size: 15px; }}
h2 {{ font-size: 1.1em; margin: 1.2em 0 .3em 0; }}
.formula {{ font-family: ui-monospace, monospace; font-size: 15px; }}
label {{ display: block; margin: .25em 0; font-family: ui-monospace, monospace; font-size: 15px; }}
input {{ font: inherit; width: 10em; padding: .15em .3em; }}
button {{ font-size: 16px; padding: .4em 1em; margin: .5em .5em .5em 0; }}
textarea {{ width: 100%; min-height: 12em; font: 14px ui-monospace, monospace; }}
</style>
</head>
<body data-file="{answers_name}">
<h1>{title}</h1>
<p>This page checks nothing: type every number with {digits} decimals, then save your
answers file and hand it in.</p>
<pre>{question}</pre>
{sections}
<p><button id="save" type="button">save answers file</button>
<button id="show" type="button">show the answers text</button></p>
<textarea id="text" readonly hidden aria-label="answers text"></textarea>
<script>
(function () {{
  var inputs = document.querySelectorAll("input[data-name]");
  var key = "micrograd-exam:" + document.title;
  var saved = {{}};
  try {{ saved = JSON.parse(window.localStorage.getItem(key) || "{{}}") || {{}}; }} catch (e) {{ saved = {{}}; }}
  function text() {{
    var lines = ["# " + document.title];
    for (var k = 0; k < inputs.length; k++) {{
      var v = inputs[k].value.trim();
      if (v) {{ lines.push(inputs[k].getAttribute("data-name") + " = " + v); }}
    }}
    return lines.join("\n") + "\n";
  }}
  for (var k = 0; k < inputs.length; k++) {{
    var name = inputs[k].getAttribute("data-name");
    if (saved[name] !== undefined) {{ inputs[k].value = saved[name]; }}
    inputs[k].addEventListener("input", function () {{
      var all = {{}};
      for (var j = 0; j < inputs.length; j++) {{ all[inputs[j].getAttribute("data-name")] = inputs[j].value; }}
      try {{ window.localStorage.setItem(key, JSON.stringify(all)); }} catch (e) {{ }}
    }});
  }}
  document.getElementById("show").onclick = function () {{
    var area = document.getElementById("text");
    area.value = text(); area.hidden = false;
  }};
  document.getElementById("save").onclick = function () {{
    var a = document.createElement("a");
    a.href = "data:text/plain;charset=utf-8," + encodeURIComponent(text());
    a.download = document.body.getAttribute("data-file");
    document.body.appendChild(a); a.click(); a.remove();
  }};
}})();
</script>
</body>
</html>
"""
