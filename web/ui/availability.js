// The Availability view: GET /api/v1/availability, per data center,
// service and endpoint over 24 h, 7 d and 30 d, as percent, nines and
// minutes down.

import { h, tableWrap, replace, timeEl } from "./dom.js";
import { state } from "./data.js";

function cell(w) {
  if (!w) return h("td", { class: "muted" }, "—");
  const perfect = w.downtime_seconds === 0;
  const pct = perfect ? "100 %" : `${w.percent >= 99.99 ? w.percent.toFixed(4) : w.percent.toFixed(2)} %`;
  const nines = perfect ? "no downtime" : `${w.nines.toFixed(1)} nines`;
  const down = perfect ? "" : `, ${w.downtime_minutes < 10 ? w.downtime_minutes.toFixed(1) : Math.round(w.downtime_minutes)} min down`;
  const level = perfect || w.nines >= 3 ? "good" : w.nines >= 2 ? "fair" : "poor";
  return h("td", { class: `num avail a-${level}` }, h("span", { class: "pct" }, pct), h("span", { class: "sub" }, `${nines}${down}`));
}

function table(id, caption, rows, windows, nameCol) {
  return h("section", { class: "card", "aria-labelledby": `${id}-h` },
    h("h3", { id: `${id}-h` }, caption),
    rows.length ? tableWrap(caption, h("table", { id },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, nameCol), windows.map((w) => h("th", { scope: "col", class: "num" }, `last ${w}`)))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("th", { scope: "row" }, r.kind === "endpoint" ? [h("span", { class: "mono" }, r.name), h("div", { class: "muted" }, `${r.service} · ${r.datacenter}`)] : r.name),
        windows.map((w) => cell(r.windows[w]))))))) : h("p", { class: "muted" }, "Nothing checked yet."));
}

export function renderAvailability(container) {
  const a = state.availability;
  if (!a) {
    replace(container, h("p", { class: "muted" }, state.errors.availability ? `Could not load: ${state.errors.availability}` : "Loading…"));
    return;
  }
  const windows = a.windows || ["24h", "7d", "30d"];
  replace(container,
    h("p", { class: "muted" }, "From the verdict events: a data center or service is down while all its checked endpoints are. Computed ", timeEl(a.generated_at), "."),
    table("avail-dcs", "Data centers", a.datacenters || [], windows, "Data center"),
    table("avail-services", "Services", a.services || [], windows, "Service"),
    table("avail-endpoints", "Endpoints", a.endpoints || [], windows, "Endpoint"));
}
