// The map: the world (world-atlas countries, Natural Earth projection,
// d3-geo), every data center at its location with its state as colour,
// shape and word, the checkers at theirs, and lines from each region's
// centre to the data centers a chosen service sends it to when they lie
// outside the region. Markers are focusable; hovering or focusing one
// shows its endpoints in the detail panel.

import { h, badge, timeEl, plural, replace } from "./dom.js";
import { state, dcView, dcNames, routes, regionCentre, movedAway } from "./data.js";
import { actionButtons } from "./actions.js";

const W = 960;
let svg, gLand, gLines, gCheckers, gDCs, projection, path, detail, routeSelect, checkerList;
let shown = ""; // the data center in the detail panel
let markerScale = 1; // markers keep their size on screen when the map shrinks
let lineService = ""; // the service whose routes are drawn; "" = the first

// SHAPES: one per state, so the map reads in greyscale too.
function shape(status) {
  switch (status) {
    case "degraded": return h("path", { d: "M0,-10 L9,7 L-9,7 Z", class: "mk" });
    case "down": return h("path", { d: "M-9,-5 L-5,-9 L0,-4 L5,-9 L9,-5 L4,0 L9,5 L5,9 L0,4 L-5,9 L-9,5 L-4,0 Z", class: "mk" });
    case "drained": return h("path", { d: "M0,-9 L9,0 L0,9 L-9,0 Z", class: "mk hollow" });
    default: return h("circle", { r: 7.5, class: "mk" });
  }
}

export function initMap(root) {
  const d3 = globalThis.d3;
  svg = root.querySelector("#map");
  detail = root.querySelector("#dc-detail");
  routeSelect = root.querySelector("#route-service");
  checkerList = root.querySelector("#checker-list");
  projection = d3.geoNaturalEarth1().fitWidth(W - 8, { type: "Sphere" });
  path = d3.geoPath(projection);
  const [[, y0], [, y1]] = path.bounds({ type: "Sphere" });
  projection.translate([projection.translate()[0] + 4, projection.translate()[1] - y0 + 4]);
  svg.setAttribute("viewBox", `0 0 ${W} ${Math.ceil(y1 - y0 + 8)}`);
  gLand = h("g", { class: "land", "aria-hidden": "true" },
    h("path", { class: "sphere", d: path({ type: "Sphere" }) }),
    h("path", { class: "graticule", d: path(d3.geoGraticule10()) }));
  gLines = h("g", { class: "routes", "aria-hidden": "true" });
  gCheckers = h("g", { class: "checkers" });
  gDCs = h("g", { class: "dcs" });
  svg.append(gLand, gLines, gCheckers, gDCs);
  routeSelect.addEventListener("change", () => { lineService = routeSelect.value; renderMap(); });
  new ResizeObserver(() => {
    const r = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    const fit = vb && vb.width ? Math.min(r.width / vb.width, r.height / vb.height) : 0;
    const k = fit > 0 ? Math.min(2.5, Math.max(1, 0.75 / fit)) : 1;
    if (Math.abs(k - markerScale) > 0.05) {
      markerScale = k;
      renderMap(true);
    }
  }).observe(svg);
  loadWorld();
}

async function loadWorld() {
  try {
    const res = await fetch(new URL("./vendor/countries-110m.json", import.meta.url));
    const world = await res.json();
    const land = globalThis.topojson.feature(world, world.objects.countries);
    const borders = globalThis.topojson.mesh(world, world.objects.countries, (a, b) => a !== b);
    gLand.append(h("path", { class: "country", d: path(land) }), h("path", { class: "border", d: path(borders) }));
  } catch (e) {
    gLand.append(h("text", { x: 20, y: 30, class: "map-error" }, `World map not loaded: ${e.message}`));
  }
}

function xy(loc) {
  return projection([loc.lon, loc.lat]);
}

