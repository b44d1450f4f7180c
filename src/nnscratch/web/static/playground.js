// The 2-D playground page: settings, live decision regions, hidden neurons and loss curves.
import {
  $, LineChart, LiveSession, api, bindControls, classColor, decodeB64, diverging, fitCanvas,
  fmt, pct, rgb, showConfig, showFieldError, toast,
} from "./common.js";

const MAX_LAYERS = 16;
const MAX_UNITS = 2048;
const state = {
  config: null,
  data: null,
  heat: null,
  neuronSignature: "",
  frames: 0,
  history: [],
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
function onFrame(frame) {
  state.frames += 1;
  if (frame.config) applyConfig(frame.config);
  if (frame.data) {
    state.data = frame.data;
    renderLegend();
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
  if (frame.heatmap) {
    state.heat = { ...frame.heatmap, probs: decodeB64(frame.heatmap.probs) };
  }
  if (frame.heatmap || frame.data) drawHeatmap();
  if (frame.neurons) drawNeurons(frame.neurons);
  if (frame.metrics) showMetrics(frame.metrics);
  $("#play").textContent = frame.playing ? "Pause" : "Play";
  $("#play").setAttribute("aria-pressed", frame.playing ? "true" : "false");
  $("#notice").textContent = frame.notice || "";
  state.playing = frame.playing;
  state.metrics = frame.metrics;
}

function showMetrics(m) {
  $("#epoch").textContent = String(m.epoch);
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
  state.config = config;
  showConfig(config);
  const fixed = { five_clusters: 1, xor: 1, circles: 1, moons: 1 };
  $("#classes-field").hidden = config.dataset in fixed || config.dataset === "upload";
  if (config.dataset === "upload") $("#dataset option[value=upload]").disabled = false;
  renderLayers(config.hidden);
}

// -- decision regions ---------------------------------------------------------------------------
const offscreen = document.createElement("canvas");

function drawHeatmap() {
  const canvas = $("#heatmap");
  const size = canvas.clientWidth || 560;
  const { ctx } = fitCanvas(canvas, size);
  ctx.clearRect(0, 0, size, size);
  const heat = state.heat;
  if (heat) {
    const { res, classes: k, probs } = heat;
    offscreen.width = res;
    offscreen.height = res;
    const octx = offscreen.getContext("2d");
    const image = octx.createImageData(res, res);
    const colors = Array.from({ length: k }, (_, c) => classColor(c));
    const cells = res * res;
    for (let i = 0; i < cells; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let total = 0;
      let top = 0;
      for (let c = 0; c < k; c++) {
        const p = probs[c * cells + i] / 255;
        r += p * colors[c][0];
        g += p * colors[c][1];
        b += p * colors[c][2];
        total += p;
        top = Math.max(top, p);
      }
      if (total > 0) {
        r /= total;
        g /= total;
        b /= total;
        top /= total;
      }
      const confidence = k > 1 ? Math.max(0, (top - 1 / k) / (1 - 1 / k)) : 1;
      const t = 0.18 + 0.5 * confidence; // how far from white towards the class colour
      image.data[4 * i] = 255 + (r - 255) * t;
      image.data[4 * i + 1] = 255 + (g - 255) * t;
      image.data[4 * i + 2] = 255 + (b - 255) * t;
      image.data[4 * i + 3] = 255;
    }
    octx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(offscreen, 0, 0, size, size);
  }
  const data = state.data;
  if (!data) return;
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
  const count = data.train.y.length + data.test.y.length;
  const radius = count > 5000 ? 1.8 : count > 1500 ? 2.6 : 3.6;
  const points = (part, test) => {
    for (let i = 0; i < part.y.length; i++) {
      ctx.beginPath();
      ctx.arc(px(part.x[2 * i]), py(part.x[2 * i + 1]), radius, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(classColor(part.y[i]));
      ctx.fill();
      ctx.lineWidth = test ? 1.6 : 1;
      ctx.strokeStyle = test ? "#111" : "#fff";
      ctx.stroke();
    }
  };
  points(data.train, false);
  points(data.test, true);
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(`${-m}`, 4, size - 3);
  ctx.textAlign = "right";
  ctx.fillText(`${m}`, size - 4, size - 3);
  ctx.textBaseline = "top";
  ctx.fillText(`x2 = ${m}`, size - 4, 3);
}

function renderLegend() {
  const box = $("#legend");
  box.replaceChildren();
  state.data.class_names.forEach((name, i) => {
    const item = document.createElement("span");
    const dot = document.createElement("span");
    dot.className = "swatch";
    dot.style.background = rgb(classColor(i));
    item.append(dot, `class ${name}`);
    box.append(item);
  });
  const train = document.createElement("span");
  train.className = "hint";
  train.textContent = "white outline: training point · black outline: test point";
  box.append(train);
  if (state.data.upload_name) {
    const up = document.createElement("span");
    up.className = "hint";
    up.textContent = `data: ${state.data.upload_name}`;
    box.append(up);
  }
}

// -- hidden neurons ----------------------------------------------------------------------------
function drawNeurons(info) {
  const box = $("#neurons");
  const signature = `${info.res}|${info.layers.map((l) => `${l.units}:${l.maps.length}`).join(",")}`;
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
        c.title = `layer ${li + 1}, neuron ${j + 1}`;
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
  $("#neuron-note").textContent =
    info.shown < info.total ? `(showing ${info.shown} of ${info.total})` : "";
  const columns = box.querySelectorAll(".neuron-layer");
  info.layers.forEach((layer, li) => {
    const canvases = columns[li].querySelectorAll("canvas");
    layer.maps.forEach((encoded, j) => {
      const values = decodeB64(encoded);
      const [lo, hi] = layer.ranges[j];
      const scale = Math.max(Math.abs(lo ?? 0), Math.abs(hi ?? 0)) || 1;
      const ctx = canvases[j].getContext("2d");
      const image = ctx.createImageData(info.res, info.res);
      for (let i = 0; i < values.length; i++) {
        const v = (lo ?? 0) + ((hi ?? 1) - (lo ?? 0)) * (values[i] / 255);
        const [r, g, b] = diverging(v / scale);
        image.data[4 * i] = r;
        image.data[4 * i + 1] = g;
        image.data[4 * i + 2] = b;
        image.data[4 * i + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
    });
  });
}

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
    const minus = button("−", `fewer neurons in layer ${i + 1}`, () => setUnits(i, units - 1));
    const input = document.createElement("input");
    input.type = "number";
    input.min = "1";
    input.max = String(MAX_UNITS);
    input.value = String(units);
    input.setAttribute("aria-label", `neurons in layer ${i + 1}`);
    input.addEventListener("change", () => setUnits(i, Number(input.value)));
    const plus = button("+", `more neurons in layer ${i + 1}`, () => setUnits(i, units + 1));
    const remove = button("✕", `remove layer ${i + 1}`, () => {
      const next = hidden.slice();
      next.splice(i, 1);
      sendHidden(next);
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

function setUnits(index, units) {
  const next = state.config.hidden.slice();
  next[index] = units;
  sendHidden(next);
}

async function sendHidden(hidden) {
  try {
    const result = await session.config({ hidden });
    showFieldError(null);
    applyConfig(result.config);
  } catch (err) {
    showFieldError("hidden", err.message);
    toast(err.message);
    renderLayers(state.config.hidden);
  }
}

$("#add-layer").addEventListener("click", () => {
  const hidden = state.config.hidden;
  sendHidden([...hidden, hidden.length ? hidden[hidden.length - 1] : 8]);
});

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
    toast(`Loaded ${result.rows} points in ${result.classes.length} classes from ${file.name}.`, "info");
  } catch (err) {
    showFieldError("file", err.message);
    toast(err.message);
  } finally {
    e.target.value = "";
  }
});

$("#preset").addEventListener("change", async (e) => {
  const preset = state.presets && state.presets[e.target.value];
  e.target.value = "";
  if (!preset) return;
  try {
    const result = await session.config(preset);
    showFieldError(null);
    applyConfig(result.config);
  } catch (err) {
    toast(err.message);
  }
});

window.addEventListener("resize", () => drawHeatmap());

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
    const initial = await session.start();
    applyState(initial);
    bindControls(session, { onResult: (result) => applyConfig(result.config) });
    document.body.dataset.ready = "true";
  } catch (err) {
    toast(`Cannot start: ${err.message}`);
  }
}

main();
