// The single-neuron page: seed 002's learning slowdown, animated epoch by epoch.
import { $, LineChart, api, fitCanvas, fmt, showFieldError, toast } from "./common.js";

const RUN_COLORS = ["#2f6fb3", "#e8781e", "#59a14f", "#b07aa1", "#e15759"];
const state = { run: null, index: 0, playing: false, runs: [], last: 0 };
window.__neuron = state; // read by the end-to-end tests

const costChart = new LineChart($("#cost-chart"), {
  series: [{ key: "cost", label: "cost", color: RUN_COLORS[0] }],
  yLabel: "cost",
  yMin: 0,
});
const outputChart = new LineChart($("#output-chart"), {
  series: [{ key: "output", label: "output a", color: RUN_COLORS[0] }],
  yLabel: "a",
  yMin: 0,
  yMax: 1,
});

function readSettings() {
  const num = (id) => {
    const raw = $(`#${id}`).value.trim();
    return raw === "" ? null : Number(raw);
  };
  return {
    cost: $("#cost").value,
    w: num("w"),
    b: num("b"),
    learning_rate: num("learning_rate"),
    epochs: num("epochs"),
  };
}

async function start() {
  let run;
  try {
    run = await api("/api/neuron", { method: "POST", json: readSettings() });
    showFieldError(null);
  } catch (err) {
    showFieldError(err.field, err.message);
    toast(err.message);
    return;
  }
  if (state.run) archive(state.run);
  state.run = run;
  state.index = 0;
  state.playing = true;
  state.done = false;
  state.last = performance.now();
  const color = RUN_COLORS[state.runs.length % RUN_COLORS.length];
  costChart.series[0].color = color;
  outputChart.series[0].color = color;
  costChart.clear();
  outputChart.clear();
  costChart.append([0], { cost: [run.cost_values[0]] });
  outputChart.append([0], { output: [run.output[0]] });
  showEpoch();
  $("#pause").disabled = false;
  $("#pause").textContent = "Pause";
  requestAnimationFrame(tick);
}

function archive(run) {
  const color = costChart.series[0].color;
  state.runs.push({ run, color });
  if (state.runs.length > 4) state.runs.shift();
  costChart.overlays = state.runs.map(({ run: r, color: c }) => ({ x: r.epoch, y: r.cost_values, color: c, dash: [4, 3] }));
  outputChart.overlays = state.runs.map(({ run: r, color: c }) => ({ x: r.epoch, y: r.output, color: c, dash: [4, 3] }));
  renderRuns();
}

function label(run) {
  return `${run.cost === "quadratic" ? "quadratic" : "cross-entropy"}, w=${run.w}, b=${run.b}, η=${run.learning_rate}`;
}

function renderRuns() {
  const box = $("#runs");
  box.replaceChildren();
  for (const { run, color } of state.runs) {
    const item = document.createElement("span");
    const dot = document.createElement("span");
    dot.className = "swatch";
    dot.style.background = color;
    item.append(dot, `earlier: ${label(run)}`);
    box.append(item);
  }
}

function tick(now) {
  const run = state.run;
  if (!run || !state.playing) return;
  const speed = Number($("#speed").value);
  const due = Math.floor(((now - state.last) / 1000) * speed);
  if (due > 0) {
    state.last += (due / speed) * 1000;
    const end = Math.min(run.epoch.length - 1, state.index + due);
    const epochs = run.epoch.slice(state.index + 1, end + 1);
    costChart.append(epochs, { cost: run.cost_values.slice(state.index + 1, end + 1) });
    outputChart.append(epochs, { output: run.output.slice(state.index + 1, end + 1) });
    state.index = end;
    showEpoch();
  }
  if (state.index >= run.epoch.length - 1) {
    state.playing = false;
    state.done = true;
    $("#pause").disabled = true;
    return;
  }
  requestAnimationFrame(tick);
}

function showEpoch() {
  const run = state.run;
  const i = state.index;
  $("#epoch").textContent = String(run.epoch[i]);
  $("#stat-w").textContent = fmt(run.weight[i], 3);
  $("#stat-b").textContent = fmt(run.bias[i], 3);
  $("#stat-a").textContent = fmt(run.output[i], 3);
  $("#stat-c").textContent = fmt(run.cost_values[i], 4);
  drawDiagram(run.weight[i], run.bias[i], run.output[i]);
  drawSigmoid(run.weight[i] + run.bias[i], run.cost === "quadratic");
}

