// The digits page: live MNIST training, its diagnostics, and a canvas to draw digits for it.
import {
  $, LineChart, LiveSession, api, bindControls, decodeB64, diverging, encodeB64, fitCanvas, fmt,
  pct, showConfig, showFieldError, toast,
} from "./common.js";

const state = {
  prediction: null, predictions: 0, metrics: null, playing: false, frames: 0, drawn: false,
  config: null, kernels: null, presets: null,
};
window.__digits = state; // read by the end-to-end tests

const session = new LiveSession("digits", { onFrame, onReset: (s) => applyState(s) });
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
});

// -- frames ---------------------------------------------------------------------------------------
function onFrame(frame) {
  state.frames += 1;
  if (frame.config) applyConfig(frame.config);
  if (frame.curves) {
    if (frame.curves.reset) {
      lossChart.clear();
      accChart.clear();
    }
    lossChart.append(frame.curves.epochs, frame.curves);
    accChart.append(frame.curves.epochs, frame.curves);
  }
  if (frame.confusion) drawConfusion(frame.confusion);
  if (frame.gradients) showGradients(frame.gradients, frame.dead);
  if ("weights" in frame) drawWeights(frame.weights);
  if ("kernels" in frame) drawKernels(frame.kernels);
  const epochChanged = !state.metrics || state.metrics.epoch !== frame.metrics.epoch || frame.curves.reset;
  if (frame.metrics) showMetrics(frame.metrics);
  $("#play").textContent = frame.playing ? "Pause" : "Play";
  $("#play").setAttribute("aria-pressed", frame.playing ? "true" : "false");
  $("#notice").textContent = frame.notice || "";
  state.playing = frame.playing;
  if (epochChanged && state.drawn) schedulePredict(400);
}

function showMetrics(m) {
  state.metrics = m;
  $("#epoch").textContent = String(m.epoch);
  $("#train-loss").textContent = fmt(m.train_loss, 4);
  $("#test-loss").textContent = fmt(m.test_loss, 4);
  $("#test-acc").textContent = pct(m.test_accuracy);
  $("#model-source").textContent =
    `${m.model_source} · ${m.parameters.toLocaleString()} parameters · ${m.dataset}: ${m.n_train} train / ${m.n_test} test images`;
}

function applyState(s) {
  if (s.config) applyConfig(s.config);
  if (s.metrics) showMetrics(s.metrics);
}

// The hidden sizes, activation and dropout describe the network only while the layer spec is
// empty; with a spec they are greyed out, and the spec field's placeholder shows the MLP they
// describe, written as a spec (the same network).
function applyConfig(config) {
  state.config = config;
  showConfig(config);
  const spec = Boolean(config.layers);
  for (const id of ["hidden", "activation", "dropout"]) {
    $(`#${id}`).disabled = spec;
    $(`#${id}`).title = spec ? "the layer spec describes the network; empty it to use this" : "";
  }
  const act = config.activation === "linear" ? "" : `,${config.activation}`;
  const hidden = (config.hidden || []).map((n) => `dense:${n}${act}${config.dropout ? `,dropout:${config.dropout}` : ""},`).join("");
  $("#layers").placeholder = `empty: the hidden layers above (${hidden}dense:10)`;
}

