// The studio's page: it only draws the state the Python engine sends and sends
// commands back (no maths of the network here). One module for three hosts:
//   the web app (fetch on /api/...), the Jupyter widget (anywidget messages) and the
//   exported offline file (the snapshots embedded in the page).

const SETTING_KEYS = ["data", "seed", "net", "activation", "loss", "optimizer", "lr", "batch_size"];
const COLOURS = { c0: [59, 111, 214], c1: [232, 131, 58], pos: [214, 39, 40], neg: [31, 119, 180] };

// ------------------------------------------------------------------ numbers

export function fmt(x) {
  // a number as the graph shows it: 4 decimals, or 3 significant digits in e-notation
  if (x === null || x === undefined || Number.isNaN(x)) return "nan";
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e4 || a < 1e-4)) return x.toExponential(2);
  return x.toFixed(4);
}

function mix(rgb, t) {
  // white mixed with rgb by t in [0, 1]
  t = Math.max(0, Math.min(1, t));
  return rgb.map((c) => Math.round(255 + (c - 255) * t));
}

function diverging(v, scale) {
  if (v === null || v === undefined || !scale) return [255, 255, 255];
  return mix(v >= 0 ? COLOURS.pos : COLOURS.neg, Math.min(1, Math.abs(v) / scale));
}

function gridImage(g, p, colourOf) {
  // a packed grid as an image, lowest row at the bottom. A grid holds at most 256
  // levels, so each level's colour is computed once, not once per pixel.
  const n = p.n, bytes = atob(p.q), img = g.createImageData(n, n), px = img.data;
  const lut = new Array(256);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
    const q = bytes.charCodeAt(r * n + c);
    const rgb = lut[q] || (lut[q] = colourOf(p.lo + q / 255 * (p.hi - p.lo)));
    const at = ((n - 1 - r) * n + c) * 4;
    px[at] = rgb[0]; px[at + 1] = rgb[1]; px[at + 2] = rgb[2]; px[at + 3] = 255;
  }
  return img;
}

function put(node, property, value) {
  // set a property only when it changes: a write of the same text still makes the
  // browser lay the page out again
  if (node[property] !== value) node[property] = value;
}

const css = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;

function maxAbs(values) {
  let m = 0;
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "number" && Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  };
  walk(values);
  return m;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

// ------------------------------------------------------------------ transports

