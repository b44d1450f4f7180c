// Shared helpers of the nnscratch playground pages: the server connection, charts, colours.
// Plain ES modules, no build step and no external code.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

/** fetch() a JSON API; throws ApiError with the server's message on a non-2xx answer. */
export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const options = { method, headers: { ...headers } };
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    options.body = body;
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(`the server cannot be reached (${err.message})`, 0);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!response.ok) {
    throw new ApiError((data && data.error) || `HTTP ${response.status}`, response.status, data && data.field);
  }
  return data;
}

export function decodeB64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function encodeB64(bytes) {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

export function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const v = Number(value);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

export function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

// -- colours ----------------------------------------------------------------------------------
const BASE_COLORS = [
  [242, 142, 43], [78, 121, 167], [89, 161, 79], [225, 87, 89], [176, 122, 161],
  [118, 183, 178], [237, 201, 72], [255, 157, 167], [156, 117, 95], [186, 176, 172],
];

function hslToRgb(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** The colour of class i as [r, g, b]. */
export function classColor(i) {
  if (i < BASE_COLORS.length) return BASE_COLORS[i];
  return hslToRgb((i * 137.508) % 360, 0.55, 0.55);
}

export const rgb = ([r, g, b], alpha = 1) => `rgba(${r},${g},${b},${alpha})`;

/** Diverging colour for s in [-1, 1]: blue below 0, white at 0, orange above. */
export function diverging(s) {
  const t = Math.max(-1, Math.min(1, s));
  const target = t < 0 ? [59, 108, 170] : [232, 120, 23];
  const a = Math.abs(t);
  return [
    Math.round(255 + (target[0] - 255) * a),
    Math.round(255 + (target[1] - 255) * a),
    Math.round(255 + (target[2] - 255) * a),
  ];
}

// -- canvas helpers ---------------------------------------------------------------------------
/** Size a canvas's backing store to its CSS size times devicePixelRatio; returns its context. */
export function fitCanvas(canvas, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(50, canvas.clientWidth || canvas.width);
  const height = cssHeight || Math.max(50, canvas.clientHeight || canvas.height);
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, width, height };
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return nice * mag;
}

/** A line chart drawn on a canvas: several series over epochs, linear or log y axis. */
export class LineChart {
  constructor(canvas, { series, yLabel = "", log = false, yMin = null, yMax = null, height = 220 }) {
    this.canvas = canvas;
    this.series = series;
    this.yLabel = yLabel;
    this.log = log;
    this.yMin = yMin;
    this.yMax = yMax;
    this.height = height;
    this.overlays = [];
    this.clear();
    this._pending = false;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  clear() {
    this.x = [];
    this.y = Object.fromEntries(this.series.map((s) => [s.key, []]));
    this.schedule();
  }

  /** Append points: epochs and {key: values}. */
  append(epochs, values) {
    for (let i = 0; i < epochs.length; i++) {
      this.x.push(epochs[i]);
      for (const s of this.series) this.y[s.key].push(values[s.key] ? values[s.key][i] : null);
    }
    this.schedule();
  }

  schedule() {
    if (this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this.draw();
    });
  }

  _range() {
    let lo = Infinity;
    let hi = -Infinity;
    const consider = (v) => {
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      if (this.log && v <= 0) return;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    };
    for (const s of this.series) this.y[s.key].forEach(consider);
    for (const o of this.overlays) o.y.forEach(consider);
    if (this.yMin !== null) lo = this.yMin;
    if (this.yMax !== null) hi = this.yMax;
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return null;
    if (this.log) {
      lo = Math.log10(lo);
      hi = Math.log10(hi);
    }
    const minSpan = this.log ? 0.6 : 1e-9; // a log axis shows at least a few labelled ticks
    if (hi - lo < minSpan) {
      const mid = (hi + lo) / 2;
      const half = this.log ? minSpan / 2 : 0.5;
      hi = mid + half;
      lo = mid - half;
    }
    const pad = (hi - lo) * 0.05;
    return [this.yMin !== null && !this.log ? lo : lo - pad, hi + pad];
  }

  draw() {
    const { ctx, width, height } = fitCanvas(this.canvas, this.height);
    ctx.clearRect(0, 0, width, height);
    const m = { left: 52, right: 10, top: 24, bottom: 26 };
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const allX = [...this.x, ...this.overlays.flatMap((o) => o.x)];
    const xMin = allX.length ? Math.min(this.x.length ? this.x[0] : Infinity, ...this.overlays.map((o) => o.x[0])) : 0;
    const xMax = allX.length ? Math.max(this.x.length ? this.x[this.x.length - 1] : -Infinity, ...this.overlays.map((o) => o.x[o.x.length - 1])) : 1;
    const xSpan = Math.max(1, xMax - xMin);
    const range = this._range();
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#667";
    ctx.strokeStyle = "#e3e6ea";
    ctx.lineWidth = 1;
    if (!range) {
      ctx.fillText("no data yet", m.left + 8, m.top + 16);
      return;
    }
    const [lo, hi] = range;
    const px = (e) => m.left + ((e - xMin) / xSpan) * w;
    const py = (v) => {
      const t = this.log ? Math.log10(v) : v;
      return m.top + h - ((t - lo) / (hi - lo)) * h;
    };
    // grid and y ticks
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    if (this.log) {
      const mantissas = hi - lo < 2.5 ? [1, 2, 5] : [1];
      for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
        for (const mant of mantissas) {
          const t = d + Math.log10(mant);
          if (t < lo || t > hi) continue;
          const y = m.top + h - ((t - lo) / (hi - lo)) * h;
          ctx.beginPath();
          ctx.moveTo(m.left, y);
          ctx.lineTo(m.left + w, y);
          ctx.stroke();
          const v = mant * 10 ** d;
          ctx.fillText(d >= -3 && d <= 3 ? String(Number(v.toPrecision(3))) : `${mant}e${d}`, m.left - 4, y);
        }
      }
    } else {
      const step = niceStep(hi - lo, 4);
      for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
        const y = py(v);
        ctx.beginPath();
        ctx.moveTo(m.left, y);
        ctx.lineTo(m.left + w, y);
        ctx.stroke();
        ctx.fillText(fmt(v, step < 0.01 ? 3 : 2), m.left - 4, y);
      }
    }
    // x ticks
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xStep = Math.max(1, niceStep(xSpan, 5));
    for (let e = Math.ceil(xMin / xStep) * xStep; e <= xMax; e += xStep) {
      ctx.fillText(String(Math.round(e)), px(e), m.top + h + 6);
    }
    ctx.strokeStyle = "#99a";
    ctx.strokeRect(m.left, m.top, w, h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(m.left, m.top, w, h);
    ctx.clip();
    const line = (xs, ys, color, dash, alpha, lw) => {
      ctx.strokeStyle = color;
      ctx.globalAlpha = alpha;
      ctx.lineWidth = lw;
      ctx.setLineDash(dash || []);
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < xs.length; i++) {
        const v = ys[i];
        if (v === null || v === undefined || !Number.isFinite(v) || (this.log && v <= 0)) {
          pen = false;
          continue;
        }
        const x = px(xs[i]);
        const y = py(v);
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
    };
    for (const o of this.overlays) line(o.x, o.y, o.color, o.dash, 0.45, 1.5);
    for (const s of this.series) line(this.x, this.y[s.key], s.color, s.dash, 1, 2);
    ctx.restore();
    // legend
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    let lx = m.left;
    for (const s of this.series) {
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, 10, 14, 3);
      ctx.fillStyle = "#333";
      ctx.fillText(s.label, lx + 18, 12);
      lx += 26 + ctx.measureText(s.label).width;
    }
    if (this.yLabel) {
      ctx.save();
      ctx.translate(11, m.top + h / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.fillStyle = "#667";
      ctx.fillText(this.yLabel, 0, 0);
      ctx.restore();
    }
  }
}

