// Region status: where each service sends each region's clients now
// (GET /api/v1/routing), as a compact matrix under the map and per
// service in the Regions view; and the data center table under the map.

import { h, badge, timeEl, tableWrap, replace } from "./dom.js";
import { state, dcView, dcNames, routes, movedAway, policyWords, serviceKey } from "./data.js";
import { actionButtons } from "./actions.js";

const regionName = (r) => r || "other clients";

function dcChip(name) {
  const v = dcView(name);
  return h("span", { class: `chip s-${v.status}`, dataset: { dc: name, status: v.status }, title: `${name}: ${v.label}` },
    h("span", { "aria-hidden": "true", class: "sym" }), name, v.status === "up" ? null : h("span", { class: "st" }, ` (${v.label})`));
}

function routeCell(svc, r) {
  const moved = movedAway(svc, r);
  const dcs = [...new Set(r.datacenters)];
  return h("td", { dataset: { region: r.region, service: svc.service, dcs: dcs.join(" ") } },
    dcs.length ? dcs.map((d, i) => [i ? " " : "", dcChip(d)]) : h("span", { class: "s-down" }, "no answer"),
    r.fallback ? h("div", { class: "note" }, r.fallback === "none" ? "nothing healthy: empty answer" : "nothing healthy: backup addresses") : null,
    moved.length ? h("div", { class: "note moved" }, h("span", { "aria-hidden": "true" }, "↪ "), `moved away from ${moved.join(", ")} (${moved.map((m) => dcView(m).label).join(", ")})`) : null);
}

function unavailable(container) {
  replace(container, h("p", { class: "unavailable", role: "note" },
    "Region status is not available on this server: ", state.routing.unavailable,
    ". It needs a Meridian with the routing route (GET /api/v1/routing)."));
}

// renderRegionMatrix: rows are regions, columns services, cells the data
// centers the service sends that region to now.
export function renderRegionMatrix(container) {
  if (!state.routing) return replace(container, h("p", { class: "muted" }, "Loading…"));
  if (state.routing.unavailable) return unavailable(container);
  const svcs = routes();
  const regions = [];
  for (const s of svcs) for (const r of s.regions) if (!regions.includes(r.region)) regions.push(r.region);
  regions.sort((a, b) => (a === "") - (b === "") || a.localeCompare(b));
  const table = h("table", { class: "matrix", id: "region-matrix" },
    h("caption", { class: "sr-only" }, "Where each service sends each region's clients now"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Region"), svcs.map((s) => h("th", { scope: "col" }, s.name.replace(/\.$/, ""), h("span", { class: "muted" }, ` ${s.type}`))))),
    h("tbody", {}, regions.map((reg) => h("tr", {}, h("th", { scope: "row" }, regionName(reg)),
      svcs.map((s) => {
        const r = s.regions.find((x) => x.region === reg);
        return r ? routeCell(s, r) : h("td", { class: "muted" }, "—");
      })))));
  replace(container, tableWrap("Region status", table));
}

// renderRegions: the Regions view, one table per service with the
// endpoints each region gets.
export function renderRegions(container) {
  if (!state.routing) return replace(container, h("p", { class: "muted" }, "Loading…"));
  if (state.routing.unavailable) return unavailable(container);
  const svcs = routes();
  if (!svcs.length) return replace(container, h("p", { class: "muted" }, "No GSLB service is defined."));
  replace(container, svcs.map((s) => {
    const def = state.services.find((x) => serviceKey(x) === s.service);
    const id = `routes-${s.service.replace(/[^a-z0-9]/gi, "-")}`;
    return h("section", { class: "card", "aria-labelledby": id },
      h("h3", { id }, s.name, h("span", { class: "muted" }, ` ${s.type}`)),
      def ? h("p", { class: "policy" }, policyWords(def)) : null,
      tableWrap(`Routes of ${s.name} ${s.type}`, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Region"), h("th", { scope: "col" }, "Sent to now"), h("th", { scope: "col" }, "Endpoints"))),
        h("tbody", {}, s.regions.map((r) => h("tr", {},
          h("th", { scope: "row" }, regionName(r.region)), routeCell(s, r),
          h("td", { class: "mono" }, r.endpoints.join(", ") || "—")))))));
  }));
}

// renderDCTable: every data center with its state, counts, since when,
// the override and (admin) the actions.
export function renderDCTable(container) {
  const names = dcNames();
  if (!names.length) return replace(container, h("p", { class: "muted" }, "No data center is defined."));
  const table = h("table", { id: "dc-table" },
    h("caption", { class: "sr-only" }, "Data centers"),
    h("thead", {}, h("tr", {}, ["Data center", "Region", "State", "Since", "Endpoints up / down / unknown", "Override", state.role === "admin" ? "Actions" : null]
      .filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, names.map((n) => {
      const v = dcView(n);
      return h("tr", { dataset: { dc: n, status: v.status } },
        h("th", { scope: "row" }, n), h("td", {}, v.region || "—"), h("td", {}, badge(v.status, v.label)),
        h("td", {}, v.since ? timeEl(v.since) : "—"),
        h("td", { class: "num" }, `${v.counts.up} / ${v.counts.down} / ${v.counts.unknown}`),
        h("td", {}, v.override ? `${v.override.action.replace("_", " ")}: “${v.override.reason}”${v.override.created_by ? ` (${v.override.created_by})` : ""}` : "—"),
        state.role === "admin" ? h("td", {}, actionButtons(`datacenter/${n}`)) : null);
    })));
  replace(container, tableWrap("Data centers", table));
}
