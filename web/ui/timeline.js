// The Timeline view: the event log newest first, filtered by window,
// type and text; new events from the live stream are added on top.
// GET /api/v1/events pages oldest first, so the newest events of a window
// are read by paging through it (?since=, server time).

import { listAll } from "./api.js";
import { h, badge, timeEl, tableWrap, replace, serverNow } from "./dom.js";

const MAX_ROWS = 500;
const HOUR = 3600e3;

let form, list, count;
let events = []; // the loaded window, newest first
let loading = 0;
let navigate = () => {};

export function setNavigate(fn) {
  navigate = fn;
}

// newestEvents answers up to want events matching params, newest first,
// widening the window (1 h, 24 h, 7 d, 30 d) until it has enough.
export async function newestEvents(params, want) {
  let evs = [];
  for (const hours of [1, 24, 24 * 7, 24 * 30]) {
    const since = new Date(serverNow() - hours * HOUR).toISOString();
    evs = await listAll("/events", { ...params, since });
    if (evs.length >= want) break;
  }
  return evs.reverse();
}

const short = (s) => s && s.length <= 24 && !s.startsWith("{");

function change(e) {
  if (short(e.before) || short(e.after)) {
    const state = (s) => ["up", "down", "unknown", "ok", "isolated"].includes(s) ? badge(s === "ok" ? "up" : s === "isolated" ? "degraded" : s, s) : (s || "—");
    return [state(e.before), " → ", state(e.after)];
  }
  if (e.before && e.after) return "changed";
  if (e.after) return "created";
  if (e.before) return "removed";
  return "";
}

function objectLink(obj) {
  if (!obj) return "—";
  const [kind, ...rest] = obj.split("/");
  let to = null;
  if (kind === "endpoint" && rest.length >= 3) to = { view: "service", service: `${rest[0]}/${rest[1]}` };
  if (kind === "override" && rest[0] === "endpoint") to = { view: "service", service: `${rest[1]}/${rest[2]}` };
  if (kind === "datacenter" || (kind === "override" && rest[0] === "datacenter")) to = { view: "map", dc: rest.at(-1) };
  if (kind === "service") to = { view: "service", service: rest.join("/") };
  if (!to) return h("span", { class: "mono" }, obj);
  return h("button", { type: "button", class: "linklike mono", onclick: () => navigate(to) }, obj);
}

export function eventRow(e) {
  return h("tr", { dataset: { seq: String(e.seq), type: e.type } },
    h("td", { class: "nowrap" }, timeEl(e.at)), h("td", {}, e.type), h("td", {}, objectLink(e.object)),
    h("td", { class: "nowrap" }, change(e)), h("td", {}, e.actor || ""), h("td", { class: "ev-detail" }, e.detail || ""));
}

export function initTimeline(root) {
  form = root.querySelector("#timeline-form");
  list = root.querySelector("#timeline-list");
  count = root.querySelector("#timeline-count");
  form.addEventListener("submit", (e) => { e.preventDefault(); loadTimeline(); });
  form.querySelector("#timeline-window").addEventListener("change", () => loadTimeline());
  form.querySelector("#timeline-type").addEventListener("change", () => loadTimeline());
  form.querySelector("#timeline-text").addEventListener("input", () => renderTimeline());
}

function filters() {
  return {
    hours: Number(form.querySelector("#timeline-window").value),
    type: form.querySelector("#timeline-type").value,
    text: form.querySelector("#timeline-text").value.trim().toLowerCase(),
  };
}

export async function loadTimeline() {
  if (!form) return;
  const f = filters();
  const my = ++loading;
  replace(count, "Loading…");
  const params = { since: new Date(serverNow() - f.hours * HOUR).toISOString() };
  if (f.type) params.type = f.type;
  try {
    const evs = await listAll("/events", params);
    if (my !== loading) return;
    events = evs.reverse();
    renderTimeline();
  } catch (e) {
    if (my === loading) replace(count, h("span", { class: "error" }, `Could not load events: ${e.message}`));
  }
}

function matches(e, f) {
  if (f.type && e.type !== f.type) return false;
  if (!f.text) return true;
  return [e.object, e.type, e.actor, e.detail].some((s) => (s || "").toLowerCase().includes(f.text));
}

export function renderTimeline() {
  if (!form) return;
  const f = filters();
  const shown = events.filter((e) => matches(e, f));
  replace(count, `${shown.length} event${shown.length === 1 ? "" : "s"}${shown.length > MAX_ROWS ? `, newest ${MAX_ROWS} shown` : ""}, newest first`);
  replace(list, shown.length ? tableWrap("Events", h("table", { id: "timeline-table" },
    h("thead", {}, h("tr", {}, ["When", "Type", "Object", "Change", "By", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, shown.slice(0, MAX_ROWS).map(eventRow)))) : h("p", { class: "muted" }, "No event matches."));
}

// addEvent puts a live event on top of the loaded window.
export function addEvent(e) {
  if (events.length && events[0].seq >= e.seq) return;
  events.unshift(e);
  if (form && !form.closest("[hidden]")) renderTimeline();
}

// latestEvent is the newest event the page knows of.
export function latestEvent() {
  return events[0];
}