function drawConfusion(matrix) {
  const canvas = $("#confusion");
  const size = Math.min(380, canvas.clientWidth || 380);
  const { ctx } = fitCanvas(canvas, size);
  ctx.clearRect(0, 0, size, size);
  const pad = 22;
  const cell = (size - pad) / 10;
  ctx.font = `${Math.max(9, Math.min(12, cell / 3))}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let i = 0; i < 10; i++) {
    const total = matrix[i].reduce((a, b) => a + b, 0) || 1;
    ctx.fillStyle = "#5d6575";
    ctx.fillText(String(i), pad / 2, pad + (i + 0.5) * cell);
    ctx.fillText(String(i), pad + (i + 0.5) * cell, pad / 2);
    for (let j = 0; j < 10; j++) {
      const share = matrix[i][j] / total;
      const diag = i === j;
      ctx.fillStyle = diag ? `rgba(47,111,179,${0.08 + 0.85 * share})` : `rgba(225,87,89,${share ? 0.1 + 2.5 * share : 0})`;
      ctx.fillRect(pad + j * cell + 1, pad + i * cell + 1, cell - 2, cell - 2);
      if (matrix[i][j]) {
        ctx.fillStyle = diag && share > 0.5 ? "#fff" : "#222";
        ctx.fillText(String(matrix[i][j]), pad + (j + 0.5) * cell, pad + (i + 0.5) * cell);
      }
    }
  }
}

function showGradients(norms, dead) {
  const body = $("#grads tbody");
  body.replaceChildren();
  const deadBy = Object.fromEntries((dead || []).map((d) => [d.layer, d.dead_share]));
  for (const n of norms) {
    const tr = document.createElement("tr");
    const cells = [n.name, fmt(n.grad_norm, 4), fmt(n.weight_norm, 2), n.layer in deadBy && deadBy[n.layer] !== null ? pct(deadBy[n.layer]) : "–"];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i) td.className = "num";
      tr.append(td);
    });
    body.append(tr);
  }
}

const weightCanvas = document.createElement("canvas");

function drawWeights(info) {
  $("#weights-card").hidden = !info;
  if (!info) return;
  const bytes = decodeB64(info.images);
  const n = info.shown;
  const cols = Math.min(n, 20);
  const rows = Math.ceil(n / cols);
  const tile = 29;
  weightCanvas.width = cols * tile;
  weightCanvas.height = rows * tile;
  const wctx = weightCanvas.getContext("2d");
  const image = wctx.createImageData(weightCanvas.width, weightCanvas.height);
  image.data.fill(255);
  for (let u = 0; u < n; u++) {
    const ox = (u % cols) * tile;
    const oy = Math.floor(u / cols) * tile;
    for (let p = 0; p < 784; p++) {
      const [r, g, b] = diverging((bytes[u * 784 + p] - 127.5) / 127.5);
      const idx = 4 * ((oy + Math.floor(p / 28)) * weightCanvas.width + ox + (p % 28));
      image.data[idx] = r;
      image.data[idx + 1] = g;
      image.data[idx + 2] = b;
    }
  }
  wctx.putImageData(image, 0, 0);
  const canvas = $("#weights");
  const width = Math.min(620, canvas.clientWidth || 620);
  const { ctx } = fitCanvas(canvas, (width * weightCanvas.height) / weightCanvas.width);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(weightCanvas, 0, 0, width, (width * weightCanvas.height) / weightCanvas.width);
  $("#weights-note").textContent = info.shown < info.units ? `(first ${info.shown} of ${info.units} units)` : `(${info.units} units)`;
}

// Tiles of small images drawn at one pixel per value on an offscreen canvas, then scaled up
// without smoothing. paint(tile, x, y) returns [r, g, b] for a pixel of a tile.
function tileCanvas(canvas, { count, cols, tw, th, paint, cssWidth, gap = 1 }) {
  const rows = Math.ceil(count / cols);
  const off = document.createElement("canvas");
  off.width = cols * (tw + gap) - gap;
  off.height = rows * (th + gap) - gap;
  const octx = off.getContext("2d");
  const image = octx.createImageData(off.width, off.height);
  for (let i = 0; i < image.data.length; i += 4) {
    image.data[i] = image.data[i + 1] = image.data[i + 2] = 255;
    image.data[i + 3] = 255;
  }
  for (let t = 0; t < count; t++) {
    const ox = (t % cols) * (tw + gap);
    const oy = Math.floor(t / cols) * (th + gap);
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const [r, g, b] = paint(t, x, y);
        const idx = 4 * ((oy + y) * off.width + ox + x);
        image.data[idx] = r;
        image.data[idx + 1] = g;
        image.data[idx + 2] = b;
      }
    }
  }
  octx.putImageData(image, 0, 0);
  canvas.style.width = `${cssWidth}px`;
  const width = Math.min(cssWidth, canvas.clientWidth || cssWidth); // max-width: 100% on a phone
  const height = (width * off.height) / off.width;
  canvas.style.height = `${height}px`;
  const { ctx } = fitCanvas(canvas, height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, width, height);
}

// The width inside an element's padding (clientWidth includes the padding).
function innerWidth(el, fallback) {
  if (!el || !el.clientWidth) return fallback;
  const style = getComputedStyle(el);
  return el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

function drawKernels(info) {
  state.kernels = info;
  $("#kernels-card").hidden = !info;
  const summary = $("#kernel-summary");
  summary.replaceChildren();
  if (!info) return;
  const k = info.first;
  const bytes = decodeB64(k.data);
  const perKernel = k.kh * k.kw;
  const count = k.shown_filters * k.shown_channels;
  const cols = k.shown_channels > 1 ? k.shown_channels : Math.min(count, 16);
  const canvas = $("#kernels");
  const room = Math.min(640, innerWidth(canvas.parentElement, 640));
  tileCanvas(canvas, {
    count, cols, tw: k.kw, th: k.kh, cssWidth: Math.min(room, cols * 40),
    paint: (t, x, y) => diverging((bytes[t * perKernel + y * k.kw + x] - 127.5) / 127.5),
  });
  const more = k.shown_filters < k.filters || k.shown_channels < k.channels
    ? `, first ${k.shown_filters} of ${k.filters} filters × ${k.shown_channels} of ${k.channels} input channels` : "";
  $("#kernels-note").textContent = `(layer ${k.layer} ${k.name}: ${k.filters} filters of ${k.kh} × ${k.kw}${k.channels > 1 ? ` × ${k.channels} channels` : ""}${more})`;
  for (const table of info.later) {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    const part = table.shown_filters < table.filters || table.shown_channels < table.channels
      ? ` (first ${table.shown_channels} × ${table.shown_filters})` : "";
    caption.textContent = `layer ${table.layer} ${table.name}: ‖W[f, c]‖, how strongly filter f (column) reads input map c (row); darker = stronger, largest ${fmt(table.max_norm, 3)}${part}`;
    const c = document.createElement("canvas");
    figure.append(caption, c);
    summary.append(figure);
    const norms = decodeB64(table.norms); // filters x channels, row by row
    const width = Math.min(innerWidth(summary, 320), table.shown_filters * 12);
    tileCanvas(c, {
      count: 1, cols: 1, tw: table.shown_filters, th: table.shown_channels, cssWidth: width, gap: 0,
      paint: (_t, x, y) => {
        const v = norms[x * table.shown_channels + y] / 255;
        return [Math.round(255 - 208 * v), Math.round(255 - 144 * v), Math.round(255 - 76 * v)];
      },
    });
  }
}

function drawFeatureMaps(maps) {
  const box = $("#feature-maps");
  box.replaceChildren();
  $("#maps-card").hidden = !maps || maps.length === 0;
  if (!maps) return;
  for (const layer of maps) {
    const title = document.createElement("h3");
    const after = layer.after ? ` → ${layer.after}` : "";
    const shown = layer.shown < layer.channels ? `, first ${layer.shown} of ${layer.channels} maps` : ` maps`;
    title.textContent = `layer ${layer.layer} ${layer.name}${after}: ${layer.channels}${shown} of ${layer.height} × ${layer.width}`;
    const canvas = document.createElement("canvas");
    canvas.className = "feature-map";
    canvas.dataset.layer = String(layer.layer);
    box.append(title, canvas);
    const bytes = decodeB64(layer.maps);
    const size = layer.height * layer.width;
    const room = innerWidth(box, 600);
    const cols = Math.min(layer.shown, 16);
    const tile = Math.min(64, Math.max(28, Math.floor(room / cols) - 2));
    tileCanvas(canvas, {
      count: layer.shown, cols, tw: layer.width, th: layer.height, cssWidth: Math.min(room, cols * tile),
      paint: (t, x, y) => {
        const v = bytes[t * size + y * layer.width + x];
        return [v, v, v];
      },
    });
  }
}

// -- drawing --------------------------------------------------------------------------------------
const pad = $("#draw");
const pctx = pad.getContext("2d");
pctx.fillStyle = "#000";
pctx.fillRect(0, 0, pad.width, pad.height);
let drawing = false;
let lastPoint = null;

function padPoint(event) {
  const rect = pad.getBoundingClientRect();
  return [((event.clientX - rect.left) / rect.width) * pad.width, ((event.clientY - rect.top) / rect.height) * pad.height];
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  lastPoint = padPoint(event);
  stroke(lastPoint, lastPoint);
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  const point = padPoint(event);
  stroke(lastPoint, point);
  lastPoint = point;
});
const stop = () => {
  if (drawing) schedulePredict(0);
  drawing = false;
};
pad.addEventListener("pointerup", stop);
pad.addEventListener("pointercancel", stop);
pad.addEventListener("pointerleave", stop);

function stroke(from, to) {
  pctx.strokeStyle = "#fff";
  pctx.lineWidth = 20;
  pctx.lineCap = "round";
  pctx.lineJoin = "round";
  pctx.beginPath();
  pctx.moveTo(from[0], from[1]);
  pctx.lineTo(to[0], to[1]);
  pctx.stroke();
  state.drawn = true;
  schedulePredict(60);
}

$("#clear").addEventListener("click", () => {
  pctx.fillStyle = "#000";
  pctx.fillRect(0, 0, pad.width, pad.height);
  state.drawn = false;
  state.prediction = null;
  showPrediction({ blank: true });
});

// Predictions: at most one request in flight; the latest drawing is sent when it returns.
let inFlight = false;
let dirty = false;
let timer = null;

function schedulePredict(delay) {
  dirty = true;
  if (timer || inFlight) return;
  timer = setTimeout(() => {
    timer = null;
    predict();
  }, delay);
}

async function predict() {
  if (!dirty || inFlight || !state.drawn) return;
  dirty = false;
  inFlight = true;
  const small = document.createElement("canvas");
  small.width = 112;
  small.height = 112;
  const sctx = small.getContext("2d");
  sctx.imageSmoothingEnabled = true;
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(pad, 0, 0, 112, 112);
  const rgba = sctx.getImageData(0, 0, 112, 112).data;
  const gray = new Uint8Array(112 * 112);
  for (let i = 0; i < gray.length; i++) gray[i] = rgba[4 * i];
  try {
    const result = await session.send({ type: "predict", image: { width: 112, height: 112, data: encodeB64(gray) } });
    state.prediction = result;
    state.predictions += 1;
    showPrediction(result);
  } catch (err) {
    toast(err.message);
  } finally {
    inFlight = false;
    if (dirty) schedulePredict(30);
  }
}

function showPrediction(result) {
  const probsBox = $("#probs");
  probsBox.replaceChildren();
  if (result.blank) {
    $("#digit").textContent = "?";
    $("#digit-note").textContent = "draw a digit";
    $("#inside").replaceChildren();
    drawFeatureMaps(null);
    const ctx = $("#preview").getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, 28, 28);
    return;
  }
  $("#digit").textContent = String(result.digit);
  $("#digit-note").textContent = `${pct(result.probabilities[result.digit])} sure`;
  result.probabilities.forEach((p, d) => {
    const label = document.createElement("span");
    label.textContent = String(d);
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("i");
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.textContent = pct(p);
    if (d === result.digit) {
      label.className = "top";
      value.className = "top";
    }
    probsBox.append(label, bar, value);
  });
  const input = decodeB64(result.input);
  const pctxPreview = $("#preview").getContext("2d");
  const image = pctxPreview.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = input[i];
    image.data[4 * i + 3] = 255;
  }
  pctxPreview.putImageData(image, 0, 0);
  drawInside(result.layers);
  drawFeatureMaps(result.feature_maps);
}

function drawInside(layers) {
  const box = $("#inside");
  box.replaceChildren();
  layers.forEach((layer, li) => {
    const title = document.createElement("h3");
    const last = li === layers.length - 1;
    title.textContent = `${layer.name}${last ? " – output logits" : ""}: ${layer.values.length} units`;
    const canvas = document.createElement("canvas");
    box.append(title, canvas);
    const n = layer.values.length;
    const cols = Math.min(n, last ? 10 : 32);
    const rows = Math.ceil(n / cols);
    const width = Math.min(box.clientWidth || 400, last ? 300 : 640);
    const cell = width / cols;
    const height = Math.max(12, rows * cell);
    canvas.style.height = `${height}px`;
    canvas.style.width = `${width}px`;
    const { ctx } = fitCanvas(canvas, height);
    const scale = Math.max(...layer.values.map((v) => Math.abs(v))) || 1;
    ctx.font = `${Math.min(12, cell / 2)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    layer.values.forEach((v, i) => {
      const [r, g, b] = diverging(v / scale);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      const x = (i % cols) * cell;
      const y = Math.floor(i / cols) * cell;
      ctx.fillRect(x + 0.5, y + 0.5, cell - 1, cell - 1);
      if (last) {
        ctx.fillStyle = "#222";
        ctx.fillText(String(i), x + cell / 2, y + cell / 2);
      }
    });
  });
}

