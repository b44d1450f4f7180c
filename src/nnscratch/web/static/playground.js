// The 2-D playground page: settings, live decision regions, hidden neurons and loss curves.
import {
  $, LineChart, LiveSession, api, bindControls, classColor, decodeB64, diverging, fitCanvas,
  fmt, pct, rgb, showConfig, showFieldError, toast,
} from "./common.js";
import { batchIndex, batchSteps, changedKeys, decodeConfig, encodeConfig } from "./urlstate.js";
import { NetworkGraph, paintMap } from "./graph.js";

const MAX_LAYERS = 16;
const MAX_UNITS = 2048;
const state = {
  config: null,
  data: null,
  heat: null,
  neuronSignature: "",
  frames: 0,
  draws: 0,
  history: [],
  task: "classification",
};
// Read by the end-to-end tests (and handy in the browser console).
window.__playground = state;

const session = new LiveSession("playground", { onFrame, onReset: (s) => applyState(s) });
state.session = session;

const lossChart = new LineChart($("#loss-chart"), {
  series: [
    { key: "train_loss", label: "train", color: "#2f6fb3" },
    { key: "test_loss", label: "test", color: "#e8781e", dash: [5, 3] },
  ],
  yLabel: "loss",
  log: true,
});
const accChart = new LineChart($("#acc-chart"), {
  series: [
    { key: "train_accuracy", label: "train", color: "#2f6fb3" },
    { key: "test_accuracy", label: "test", color: "#e8781e", dash: [5, 3] },
  ],
  yLabel: "accuracy",
  yMin: 0,
  yMax: 1,
  height: 160,
});

// -- frames -------------------------------------------------------------------------------------
// A frame's numbers, curves and settings apply at once; its pictures (the output heat map, the
// hidden neurons' maps, the network graph) are drawn in the next animation frame, from the
// latest frame only: frames that come faster than the page draws replace each other instead of
// queueing up. A new heat map is drawn in every animation frame that has one. The graph and the
// neuron maps cost more, mostly in the browser's painting of the graph's hundreds of lines
// after the script is done: the page times each graph redraw from its start to the next
// animation frame (script, layout, paint) and waits twice as long before the next, so on a slow
// or busy machine the graph gets at most about a third of the time and the heat map keeps its
// rate (the graph catches up with the latest frame once there is time).
// redraw: the big view must be redrawn without a new heat map (new points, a neuron previewed)
const pending = { heatmap: null, neurons: null, weights: null, redraw: false, graph: false };
let renderQueued = false;
let graphReadyAt = 0;
const GRAPH_WAIT = 2; // the wait after a graph redraw, in units of that redraw's cost