export function renderMap(force) {
  if (!svg) return;
  const names = dcNames();
  // Data centers: updated in place (keyed by name) so that focus stays.
  const keep = new Set();
  for (const name of names) {
    const v = dcView(name);
    const loc = v.dc.location;
    if (!loc) continue;
    keep.add(name);
    const [x, y] = xy(loc);
    let g = gDCs.querySelector(`g[data-dc="${CSS.escape(name)}"]`);
    if (!g) {
      g = h("g", { class: "dc", tabindex: "0", role: "button", dataset: { dc: name },
        onmouseenter: () => showDetail(name), onfocus: () => showDetail(name), onclick: () => showDetail(name, true),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showDetail(name, true); } } });
      gDCs.append(g);
    }
    const label = `${name}: ${v.label}`;
    if (force || g.dataset.status !== v.status || g.dataset.label !== label || g.dataset.xy !== `${x},${y}`) {
      g.dataset.status = v.status;
      g.dataset.label = label;
      g.dataset.xy = `${x},${y}`;
      g.setAttribute("class", `dc s-${v.status}`);
      g.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${markerScale.toFixed(2)})`);
      g.setAttribute("aria-label", `Data center ${name}${v.region ? ` (${v.region})` : ""}: ${v.label}; ${v.counts.up} up, ${v.counts.down} down, ${v.counts.unknown} unknown endpoints`);
      g.replaceChildren(h("title", {}, label), h("circle", { r: 15, class: "halo" }), shape(v.status),
        h("text", { x: 13, y: 5, class: "lbl" }, name, h("tspan", { class: "st" }, ` ${v.label.replace(/ \(.*\)$/, "")}`)));
    }
  }
  for (const g of [...gDCs.children]) if (!keep.has(g.dataset.dc)) g.remove();

  // Checkers with a location.
  const checkers = state.status?.checkers || [];
  gCheckers.replaceChildren(...checkers.filter((c) => c.location).map((c) => {
    const [x, y] = xy(c.location);
    return h("g", { class: `checker c-${c.state}`, transform: `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${markerScale.toFixed(2)})`,
      tabindex: "0", role: "img", "aria-label": `Checker ${c.name}: ${c.state}, last report ${Math.round(c.age_seconds)} s ago` },
    h("title", {}, `checker ${c.name}: ${c.state}`), h("rect", { x: -4, y: -4, width: 8, height: 8, class: "ck" }),
    h("text", { x: 7, y: 12, class: "ck-lbl" }, c.name));
  }));
  const unplaced = checkers.filter((c) => !c.location);
  replace(checkerList, checkers.length ? h("span", {}, "Checkers: ", checkers.map((c, i) => [i ? ", " : "",
    h("span", { class: `ck-state c-${c.state}` }, `${c.name} (${c.state}, ${Math.round(c.age_seconds)} s ago${c.location ? "" : ", no location"})`)]))
    : h("span", { class: "muted" }, "No checker has reported yet."));
  checkerList.dataset.unplaced = String(unplaced.length);

  renderLines();
  if (shown) showDetail(shown);
  else if (names.length) showDetail(names[0]);
}

function renderLines() {
  const svcs = routes();
  const keys = svcs.map((s) => s.service);
  if (routeSelect.options.length !== keys.length + 1 || [...routeSelect.options].slice(1).some((o, i) => o.value !== keys[i])) {
    routeSelect.replaceChildren(h("option", { value: "-" }, "none"), ...svcs.map((s) => h("option", { value: s.service }, `${s.name} ${s.type}`)));
  }
  if (!lineService && keys.length) {
    // By default the first service that steers regions apart (geo): its
    // lines appear when a region is sent out of itself.
    const steers = svcs.find((s) => new Set(s.regions.filter((r) => r.region).map((r) => r.datacenters.join())).size > 1);
    lineService = (steers || svcs[0]).service;
  }
  routeSelect.value = keys.includes(lineService) ? lineService : "-";
  const svc = svcs.find((s) => s.service === lineService);
  const lines = [];
  for (const r of svc?.regions || []) {
    const from = r.region && regionCentre(r.region);
    if (!from) continue;
    const moved = movedAway(svc, r).length > 0;
    for (const dcName of new Set(r.datacenters)) {
      const dc = state.datacenters.find((d) => d.name === dcName);
      if (!dc?.location || dc.region === r.region) continue;
      const d = path({ type: "LineString", coordinates: [[from.lon, from.lat], [dc.location.lon, dc.location.lat]] });
      const [x, y] = xy(from);
      lines.push(h("path", { class: moved ? "route moved" : "route", d }),
        h("circle", { class: "region-centre", cx: x.toFixed(1), cy: y.toFixed(1), r: 3 }));
    }
  }
  gLines.replaceChildren(...lines);
}

// showDetail fills the panel beside the map with a data center.
function showDetail(name, pin) {
  shown = name;
  const v = dcView(name);
  const verdicts = state.verdicts.filter((x) => x.datacenter === name);
  const rows = v.endpoints.map((e) => {
    const vd = verdicts.find((x) => x.service === e.service && x.endpoint === e.endpoint);
    const votes = vd?.votes || [];
    return h("li", { dataset: { endpoint: e.endpoint } },
      badge(e.health), " ", h("strong", {}, e.endpoint), " ", h("span", { class: "muted" }, e.service),
      e.since ? [" since ", timeEl(e.since)] : null,
      votes.length ? h("div", { class: "votes" }, votes.map((vo) => h("span", { class: "vote" },
        `${vo.checker}: ${vo.health}${vo.latency_ns ? ` ${(vo.latency_ns / 1e6).toFixed(1)} ms` : ""}${vo.error ? ` — ${vo.error}` : ""}`))) : null,
      e.reason ? h("div", { class: "reason" }, e.reason) : null);
  });
  const here = [];
  for (const s of routes()) {
    const regions = s.regions.filter((r) => r.datacenters.includes(name)).map((r) => r.region || "other clients");
    if (regions.length) here.push(h("li", {}, `${s.name} ${s.type}: `, regions.join(", ")));
  }
  replace(detail,
    h("h3", {}, `Data center ${name}`, v.region ? h("span", { class: "muted" }, ` · ${v.region}`) : null),
    h("p", {}, badge(v.status, v.label), v.since ? [" since ", timeEl(v.since)] : null),
    v.override ? h("p", { class: "override" }, `Override: ${v.override.action.replace("_", " ")} — “${v.override.reason}”`,
      v.override.created_by ? ` by ${v.override.created_by}` : "", " ", timeEl(v.override.created_at)) : null,
    actionButtons(`datacenter/${name}`),
    h("h4", {}, `Checked endpoints (${plural(v.endpoints.length, "endpoint")})`),
    rows.length ? h("ul", { class: "endpoints" }, rows) : h("p", { class: "muted" }, "No checked endpoint."),
    h("h4", {}, "Sent here now"),
    state.routing?.unavailable ? h("p", { class: "muted" }, "Routing is not available on this server.")
      : here.length ? h("ul", {}, here) : h("p", { class: "muted" }, "No region is sent here now."));
  if (pin) detail.focus({ preventScroll: true });
}