// -- buttons ----------------------------------------------------------------------------------------
async function run(action) {
  try {
    await session.control(action);
  } catch (err) {
    toast(err.message);
  }
}

$("#play").addEventListener("click", () => run(state.playing ? "pause" : "play"));
$("#step").addEventListener("click", () => run("step"));
$("#reset").addEventListener("click", () => run("reset"));
$("#download").addEventListener("click", () => session.download());
$("#model-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const result = await session.upload("model", file);
    showFieldError(null);
    applyState(result);
    toast(`Using ${file.name}.`, "info");
    state.uploaded = file.name;
    if (state.drawn) schedulePredict(0);
  } catch (err) {
    showFieldError("file", err.message);
    toast(err.message);
  } finally {
    e.target.value = "";
  }
});

// Enter applies the spec (a textarea sends its value when it loses focus); Shift+Enter breaks
// the line.
$("#layers").addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || e.shiftKey) return;
  e.preventDefault();
  e.target.dispatchEvent(new Event("change"));
});

$("#preset").addEventListener("change", async (e) => {
  const preset = state.presets && state.presets[e.target.value];
  e.target.value = "";
  if (!preset) return;
  try {
    const result = await session.config(preset);
    showFieldError(null);
    applyState(result);
  } catch (err) {
    showFieldError(err.field, err.message);
    toast(err.message);
  }
});

function parseHidden(text) {
  const parts = String(text).split(/[\s,;]+/).filter(Boolean);
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isInteger(v)) throw new Error(`hidden layers: ${JSON.stringify(p)} is not a whole number (write sizes like 128, 64)`);
    return v;
  });
}

async function main() {
  try {
    const info = await api("/api/info");
    const full = info.digits.sources.full;
    $("#source-note").textContent =
      full === false ? "Full MNIST was not found on this server (set NNSCRATCH_DATA)." : "Full MNIST is used where the server finds it; it is never downloaded.";
    state.presets = info.digits.presets;
    for (const name of Object.keys(state.presets)) {
      const opt = document.createElement("option");
      opt.value = name;
      opt.textContent = name;
      $("#preset").append(opt);
    }
    const initial = await session.start();
    applyState(initial);
    bindControls(session, { onResult: (result) => applyState(result), transform: { hidden: parseHidden } });
    showPrediction({ blank: true });
    document.body.dataset.ready = "true";
  } catch (err) {
    toast(`Cannot start: ${err.message}`);
  }
}

main();