function onFrame(frame) {
  state.frames += 1;
  // the settings come with every frame: the controls are redrawn only when they changed
  if (frame.config && JSON.stringify(frame.config) !== state.configText) applyConfig(frame.config);
  if (frame.data) {
    state.data = frame.data;
    setTask(frame.data.task || "classification");
    renderLegend();
    pending.redraw = true;
    pending.graph = true;
  }
  if (frame.curves) {
    if (frame.curves.reset) {
      lossChart.clear();
      accChart.clear();
      state.history = [];
    }
    lossChart.append(frame.curves.epochs, frame.curves);
    accChart.append(frame.curves.epochs, frame.curves);
    frame.curves.epochs.forEach((e, i) =>
      state.history.push({ epoch: e, train_loss: frame.curves.train_loss[i], test_loss: frame.curves.test_loss[i] }),
    );
  }
  if (frame.heatmap) pending.heatmap = frame.heatmap;
  if (frame.neurons) {
    layoutNeurons(frame.neurons);
    pending.neurons = frame.neurons;
    state.neurons = frame.neurons; // the latest maps (the preview draws from them)
    if (state.preview) pending.redraw = true;
  }
  if (frame.weights) pending.weights = frame.weights;
  if (frame.neurons || frame.weights) pending.graph = true;
  if (frame.metrics) showMetrics(frame.metrics);
  if (frame.playing !== state.playing) {
    $("#play").textContent = frame.playing ? "Pause" : "Play";
    $("#play").setAttribute("aria-pressed", frame.playing ? "true" : "false");
  }
  const notice = frame.notice || "";
  if ($("#notice").textContent !== notice) $("#notice").textContent = notice;
  state.playing = frame.playing;
  state.metrics = frame.metrics;
  if (pending.heatmap || pending.redraw || pending.graph) queueRender();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

/** Draw what the frames since the last animation frame brought (the latest of each). */
function render() {
  renderQueued = false;
  const started = performance.now();
  if (pending.heatmap) {
    const h = pending.heatmap;
    state.heat = {
      ...h,
      probs: h.probs ? decodeB64(h.probs) : null,
      values: h.values ? decodeB64(h.values) : null,
    };
  }
  if (pending.heatmap || pending.redraw) {
    pending.heatmap = null;
    pending.redraw = false;
    drawHeatmap();
  }
  if (pending.graph) {
    if (started >= graphReadyAt) {
      const t0 = performance.now();
      if (pending.neurons && panel.visible) paintPanel();
      updateGraph(pending.neurons, pending.weights);
      Object.assign(pending, { neurons: null, weights: null, graph: false });
      graphReadyAt = Infinity; // until its painting is timed
      requestAnimationFrame(() => {
        const now = performance.now();
        state.graphMs = now - t0; // the last graph redraw's cost, painting included (profiling)
        graphReadyAt = now + GRAPH_WAIT * state.graphMs;
      });
      state.graphDraws = (state.graphDraws || 0) + 1;
    } else {
      queueRender(); // not yet: the heat map goes first
    }
  }
  state.renderMs = performance.now() - started; // the last animation frame's drawing (for profiling)
}

// Regression: the loss is the MSE of one linear output, the charts show MSE and no accuracy.
function setTask(task) {
  state.task = task;
  const regression = task === "regression";
  lossChart.yLabel = regression ? "MSE" : "loss";
  lossChart.draw();
  $("#h-loss").textContent = regression ? "Mean squared error" : "Loss";
  $("#h-out").textContent = regression ? "Predicted value" : "Decision regions";
  $("#heatmap").setAttribute(
    "aria-label",
    regression ? "Predicted value over the plane with training and test points" : "Decision regions with training and test points",
  );
  $("#h-acc").hidden = regression;
  $("#acc-chart").hidden = regression;
  $("#test-acc-stat").hidden = regression;
  $("#train-loss-label").textContent = regression ? "train MSE" : "train loss";
  $("#test-loss-label").textContent = regression ? "test MSE" : "test loss";
  $("#loss").disabled = regression;
  $("#loss-note").hidden = !regression;
}

function showMetrics(m) {
  $("#epoch").textContent = String(m.epoch);
  if (state.config) showBatchSlider(state.config.batch_size);
  $("#train-loss").textContent = fmt(m.train_loss, 4);
  $("#test-loss").textContent = fmt(m.test_loss, 4);
  $("#test-acc").textContent = pct(m.test_accuracy);
  $("#param-count").textContent = `${m.parameters.toLocaleString()} parameters · ${m.n_train} train / ${m.n_test} test points`;
}

function applyState(s) {
  applyConfig(s.config);
  if (s.metrics) showMetrics(s.metrics);
}

function applyConfig(config) {
  const before = state.config;
  state.config = config;
  state.configText = JSON.stringify(config);
  graph.config = config; // what the graph's controls change from (its drawing may lag behind)
  showConfig(config);
  showBatchSlider(config.batch_size);
  $("#data-seed-note").textContent = config.data_seed ? `data seed ${config.data_seed}` : "";
  if (before && (before.show_test !== config.show_test || before.discretize !== config.discretize)) {
    drawHeatmap();
  }
  // the class count applies to spirals and blobs only (not to fixed sets nor to regression)
  const fixed = { five_clusters: 1, xor: 1, circles: 1, moons: 1, plane: 1, multi_gaussian: 1, sine: 1 };
  $("#classes-field").hidden = config.dataset in fixed || config.dataset === "upload";
  if (config.dataset === "upload") $("#dataset option[value=upload]").disabled = false;
  renderLayers(config.hidden);
}

// -- decision regions ---------------------------------------------------------------------------
// The server sends the output on a res x res grid of cell centres. The page interpolates it
// bilinearly to UPSAMPLE times that resolution before colouring (and thresholding, when the
// output is discretized), so region boundaries are smooth curves instead of stair steps; the
// canvas then scales that image to its size with smoothing on.
const UPSAMPLE = 4;
const HEATMAP_OUT = 256; // pixels per side the output (64 x 4) and a previewed neuron map get
const offscreen = document.createElement("canvas");
const lerpCache = new Map();

/** Source indices and weights along one axis, from `res` cell centres to `out` pixels. */
function lerpAxis(res, out) {
  const key = `${res}:${out}`;
  if (lerpCache.has(key)) return lerpCache.get(key);
  const lo = new Int32Array(out);
  const hi = new Int32Array(out);
  const w = new Float32Array(out);
  for (let i = 0; i < out; i++) {
    const u = Math.min(res - 1, Math.max(0, ((i + 0.5) * res) / out - 0.5));
    lo[i] = Math.floor(u);
    hi[i] = Math.min(res - 1, lo[i] + 1);
    w[i] = u - lo[i];
  }
  const axis = { lo, hi, w };
  lerpCache.set(key, axis);
  return axis;
}

let upsampled = new Float32Array(0); // reused from one redraw to the next

/** Bilinear interpolation of `planes` planes of res x res bytes (0..255) to out x out floats
 * (0..1), in a buffer the next call overwrites. */
function upsample(bytes, planes, res, out) {
  const { lo, hi, w } = lerpAxis(res, out);
  const cells = res * res;
  if (upsampled.length < planes * out * out) upsampled = new Float32Array(planes * out * out);
  const result = upsampled;
  for (let c = 0; c < planes; c++) {
    const base = c * cells;
    const dst = c * out * out;
    for (let y = 0; y < out; y++) {
      const r0 = base + lo[y] * res;
      const r1 = base + hi[y] * res;
      const wy = w[y];
      for (let x = 0; x < out; x++) {
        const a = bytes[r0 + lo[x]];
        const b = bytes[r0 + hi[x]];
        const top = a + (b - a) * w[x];
        const c0 = bytes[r1 + lo[x]];
        const d = bytes[r1 + hi[x]];
        const bottom = c0 + (d - c0) * w[x];
        result[dst + y * out + x] = (top + (bottom - top) * wy) / 255;
      }
    }
  }
  return result;
}

/** Packed little-endian RGBA (one 32-bit store per pixel) of the diverging colour of s. */
function packedDiverging(s) {
  const [r, g, b] = diverging(s);
  return (255 << 24) | (b << 16) | (g << 8) | r;
}

// The diverging scale in 1024 steps over -1..1 (a quarter of an RGB unit apart at most).
const DIVERGING_STEPS = 1024;
const DIVERGING = Uint32Array.from({ length: DIVERGING_STEPS + 1 }, (_, i) =>
  packedDiverging((2 * i) / DIVERGING_STEPS - 1),
);

/** Paint `values` (out x out, 0..1 for -1..1) on the offscreen image on the diverging scale. */
function paintValues(image, values, n, discretize) {
  const pixels = new Uint32Array(image.data.buffer);
  const flat = [packedDiverging(-0.75), packedDiverging(0.75)];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    pixels[i] = discretize ? flat[v >= 0.5 ? 1 : 0] : DIVERGING[Math.round(v * DIVERGING_STEPS)];
  }
}

