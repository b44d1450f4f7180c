// The 2-D playground's network graph (as in TensorFlow Playground): the input features as
// toggle tiles, each hidden layer as a column of neurons (each one's activation over the plane),
// the outputs, and every connection as a line whose colour is the weight's sign (orange
// positive, blue negative, as the neuron maps) and whose thickness grows with |w|. Hovering a
// line shows its weight; clicking it opens a small editor that sets it on the server. Hovering
// a neuron (or an output) shows its bias, and tells the page (onNeuronHover) so that it can show
// that neuron's map in the big view; clicking it opens the editor for its bias.
//
// Everything the graph draws comes from the server's frames: `weights` (each matrix W, inputs
// x units, as float32; for a large matrix only its strongest entries), `neurons` (the hidden
// units' maps) and the data's `features` (every feature's map, for the tiles).
import { classColor, decodeB64, diverging, fmt, rgb } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const INPUT_COL = 96; // px: the feature tiles and their labels
const OUTPUT_COL = 72; // px: the output nodes and their labels
const MIN_HIDDEN_COL = 92; // px: below this the graph scrolls sideways instead of squeezing
const TILE = 28; // px: a feature tile
const TILE_PITCH = 34;

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** Float32 values from base64 of their little-endian bytes. */
function decodeFloats(text) {
  const bytes = decodeB64(text);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

function decodeUint32(text) {
  const bytes = decodeB64(text);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

// Little-endian RGBA as one 32-bit word per pixel (every browser the page supports is
// little-endian), so a pixel is one store into the image instead of four.
function packed(r, g, b) {
  return (255 << 24) | (b << 16) | (g << 8) | r;
}

/** The 256 colours of the bytes 0..255 read as lo..hi, coloured by value / max(|lo|, |hi|). */
function byteColours(lo, hi) {
  const scale = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const lut = new Uint32Array(256);
  for (let v = 0; v < 256; v++) {
    const [r, g, b] = diverging((lo + (hi - lo) * (v / 255)) / scale);
    lut[v] = packed(r, g, b);
  }
  return lut;
}

/**
 * Paint a map (base64 of res x res bytes, 0..255 for lo..hi) on a canvas, coloured on the
 * diverging scale. A canvas keeps what it shows: the same map again is not repainted, and its
 * image buffer is reused (the neuron maps are repainted many times a second while playing).
 */
export function paintMap(canvas, res, encoded, lo, hi) {
  const key = `${res}|${lo}|${hi}|${encoded}`;
  if (canvas.paintedKey === key) return;
  canvas.paintedKey = key;
  if (canvas.width !== res || canvas.height !== res) {
    canvas.width = res;
    canvas.height = res;
  }
  const ctx = canvas.getContext("2d");
  if (!canvas.image || canvas.image.width !== res) canvas.image = ctx.createImageData(res, res);
  const pixels = new Uint32Array(canvas.image.data.buffer);
  const lut = byteColours(lo, hi);
  const bytes = decodeB64(encoded);
  const n = Math.min(bytes.length, res * res);
  for (let i = 0; i < n; i++) pixels[i] = lut[bytes[i]];
  ctx.putImageData(canvas.image, 0, 0);
}

/** A connection's colour and width: sign by hue, |w| by depth of colour and thickness. */
export function edgeStyle(w) {
  if (!Number.isFinite(w)) return { color: "#bbb", width: 0.5 };
  const a = Math.min(1, Math.abs(w) / 2);
  return { color: rgb(diverging(Math.sign(w) * (0.3 + 0.7 * a))), width: Math.min(5, 0.4 + 1.2 * Math.abs(w)) };
}

// edgeStyle's colour depends on w only through sign(w) and min(|w|, 2). The lines get it from a
// table of strings, in steps of 1/32 in |w| (at most 3 RGB units apart), and widths in steps
// of 0.1 px: no string is built per line per frame, and while the weights drift by small
// amounts most lines keep their attributes, so the browser has less to repaint.
const EDGE_STEPS = 64;
const EDGE_COLOURS = [-1, 1].map((sign) =>
  Array.from({ length: EDGE_STEPS + 1 }, (_, i) => edgeStyle((sign * 2 * i) / EDGE_STEPS).color),
);

/** edgeStyle's colour and width as the attribute strings the lines get. */
function edgeAttributes(w) {
  if (!Number.isFinite(w)) return ["#bbb", "0.5"];
  const step = Math.min(EDGE_STEPS, Math.round((Math.abs(w) * EDGE_STEPS) / 2));
  const color = w === 0 ? edgeStyle(0).color : EDGE_COLOURS[w < 0 ? 0 : 1][step];
  return [color, Math.min(5, 0.4 + 1.2 * Math.abs(w)).toFixed(1)];
}

export class NetworkGraph {
  /**
   * root: the element to draw in. Callbacks (each returns a promise; a rejection's message is
   * shown): onFeatures(list), onActivations(list), onUnits(layer, delta) (one neuron more or
   * fewer), onSetWeight(layer,
   * row, col, value), onSetBias(layer, unit, value); and onNeuronHover(layer, unit), called
   * with (null, null) when the pointer leaves (layer: the Dense layer, 0 the first hidden).
   * activations: the names the per-layer selects offer.
   */
  constructor(root, { activations, onFeatures, onActivations, onUnits, onSetWeight, onSetBias, onNeuronHover }) {
    this.root = root;
    this.choices = activations;
    this.on = { onFeatures, onActivations, onUnits, onSetWeight, onSetBias, onNeuronHover };
    this.signature = "";
    this.headSignature = "";
    this.tiles = null;
    this.tilesPainted = null;
    this.neurons = null;
    this.weights = null;
    this.config = null;
    this.classNames = [];
    this.matrices = []; // per weight matrix: {rows, cols, r, c, index, w, group, hits, pool}
    this.root.replaceChildren();
    this.scroller = el("div", "graph-scroll");
    this.head = el("div", "graph-head");
    this.body = el("div", "graph-body");
    this.svg = svg("svg", { class: "graph-svg", "aria-hidden": "true" });
    this.edgeLayer = svg("g", { class: "edges" });
    this.hitLayer = svg("g", { class: "hits" });
    this.svg.append(this.edgeLayer, this.hitLayer);
    this.nodes = el("div", "graph-nodes");
    this.body.append(this.svg, this.nodes);
    this.scroller.append(this.head, this.body);
    this.tip = el("div", "graph-tip", { role: "tooltip" });
    this.tip.hidden = true;
    this.editor = this._makeEditor();
    this.note = el("p", "hint graph-note");
    root.append(this.scroller, this.tip, this.editor, this.note);
    this.hitLayer.addEventListener("pointerover", (e) => this._hover(e));
    this.hitLayer.addEventListener("pointermove", (e) => this._hover(e));
    this.hitLayer.addEventListener("pointerout", () => (this.tip.hidden = true));
    this.hitLayer.addEventListener("click", (e) => this._openEditor(e));
    // the neurons and outputs: hover for the bias (and the map in the big view), click to edit
    this.nodes.addEventListener("pointerover", (e) => this._hoverNeuron(e));
    this.nodes.addEventListener("pointermove", (e) => this._hoverNeuron(e));
    this.nodes.addEventListener("pointerout", (e) => this._leaveNeuron(e));
    this.nodes.addEventListener("focusin", (e) => this._hoverNeuron(e));
    this.nodes.addEventListener("focusout", (e) => this._leaveNeuron(e));
    this.nodes.addEventListener("click", (e) => this._openBiasEditor(e));
    this.nodes.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") this._openBiasEditor(e);
    });
    new ResizeObserver(() => this._layout()).observe(this.root);
  }

  /** New data from a frame (any of them may be missing: the last ones are kept). */
  update({ config, tiles, neurons, weights, classNames }) {
    if (config) this.config = config;
    if (tiles && tiles !== this.tiles) this.tiles = tiles;
    if (neurons) this.neurons = neurons;
    if (weights) this.weights = weights;
    if (classNames) this.classNames = classNames;
    if (!this.weights || !this.config) return;
    const w = this.weights;
    const outputs = w.layers.length ? w.layers[w.layers.length - 1].cols : 0;
    const signature = [
      w.features.join(","),
      w.layers.map((m) => `${m.rows}x${m.cols}:${m.shown_rows}x${m.shown_cols}:${m.index ? "s" : "d"}`).join(","),
      this.classNames.join(","),
      outputs,
      this.tiles ? this.tiles.names.join(",") : "",
    ].join("|");
    if (signature !== this.signature) {
      this.signature = signature;
      this._build(); // lays the lines out and paints them (_layout)
    }
    this._renderHead();
    if (this.tiles !== this.tilesPainted) this._paintTiles();
    if (this.neurons !== this.neuronsPainted) this._paintNeurons();
    if (this.weights !== this.edgesPainted) this._paintEdges();
  }

  // -- structure ------------------------------------------------------------------------------
  _build() {
    const w = this.weights;
    this._closeEditor();
    this.tip.hidden = true;
    if (this.hovered) {
      this.hovered = null; // its node goes
      if (this.on.onNeuronHover) this.on.onNeuronHover(null, null);
    }
    this.nodes.replaceChildren();
    this.edgeLayer.replaceChildren();
    this.hitLayer.replaceChildren();
    this.tilesPainted = null;
    this.neuronsPainted = null; // new canvases
    const hiddenCount = w.layers.length - 1;
    // columns: the features, each hidden layer, the outputs
    this.columns = [];
    const featureNodes = [];
    const names = this.tiles ? this.tiles.names : w.features;
    names.forEach((name, i) => {
      const on = w.features.includes(name);
      const label = this.tiles ? this.tiles.labels[i] : name;
      const button = el("button", "graph-feature", {
        type: "button",
        "data-feature": name,
        "aria-pressed": on ? "true" : "false",
        "aria-label": `input feature ${label}: ${on ? "on (click to switch off)" : "off (click to switch on)"}`,
        title: `${label}: ${on ? "on" : "off"}; click to switch ${on ? "off" : "on"}`,
      });
      const canvas = el("canvas");
      button.append(canvas);
      button.addEventListener("click", () => this._toggleFeature(name));
      const text = el("span", "graph-label graph-feature-label");
      text.textContent = label;
      this.nodes.append(text, button);
      featureNodes.push({ name, on, node: button, label: text, canvas });
    });
    this.featureNodes = featureNodes;
    this.hiddenNodes = [];
    for (let l = 0; l < hiddenCount; l++) {
      const m = w.layers[l];
      const nodes = [];
      for (let j = 0; j < m.shown_cols; j++) {
        const canvas = el("canvas", "graph-neuron", {
          tabindex: "0",
          role: "button",
          "aria-label": `layer ${l + 1}, neuron ${j + 1}: show its map, edit its bias`,
          "data-layer": String(l),
          "data-unit": String(j),
        });
        this.nodes.append(canvas);
        nodes.push(canvas);
      }
      this.hiddenNodes.push(nodes);
    }
    const last = w.layers[w.layers.length - 1];
    this.outputNodes = [];
    for (let j = 0; j < last.shown_cols; j++) {
      const dot = el("span", "graph-output", {
        tabindex: "0",
        role: "button",
        "aria-label": `${this.classNames.length ? `output ${this.classNames[j]}` : "output"}: edit its bias`,
        "data-layer": String(hiddenCount),
        "data-unit": String(j),
      });
      dot.style.background = this.classNames.length ? rgb(classColor(j)) : "#777";
      const text = el("span", "graph-label graph-output-label");
      text.textContent = this.classNames.length ? this.classNames[j] : "value";
      text.title = this.classNames.length ? `class ${this.classNames[j]}` : "the predicted value";
      this.nodes.append(dot, text);
      this.outputNodes.push({ node: dot, label: text });
    }
    this.matrices = w.layers.map((m, i) => ({
      i,
      group: this.edgeLayer.appendChild(svg("g")),
      hits: this.hitLayer.appendChild(svg("g")),
      pool: [],
    }));
    this.headSignature = "";
    this._layout();
  }

  _renderHead() {
    const config = this.config;
    const hidden = this.weights.layers.slice(0, -1).map((m) => m.cols);
    // the settings may be newer than the drawn weights for a moment: one choice per drawn layer
    const acts = hidden.map((_, l) => (config.activations && config.activations[l]) || config.activation);
    const signature = `${hidden.join(",")}|${acts.join(",")}`;
    if (signature === this.headSignature) return;
    if (this.head.contains(document.activeElement) && document.activeElement.tagName === "SELECT") return;
    this.headSignature = signature;
    this.head.replaceChildren();
    this.head.style.gridTemplateColumns = this._gridColumns(hidden.length);
    const first = el("div", "graph-col-head");
    first.textContent = "features";
    this.head.append(first);
    hidden.forEach((units, l) => {
      const box = el("div", "graph-col-head");
      const select = el("select", "graph-act", { "aria-label": `activation of hidden layer ${l + 1}` });
      for (const name of this.choices) {
        const opt = el("option");
        opt.value = name;
        opt.textContent = name;
        select.append(opt);
      }
      select.value = acts[l];
      select.addEventListener("change", () => {
        // what every select shows now (the header is not redrawn while one has the focus)
        const next = Array.from(this.head.querySelectorAll("select.graph-act"), (s) => s.value);
        this._call(this.on.onActivations(next), () => (select.value = acts[l]));
      });
      const row = el("div", "graph-units");
      const minus = el("button", "small", { type: "button", "aria-label": `fewer neurons in layer ${l + 1}` });
      minus.textContent = "−";
      minus.disabled = units <= 1;
      minus.addEventListener("click", () => this._call(this.on.onUnits(l, -1)));
      const count = el("span", "graph-count");
      count.textContent = String(units);
      const plus = el("button", "small", { type: "button", "aria-label": `more neurons in layer ${l + 1}` });
      plus.textContent = "+";
      plus.addEventListener("click", () => this._call(this.on.onUnits(l, +1)));
      row.append(minus, count, plus);
      box.append(select, row);
      this.head.append(box);
    });
    const out = el("div", "graph-col-head");
    out.textContent = "output";
    this.head.append(out);
  }

  _gridColumns(hiddenCount) {
    return `${INPUT_COL}px ${hiddenCount ? `repeat(${hiddenCount}, minmax(${MIN_HIDDEN_COL}px, 1fr)) ` : "minmax(40px, 1fr) "}${OUTPUT_COL}px`;
  }

  /** Place the nodes: columns as in the header, each column centred vertically. */
  _layout() {
    if (!this.weights || !this.featureNodes) return;
    const hiddenCount = this.hiddenNodes.length;
    const width = Math.max(
      this.scroller.clientWidth || 600,
      INPUT_COL + OUTPUT_COL + Math.max(1, hiddenCount) * MIN_HIDDEN_COL,
    );
    this.head.style.width = `${width}px`;
    this.body.style.width = `${width}px`;
    const inner = width - INPUT_COL - OUTPUT_COL;
    const hiddenX = (l) => INPUT_COL + (inner / Math.max(1, hiddenCount)) * (l + 0.5);
    const largest = Math.max(1, ...this.hiddenNodes.map((n) => n.length));
    const size = Math.max(7, Math.min(30, Math.floor(520 / largest) - 4));
    const pitch = size + (size > 12 ? 4 : 2);
    const height = Math.max(
      this.featureNodes.length * TILE_PITCH,
      largest * pitch,
      this.outputNodes.length * 24,
    ) + 8;
    this.body.style.height = `${height}px`;
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("height", String(height));
    const top = (count, step) => (height - count * step) / 2 + step / 2;
    // anchors: where lines leave (right) and enter (left) each node, per column
    this.anchors = [];
    const tileX = INPUT_COL - TILE - 8;
    const t0 = top(this.featureNodes.length, TILE_PITCH);
    const inputs = [];
    this.featureNodes.forEach((f, i) => {
      const y = t0 + i * TILE_PITCH;
      Object.assign(f.node.style, { left: `${tileX}px`, top: `${y - TILE / 2}px`, width: `${TILE}px`, height: `${TILE}px` });
      Object.assign(f.label.style, { right: `${width - tileX + 5}px`, top: `${y - 8}px` });
      if (f.on) inputs.push({ out: [tileX + TILE, y] });
    });
    this.anchors.push(inputs);
    this.hiddenNodes.forEach((nodes, l) => {
      const x = hiddenX(l);
      const y0 = top(nodes.length, pitch);
      this.anchors.push(
        nodes.map((canvas, j) => {
          const y = y0 + j * pitch;
          Object.assign(canvas.style, { left: `${x - size / 2}px`, top: `${y - size / 2}px`, width: `${size}px`, height: `${size}px` });
          return { in: [x - size / 2, y], out: [x + size / 2, y] };
        }),
      );
    });
    const ox = width - OUTPUT_COL + 4;
    const o0 = top(this.outputNodes.length, 24);
    this.anchors.push(
      this.outputNodes.map((o, j) => {
        const y = o0 + j * 24;
        Object.assign(o.node.style, { left: `${ox}px`, top: `${y - 7}px` });
        Object.assign(o.label.style, { left: `${ox + 19}px`, top: `${y - 8}px`, maxWidth: `${OUTPUT_COL - 24}px` });
        return { in: [ox, y] };
      }),
    );
    for (const m of this.matrices) for (const item of m.pool) item.key = "";
    this._paintEdges();
  }

  // -- painting -------------------------------------------------------------------------------
  _paintTiles() {
    const tiles = this.tiles;
    if (!tiles || !this.featureNodes) return;
    this.tilesPainted = tiles;
    this.featureNodes.forEach((f) => {
      const i = tiles.names.indexOf(f.name);
      if (i < 0) return;
      const s = tiles.scales[i] || 1;
      paintMap(f.canvas, tiles.res, tiles.maps[i], -s, s);
    });
  }

  _paintNeurons() {
    const info = this.neurons;
    if (!info || !this.hiddenNodes) return;
    this.neuronsPainted = info;
    info.layers.forEach((layer, l) => {
      const nodes = this.hiddenNodes[l];
      if (!nodes) return;
      layer.maps.forEach((encoded, j) => {
        if (j >= nodes.length) return;
        const [lo, hi] = layer.ranges[j];
        paintMap(nodes[j], info.res, encoded, lo ?? 0, hi ?? 1);
      });
    });
  }

  _paintEdges() {
    if (!this.weights || !this.anchors) return;
    this.edgesPainted = this.weights;
    const notes = [];
    this.weights.layers.forEach((m, i) => {
      const holder = this.matrices[i];
      if (!holder) return;
      const values = decodeFloats(m.w);
      const index = m.index ? decodeUint32(m.index) : null;
      holder.values = values;
      holder.biases = m.b ? decodeFloats(m.b) : null;
      holder.index = index;
      holder.shape = m;
      const count = values.length;
      while (holder.pool.length < count) {
        const path = holder.group.appendChild(svg("path", { class: "edge" }));
        const hit = holder.hits.appendChild(svg("path", { class: "edge-hit" }));
        holder.pool.push({ path, hit, key: "" });
      }
      while (holder.pool.length > count) {
        const item = holder.pool.pop();
        item.path.remove();
        item.hit.remove();
      }
      const from = this.anchors[i];
      const to = this.anchors[i + 1];
      // Each line's path and attributes are written only when they change: between two frames
      // the lines stay where they are and most weights move too little to change a colour.
      for (let e = 0; e < count; e++) {
        const flat = index ? index[e] : e;
        const row = Math.floor(flat / m.shown_cols);
        const col = flat % m.shown_cols;
        const item = holder.pool[e];
        const key = `${row},${col}`;
        if (item.key !== key && from[row] && to[col]) {
          item.key = key;
          const [x1, y1] = from[row].out;
          const [x2, y2] = to[col].in;
          const mx = (x1 + x2) / 2;
          const d = `M${x1.toFixed(1)},${y1.toFixed(1)} C${mx.toFixed(1)},${y1.toFixed(1)} ${mx.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
          item.path.setAttribute("d", d);
          item.hit.setAttribute("d", d);
          for (const p of [item.path, item.hit]) {
            p.dataset.layer = String(i);
            p.dataset.row = String(row);
            p.dataset.col = String(col);
            p.dataset.edge = String(e);
          }
        }
        const [color, width] = edgeAttributes(values[e]);
        if (item.color !== color) {
          item.color = color;
          item.path.setAttribute("stroke", color);
        }
        if (item.width !== width) {
          item.width = width;
          item.path.setAttribute("stroke-width", width);
        }
      }
      const last = i === this.weights.layers.length - 1;
      if (!last && m.shown_cols < m.cols) notes.push(`layer ${i + 1}: the first ${m.shown_cols} of ${m.cols} neurons`);
      if (index) {
        const pair = `${i === 0 ? "inputs" : `layer ${i}`} → ${last ? "outputs" : `layer ${i + 1}`}`;
        notes.push(`${pair}: the ${count.toLocaleString()} strongest of ${(m.shown_rows * m.shown_cols).toLocaleString()} connections`);
      }
    });
    const base =
      "Click a feature to switch it on or off. Lines: orange positive, blue negative weights, thicker for larger |w|; hover a line for its weight, click it to edit. Hover a neuron to see its map in the big view and its bias, click it to edit the bias.";
    const note = notes.length ? `${base} Drawn: ${notes.join("; ")}.` : base;
    if (this.note.textContent !== note) this.note.textContent = note;
  }

  // -- interaction ----------------------------------------------------------------------------
  _describe(target) {
    const layer = Number(target.dataset.layer);
    const row = Number(target.dataset.row);
    const col = Number(target.dataset.col);
    const last = layer === this.weights.layers.length - 1;
    const source = layer === 0 ? this._featureLabel(this.weights.features[row]) : `layer ${layer} neuron ${row + 1}`;
    const dest = last
      ? this.classNames.length ? `output ${this.classNames[col]}` : "output"
      : `layer ${layer + 1} neuron ${col + 1}`;
    const holder = this.matrices[layer];
    const value = holder && holder.values ? holder.values[Number(target.dataset.edge)] : NaN;
    return { layer, row, col, source, dest, value };
  }

  _featureLabel(name) {
    if (!this.tiles) return name;
    const i = this.tiles.names.indexOf(name);
    return i < 0 ? name : this.tiles.labels[i];
  }

  _hover(e) {
    const target = e.target;
    if (!(target instanceof SVGElement) || !target.classList.contains("edge-hit")) return;
    const d = this._describe(target);
    delete this.tip.dataset.unit;
    this.tip.textContent = `${d.source} → ${d.dest}: w = ${fmt(d.value, 4)}`;
    this.tip.dataset.layer = String(d.layer);
    this.tip.dataset.row = String(d.row);
    this.tip.dataset.col = String(d.col);
    this.tip.dataset.value = String(d.value);
    this._place(this.tip, e);
    this.tip.hidden = false;
  }

  _place(box, e) {
    const frame = this.root.getBoundingClientRect();
    let { clientX, clientY } = e;
    if (clientX === undefined) {
      // a keyboard event: below the element it is about
      const r = e.target.getBoundingClientRect();
      clientX = r.left;
      clientY = r.bottom;
    }
    const x = Math.min(clientX - frame.left + 12, Math.max(0, frame.width - 230));
    box.style.left = `${Math.max(0, x)}px`;
    box.style.top = `${clientY - frame.top + 14}px`;
  }

  _makeEditor() {
    const form = el("form", "graph-edit", { "aria-label": "edit a weight" });
    form.hidden = true;
    const title = el("div", "graph-edit-title");
    const input = el("input", "", { type: "number", step: "any", "aria-label": "weight value" });
    const set = el("button", "small primary", { type: "submit" });
    set.textContent = "Set";
    const cancel = el("button", "small", { type: "button" });
    cancel.textContent = "Cancel";
    const error = el("div", "field-error graph-edit-error");
    const row = el("div", "inline");
    row.append(input, set, cancel);
    form.append(title, row, error);
    cancel.addEventListener("click", () => this._closeEditor());
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this._closeEditor();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const target = this.editing;
      if (!target) return;
      const raw = input.value.trim();
      const value = raw === "" ? null : Number(raw);
      error.textContent = "";
      try {
        if (target.bias) await this.on.onSetBias(target.layer, target.unit, value);
        else await this.on.onSetWeight(target.layer, target.row, target.col, value);
        this._closeEditor();
      } catch (err) {
        error.textContent = err.message;
      }
    });
    Object.assign(form, { titleBox: title, input, error });
    return form;
  }

  _openEditor(e) {
    const target = e.target;
    if (!(target instanceof SVGElement) || !target.classList.contains("edge-hit")) return;
    const d = this._describe(target);
    this._showEditor({ ...d, bias: false }, `${d.source} → ${d.dest}`, "weight", e);
  }

  _showEditor(editing, title, what, e) {
    this.editing = editing;
    this.editor.setAttribute("aria-label", `edit a ${what}`);
    this.editor.input.setAttribute("aria-label", `${what} value`);
    this.editor.titleBox.textContent = title;
    this.editor.input.value = Number.isFinite(editing.value) ? String(Number(editing.value.toPrecision(6))) : "";
    this.editor.error.textContent = "";
    this._place(this.editor, e);
    this.editor.hidden = false;
    this.tip.hidden = true;
    this.editor.input.focus();
    this.editor.input.select();
  }

  // -- neurons: their bias, and their map in the page's big view ----------------------------------
  /** The neuron or output node an event is about, with its bias, or null. */
  _neuron(target) {
    if (!(target instanceof HTMLElement) || target.dataset.unit === undefined || !this.weights) return null;
    const layer = Number(target.dataset.layer);
    const unit = Number(target.dataset.unit);
    const holder = this.matrices[layer];
    const value = holder && holder.biases ? holder.biases[unit] : NaN;
    const output = layer === this.weights.layers.length - 1;
    let name = `layer ${layer + 1} neuron ${unit + 1}`;
    if (output) name = this.classNames.length ? `output ${this.classNames[unit]}` : "output";
    return { layer, unit, value, output, name };
  }

  _hoverNeuron(e) {
    const n = this._neuron(e.target);
    if (!n) return;
    this.tip.textContent = `${n.name}: bias b = ${fmt(n.value, 4)} (click to edit)`;
    Object.assign(this.tip.dataset, { layer: String(n.layer), unit: String(n.unit), value: String(n.value) });
    delete this.tip.dataset.row;
    delete this.tip.dataset.col;
    this._place(this.tip, e);
    this.tip.hidden = false;
    if (!n.output && this.hovered !== e.target) {
      this.hovered = e.target;
      if (this.on.onNeuronHover) this.on.onNeuronHover(n.layer, n.unit);
    }
  }

  _leaveNeuron(e) {
    if (!this._neuron(e.target)) return;
    this.tip.hidden = true;
    if (this.hovered && this.hovered === e.target) {
      this.hovered = null;
      if (this.on.onNeuronHover) this.on.onNeuronHover(null, null);
    }
  }

  _openBiasEditor(e) {
    const n = this._neuron(e.target);
    if (!n) return;
    e.preventDefault();
    this._showEditor({ ...n, bias: true }, `bias of ${n.name}`, "bias", e);
  }

  _closeEditor() {
    this.editing = null;
    if (this.editor) this.editor.hidden = true;
  }

  _toggleFeature(name) {
    // from the settings (the page keeps them current), not from the drawing, which may lag
    const current = this.config ? this.config.features : this.weights.features;
    const next = current.includes(name) ? current.filter((f) => f !== name) : [...current, name];
    this._call(this.on.onFeatures(next));
  }

  /** Run a callback's promise; on failure run `undo` (the callback reports the error). */
  _call(promise, undo = () => {}) {
    Promise.resolve(promise).catch(() => undo());
  }
}
