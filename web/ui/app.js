// Meridian's dashboard: sign-in, tabs, the one-line verdict, and the
// live stream that keeps every view current. See web/README.md.

import { getToken, setToken, probeRole, whenUnauthorized, APIError } from "./api.js";
import { h, replace, refreshTimes, utc, relative, plural } from "./dom.js";
import { state, refresh, onChange, ALL, dcView, dcNames, reroutedRegions } from "./data.js";
import { startStream } from "./stream.js";
import { initMap, renderMap } from "./map.js";
import { renderRegionMatrix, renderRegions, renderDCTable } from "./regions.js";
import { initService, renderService, selectService, loadChanges, currentService } from "./service.js";
import { initTimeline, loadTimeline, renderTimeline, addEvent, setNavigate, latestEvent } from "./timeline.js";
import { renderAvailability } from "./availability.js";
import { initExplain, prefillExplain } from "./explain.js";

const VIEWS = ["map", "regions", "service", "timeline", "availability", "explain"];
const $ = (sel) => document.querySelector(sel);

let view = "map";
let stream = null;
let streamState = { state: "connecting", retryAt: 0, error: "" };
let timers = [];
let timelineLoaded = false;
// The node's own readiness (/readyz): "degraded" while a cluster node
// cannot reach the shared store and answers from its last known state.
let node = { status: "", reason: "" };

// --- sign-in ---------------------------------------------------------

// fragmentParams reads #token=…&view=… and removes the token from the
// address bar (and history) at once: a wall display opens /#token=T,
// and the fragment never reaches the server.
function fragmentParams() {
  const params = new Map();
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    // Not URLSearchParams: it turns "+" into a space, and tokens may be
    // base64 with "+", "/" and "=" pasted as they are.
    let value = part.slice(i + 1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep it as typed
    }
    params.set(part.slice(0, i), value);
  }
  const token = params.has("token") ? params.get("token") : null;
  if (token !== null) {
    params.delete("token");
    const rest = [...params].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return { token, view: params.get("view") || null };
}

function showSignIn(message) {
  stopLive();
  setToken("");
  state.role = "";
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#whoami").textContent = "";
  $("#summary").textContent = "Signed out";
  setStreamStatus("off");
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
  $("#token-input").value = "";
  $("#token-input").focus();
}

async function signIn(token) {
  setToken(token);
  $("#signin-error").textContent = "";
  try {
    state.role = await probeRole();
  } catch (e) {
    const msg = e instanceof APIError && e.status === 401 ? "This token is not valid (or was revoked)."
      : e instanceof APIError && e.status === 403 ? "This token may not read the dashboard's data (a checker token?): use a read or admin token."
        : `Could not reach the API: ${e.message}`;
    showSignIn(msg);
    return;
  }
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  document.body.dataset.role = state.role;
  replace($("#whoami"), h("span", { class: `role role-${state.role}` }, state.role === "admin" ? "admin" : "read-only"));
  startLive();
  showView(view, { push: false });
}

// --- tabs -------------------------------------------------------------

function showView(name, { focus = false, push = true } = {}) {
  if (!VIEWS.includes(name)) name = "map";
  view = name;
  for (const v of VIEWS) {
    const tab = $(`#tab-${v}`);
    const on = v === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#view-${v}`).hidden = !on;
  }
  if (focus) $(`#tab-${name}`).focus();
  if (push) history.replaceState(null, "", `${location.pathname}${location.search}#view=${name}`);
  renderView();
  if (!state.role) return; // not signed in yet: nothing to load
  if (name === "timeline" && !timelineLoaded) {
    timelineLoaded = true;
    loadTimeline();
  }
  if (name === "availability") refresh(["availability"]).catch(() => {});
}

function initTabs() {
  const list = $("#tabs");
  list.addEventListener("click", (e) => {
    const tab = e.target.closest("[role=tab]");
    if (tab) showView(tab.dataset.view);
  });
  list.addEventListener("keydown", (e) => {
    const i = VIEWS.indexOf(view);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: VIEWS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    showView(VIEWS[(next + VIEWS.length) % VIEWS.length], { focus: true });
  });
}

