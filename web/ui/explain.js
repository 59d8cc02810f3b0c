// The Explain view: GET /api/v1/explain?name=&type=&client= and the
// decision step by step: the client and its location, the region, each
// policy step with the candidates before and after, the answer, its TTL
// and ECS scope.

import { api } from "./api.js";
import { h, badge, tableWrap, replace } from "./dom.js";

let form, result;

export function initExplain(root) {
  form = root.querySelector("#explain-form");
  result = root.querySelector("#explain-result");
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
}

// prefill puts a query in the form (from a service elsewhere on the page).
export function prefillExplain({ name, type }) {
  if (!form) return;
  if (name) form.querySelector("#explain-name").value = name;
  if (type) form.querySelector("#explain-type").value = type;
}

async function run() {
  const q = new URLSearchParams({
    name: form.querySelector("#explain-name").value.trim(),
    type: form.querySelector("#explain-type").value,
    client: form.querySelector("#explain-client").value.trim(),
  });
  const resolver = form.querySelector("#explain-resolver").value.trim();
  if (resolver) q.set("resolver", resolver);
  replace(result, h("p", { class: "muted" }, "Asking…"));
  result.setAttribute("aria-busy", "true");
  try {
    render(await api(`/explain?${q}`));
  } catch (e) {
    replace(result, h("p", { class: "error", role: "alert" }, `The server refused: ${e.message}`));
  } finally {
    result.removeAttribute("aria-busy");
  }
}

function candidates(list, removed) {
  if (!list || !list.length) return h("p", { class: "muted" }, "none");
  return tableWrap("Candidates", h("table", { class: "cands" },
    h("thead", {}, h("tr", {}, ["Data center", "Address", "Health", "Region", "Weight", "Priority", "Distance"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((c) => h("tr", { class: removed && removed.has(c.address) ? "removed" : "" },
      h("td", {}, c.datacenter), h("td", { class: "mono" }, c.address),
      h("td", {}, badge(c.health === "drained" ? "drained" : c.health), c.override ? ` (${c.override.action.replace("_", " ")}: “${c.override.reason}”)` : ""),
      h("td", {}, c.region || "—"), h("td", { class: "num" }, c.weight), h("td", { class: "num" }, c.priority),
      h("td", { class: "num" }, c.distance_km !== undefined ? `${c.distance_km.toFixed(0)} km` : "—"))))));
}

function render(x) {
  const loc = x.location;
  const facts = [
    ["Query", `${x.query.name} ${x.query.type} from ${x.query.client}${x.query.ecs ? ` with ECS ${x.query.ecs}` : ""}`],
    ["Result", `${x.rcode}, ${x.kind.replace(/_/g, " ")}${x.zone ? ` in zone ${x.zone}` : ""}`],
    ["Client", x.client ? `${x.client.address} (${x.client.source})` : "—"],
    ["Location", !loc ? "—" : loc.found ? [loc.country, loc.continent, loc.subdivision].filter(Boolean).join(" ") +
      (loc.lat !== undefined ? ` at ${loc.lat.toFixed(2)}, ${loc.lon.toFixed(2)}` : "") +
      (loc.network ? ` (database network ${loc.network})` : "") + (loc.asn ? `, AS${loc.asn} ${loc.as_org || ""}` : "") : "not in the database"],
    ["Region", x.region ? `${x.region.name} (by ${x.region.how})` : "none"],
    ["TTL", `${x.ttl} s`],
    ["ECS scope", x.ecs_scope === null || x.ecs_scope === undefined ? "no ECS in the response" : `/${x.ecs_scope}`],
  ];
  if (x.note) facts.push(["Note", x.note]);
  replace(result,
    h("dl", { class: "facts", id: "explain-facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k.toLowerCase() } }, v)])),
    (x.services || []).map((s) => h("section", { class: "card", dataset: { service: `${s.name}/${s.type}` } },
      h("h3", {}, `${s.name} ${s.type}`, h("span", { class: "muted" }, ` · policy ${s.policy}, fallback ${s.fallback}, TTL ${s.ttl} s${s.max_answers ? `, at most ${s.max_answers} answers` : ""}`)),
      h("ol", { class: "steps" }, s.steps.map((st, i) => {
        const kept = new Set((st.after || []).map((c) => c.address));
        const removed = new Set((st.before || []).map((c) => c.address).filter((a) => !kept.has(a)));
        return h("li", { dataset: { step: st.step } },
          h("h4", {}, `${i + 1}. ${st.step}${st.args ? ` ${st.args}` : ""}`,
            h("span", { class: "muted" }, ` — ${st.before.length} → ${st.after.length} candidates`)),
          st.note ? h("p", { class: "note" }, st.note) : null,
          st.ecs_scope !== undefined ? h("p", { class: "note" }, `ECS scope raised to /${st.ecs_scope}`) : null,
          h("details", { open: removed.size ? true : null }, h("summary", {}, "Before (struck through: removed by this step)"), candidates(st.before, removed)),
          h("div", { class: "after" }, h("strong", {}, "After: "), st.after.length ? st.after.map((c) => `${c.datacenter} ${c.address}`).join(", ") : "none"));
      })),
      s.fallback_applied ? h("p", { class: "note" }, `Nothing was healthy: fallback “${s.fallback_applied}” applied.`) : null,
      h("p", { class: "chosen", dataset: { role: "chosen" } }, h("strong", {}, "Chosen: "),
        (s.chosen || []).length ? s.chosen.map((c) => `${c.datacenter} ${c.address}`).join(", ") : "none"))),
    h("h3", {}, "Answer"),
    h("pre", { class: "answer", id: "explain-answer" }, (x.answer || []).join("\n") || "(empty answer section)",
      (x.authority || []).length ? `\n\n;; authority\n${x.authority.join("\n")}` : ""));
}