function drawDiagram(w, b, a) {
  const { ctx, width, height } = fitCanvas($("#diagram"), 190);
  ctx.clearRect(0, 0, width, height);
  const cy = height / 2;
  const x0 = 40;
  const xn = width / 2;
  const x1 = width - 60;
  ctx.font = "14px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineWidth = Math.min(10, 1 + Math.abs(w) * 1.5);
  ctx.strokeStyle = w >= 0 ? "#e8781e" : "#2f6fb3";
  ctx.beginPath();
  ctx.moveTo(x0 + 18, cy);
  ctx.lineTo(xn - 40, cy);
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#555";
  ctx.beginPath();
  ctx.moveTo(xn + 40, cy);
  ctx.lineTo(x1 - 22, cy);
  ctx.stroke();
  ctx.fillStyle = "#eef1f5";
  ctx.strokeStyle = "#555";
  ctx.beginPath();
  ctx.arc(x0, cy, 18, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = "#111";
  ctx.fillText("1", x0, cy);
  const shade = Math.round(255 * (1 - a));
  ctx.fillStyle = `rgb(255,${shade},${Math.round(shade * 0.6)})`;
  ctx.beginPath();
  ctx.arc(xn, cy, 40, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = "#111";
  ctx.fillText("σ", xn, cy - 8);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(`b = ${fmt(b, 3)}`, xn, cy + 12);
  ctx.fillText(`w = ${fmt(w, 3)}`, (x0 + xn) / 2, cy - 18);
  ctx.fillText("input", x0, cy + 32);
  ctx.font = "14px system-ui, sans-serif";
  ctx.fillText(`a = ${fmt(a, 3)}`, x1 + 12, cy - 16);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5d6575";
  ctx.fillText("target 0", x1 + 12, cy + 14);
}

function drawSigmoid(z, quadratic) {
  const { ctx, width, height } = fitCanvas($("#sigmoid"), 190);
  ctx.clearRect(0, 0, width, height);
  const m = { l: 34, r: 10, t: 10, b: 22 };
  const zMax = Math.max(6, Math.ceil(Math.abs(z) + 1));
  const px = (v) => m.l + ((v + zMax) / (2 * zMax)) * (width - m.l - m.r);
  const py = (v) => m.t + (1 - v) * (height - m.t - m.b);
  const sig = (v) => 1 / (1 + Math.exp(-v));
  ctx.strokeStyle = "#dde1e7";
  ctx.strokeRect(m.l, m.t, width - m.l - m.r, height - m.t - m.b);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667";
  ctx.textAlign = "center";
  ctx.fillText(`z = w·1 + b`, width / 2, height - 6);
  ctx.fillText(String(-zMax), m.l + 8, height - 6);
  ctx.fillText(String(zMax), width - m.r - 8, height - 6);
  ctx.strokeStyle = "#2f6fb3";
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i <= 200; i++) {
    const v = -zMax + (2 * zMax * i) / 200;
    if (i === 0) ctx.moveTo(px(v), py(sig(v)));
    else ctx.lineTo(px(v), py(sig(v)));
  }
  ctx.stroke();
  const a = sig(z);
  const slope = a * (1 - a);
  // the tangent: its slope sigma'(z) is the factor that slows the quadratic cost
  ctx.save();
  ctx.beginPath();
  ctx.rect(m.l, m.t + 18, width - m.l - m.r, height - m.t - m.b - 18);
  ctx.clip();
  ctx.strokeStyle = "#e8781e";
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(px(z - 2), py(a - 2 * slope));
  ctx.lineTo(px(z + 2), py(a + 2 * slope));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.restore();
  ctx.fillStyle = "#e8781e";
  ctx.beginPath();
  ctx.arc(px(z), py(a), 5, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = "#333";
  ctx.textAlign = "left";
  const gradient = quadratic ? `(a − y)·σ′(z) = ${fmt(a * slope, 4)}` : `a − y = ${fmt(a, 4)}`;
  ctx.fillText(`σ′(z) = ${fmt(slope, 4)}   ∂C/∂b = ${gradient}`, m.l + 6, m.t + 12);
}

$("#run").addEventListener("click", start);
$("#pause").addEventListener("click", () => {
  if (!state.run || state.done) return;
  state.playing = !state.playing;
  $("#pause").textContent = state.playing ? "Pause" : "Resume";
  if (state.playing) {
    state.last = performance.now();
    requestAnimationFrame(tick);
  }
});
$("#clear").addEventListener("click", () => {
  state.runs = [];
  costChart.overlays = [];
  outputChart.overlays = [];
  renderRuns();
  costChart.draw();
  outputChart.draw();
});
$("#preset").addEventListener("change", (e) => {
  const preset = state.presets && state.presets[e.target.value];
  e.target.value = "";
  if (!preset) return;
  $("#cost").value = preset.cost;
  $("#w").value = String(preset.w);
  $("#b").value = String(preset.b);
  $("#learning_rate").value = String(preset.learning_rate);
  $("#epochs").value = String(preset.epochs);
  start();
});

async function main() {
  try {
    const info = await api("/api/info");
    state.presets = info.neuron.presets;
    for (const name of Object.keys(state.presets)) {
      const opt = document.createElement("option");
      opt.value = name;
      opt.textContent = name;
      $("#preset").append(opt);
    }
    drawDiagram(0.6, 0.9, 1 / (1 + Math.exp(-1.5)));
    drawSigmoid(1.5, true);
    document.body.dataset.ready = "true";
  } catch (err) {
    toast(`Cannot start: ${err.message}`);
  }
}

main();