let offscreenImage = null;

function paintOutput(heat, discretize) {
  const out = heat.res * UPSAMPLE;
  if (offscreen.width !== out || offscreen.height !== out) {
    offscreen.width = out;
    offscreen.height = out;
  }
  const octx = offscreen.getContext("2d");
  if (!offscreenImage || offscreenImage.width !== out) offscreenImage = octx.createImageData(out, out);
  const image = offscreenImage;
  const px = image.data;
  const n = out * out;
  if (heat.task === "regression") {
    // s = 2v - 1 over the value range -r..r: the table's index v * steps
    paintValues(image, upsample(heat.values, 1, heat.res, out), n, discretize);
  } else {
    const k = heat.classes;
    const probs = upsample(heat.probs, k, heat.res, out);
    const colors = Array.from({ length: k }, (_, c) => classColor(c));
    for (let i = 0; i < n; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let total = 0;
      let top = 0;
      let best = 0;
      for (let c = 0; c < k; c++) {
        const p = probs[c * n + i];
        r += p * colors[c][0];
        g += p * colors[c][1];
        b += p * colors[c][2];
        total += p;
        if (p > top) {
          top = p;
          best = c;
        }
      }
      let t;
      if (discretize) {
        [r, g, b] = colors[best];
        t = 0.55; // the winning class's colour, flat
      } else {
        if (total > 0) {
          r /= total;
          g /= total;
          b /= total;
          top /= total;
        }
        const confidence = k > 1 ? Math.max(0, (top - 1 / k) / (1 - 1 / k)) : 1;
        t = 0.18 + 0.5 * confidence; // how far from white towards the class colour
      }
      px[4 * i] = 255 + (r - 255) * t;
      px[4 * i + 1] = 255 + (g - 255) * t;
      px[4 * i + 2] = 255 + (b - 255) * t;
      px[4 * i + 3] = 255;
    }
  }
  octx.putImageData(image, 0, 0);
  return true;
}