// -- messages ---------------------------------------------------------------------------------
export function toast(message, kind = "error") {
  let box = $("#toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    document.body.appendChild(box);
  }
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.textContent = message;
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 7000 : 3500);
}

export function setConnection(state, text) {
  const el = $("#conn");
  if (!el) return;
  el.dataset.state = state;
  el.textContent = text;
}

// -- the live session ---------------------------------------------------------------------------
/**
 * One tab's session on the server, with its WebSocket. Frames arrive through onFrame; commands
 * go over the socket when it is open (over HTTP otherwise) and resolve with the server's answer.
 * The session id lives in sessionStorage, which is per tab: a reload keeps the session, another
 * tab gets its own.
 */
export class LiveSession {
  constructor(kind, { onFrame = () => {}, onReset = () => {}, params = null } = {}) {
    this.kind = kind;
    this.onFrame = onFrame;
    this.onReset = onReset;
    this.params = params;
    this.id = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.retry = 0;
    this.storageKey = `nnscratch.session.${kind}`;
  }

  async start() {
    const saved = sessionStorage.getItem(this.storageKey);
    if (saved) {
      try {
        const state = await api(`/api/sessions/${saved}`);
        this.id = saved;
        this.connect();
        return state;
      } catch (err) {
        if (err.status !== 404) throw err;
      }
    }
    return this.create();
  }

  async create() {
    const state = await api("/api/sessions", {
      method: "POST",
      json: { kind: this.kind, ...(this.params ? { params: this.params } : {}) },
    });
    this.id = state.session;
    sessionStorage.setItem(this.storageKey, this.id);
    this.connect();
    return state;
  }

  get base() {
    return `/api/sessions/${this.id}`;
  }