class HttpApi {
  // the web app's JSON API
  constructor(base) { this.base = base; this.live = true; }
  async _answer(resp) {
    const type = resp.headers.get("content-type") || "";
    const body = type.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
    return body;
  }
  async state(query) {
    const q = new URLSearchParams(query).toString();
    return this._answer(await fetch(`${this.base}api/state?${q}`, { cache: "no-store" }));
  }
  async graph() { return this._answer(await fetch(`${this.base}api/graph.svg`)); }
  async post(name, body, withState) {
    return this._answer(await fetch(`${this.base}api/${name}${withState ? "?state=1" : ""}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
    }));
  }
  async file(kind) {
    if (kind === "export") return { text: await this.post("export", {}), name: "studio.html", type: "text/html" };
    if (kind === "checkpoint") {
      const doc = await this._answer(await fetch(`${this.base}api/checkpoint`));
      return { text: JSON.stringify(doc, null, 1), name: "studio_model.json", type: "application/json" };
    }
    return { text: await this._answer(await fetch(`${this.base}api/data.csv`)), name: "studio_data.csv", type: "text/csv" };
  }
}

class WidgetApi {
  // the Jupyter widget: the same requests as messages to the kernel
  constructor(model) {
    this.model = model; this.live = true; this.pending = new Map(); this.next = 1;
    model.on("msg:custom", (msg) => {
      const wait = this.pending.get(msg.id);
      if (!wait) return;
      this.pending.delete(msg.id);
      if (msg.status >= 400) wait.reject(new Error(msg.body.error || `error ${msg.status}`));
      else wait.resolve(msg.body);
    });
  }
  _send(method, path, body) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.model.send({ id, method, path, body: body || {} });
    });
  }
  state(query) { return this._send("GET", "state", query); }
  graph() { return this._send("GET", "graph.svg", {}); }
  post(name, body) { return this._send("POST", name, body); }
  async file(kind) {
    const names = { export: ["studio.html", "text/html"], checkpoint: ["studio_model.json", "application/json"], csv: ["studio_data.csv", "text/csv"] };
    const text = await this._send("GET", `file/${kind}`, {});
    return { text, name: names[kind][0], type: names[kind][1] };
  }
}

class ExportApi {
  // the offline file: the recorded snapshots, nothing computed
  constructor(bundle) {
    this.b = bundle; this.live = false; this.frame = bundle.frames.length - 1;
    this.selected = bundle.frames[this.frame].example.index;
  }
  async state(query) {
    const k = query.snapshot !== undefined && query.snapshot !== "" ? Number(query.snapshot) : this.b.frames.length - 1;
    const frame = this.b.frames[Math.max(0, Math.min(k, this.b.frames.length - 1))];
    const s = Object.assign({}, frame);
    s.example = frame.examples[String(this.selected)] || frame.example;
    s.snapshot = this.b.frames.indexOf(frame);
    s.snapshots = this.b.frames.map((f) => ({ step: f.step, epoch: f.epoch }));
    s.version = `x${s.snapshot}-${this.selected}`;
    s.recorded = this.b.recorded;
    return s;
  }
  async graph() { return this.b.graph; }
  async post(name, body) {
    if (name === "select") {
      if (!this.b.recorded.includes(body.index)) throw new Error(`point ${body.index} was not recorded in this file; recorded: ${this.b.recorded.join(", ")}`);
      this.selected = body.index;
      return { ok: true };
    }
    throw new Error("this exported file only replays the run: start the studio to train or edit");
  }
  async file() { throw new Error("not available in the exported file"); }
}

// ------------------------------------------------------------------ the app

class Studio {
  constructor(root, api) {
    this.root = root; this.api = api; this.state = null; this.version = null;
    this.snapshot = null; this.graphKey = null; this.cells = new Map();
    this.formulas = { version: null, table: {} };
    this.stats = { renders: 0, errors: [], lastEdit: null };
    this.stopped = false;
    this.ahead = null;  // the next state, asked for while this one is drawn
    this.build();
  }

  // ---------------------------------------------------------------- layout

  build() {
    const r = this.root;
    r.innerHTML = "";
    r.classList.add("studio");
    const btn = (label, title, fn) => el("button", { type: "button", title, onclick: fn }, label);
    this.ui = {};
    const ui = this.ui;
    ui.status = el("span", { class: "status" });
    ui.message = el("div", { class: "message", hidden: "" });
    ui.error = el("div", { class: "error", hidden: "", role: "alert" });
    ui.play = btn("▶ Play", "train continuously", () => this.command("play"));
    ui.pause = btn("❚❚ Pause", "stop training", () => this.command("pause"));
    ui.step = btn("Step", "one mini-batch update", () => this.command("step", { steps: 1 }));
    ui.epoch = btn("Epoch", "finish the epoch", () => this.command("step", { epochs: 1 }));
    ui.reset = btn("Reset", "back to step 0, the same initial weights", () => this.command("reset"));
    ui.speed = el("select", { title: "steps per update", onchange: () => this.command("settings", { speed: Number(ui.speed.value) }) });
    for (const v of [0, 1, 10, 100]) ui.speed.append(el("option", { value: v }, v === 0 ? "full speed" : `${v} step${v > 1 ? "s" : ""} per tick (30/s)`));
    ui.scrub = el("input", { type: "range", min: 0, max: 0, value: 0, class: "scrub", title: "the run's history" });
    ui.scrub.addEventListener("input", () => this.scrubTo(Number(ui.scrub.value)));
    ui.scrubLabel = el("span", { class: "scrub-label" }, "live");
    ui.live = btn("Live", "back to the running state", () => this.scrubTo(null));

    const setting = (key, node) => { ui[key] = node; node.dataset.key = key; node.addEventListener("change", () => this.changeSetting(key)); return el("label", {}, key === "batch_size" ? "batch" : key, node); };
    const sel = () => el("select");
    const settings = el("div", { class: "row settings" },
      setting("data", sel()), setting("seed", el("input", { type: "number", min: 0, step: 1 })),
      setting("net", el("input", { type: "text", size: 10, title: "widths joined by '-', e.g. 2-8-8-1" })),
      setting("activation", sel()), setting("loss", sel()), setting("optimizer", sel()),
      setting("lr", el("input", { type: "number", step: "any", min: 0 })),
      setting("batch_size", el("input", { type: "text", size: 4, title: "empty: the whole set" })));
    ui.mode = el("select", { title: "what a click on the plane does" });
    ui.csv = el("input", { type: "file", accept: ".csv,text/csv", title: "load points from a CSV file" });
    ui.csv.addEventListener("change", () => this.loadCsv());
    const take = el("div", { class: "row" },
      el("label", {}, "click", ui.mode), el("label", {}, "CSV", ui.csv),
      btn("Export HTML", "one offline file of this run", () => this.download("export")),
      btn("Checkpoint", "the model in the library's checkpoint format", () => this.download("checkpoint")),
      btn("Data CSV", "the training points", () => this.download("csv")));
    const controls = el("div", { class: "controls" },
      el("div", { class: "row" }, ui.play, ui.pause, ui.step, ui.epoch, ui.speed, ui.reset,
        el("span", { class: "sep" }), ui.scrub, ui.scrubLabel, ui.live),
      settings, take);
    ui.graph = el("div", { class: "graph", tabindex: 0 });
    ui.zoom = btn("fit to width", "the whole network, or its numbers at full size", () => {
      const fit = ui.graph.classList.toggle("fit");
      ui.zoom.textContent = fit ? "full size" : "fit to width";
    });
    ui.zoom.classList.add("zoom");
    ui.plane = el("canvas", { width: 360, height: 360, class: "plane" });
    // the model's output over the plane: one pixel per grid point, stretched (and
    // smoothed) by the browser under the points, instead of scaled by the script
    ui.field = el("canvas", { width: 1, height: 1, class: "field" });
    ui.planeBox = el("div", { class: "plane-box" }, ui.field, ui.plane);
    ui.plane.addEventListener("click", (ev) => this.clickPlane(ev));
    ui.lossCurve = el("canvas", { width: 360, height: 200 });
    ui.neurons = el("div", { class: "neurons" });
    ui.weights = el("div", { class: "weights" });
    ui.tooltip = el("div", { class: "tooltip", hidden: "" });
    ui.editor = el("input", { class: "editor", type: "text", hidden: "" });
    ui.editor.addEventListener("keydown", (ev) => this.editorKey(ev));
    ui.editor.addEventListener("blur", () => { ui.editor.hidden = true; });
    const panel = (title, cls, ...body) => el("section", { class: `panel ${cls}` }, el("h3", {}, title), ...body);
    r.append(
      el("header", {}, el("h2", {}, "micrograd_mlp studio"), ui.status),
      ui.message, ui.error, controls,
      el("div", { class: "views" },
        panel("Network (vector view) for the selected example: values and dE/d", "p-graph", ui.zoom, ui.graph),
        panel("Model output over the input plane, with the training points", "p-plane", ui.planeBox),
        panel("Loss per epoch (log scale)", "p-loss", ui.lossCurve),
        panel("Each hidden neuron's output over the input plane", "p-neurons", ui.neurons),
        panel("Weights W and their gradients dE/dW (all training points)", "p-weights", ui.weights)),
      ui.tooltip, ui.editor);
    ui.graph.addEventListener("mouseover", (ev) => this.hover(ev));
    ui.graph.addEventListener("mouseout", () => { ui.tooltip.hidden = true; });
    ui.graph.addEventListener("click", (ev) => this.clickGraph(ev));
    if (!this.api.live) {
      for (const b of [ui.play, ui.pause, ui.step, ui.epoch, ui.reset, ui.speed, ui.csv, ui.mode])
        b.disabled = true;
      for (const k of SETTING_KEYS) ui[k].disabled = true;
      for (const b of take.querySelectorAll("button")) b.disabled = true;
    }
  }

  // ---------------------------------------------------------------- commands

  showError(err) {
    const msg = err && err.message ? err.message : String(err);
    if (err && err.stack) console.warn(err.stack);
    this.stats.errors.push(msg);
    this.ui.error.textContent = msg;
    this.ui.error.hidden = false;
  }

  clearError() { this.ui.error.hidden = true; this.ui.error.textContent = ""; }

  async command(name, body) {
    try {
      const live = this.snapshot === null;
      const answer = await this.api.post(name, body || {}, live);
      this.clearError();
      if (name === "reset") this.scrubTo(null, true);
      if (live && answer.state) {
        // the long poll may have drawn this version already
        if (answer.state.version !== this.version) await this.render(answer.state);
      } else await this.refresh();
      return answer;
    } catch (err) {
      this.showError(err);
      return null;
    }
  }

  changeSetting(key) {
    const node = this.ui[key];
    let value = node.value;
    if (key === "seed") value = Number(value);
    if (key === "lr") value = value === "" ? NaN : Number(value);
    if (key === "lr" && !Number.isFinite(value)) { this.showError(new Error(`lr must be a finite number, not ${JSON.stringify(node.value)}`)); return; }
    if (key === "batch_size") value = value.trim() === "" || value.trim() === "all" ? null : Number(value);
    this.command("settings", { [key]: value });
  }

  async loadCsv() {
    const file = this.ui.csv.files[0];
    if (!file) return;
    await this.command("points", { csv: await file.text() });
    this.ui.csv.value = "";
  }

  async download(kind) {
    try {
      const f = await this.api.file(kind);
      const url = URL.createObjectURL(new Blob([f.text], { type: f.type }));
      const a = el("a", { href: url, download: f.name });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) { this.showError(err); }
  }

  scrubTo(k, quiet) {
    const last = this.state ? this.state.snapshots.length - 1 : 0;
    this.snapshot = k === null || k >= last ? null : k;
    if (!this.api.live && this.snapshot === null) this.snapshot = last;
    this.version = null;
    if (!quiet) this.refresh();
  }

  // ---------------------------------------------------------------- polling

  query(extra) {
    const q = Object.assign({}, extra || {});
    if (this.snapshot !== null) q.snapshot = this.snapshot;
    else if (this.version !== null) q.since = this.version;
    return q;
  }

  async refresh() {
    // while training, the page asks for the next state before drawing this one, so
    // the wait for the server overlaps the drawing and the browser's painting (the
    // answer is used only if nothing else was drawn meanwhile)
    const q = this.query();
    const key = JSON.stringify(q);
    const ahead = this.ahead;
    this.ahead = null;
    const t0 = performance.now();
    const s = await (ahead && ahead.key === key ? ahead.answer : this.api.state(q));
    this.stats.fetchMs = performance.now() - t0;
    if (s.unchanged || key !== JSON.stringify(this.query())) return;
    if (this.api instanceof HttpApi && this.snapshot === null && s.settings.running) {
      const next = { since: s.version };
      const answer = this.api.state(next);
      answer.catch(() => {});  // a dropped answer's failure is not an error to show
      this.ahead = { key: JSON.stringify(next), answer };
    }
    await this.render(s);
  }

  async run() {
    await this.applyUrlSettings();
    while (!this.stopped) {
      try {
        await this.refresh();
      } catch (err) {
        this.showError(err);
        await sleep(500);
      }
      // the server holds a ?since= request until the state changes (a long poll)
      if (this.api instanceof HttpApi && this.snapshot === null) await sleep(0);
      else await sleep(this.api.live ? 100 : 400);
    }
  }

  async applyUrlSettings() {
    if (!this.api.live || !(this.api instanceof HttpApi)) return;
    const params = new URLSearchParams(window.location.search);
    const wanted = {};
    for (const k of SETTING_KEYS) {
      if (!params.has(k)) continue;
      const raw = params.get(k);
      if (k === "seed") wanted[k] = Number(raw);
      else if (k === "lr") wanted[k] = Number(raw);
      else if (k === "batch_size") wanted[k] = raw === "" || raw === "all" ? null : Number(raw);
      else wanted[k] = raw;
    }
    if (Object.keys(wanted).length === 0) return;
    try {
      const now = await this.api.state({});
      const diff = {};
      for (const [k, v] of Object.entries(wanted)) if (now.settings[k] !== v) diff[k] = v;
      if (Object.keys(diff).length) await this.api.post("settings", diff);
    } catch (err) { this.showError(err); }
  }

  writeUrl(settings) {
    if (!(this.api instanceof HttpApi)) return;
    const q = new URLSearchParams();
    for (const k of SETTING_KEYS) q.set(k, settings[k] === null ? "all" : String(settings[k]));
    const want = `?${q.toString()}`;
    if (window.location.search !== want) history.replaceState(null, "", want);
  }

  // ---------------------------------------------------------------- drawing

  async render(s) {
    const t0 = performance.now();
    // the graph's view is read before anything is written, so that reading it does
    // not make the browser lay the page out twice
    let view = this.cells.size ? this.viewWindow() : null;
    this.state = s;
    this.version = s.version;
    this.fillControls(s);
    const key = `${s.settings.net}|${s.activations.join(",")}`;
    if (key !== this.graphKey) {
      this.graphKey = key;
      view = null;   // a new drawing: every cell is drawn
      const svg = await this.api.graph();
      this.ui.graph.innerHTML = svg;
      this.cells = new Map();
      for (const node of this.ui.graph.querySelectorAll("[data-key]")) {
        const k = node.getAttribute("data-key");
        const entry = this.cells.get(k) || { key: k };
        entry[node.tagName.toLowerCase() === "text" ? "text" : "poly"] = node;
        this.cells.set(k, entry);
      }
      this.watchCells();
    }
    this.drawGraph(s, view);
    this.drawPlane(s);
    this.drawLoss(s);
    this.drawNeurons(s);
    this.drawWeights(s);
    this.stats.renders += 1;
    this.stats.renderMs = performance.now() - t0;
    if (this.stats.lastEdit && this.stats.lastEdit.ms === null && s.version >= this.stats.lastEdit.version) {
      this.stats.lastEdit.ms = performance.now() - this.stats.lastEdit.t0;
    }
    this.root.dataset.version = String(s.version);
  }

  fillControls(s) {
    const ui = this.ui;
    const st = s.settings;
    const opts = (node, values) => {
      if (node.options.length !== values.length) {
        node.innerHTML = "";
        for (const v of values) node.append(el("option", { value: v }, v));
      }
    };
    if (s.choices) for (const k of ["data", "activation", "loss", "optimizer"]) opts(ui[k], s.choices[k]);
    const active = document.activeElement;
    for (const k of SETTING_KEYS) {
      if (ui[k] === active) continue;
      put(ui[k], "value", st[k] === null ? "" : String(st[k]));
    }
    put(ui.speed, "value", String(st.speed));
    const modes = s.kind === "regression"
      ? [["select", "select a point"], ["add", "add a point"], ["delete", "delete a point"]]
      : [["select", "select a point"], ["add0", "add class 0"], ["add1", "add class 1"], ["delete", "delete a point"]];
    if (ui.mode.dataset.kind !== s.kind) {
      ui.mode.innerHTML = "";
      for (const [v, t] of modes) ui.mode.append(el("option", { value: v }, t));
      ui.mode.dataset.kind = s.kind;
    }
    put(ui.play, "disabled", !this.api.live || st.running);
    put(ui.pause, "disabled", !this.api.live || !st.running);
    const parts = [`step ${s.step}`, `epoch ${s.epoch}`, `loss ${fmt(s.loss)}`];
    if (s.val_loss !== null && s.val_loss !== undefined) parts.push(`validation ${fmt(s.val_loss)}`);
    if (s.accuracy !== undefined) parts.push(`accuracy ${(100 * s.accuracy).toFixed(1)}%`);
    if (s.example) parts.push(`example #${s.example.index}`);
    put(ui.status, "textContent", parts.join(" · "));
    put(ui.message, "textContent", s.message || "");
    put(ui.message, "hidden", !s.message);
    const n = s.snapshots.length;
    put(ui.scrub, "max", String(Math.max(0, n - 1)));
    if (this.snapshot === null) put(ui.scrub, "value", String(n - 1));
    put(ui.scrubLabel, "textContent", this.snapshot === null && this.api.live ? `live (${n} snapshots)`
      : `snapshot ${s.snapshot + 1}/${n}: step ${s.step}`);
    if (this.snapshot === null) this.writeUrl(st);
  }

  valueOf(s, key) {
    // the number a graph cell shows: (value or gradient, found)
    const m = /^(dE\/d)?([A-Za-z]+)(\d*)\[(\d+)(?:,(\d+))?\]$/.exec(key);
    if (!m) return undefined;
    const grad = Boolean(m[1]);
    const name = m[2] + m[3];
    const i = Number(m[4]);
    const j = m[5] === undefined ? null : Number(m[5]);
    const ex = s.example;
    if (!ex) return undefined;
    if (name === "E") return grad ? 1 : ex.E;
    let src;
    if (grad) src = ex.gradients[name];
    else if (m[2] === "W" || m[2] === "b") src = s.parameters[name];
    else src = ex[name];
    if (!src) return undefined;
    const row = src[i];
    return j === null ? row : (row ? row[j] : undefined);
  }

  watchCells() {
    // While training, only the cells in (or near) the graph's scrolled view are
    // redrawn: the browser lays out and paints every changed number, and most of a
    // large network lies outside the view. Cells scrolled into view are drawn then.
    this.cellBoxes = null;
    if (this.watchingScroll) return;
    this.watchingScroll = true;
    let queued = false;
    const update = () => {
      queued = false;
      if (!this.state) return;
      const scales = this.graphScales(this.state);
      const w = this.viewWindow();
      for (const cell of this.cells.values()) if (cell.stale && this.inView(cell, w)) this.drawCell(this.state, cell, scales);
    };
    const later = () => { if (!queued) { queued = true; requestAnimationFrame(update); } };
    this.ui.graph.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", () => { this.cellBoxes = null; later(); });
    this.ui.zoom.addEventListener("click", () => { this.cellBoxes = null; later(); });
  }

  viewWindow() {
    // the graph's scrolled view, widened by 200 px, in the drawing's coordinates; each
    // cell's box is measured once per layout (read before any cell is written, so that
    // drawing never forces a layout)
    const g = this.ui.graph, m = 200;
    if (!this.cellBoxes) {
      const o = g.getBoundingClientRect();
      this.cellBoxes = new Map();
      for (const c of this.cells.values()) {
        const r = (c.poly || c.text).getBoundingClientRect();
        this.cellBoxes.set(c, [r.left - o.left + g.scrollLeft, r.top - o.top + g.scrollTop,
          r.right - o.left + g.scrollLeft, r.bottom - o.top + g.scrollTop]);
      }
    }
    return [g.scrollLeft - m, g.scrollTop - m, g.scrollLeft + g.clientWidth + m, g.scrollTop + g.clientHeight + m];
  }

  inView(cell, w) {
    const b = this.cellBoxes.get(cell);
    return b !== undefined && b[2] >= w[0] && b[0] <= w[2] && b[3] >= w[1] && b[1] <= w[3];
  }

  graphScales(s) {
    return {
      grad: maxAbs(Object.entries(s.example ? s.example.gradients : {}).filter(([k]) => k !== "E").map(([, v]) => v)),
      weight: maxAbs(Object.values(s.parameters)),
    };
  }

  drawGraph(s, view) {
    const scales = this.graphScales(s);
    // a paused page draws every cell, so the whole graph holds the state shown
    const w = s.settings.running && this.snapshot === null ? view : null;
    for (const cell of this.cells.values()) {
      if (w && !this.inView(cell, w)) cell.stale = true;
      else this.drawCell(s, cell, scales);
    }
  }

  drawCell(s, cell, scales) {
    const key = cell.key;
    cell.stale = false;
    const v = this.valueOf(s, key);
    const text = v === undefined ? "" : fmt(v);
    if (cell.text && cell.shown !== text) { cell.text.textContent = text; cell.shown = text; }
    if (!cell.poly) return;
    let colour = [255, 255, 255];
    if (key.startsWith("dE/d")) colour = diverging(v, scales.grad);
    else if (/^[Wb]\d/.test(key)) colour = diverging(v, scales.weight * 2.5);
    const fill = css(colour);
    if (cell.fill !== fill) { cell.poly.setAttribute("fill", fill); cell.fill = fill; }
    if (cell.editable === undefined) {
      cell.editable = /^[Wb]\d/.test(key);
      cell.poly.classList.toggle("editable", cell.editable);
    }
  }

  plane() {
    const s = this.state;
    const b = s.views.bounds;
    const c = this.ui.plane;
    if (s.views.kind === "curve") {
      const ys = s.data.y.concat(s.views.output.filter((v) => v !== null));
      let lo = Math.min(...ys), hi = Math.max(...ys);
      const pad = Math.max(0.1, (hi - lo) * 0.1);
      lo -= pad; hi += pad;
      return { kind: "curve", x0: b[0][0], x1: b[0][1], y0: lo, y1: hi, w: c.width, h: c.height };
    }
    return { kind: "plane", x0: b[0][0], x1: b[0][1], y0: b[1][0], y1: b[1][1], w: c.width, h: c.height };
  }

  toPixel(p, x, y) { return [(x - p.x0) / (p.x1 - p.x0) * p.w, (1 - (y - p.y0) / (p.y1 - p.y0)) * p.h]; }
  fromPixel(p, px, py) { return [p.x0 + px / p.w * (p.x1 - p.x0), p.y0 + (1 - py / p.h) * (p.y1 - p.y0)]; }

  pointXY(s, i) {
    return s.views.kind === "curve" ? [s.data.X[i][0], s.data.y[i]] : [s.data.X[i][0], s.data.X[i][1]];
  }

  drawPlane(s) {
    const c = this.ui.plane, g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (!s.views) return;
    const p = this.plane();
    const logits = s.settings.loss === "bce_with_logits";
    const field = this.ui.field;
    put(field, "hidden", s.views.kind !== "plane");
    if (s.views.kind === "plane") {
      const n = s.views.output.n, fg = field.getContext("2d");
      if (field.width !== n) { field.width = n; field.height = n; }
      fg.putImageData(gridImage(fg, s.views.output, (v) => {
        const prob = logits ? 1 / (1 + Math.exp(-v)) : v;
        return mix(prob >= 0.5 ? COLOURS.c1 : COLOURS.c0, Math.min(1, Math.abs(prob - 0.5) * 1.6));
      }), 0, 0);
    } else {
      g.strokeStyle = "#d62728"; g.lineWidth = 2; g.beginPath();
      s.views.x.forEach((x, k) => {
        const [px, py] = this.toPixel(p, x, s.views.output[k]);
        if (k === 0) g.moveTo(px, py); else g.lineTo(px, py);
      });
      g.stroke();
    }
    const sel = s.example ? s.example.index : -1;
    const recorded = s.recorded ? new Set(s.recorded) : null;
    // the points in one path per fill and outline colour (a few canvas calls, not
    // two per point)
    const groups = new Map();
    for (let i = 0; i < s.data.X.length; i++) {
      const fill = s.views.kind === "curve" ? "#333" : css(s.data.y[i] === 1 ? COLOURS.c1 : COLOURS.c0);
      const line = recorded && !recorded.has(i) ? "#bbb" : "#222";
      const k = `${fill}|${line}`;
      if (!groups.has(k)) groups.set(k, { fill, line, path: new Path2D() });
      const [px, py] = this.toPixel(p, ...this.pointXY(s, i));
      const path = groups.get(k).path;
      path.moveTo(px + 4, py); path.arc(px, py, 4, 0, 2 * Math.PI);
    }
    g.lineWidth = 1;
    for (const { fill, line, path } of groups.values()) {
      g.fillStyle = fill; g.fill(path); g.strokeStyle = line; g.stroke(path);
    }
    if (sel >= 0 && sel < s.data.X.length) {
      const [px, py] = this.toPixel(p, ...this.pointXY(s, sel));
      g.beginPath(); g.arc(px, py, 8, 0, 2 * Math.PI); g.lineWidth = 2.5; g.strokeStyle = "#000"; g.stroke();
    }
    g.fillStyle = "#222"; g.font = "11px sans-serif";
    g.fillText(`x0: ${fmt(p.x0)} .. ${fmt(p.x1)}`, 4, c.height - 4);
    g.save(); g.translate(11, c.height - 110); g.rotate(-Math.PI / 2);
    g.fillText(`${s.views.kind === "curve" ? "y" : "x1"}: ${fmt(p.y0)} .. ${fmt(p.y1)}`, 0, 0); g.restore();
  }

  async clickPlane(ev) {
    const s = this.state;
    if (!s || !s.views) return;
    const c = this.ui.plane, rect = c.getBoundingClientRect();
    const px = (ev.clientX - rect.left) * c.width / rect.width, py = (ev.clientY - rect.top) * c.height / rect.height;
    const p = this.plane();
    const mode = this.api.live ? this.ui.mode.value : "select";
    let best = -1, bestD = 14 * 14;
    const pool = s.recorded || s.data.X.map((_, i) => i);
    for (const i of pool) {
      const [qx, qy] = this.toPixel(p, ...this.pointXY(s, i));
      const d = (qx - px) ** 2 + (qy - py) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (mode === "select" || mode === "delete") {
      if (best < 0) { this.showError(new Error("no point there: click on a point")); return; }
      if (mode === "select") await this.command("select", { index: best });
      else await this.command("points", { delete: best });
      return;
    }
    const [x, y] = this.fromPixel(p, px, py);
    if (mode === "add") await this.command("points", { add: { x, y } });
    else await this.command("points", { add: { x, y, label: mode === "add1" ? 1 : 0 } });
  }

  drawLoss(s) {
    const c = this.ui.lossCurve, g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    const h = s.history;
    const L = 40, R = 8, T = 8, B = 28, W = c.width - L - R, H = c.height - T - B;
    g.strokeStyle = "#888"; g.lineWidth = 1; g.strokeRect(L, T, W, H);
    g.fillStyle = "#222"; g.font = "11px sans-serif";
    g.fillText("epoch", L + W / 2 - 14, c.height - 4);
    const vals = h.train.concat(h.val).filter((v) => v !== null && v > 0);
    if (!h.epoch.length || !vals.length) { g.fillText("no epoch finished yet", L + 10, T + 20); return; }
    const lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals)) + 1e-9;
    const e0 = h.epoch[0], e1 = Math.max(h.epoch[h.epoch.length - 1], e0 + 1);
    const X = (e) => L + (e - e0) / (e1 - e0) * W, Y = (v) => T + (1 - (Math.log10(v) - lo) / (hi - lo || 1)) * H;
    const line = (ys, colour) => {
      g.strokeStyle = colour; g.lineWidth = 1.5; g.beginPath();
      let started = false;
      h.epoch.forEach((e, k) => {
        const v = ys[k];
        if (v === null || !(v > 0)) return;
        if (!started) { g.moveTo(X(e), Y(v)); started = true; } else g.lineTo(X(e), Y(v));
      });
      g.stroke();
    };
    line(h.train, "#1f77b4"); line(h.val, "#ff7f0e");
    g.fillStyle = "#222";
    g.fillText(fmt(10 ** hi), 2, T + 10); g.fillText(fmt(10 ** lo), 2, T + H);
    g.fillText(String(e0), L, T + H + 12); g.fillText(String(e1), L + W - 20, T + H + 12);
    g.fillStyle = "#1f77b4"; g.fillText("training", L + W - 120, T + 14);
    g.fillStyle = "#ff7f0e"; g.fillText("validation", L + W - 60, T + 14);
  }

  drawNeurons(s) {
    const box = this.ui.neurons;
    if (!s.views) { box.innerHTML = ""; return; }
    const layers = Object.keys(s.views.hidden);
    const key = `${s.settings.net}|${s.views.kind}`;
    if (box.dataset.key !== key) {
      box.innerHTML = "";
      box.dataset.key = key;
      for (const name of layers) {
        const row = el("div", { class: "neuron-row" }, el("span", { class: "neuron-layer" }, name));
        s.views.hidden[name].forEach((_, i) => row.append(el("canvas", { width: 48, height: 48, title: `${name}[${i}]`, "data-neuron": `${name}[${i}]` })));
        box.append(row);
      }
      if (!layers.length) box.append(el("p", {}, "no hidden layer"));
    }
    for (const name of layers) {
      const canvases = box.querySelectorAll(`canvas[data-neuron^="${name}["]`);
      s.views.hidden[name].forEach((packed, i) => {
        const c = canvases[i];
        if (!c) return;
        const g = c.getContext("2d");
        g.clearRect(0, 0, c.width, c.height);
        if (s.views.kind === "curve") {
          const scale = maxAbs(packed) || 1;
          if (c.width !== 48) { c.width = 48; c.height = 48; }
          g.strokeStyle = "#333"; g.beginPath();
          packed.forEach((v, k) => {
            const px = k / (packed.length - 1) * c.width, py = c.height / 2 - (v || 0) / scale * (c.height / 2 - 2);
            if (k === 0) g.moveTo(px, py); else g.lineTo(px, py);
          });
          g.stroke();
          return;
        }
        // the largest magnitude of a packed grid is at one of its ends
        const scale = Math.max(Math.abs(packed.lo), Math.abs(packed.hi)) || 1;
        if (c.width !== packed.n) { c.width = packed.n; c.height = packed.n; }
        g.putImageData(gridImage(g, packed, (v) => diverging(v, scale)), 0, 0);
      });
    }
  }

  drawWeights(s) {
    const box = this.ui.weights;
    const names = Object.keys(s.parameters).filter((k) => k.startsWith("W"));
    const key = s.settings.net;
    if (box.dataset.key !== key) {
      box.innerHTML = "";
      box.dataset.key = key;
      for (const name of names) {
        const W = s.parameters[name], rows = W.length, cols = W[0].length;
        const cell = Math.max(6, Math.min(18, Math.floor(180 / Math.max(rows, cols))));
        const mk = (what) => {
          // one pixel per entry, enlarged by the browser (pixelated, see the CSS)
          const c = el("canvas", { width: cols, height: rows, "data-matrix": what, title: what });
          c.style.width = `${cols * cell}px`;
          c.style.height = `${rows * cell}px`;
          return c;
        };
        const wc = mk(name), gc = mk(`dE/d${name}`);
        wc.addEventListener("click", (ev) => {
          const r = wc.getBoundingClientRect();
          const j = Math.floor((ev.clientX - r.left) / r.width * cols), i = Math.floor((ev.clientY - r.top) / r.height * rows);
          this.openEditor(`${name}[${i},${j}]`, ev.clientX, ev.clientY);
        });
        box.append(el("figure", {}, wc, el("figcaption", {}, `${name} (${rows}×${cols})`)),
          el("figure", {}, gc, el("figcaption", {}, `dE/d${name}`)));
      }
    }
    for (const name of names) {
      for (const [what, src] of [[name, s.parameters[name]], [`dE/d${name}`, s.gradients[name]]]) {
        const c = box.querySelector(`canvas[data-matrix="${what}"]`);
        if (!c) continue;
        const g = c.getContext("2d"), scale = maxAbs(src) || 1;
        const img = g.createImageData(c.width, c.height), px = img.data;
        src.forEach((row, i) => row.forEach((v, j) => {
          const rgb = diverging(v, scale), at = (i * c.width + j) * 4;
          px[at] = rgb[0]; px[at + 1] = rgb[1]; px[at + 2] = rgb[2]; px[at + 3] = 255;
        }));
        g.putImageData(img, 0, 0);
      }
    }
  }

  // ---------------------------------------------------------------- by hand

  async hover(ev) {
    const key = ev.target.getAttribute && ev.target.getAttribute("data-key");
    if (!key || !this.state) return;
    const tip = this.ui.tooltip;
    tip.style.left = `${ev.pageX + 12}px`;
    tip.style.top = `${ev.pageY + 12}px`;
    const v = this.valueOf(this.state, key);
    tip.textContent = `${key} = ${fmt(v)}`;
    tip.hidden = false;
    const formula = await this.formula(key);
    if (formula && !tip.hidden) tip.textContent = formula;
  }

  async formula(key) {
    const s = this.state;
    const stamp = `${s.version}|${s.snapshot}`;
    if (this.formulas.version !== stamp) {
      try {
        const full = s.example && s.example.formulas ? s : await this.api.state(Object.assign({ formulas: 1 }, s.snapshot !== null ? { snapshot: s.snapshot } : {}));
        this.formulas = { version: stamp, table: (full.example && full.example.formulas) || {} };
      } catch (err) { this.showError(err); return null; }
    }
    const t = this.formulas.table;
    if (t[key]) return t[key];
    if (/^[Wb]\d/.test(key)) return `${key}: a parameter (click to type a new value)`;
    if (key.startsWith("dE/dx0")) return `${key}: the gradient of E at the input`;
    return t["*"] || null;
  }

  clickGraph(ev) {
    const key = ev.target.getAttribute && ev.target.getAttribute("data-key");
    if (!key || !/^[Wb]\d/.test(key) || !this.api.live) return;
    this.openEditor(key, ev.clientX, ev.clientY);
  }

  openEditor(key, x, y) {
    if (!this.api.live || this.snapshot !== null) {
      this.showError(new Error("weights are edited in the live state: press Live first"));
      return;
    }
    const ed = this.ui.editor;
    ed.dataset.key = key;
    ed.value = fmt(this.valueOf(this.state, key));
    ed.style.left = `${x + window.scrollX - 30}px`;
    ed.style.top = `${y + window.scrollY - 12}px`;
    ed.title = `new value of ${key} (Enter to set, Esc to cancel)`;
    ed.hidden = false;
    ed.focus();
    ed.select();
  }

  async editorKey(ev) {
    const ed = this.ui.editor;
    if (ev.key === "Escape") { ed.hidden = true; return; }
    if (ev.key !== "Enter") return;
    const m = /^([Wb]\d+)\[(\d+)(?:,(\d+))?\]$/.exec(ed.dataset.key);
    const index = m[3] === undefined ? [Number(m[2])] : [Number(m[2]), Number(m[3])];
    const value = Number(ed.value.trim());
    ed.hidden = true;
    if (ed.value.trim() === "" || !Number.isFinite(value)) {
      this.showError(new Error(`${ed.dataset.key}: ${JSON.stringify(ed.value)} is not a finite number`));
      return;
    }
    const t0 = performance.now();
    this.stats.lastEdit = { key: ed.dataset.key, t0, ms: null, version: Infinity };
    const answer = await this.command("weight", { name: m[1], index, value });
    if (answer) {
      this.stats.lastEdit.version = answer.version;
      if (this.state && this.state.version >= answer.version && this.stats.lastEdit.ms === null) {
        this.stats.lastEdit.ms = performance.now() - t0;
      }
    }
  }
}

// ------------------------------------------------------------------ hosts

function start(root, api) {
  const app = new Studio(root, api);
  app.run();
  return app;
}

// the Jupyter widget (anywidget): the same page inside the notebook's output
function render({ model, el: host }) {
  const root = document.createElement("div");
  host.append(root);
  const app = start(root, new WidgetApi(model));
  return () => { app.stopped = true; };
}

export default { render };

// the web app and the exported file boot themselves
if (typeof document !== "undefined") {
  const root = document.getElementById("studio-root");
  if (root && !root.dataset.booted) {
    root.dataset.booted = "1";
    const embedded = document.getElementById("studio-export");
    const api = embedded ? new ExportApi(JSON.parse(embedded.textContent)) : new HttpApi(new URL(".", window.location.href).href);
    window.studio = start(root, api);
  }
}