function navigate(to) {
  if (to.view === "service" && to.service) selectService(to.service);
  showView(to.view);
  if (to.dc) {
    const m = document.querySelector(`#map g[data-dc="${CSS.escape(to.dc)}"]`);
    if (m) m.focus();
  }
}

// --- rendering ----------------------------------------------------------

function renderView() {
  switch (view) {
    case "map":
      renderMap();
      renderRegionMatrix($("#region-matrix-wrap"));
      renderDCTable($("#dc-table-wrap"));
      break;
    case "regions": renderRegions($("#regions-body")); break;
    case "service": renderService(); break;
    case "timeline": renderTimeline(); break;
    case "availability": renderAvailability($("#availability-body")); break;
  }
}

// renderSummary writes the one-line verdict: counts and the newest
// change, in words.
function renderSummary() {
  const names = dcNames();
  if (!state.status) return;
  const by = { up: [], degraded: [], down: [], drained: [] };
  for (const n of names) by[dcView(n).status].push(dcView(n));
  const parts = [];
  const list = (vs) => vs.map((v) => `${v.name}${v.since ? `, since ${utc(v.since)}` : ""}${v.status === "down" || v.status === "degraded" ? `, ${v.counts.down} of ${plural(v.counts.down + v.counts.up + v.counts.unknown, "endpoint")} down` : ""}`).join("; ");
  if (!by.down.length && !by.degraded.length && !by.drained.length) {
    parts.push(names.length === 1 ? "The data center is up" : `All ${names.length} data centers up`);
  } else {
    if (by.down.length) parts.push(`${plural(by.down.length, "data center")} down (${list(by.down)})`);
    if (by.degraded.length) parts.push(`${by.degraded.length} degraded (${list(by.degraded)})`);
    if (by.drained.length) parts.push(`${by.drained.length} drained (${by.drained.map((v) => v.name).join(", ")})`);
    if (by.up.length) parts.push(`${by.up.length} up`);
  }
  const rerouted = reroutedRegions();
  if (rerouted.size) parts.push(`${plural(rerouted.size, "region")} rerouted (${[...rerouted].join(", ")})`);
  const checkers = state.status.checkers || [];
  const stale = checkers.filter((c) => c.state !== "fresh");
  if (!checkers.length) parts.push("no checker has reported");
  else if (stale.length) parts.push(`${plural(stale.length, "checker")} ${stale.map((c) => `${c.name} ${c.state}`).join(", ")}`);
  const last = latestEvent();
  const summary = $("#summary");
  summary.dataset.level = by.down.length ? "down" : by.degraded.length || by.drained.length || stale.length ? "degraded" : "up";
  summary.textContent = parts.join(", ") + ".";
  if (last && last.type === "verdict") summary.append(h("span", { class: "last" }, ` Last change: ${last.object.split("/").at(-1)} ${last.before} → ${last.after} ${relative(last.at)}.`));
}

function renderBanner() {
  const b = $("#banner");
  const errs = Object.entries(state.errors);
  const msgs = [];
  if (node.status === "degraded") msgs.push(`This node is cut off from the shared store: ${node.reason}. What you see is its last known state.`);
  if (streamState.state === "disconnected") msgs.push("The live stream is disconnected: what you see may be out of date. Reconnecting…");
  if (errs.length) msgs.push(`Could not load ${errs.map(([k, v]) => `${k} (${v})`).join(", ")}.`);
  b.hidden = msgs.length === 0;
  replace(b, msgs.join(" "), streamState.state === "disconnected" ? [" ", h("button", { type: "button", class: "secondary", onclick: () => stream && stream.retryNow() }, "Reconnect now")] : null);
}

// --- live ---------------------------------------------------------------

function setStreamStatus(s, info = {}) {
  const el = $("#stream-status");
  if (s === "live" && info.since) streamState.error = "";
  if (s === "disconnected") Object.assign(streamState, { retryAt: info.retryAt, error: info.error || "" });
  streamState.state = s;
  el.dataset.state = s;
  paintStreamStatus();
  renderBanner();
}

