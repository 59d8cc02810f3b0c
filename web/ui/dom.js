// Small DOM and formatting helpers shared by the views. No framework:
// h() builds elements, text goes in as text nodes (never as HTML), so
// nothing from the API can inject markup.

// h(tag, attrs, ...children): attrs are attributes, except "on*"
// (listeners), "class" and "dataset" (an object); children are nodes,
// strings or arrays of them; null and false are skipped.
export function h(tag, attrs, ...children) {
  const svg = ["svg", "g", "path", "circle", "text", "tspan", "title", "line", "rect", "polygon", "desc"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace swaps a container's children, keeping keyboard focus on the
// element with the same data-focus-key if the old one had focus: live
// updates must not throw a keyboard user out of a table.
export function replace(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  container.replaceChildren();
  append(container, children);
  if (key) {
    const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

// serverNow is the server's clock as far as we know it (the offset is
// learnt from /status's generated_at), for "3 min ago" and ?since=.
let offsetMs = 0;
export function learnServerTime(iso) {
  const t = Date.parse(iso);
  if (!Number.isNaN(t)) offsetMs = t - Date.now();
}
export function serverNow() {
  return Date.now() + offsetMs;
}

const pad = (n) => String(n).padStart(2, "0");

// utc formats an instant as "2026-03-01 14:02:05 UTC" (date left out
// when it is today's).
export function utc(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date(serverNow()).toISOString().slice(0, 10);
  const day = d.toISOString().slice(0, 10);
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  return day === today ? time : `${day} ${time}`;
}

export function relative(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  let s = Math.round((serverNow() - t) / 1000);
  const future = s < 0;
  s = Math.abs(s);
  let out;
  if (s < 5) return "just now";
  if (s < 90) out = `${s} s`;
  else if (s < 90 * 60) out = `${Math.round(s / 60)} min`;
  else if (s < 36 * 3600) out = `${Math.round(s / 3600)} h`;
  else out = `${Math.round(s / 86400)} d`;
  return future ? `in ${out}` : `${out} ago`;
}

// timeEl is a <time> showing UTC and the relative age, with the local
// time on hover.
export function timeEl(iso) {
  if (!iso || iso.startsWith("0001-")) return h("span", { class: "muted" }, "—");
  const d = new Date(iso);
  return h("time", { datetime: iso, title: `${d.toLocaleString()} (your time)`, dataset: { at: iso } },
    utc(iso), h("span", { class: "rel" }, ` · ${relative(iso)}`));
}

// refreshTimes updates every relative age under root.
export function refreshTimes(root) {
  for (const t of root.querySelectorAll("time[data-at] .rel")) {
    t.textContent = ` · ${relative(t.parentElement.dataset.at)}`;
  }
}

export function ms(ns) {
  if (ns === undefined || ns === null) return "—";
  const v = ns / 1e6;
  return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;
}

// STATES: the words and symbols of a data center's or endpoint's state,
// so that colour is never the only signal.
export const SYMBOL = { up: "●", degraded: "▲", down: "✕", drained: "◇", unknown: "?" };

// badge is a state shown as symbol + word, coloured by CSS.
export function badge(state, label) {
  return h("span", { class: `badge s-${state}`, dataset: { status: state } },
    h("span", { "aria-hidden": "true" }, SYMBOL[state] || "•"), " ", label || state);
}

// tableWrap makes a wide table scroll on its own on a phone, reachable
// by keyboard.
export function tableWrap(label, table) {
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, table);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || one + "s"}`;
}