  connect() {
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${this.base}/ws`);
    this.ws = ws;
    setConnection("connecting", "connecting…");
    ws.onopen = () => {
      this.retry = 0;
      setConnection("open", "live");
    };
    ws.onmessage = (event) => this._message(event.data);
    ws.onclose = (event) => {
      for (const { reject } of this.pending.values()) reject(new ApiError("connection lost", 0));
      this.pending.clear();
      if (event.code === 4404) {
        setConnection("closed", "session expired – starting a new one");
        toast("This tab's session expired; a new one was started.", "info");
        this.create().then((state) => this.onReset(state)).catch((err) => toast(err.message));
        return;
      }
      const delay = Math.min(10000, 500 * 2 ** this.retry++);
      setConnection("closed", "reconnecting…");
      setTimeout(() => this.connect(), delay);
    };
  }

  _message(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "frame") {
      this.onFrame(msg);
      return;
    }
    const waiter = msg.id !== undefined && msg.id !== null ? this.pending.get(msg.id) : null;
    if (waiter) {
      this.pending.delete(msg.id);
      if (msg.type === "error") waiter.reject(new ApiError(msg.error, msg.status, msg.field));
      else waiter.resolve(msg.type === "ack" ? msg.result : msg);
    } else if (msg.type === "error") {
      toast(msg.error);
    }
  }

  /** Send a command; resolves with its result (over the socket, or HTTP as a fallback). */
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.ws.send(JSON.stringify({ ...message, id }));
      });
    }
    if (message.type === "config") return api(`${this.base}/config`, { method: "POST", json: message.params });
    if (message.type === "control") return api(`${this.base}/control`, { method: "POST", json: message });
    if (message.type === "predict") return api(`${this.base}/predict`, { method: "POST", json: message });
    return api(this.base);
  }

  config(params) {
    return this.send({ type: "config", params });
  }

  control(action, extra = {}) {
    return this.send({ type: "control", action, ...extra });
  }

  upload(path, file) {
    return api(`${this.base}/${path}?name=${encodeURIComponent(file.name)}`, {
      method: "POST",
      body: file,
      headers: { "content-type": "application/octet-stream" },
    });
  }

  download() {
    const a = document.createElement("a");
    a.href = `${this.base}/model`;
    a.download = "";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
}

// -- forms --------------------------------------------------------------------------------------
/** Read a control's value as the type its data-type names (float, int, bool or text). */
export function controlValue(el) {
  const type = el.dataset.type || "text";
  if (type === "bool") return el.checked;
  if (type === "int" || type === "float") {
    const raw = el.value.trim();
    if (raw === "") return null;
    const v = Number(raw);
    return Number.isFinite(v) ? v : raw;
  }
  return el.value;
}

/** Show the server's values in every [data-param] control (except the one being edited). */
export function showConfig(config, root = document, force = false) {
  for (const el of $$("[data-param]", root)) {
    const key = el.dataset.param;
    if (!(key in config) || (!force && el === document.activeElement)) continue;
    const value = config[key];
    if (el.type === "checkbox") el.checked = Boolean(value);
    else if (el.type === "range") el.value = String(value);
    else if (Array.isArray(value)) el.value = value.join(", ");
    else el.value = String(value);
    const out = root.querySelector(`output[for="${el.id}"]`);
    if (out) out.textContent = String(value);
  }
}

/** Mark a field invalid with the server's message (cleared on the next successful change). */
export function showFieldError(field, message) {
  for (const el of $$(".field-error")) el.textContent = "";
  for (const el of $$("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!field) return;
  const input = document.querySelector(`[data-param="${field}"]`);
  if (input) input.setAttribute("aria-invalid", "true");
  const box = document.querySelector(`.field-error[data-for="${field}"]`);
  if (box) box.textContent = message;
}

/** Wire every [data-param] control to send its value when it changes. */
export function bindControls(session, { onResult = () => {}, root = document, transform = {} } = {}) {
  for (const el of $$("[data-param]", root)) {
    const output = root.querySelector(`output[for="${el.id}"]`);
    if (output && el.type === "range") {
      el.addEventListener("input", () => (output.textContent = el.value));
    }
    el.addEventListener("change", async () => {
      const key = el.dataset.param;
      let value = controlValue(el);
      if (transform[key]) {
        try {
          value = transform[key](value);
        } catch (err) {
          showFieldError(key, err.message);
          toast(err.message);
          return;
        }
      }
      try {
        const result = await session.config({ [key]: value });
        showFieldError(null);
        onResult(result);
      } catch (err) {
        showFieldError(err.field || key, err.message);
        toast(err.message);
        try {
          const state = await api(session.base);
          showConfig(state.config, root, true);
        } catch {
          /* the session may be gone; the socket handler starts a new one */
        }
      }
    });
  }
}

// The file inputs are visually hidden behind a <label> button (a native one cuts its own button
// text in a narrow column); this shows the chosen file's name next to that button. It listens in
// the capture phase because the pages clear the input once the upload is done.
document.addEventListener(
  "change",
  (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    const name = document.querySelector(`.file-name[data-file-for="${input.id}"]`);
    if (name && input.files && input.files[0]) {
      name.textContent = input.files[0].name;
      name.title = input.files[0].name;
    }
  },
  true,
);