/**
 * Paint a hidden neuron's map (from the frames' `neurons`: res x res bytes for lo..hi) on the
 * offscreen image, interpolated as the output is, on the diverging scale of its thumbnail
 * (value / max(|lo|, |hi|)). Returns false when that neuron's map is not in the frames.
 */
function paintNeuron(info, { layer, unit }) {
  const maps = info && info.layers[layer];
  if (!maps || unit >= maps.maps.length || !info.res) return false;
  const [lo0, hi0] = maps.ranges[unit];
  const lo = lo0 ?? 0;
  const hi = hi0 ?? 1;
  const scale = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const out = info.res * Math.max(1, Math.round((HEATMAP_OUT) / info.res));
  if (offscreen.width !== out || offscreen.height !== out) {
    offscreen.width = out;
    offscreen.height = out;
  }
  const octx = offscreen.getContext("2d");
  if (!offscreenImage || offscreenImage.width !== out) offscreenImage = octx.createImageData(out, out);
  const u = upsample(decodeB64(maps.maps[unit]), 1, info.res, out);
  const pixels = new Uint32Array(offscreenImage.data.buffer);
  const n = out * out;
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, (lo + (hi - lo) * u[i]) / scale));
    pixels[i] = DIVERGING[Math.round(((s + 1) / 2) * DIVERGING_STEPS)];
  }
  octx.putImageData(offscreenImage, 0, 0);
  return true;
}

function drawHeatmap() {
  const started = performance.now();
  const canvas = $("#heatmap");
  const size = canvas.clientWidth || 560;
  const { ctx } = fitCanvas(canvas, size);
  ctx.clearRect(0, 0, size, size);
  const heat = state.heat;
  const config = state.config || {};
  const shown = state.preview ? paintNeuron(state.neurons, state.preview) : heat && paintOutput(heat, Boolean(config.discretize));
  state.shownMap = shown ? (state.preview ? "neuron" : "output") : null;
  $("#heatmap").dataset.shows = state.shownMap || "";
  if (shown) {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(offscreen, 0, 0, size, size);
  }
  state.draws += 1;
  if (state.data) ctx.drawImage(pointsLayer(canvas, size, config.show_test !== false), 0, 0, size, size);
  state.drawMs = performance.now() - started; // the last redraw's cost (frame-rate checks)
}

// The points, the axes and the labels change only with the data, the canvas size and "show
// test data": drawn once on a layer of their own, which each redraw lays over the heat map.
const points = { canvas: document.createElement("canvas"), key: null };

