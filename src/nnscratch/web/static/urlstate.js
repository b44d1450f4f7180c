// The 2-D playground's settings in the page URL: a query string with every config key, so that
// a copied link restores the experiment and the back button steps through changes.
//
// The encoding is generic (every key the server's config has, including ones added later):
// a list is written comma-separated (an empty list as an empty value), true/false as "true" /
// "false", a number as JavaScript writes it, text as is. Decoding takes each key's type from
// the server's default config (a list stays a list even with one element).

/** The query string ("?a=1&b=x,y") for a config object. */
export function encodeConfig(config, skip = []) {
  const params = new URLSearchParams();
  for (const key of Object.keys(config).sort()) {
    if (skip.includes(key)) continue;
    const value = config[key];
    if (value === null || value === undefined || typeof value === "object" && !Array.isArray(value)) continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = params.toString().replace(/%2C/g, ",");
  return text ? `?${text}` : "";
}

function scalar(raw, like) {
  if (typeof like === "boolean") {
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new Error(`expected true or false, got "${raw}"`);
  }
  if (typeof like === "number") {
    const v = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new Error(`expected a number, got "${raw}"`);
    return v;
  }
  return raw;
}

/**
 * Decode a query string against the default config: returns {params, problems}, where params
 * holds each known key's typed value and problems one line per key that was ignored (unknown,
 * or not of the key's type). The server still validates every value it is sent.
 */
export function decodeConfig(search, defaults) {
  const params = {};
  const problems = [];
  for (const [key, raw] of new URLSearchParams(search)) {
    if (!(key in defaults)) {
      problems.push(`${key}: not a setting of this page`);
      continue;
    }
    const like = defaults[key];
    try {
      if (Array.isArray(like)) {
        const items = raw === "" ? [] : raw.split(",");
        const element = like.length ? like[0] : items.every((t) => Number.isFinite(Number(t)) && t.trim() !== "") ? 0 : "";
        params[key] = items.map((t) => scalar(t.trim(), element));
      } else {
        params[key] = scalar(raw, like);
      }
    } catch (err) {
      problems.push(`${key}: ${err.message}`);
    }
  }
  return { params, problems };
}

/** The keys whose values differ between two configs (lists compared element by element). */
export function changedKeys(params, config) {
  return Object.keys(params).filter((k) => JSON.stringify(params[k]) !== JSON.stringify(config[k]));
}

/**
 * Batch sizes the slider steps through: 1..30 one by one (as TF Playground), then about 25%
 * apart up to the training set's size, which is always the last step (full batch).
 */
export function batchSteps(nTrain) {
  const full = Math.max(1, nTrain);
  const steps = [];
  for (let b = 1; b <= Math.min(30, full); b++) steps.push(b);
  let b = 32;
  while (b < full) {
    steps.push(b);
    b = Math.round(b * 1.25 / 8) * 8;
  }
  if (steps[steps.length - 1] !== full) steps.push(full);
  return steps;
}

/** The slider position showing batch size b: the step nearest to it. */
export function batchIndex(steps, b) {
  let best = 0;
  for (let i = 0; i < steps.length; i++) if (Math.abs(steps[i] - b) < Math.abs(steps[best] - b)) best = i;
  return best;
}
