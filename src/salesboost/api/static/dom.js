// Small DOM and formatting helpers shared by the dashboard's modules. Text always goes in as textContent.

export const $ = (selector, root = document) => root.querySelector(selector);

/** An element with attributes (`class`, `dataset`, `style`, `on<event>`, others as attributes) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes (no 'unsafe-inline').
    else if (name === "style") el.style.cssText = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Hex from the browser's CSPRNG (works on plain http too, where crypto.randomUUID is missing). */
export function randomHex(bytes) {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A version-4 UUID, for Idempotency-Key headers. */
export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtPct(ratio, digits = 1) {
  if (ratio === null || ratio === undefined) return "–";
  const pct = ratio * 100;
  if (pct === 0 || pct === 100) return `${pct}%`;
  return `${pct.toFixed(digits)}%`;
}

export function fmtRate(perMinute) {
  if (perMinute === null || perMinute === undefined) return "–";
  if (perMinute >= 100) return Math.round(perMinute).toLocaleString();
  if (perMinute >= 10) return perMinute.toFixed(1);
  return perMinute.toFixed(2);
}

export function fmtClock(ms) {
  return new Date(ms).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
}

// Eight well-separated hues: the tools of the list take them in order, so no two look alike.
const HUES = [234, 188, 152, 38, 330, 272, 12, 96];
const toolHues = new Map();

export function setToolOrder(names) {
  toolHues.clear();
  names.forEach((name, i) => toolHues.set(name, HUES[i % HUES.length]));
}

/** A tool's hue: its place in the tool list, else a stable hash of its name. */
export function hueOf(name) {
  if (toolHues.has(name)) return toolHues.get(name);
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** Put "20.3 ms" into `el` as a number and a smaller unit. */
export function setQuantity(el, text) {
  const [number, unit] = text.split(" ");
  el.replaceChildren(number, unit ? h("span", { class: "unit" }, unit) : "");
}

/** A CSS custom property of the current theme (charts draw with them). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