function pointsLayer(target, size, showTest) {
  const data = state.data;
  const key = [target.width, target.height, size, showTest].join("|");
  if (points.data === data && points.key === key) return points.canvas;
  points.data = data;
  points.key = key;
  const layer = points.canvas;
  layer.width = target.width;
  layer.height = target.height;
  const ctx = layer.getContext("2d");
  const dpr = target.width / size;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, size, size);
  const m = data.extent;
  const px = (x) => ((x + m) / (2 * m)) * size;
  const py = (y) => ((m - y) / (2 * m)) * size;
  // axes through the origin
  ctx.strokeStyle = "rgba(0,0,0,0.12)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(px(0), 0);
  ctx.lineTo(px(0), size);
  ctx.moveTo(0, py(0));
  ctx.lineTo(size, py(0));
  ctx.stroke();
  const regression = data.task === "regression";
  const range = data.target_range || 1;
  const count = data.train.y.length + data.test.y.length;
  const radius = count > 5000 ? 1.8 : count > 1500 ? 2.6 : 3.6;
  const draw = (part, test) => {
    for (let i = 0; i < part.y.length; i++) {
      ctx.beginPath();
      ctx.arc(px(part.x[2 * i]), py(part.x[2 * i + 1]), radius, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(regression ? diverging(part.y[i] / range) : classColor(part.y[i]));
      ctx.fill();
      ctx.lineWidth = test ? 1.6 : 1;
      ctx.strokeStyle = test ? "#111" : regression ? "#555" : "#fff";
      ctx.stroke();
    }
  };
  draw(data.train, false);
  if (showTest) draw(data.test, true);
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(`${-m}`, 4, size - 3);
  ctx.textAlign = "right";
  ctx.fillText(`${m}`, size - 4, size - 3);
  ctx.textBaseline = "top";
  ctx.fillText(`x2 = ${m}`, size - 4, 3);
  return layer;
}

function renderLegend() {
  const box = $("#legend");
  box.replaceChildren();
  if (state.data.task === "regression") {
    // the diverging colour scale of the predicted value (and of the points' targets)
    const r = state.data.target_range || 1;
    const bar = document.createElement("canvas");
    bar.className = "value-scale";
    bar.width = 160;
    bar.height = 12;
    bar.setAttribute("aria-label", `colour scale of the predicted value from ${fmt(-r, 2)} to ${fmt(r, 2)}`);
    const bctx = bar.getContext("2d");
    for (let x = 0; x < bar.width; x++) {
      bctx.fillStyle = rgb(diverging((2 * (x + 0.5)) / bar.width - 1));
      bctx.fillRect(x, 0, 1, bar.height);
    }
    const scale = document.createElement("span");
    scale.className = "value-legend";
    scale.append(fmt(-r, 2), bar, fmt(r, 2));
    box.append(scale);
    const note = document.createElement("span");
    note.className = "hint";
    note.textContent = "predicted value (white: 0) · points coloured by their target";
    box.append(note);
  } else {
    state.data.class_names.forEach((name, i) => {
      const item = document.createElement("span");
      const dot = document.createElement("span");
      dot.className = "swatch";
      dot.style.background = rgb(classColor(i));
      item.append(dot, `class ${name}`);
      box.append(item);
    });
  }
  const train = document.createElement("span");
  train.className = "hint";
  train.textContent = state.data.task === "regression"
    ? "grey outline: training point · black outline: test point"
    : "white outline: training point · black outline: test point";
  box.append(train);
  if (state.data.upload_name) {
    const up = document.createElement("span");
    up.className = "hint";
    up.textContent = `data: ${state.data.upload_name}`;
    box.append(up);
  }
}

// -- hidden neurons ----------------------------------------------------------------------------
/** The panel's layers and canvases for a frame's neuron maps (rebuilt when their shape changes);
 * painting them waits for the next animation frame (paintPanel). */
function layoutNeurons(info) {
  const box = $("#neurons");
  const signature = `${info.res}|${info.layers.map((l) => `${l.units}:${l.maps.length}:${l.activation}`).join(",")}`;
  if (signature !== state.neuronSignature) {
    state.neuronSignature = signature;
    box.replaceChildren();
    info.layers.forEach((layer, li) => {
      const col = document.createElement("div");
      col.className = "neuron-layer";
      const title = document.createElement("h3");
      title.textContent = `layer ${li + 1}: ${layer.units} ${layer.activation || "linear"}`;
      const grid = document.createElement("div");
      grid.className = "neuron-grid";
      const rows = Math.min(8, layer.maps.length) || 1;
      grid.style.gridTemplateRows = `repeat(${rows}, auto)`;
      grid.style.gridAutoFlow = "column";
      for (let j = 0; j < layer.maps.length; j++) {
        const c = document.createElement("canvas");
        c.width = info.res;
        c.height = info.res;
        c.title = `layer ${li + 1}, neuron ${j + 1} (hover: in the big view)`;
        c.dataset.layer = String(li);
        c.dataset.unit = String(j);
        grid.append(c);
      }
      col.append(title, grid);
      box.append(col);
    });
    if (!info.layers.length) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "No hidden layers: the network is a linear classifier (softmax regression).";
      box.append(p);
    }
  }
  const note = info.shown < info.total ? `(showing ${info.shown} of ${info.total})` : "";
  if ($("#neuron-note").textContent !== note) $("#neuron-note").textContent = note;
  panel.info = info;
}