function paintStreamStatus() {
  const el = $("#stream-status");
  const s = streamState.state;
  if (s === "live") el.textContent = `live · updated ${state.loadedAt ? relative(new Date(state.loadedAt).toISOString()) : "—"}`;
  else if (s === "connecting") el.textContent = "connecting…";
  else if (s === "off") el.textContent = "not connected";
  else el.textContent = `disconnected — reconnecting in ${Math.max(0, Math.ceil((streamState.retryAt - Date.now()) / 1000))} s`;
}

// What an event changes: the parts of the state to reload.
function partsFor(ev) {
  const kind = (ev.object || "").split("/")[0];
  switch (kind) {
    case "endpoint": return ["status", "verdicts", "routing"];
    case "override": return ["overrides", "status", "routing"];
    case "checker": return ["status"];
    case "token": case "webhook": return [];
    default: return ALL; // zones, regions, data centers, services, reconcile
  }
}

let pending = new Set();
let pendingTimer = null;
let availTimer = null;

function onEvent(ev) {
  addEvent(ev);
  for (const p of partsFor(ev)) pending.add(p);
  clearTimeout(pendingTimer);
  pendingTimer = setTimeout(flush, 80); // coalesce a burst into one reload
  if (ev.type === "verdict" || (ev.object || "").startsWith("override/")) {
    const key = currentService();
    if (view === "service" && key && (ev.object || "").includes(`/${key}/`)) loadChanges(false);
    clearTimeout(availTimer);
    availTimer = setTimeout(() => { if (view === "availability" || state.availability) refresh(["availability"]).catch(() => {}); }, 3000);
  }
}

function flush() {
  const parts = [...pending];
  pending = new Set();
  if (parts.length) refresh(parts).catch(() => {});
  else renderSummary();
}

function startLive() {
  stopLive();
  stream = startStream({
    onEvent,
    onState: (s, info) => setStreamStatus(s, info),
    onOpen: () => {
      refresh(ALL).catch(() => {});
      timelineLoaded = true;
      loadTimeline().then(renderSummary);
    },
    onUnauthorized: () => showSignIn("The server no longer accepts this token."),
  });
  // Checkers' ages change without events: poll the status now and then;
  // and keep relative times and the stream's age fresh.
  timers.push(setInterval(() => refresh(["status"]).catch(() => {}), 15000));
  timers.push(setInterval(() => { paintStreamStatus(); refreshTimes(document); }, 1000));
  checkNode();
  timers.push(setInterval(checkNode, 5000));
}

// checkNode reads /readyz (public, no token) and shows in the banner when
// this node serves from its last known state. A failed read says nothing
// new: the stream's own state covers an unreachable server.
async function checkNode() {
  try {
    const r = await fetch("/readyz", { cache: "no-store" });
    const body = await r.json();
    const next = { status: body.status || "", reason: body.reason || "" };
    if (next.status !== node.status || next.reason !== node.reason) {
      node = next;
      renderBanner();
    }
  } catch {
    // the stream reports the server unreachable
  }
}

function stopLive() {
  if (stream) stream.stop();
  stream = null;
  for (const t of timers) clearInterval(t);
  timers = [];
}

// --- boot ---------------------------------------------------------------

function boot() {
  const frag = fragmentParams();
  initTabs();
  const root = document;
  initMap(root);
  initService(root);
  initTimeline(root);
  initExplain(root);
  setNavigate(navigate);
  onChange(() => { renderSummary(); renderView(); renderBanner(); paintStreamStatus(); });
  whenUnauthorized(() => showSignIn("The server no longer accepts this token."));
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("#token-input").value.trim();
    if (t) signIn(t);
  });
  $("#signout").addEventListener("click", () => showSignIn(""));
  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-explain-name]");
    if (b) { prefillExplain({ name: b.dataset.explainName, type: b.dataset.explainType }); showView("explain"); }
  });
  const initial = frag.view || "map";
  showView(initial, { push: false });
  const token = frag.token || getToken();
  if (token) signIn(token);
  else showSignIn("");
}

boot();
