// The Service view: one service's policy, its endpoints with their
// verdicts, each checker's vote (latency, error), and the last changes
// of its endpoints (verdict and override events).

import { h, badge, timeEl, tableWrap, replace, ms } from "./dom.js";
import { state, serviceKey, policyWords, overrideOf } from "./data.js";
import { actionButtons } from "./actions.js";
import { newestEvents, eventRow } from "./timeline.js";

let select, body, changes;
let current = "";
let changesFor = "";
let changesSeq = 0;

export function initService(root) {
  select = root.querySelector("#service-select");
  body = root.querySelector("#service-body");
  changes = root.querySelector("#service-changes");
  select.addEventListener("change", () => { current = select.value; renderService(); loadChanges(true); });
}

export function selectService(key) {
  current = key;
  renderService();
  loadChanges(true);
}

export function currentService() {
  return current;
}

function checkWords(c) {
  if (!c) return "not checked (always counts as up)";
  const parts = [`${c.type}${c.path ? ` ${c.path}` : ""}${c.port ? ` port ${c.port}` : ""}`];
  parts.push(`every ${c.interval || "10s"}`, `rise ${c.rise || 2}`, `fall ${c.fall || 3}`, `quorum ${c.quorum || "majority"}`);
  return parts.join(", ");
}

export function renderService() {
  if (!select) return;
  const keys = state.services.map(serviceKey);
  if (select.options.length !== keys.length || [...select.options].some((o, i) => o.value !== keys[i])) {
    select.replaceChildren(...state.services.map((s) => h("option", { value: serviceKey(s) }, `${s.name} ${s.type}`)));
  }
  if (!keys.includes(current)) current = keys[0] || "";
  select.value = current;
  const svc = state.services.find((s) => serviceKey(s) === current);
  if (!svc) return replace(body, h("p", { class: "muted" }, "No GSLB service is defined."));
  const verdicts = state.verdicts.filter((v) => v.service === current);
  const rows = (svc.endpoints || []).map((ep) => {
    const v = verdicts.find((x) => x.endpoint === ep.address);
    const target = `endpoint/${svc.name}/${svc.type}/${ep.address}`;
    const ov = overrideOf(target);
    const flags = [ep.drain && "drained (state file)", ep.force_down && "forced down (state file)"].filter(Boolean);
    const health = v?.health || "unknown";
    return h("tr", { dataset: { endpoint: ep.address, health } },
      h("th", { scope: "row", class: "mono" }, ep.address),
      h("td", {}, ep.datacenter),
      h("td", {}, badge(health, svc.check ? health : "not checked"), v?.since ? h("div", {}, "since ", timeEl(v.since)) : null,
        v?.reason ? h("div", { class: "reason" }, v.reason) : null),
      h("td", {}, (v?.votes || []).length ? h("ul", { class: "votes-list" }, v.votes.map((vo) => h("li", {},
        h("strong", {}, vo.checker || "?"), ": ", badge(vo.health), ` ${ms(vo.latency_ns)}`,
        vo.load !== undefined ? ` · load ${vo.load.toFixed(2)}` : "",
        vo.error ? h("div", { class: "reason" }, vo.error) : null))) : h("span", { class: "muted" }, "no fresh votes")),
      h("td", {}, ov ? `${ov.action.replace("_", " ")}: “${ov.reason}”` : flags.join(", ") || "—"),
      state.role === "admin" ? h("td", {}, actionButtons(target)) : null);
  });
  replace(body,
    h("p", { class: "policy" }, h("strong", {}, "Policy: "), policyWords(svc), " ",
      h("button", { type: "button", class: "secondary small-btn", dataset: { explainName: svc.name, explainType: svc.type, focusKey: "explain" } }, "Explain a query…")),
    h("p", {}, h("strong", {}, "Check: "), checkWords(svc.check), svc.ttl ? ` · TTL ${svc.ttl} s` : ""),
    tableWrap(`Endpoints of ${svc.name} ${svc.type}`, h("table", { id: "endpoint-table" },
      h("thead", {}, h("tr", {}, ["Endpoint", "Data center", "Verdict", "Votes (checker: vote, latency, error)", "Override", state.role === "admin" ? "Actions" : null]
        .filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))));
  if (changesFor !== current) loadChanges(true);
}

// loadChanges reads the newest events of the service's endpoints.
export async function loadChanges(reset) {
  if (!changes || !current) return;
  const key = current;
  const seq = ++changesSeq;
  if (reset) replace(changes, h("p", { class: "muted" }, "Loading…"));
  changesFor = key;
  try {
    const [verdicts, overrides] = await Promise.all([
      newestEvents({ object: `endpoint/${key}/` }, 20),
      newestEvents({ object: `override/endpoint/${key}/` }, 20),
    ]);
    if (seq !== changesSeq) return;
    const evs = [...verdicts, ...overrides].sort((a, b) => b.seq - a.seq).slice(0, 20);
    replace(changes, evs.length ? tableWrap("Last changes", h("table", {},
      h("thead", {}, h("tr", {}, ["When", "Type", "Object", "Change", "By", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, evs.map(eventRow)))) : h("p", { class: "muted" }, "No change in the last 30 days."));
  } catch (e) {
    if (seq === changesSeq) replace(changes, h("p", { class: "error" }, `Could not load the changes: ${e.message}`));
  }
}