// The panel repeats the graph's neuron maps, larger; off screen it is not painted (each map
// painted costs the browser work after the script too), and it catches up when scrolled to.
const panel = { info: null, visible: true };

function paintPanel() {
  const info = panel.info;
  if (!info) return;
  const columns = $("#neurons").querySelectorAll(".neuron-layer");
  info.layers.forEach((layer, li) => {
    const canvases = columns[li].querySelectorAll("canvas");
    layer.maps.forEach((encoded, j) => {
      const [lo, hi] = layer.ranges[j];
      paintMap(canvases[j], info.res, encoded, lo ?? 0, hi ?? 1);
    });
  });
}

new IntersectionObserver((entries) => {
  panel.visible = entries.some((e) => e.isIntersecting);
  if (panel.visible) paintPanel();
}).observe($("#neurons"));

// hovering a neuron's map here shows it in the big view too, as in the graph
$("#neurons").addEventListener("pointerover", (e) => {
  const c = e.target;
  if (c instanceof HTMLCanvasElement && c.dataset.unit !== undefined) {
    previewNeuron(Number(c.dataset.layer), Number(c.dataset.unit));
  }
});
$("#neurons").addEventListener("pointerout", (e) => {
  if (e.target instanceof HTMLCanvasElement && state.preview) previewNeuron(null, null);
});

// -- the layer editor ----------------------------------------------------------------------------
function renderLayers(hidden) {
  const box = $("#layers");
  if (box.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
  box.replaceChildren();
  hidden.forEach((units, i) => {
    const row = document.createElement("div");
    row.className = "layer-row";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `layer ${i + 1}`;
    const minus = button("−", `fewer neurons in layer ${i + 1}`, () =>
      setUnits(i, currentHidden()[i] - 1),
    );
    const input = document.createElement("input");
    input.type = "number";
    input.min = "1";
    input.max = String(MAX_UNITS);
    input.value = String(units);
    input.setAttribute("aria-label", `neurons in layer ${i + 1}`);
    input.addEventListener("change", () => setUnits(i, Number(input.value)));
    const plus = button("+", `more neurons in layer ${i + 1}`, () =>
      setUnits(i, currentHidden()[i] + 1),
    );
    const remove = button("✕", `remove layer ${i + 1}`, () => {
      const next = currentHidden().slice();
      next.splice(i, 1);
      const acts = (state.config.activations || []).slice();
      acts.splice(i, 1);
      sendHidden(next, acts.length === next.length ? acts : undefined);
    });
    row.append(name, minus, input, plus, remove);
    box.append(row);
  });
  if (!hidden.length) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = "No hidden layer (a linear model).";
    box.append(p);
  }
  $("#add-layer").disabled = hidden.length >= MAX_LAYERS;
}

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "small";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

// Layer sizes sent but not yet confirmed: a second edit made before the server answers the
// first builds on it, instead of on the confirmed sizes (which would undo the first edit).
let pendingHidden = null;
let hiddenRequests = 0;

function currentHidden() {
  return pendingHidden || state.config.hidden;
}

function setUnits(index, units) {
  const next = currentHidden().slice();
  next[index] = units;
  sendHidden(next);
}

async function sendHidden(hidden, activations) {
  const request = ++hiddenRequests;
  pendingHidden = hidden;
  try {
    const result = await session.config(activations ? { hidden, activations } : { hidden });
    showFieldError(null);
    applyConfig(result.config);
  } catch (err) {
    showFieldError("hidden", err.message);
    toast(err.message);
    renderLayers(state.config.hidden);
  } finally {
    if (request === hiddenRequests) pendingHidden = null;
  }
}

$("#add-layer").addEventListener("click", () => {
  const hidden = currentHidden();
  sendHidden([...hidden, hidden.length ? hidden[hidden.length - 1] : 8]);
});

// -- the network graph (graph.js): features, per-layer activations, weights -----------------------
const graph = new NetworkGraph($("#graph"), {
  activations: Array.from($("#activation").options, (o) => o.value),
  onFeatures: (features) => configFrom("features", { features }),
  onActivations: (activations) => configFrom("activations", { activations }),
  onUnits: (layer, delta) => {
    setUnits(layer, currentHidden()[layer] + delta);
    return Promise.resolve();
  },
  onSetWeight: setWeight,
  onSetBias: setBias,
  onNeuronHover: previewNeuron,
});
state.graph = graph;

function updateGraph(neurons, weights) {
  graph.update({
    config: state.config,
    tiles: state.data ? state.data.features : null,
    neurons,
    weights,
    classNames: state.data ? state.data.class_names : [],
  });
}

/** Send a config change made in the graph; a refusal is shown under the graph and rethrown. */
async function configFrom(field, params) {
  try {
    const result = await session.config(params);
    showFieldError(null);
    applyConfig(result.config);
    return result;
  } catch (err) {
    showFieldError(field, err.message);
    toast(err.message);
    throw err;
  }
}

/** Set one weight on the server (the socket's set_weight command); resolves with the result. */
async function setWeight(layer, row, col, value) {
  if (!session.ws || session.ws.readyState !== WebSocket.OPEN) {
    throw new Error("not connected to the server; try again in a moment");
  }
  const result = await session.send({ type: "set_weight", layer, row, col, value });
  state.lastWeightEdit = result.weight;
  return result;
}

/** Set one bias on the server (the socket's set_bias command); resolves with the result. */
async function setBias(layer, unit, value) {
  if (!session.ws || session.ws.readyState !== WebSocket.OPEN) {
    throw new Error("not connected to the server; try again in a moment");
  }
  const result = await session.send({ type: "set_bias", layer, unit, value });
  state.lastBiasEdit = result.bias;
  return result;
}

/**
 * Show a hidden neuron's activation over the plane in the big view while the pointer is on it
 * (as TF Playground does), live as its map changes; (null, null) goes back to the output.
 */
function previewNeuron(layer, unit) {
  state.preview = layer === null ? null : { layer, unit };
  const title = $("#h-out");
  if (state.preview) {
    title.textContent = `Layer ${layer + 1}, neuron ${unit + 1}: its activation`;
  } else {
    title.textContent = state.task === "regression" ? "Predicted value" : "Decision regions";
  }
  title.classList.toggle("previewing", Boolean(state.preview));
  pending.redraw = true; // redraw the big view
  queueRender();
}

// -- buttons ---------------------------------------------------------------------------------------
async function run(action, extra) {
  try {
    await session.control(action, extra);
  } catch (err) {
    toast(err.message);
  }
}

$("#play").addEventListener("click", () => run(state.playing ? "pause" : "play"));
$("#step").addEventListener("click", () => run("step"));
$("#reset").addEventListener("click", () => run("reset"));
$("#download").addEventListener("click", () => session.download());
$("#log-scale").addEventListener("change", (e) => {
  lossChart.log = e.target.checked;
  lossChart.draw();
});

$("#csv").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const result = await session.upload("dataset", file);
    showFieldError(null);
    $("#dataset option[value=upload]").disabled = false;
    applyConfig(result.config);
    scheduleUrl(result.config);
    const what = result.regression ? "with a numeric target" : `in ${result.classes.length} classes`;
    toast(`Loaded ${result.rows} points ${what} from ${file.name}.`, "info");
  } catch (err) {
    showFieldError("file", err.message);
    toast(err.message);
  } finally {
    e.target.value = "";
  }
});

$("#preset").addEventListener("change", async (e) => {
  const chosen = state.presets && state.presets[e.target.value];
  e.target.value = "";
  if (!chosen) return;
  // a preset sets the experiment; how the page draws it (the view toggles) stays as it is
  const { show_test: _shown, discretize: _discrete, ...preset } = chosen;
  try {
    const result = await session.config(preset);
    showFieldError(null);
    applyConfig(result.config);
  } catch (err) {
    toast(err.message);
  }
});

window.addEventListener("resize", () => drawHeatmap());

// -- batch size slider, regenerate ---------------------------------------------------------------
function batchStepsNow() {
  const n = (state.metrics && state.metrics.n_train) || (state.config && state.config.n_points) || 30;
  return batchSteps(n);
}

function showBatchSlider(batch) {
  const slider = $("#batch-slider");
  if (batch === undefined || batch === null || slider === document.activeElement) return;
  const steps = batchStepsNow();
  slider.max = String(steps.length - 1);
  slider.value = String(batchIndex(steps, batch));
}

$("#batch-slider").addEventListener("input", (e) => {
  $("#batch_size").value = String(batchStepsNow()[Number(e.target.value)]);
});
$("#batch-slider").addEventListener("change", async (e) => {
  const value = batchStepsNow()[Number(e.target.value)];
  try {
    const result = await session.config({ batch_size: value });
    showFieldError(null);
    applyConfig(result.config);
  } catch (err) {
    showFieldError("batch_size", err.message);
    toast(err.message);
  }
});

$("#regenerate").addEventListener("click", async () => {
  // a new data seed: new points from the same settings (the weights' seed stays)
  const dataSeed = 1 + Math.floor(Math.random() * (2 ** 31 - 2));
  try {
    const result = await session.config({ data_seed: dataSeed });
    applyConfig(result.config);
  } catch (err) {
    toast(err.message);
  }
});

// -- the settings in the URL -----------------------------------------------------------------------
// Every change the user makes goes through session.config; wrapped here, each answer's config
// is written to the URL as a new history entry (changes within URL_DEBOUNCE_MS make one entry,
// e.g. a slider moved with the arrow keys). The back button (popstate) sends the entry's config.
const URL_DEBOUNCE_MS = 350;
const rawConfig = session.config.bind(session);
let urlTimer = null;
let urlPending = null;
session.config = async (params) => {
  const result = await rawConfig(params);
  scheduleUrl(result.config);
  return result;
};

function scheduleUrl(config) {
  urlPending = config;
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => {
    const query = encodeConfig(urlPending);
    urlPending = null;
    if (query !== location.search) history.pushState(null, "", location.pathname + query);
  }, URL_DEBOUNCE_MS);
}

/** Apply the settings of a URL's query; keys the page or the server refuses are skipped and listed. */
async function applyUrl(search) {
  const { params, problems } = decodeConfig(search, state.defaults);
  const update = {};
  for (const key of changedKeys(params, state.config)) update[key] = params[key];
  // the server refuses a whole update for one bad value: drop that key and send the rest
  for (let tries = 0; Object.keys(update).length && tries < 64; tries++) {
    try {
      const result = await rawConfig(update);
      applyConfig(result.config);
      showConfig(result.config, document, true); // the focused control too: it was not the one edited
      break;
    } catch (err) {
      const key = err.field ? String(err.field).split("[")[0] : null;
      if (!key || !(key in update)) {
        problems.push(`${Object.keys(update).join(", ")}: ${err.message}`);
        break;
      }
      problems.push(`${key}=${new URLSearchParams(search).get(key)}: ${err.message}`);
      delete update[key];
    }
  }
  $("#url-notice").textContent = problems.length
    ? `Some settings in the link were ignored: ${problems.join("; ")}`
    : "";
  history.replaceState(null, "", location.pathname + encodeConfig(state.config));
}

let urlQueue = Promise.resolve();
window.addEventListener("popstate", () => {
  clearTimeout(urlTimer);
  urlPending = null;
  urlQueue = urlQueue.then(() => applyUrl(location.search)).catch((err) => toast(err.message));
});

// -- start ----------------------------------------------------------------------------------------
async function main() {
  try {
    const info = await api("/api/info");
    state.presets = info.playground.presets;
    for (const name of Object.keys(info.playground.presets)) {
      const opt = document.createElement("option");
      opt.value = name;
      opt.textContent = name;
      $("#preset").append(opt);
    }
    $("#n_points").max = String(info.limits.max_points);
    $("#batch_size").max = String(info.limits.max_points);
    state.defaults = info.playground.defaults;
    const initial = await session.start();
    applyState(initial);
    bindControls(session, { onResult: (result) => applyConfig(result.config) });
    await applyUrl(location.search);
    document.body.dataset.ready = "true";
  } catch (err) {
    toast(`Cannot start: ${err.message}`);
  }
}

main();
