// Operator actions (admin tokens only): drain, force down, force up and
// removing an override, on a data center or an endpoint. Each opens the
// confirmation dialog, which says what will change and asks for a reason
// (recorded in the override and its audit event).

import { api, seg } from "./api.js";
import { h } from "./dom.js";
import { state, overrideOf, routes, refresh } from "./data.js";

const WORDS = {
  drain: { button: "Drain", verb: "Drain", done: "drained" },
  force_down: { button: "Force down", verb: "Force down", done: "forced down" },
  force_up: { button: "Force up", verb: "Force up", done: "forced up" },
};

// targetLabel: "fra" for datacenter/fra, "192.0.2.10 of app.example. A"
// for an endpoint.
function targetLabel(target) {
  const [kind, ...rest] = target.split("/");
  if (kind === "datacenter") return rest.join("/");
  const [svc, type, addr] = rest;
  return `${addr} (${svc} ${type})`;
}

// sentHere lists what the routing sends to a data center now: "app.example. A: europe, americas".
function sentHere(dc) {
  const out = [];
  for (const s of routes()) {
    const regions = s.regions.filter((r) => r.datacenters.includes(dc)).map((r) => r.region || "other clients");
    if (regions.length) out.push(`${s.name} ${s.type}: ${regions.join(", ")}`);
  }
  return out;
}

function effect(action, target) {
  const [kind, name] = target.split("/");
  const lines = [];
  const who = kind === "datacenter" ? `data center ${name}` : `endpoint ${targetLabel(target)}`;
  if (action === "drain") lines.push(`Answers stop sending new clients to ${who}; its health checks go on.`);
  if (action === "force_down") lines.push(`${who} is treated as down whatever its health checks say.`);
  if (action === "force_up") lines.push(`${who} is treated as up whatever its health checks say.`);
  if (action === "remove") lines.push(`${who} is served by its health checks again.`);
  if (kind === "datacenter" && (action === "drain" || action === "force_down")) {
    const here = sentHere(name);
    lines.push(here.length ? `Sent to ${name} now, and will move to other data centers: ${here.join("; ")}.`
      : `No region is sent to ${name} now.`);
  }
  const ov = overrideOf(target);
  if (ov && action !== "remove") lines.push(`This replaces the current override (${ov.action}: “${ov.reason}”).`);
  return lines;
}

let dialog = null;

function ensureDialog() {
  if (dialog) return dialog;
  const title = h("h2", { id: "action-title" });
  const body = h("div", { id: "action-effect" });
  const reason = h("input", { id: "action-reason", name: "reason", maxlength: "1024", autocomplete: "off" });
  const reasonRow = h("p", { class: "field" }, h("label", { for: "action-reason" }, "Reason (required; kept with the override and in the audit log)"), reason);
  const error = h("p", { id: "action-error", class: "error", role: "alert" });
  const cancel = h("button", { type: "button", id: "action-cancel", class: "secondary" }, "Cancel");
  const confirm = h("button", { type: "submit", id: "action-confirm", class: "danger" }, "Confirm");
  const form = h("form", { id: "action-form", method: "dialog" }, title, body, reasonRow, error,
    h("div", { class: "buttons" }, cancel, confirm));
  dialog = h("dialog", { id: "action-dialog", "aria-labelledby": "action-title", "aria-describedby": "action-effect" }, form);
  document.body.append(dialog);
  cancel.addEventListener("click", () => dialog.close("cancel"));
  dialog.parts = { title, body, reason, reasonRow, error, confirm, form };
  return dialog;
}

// openAction shows the dialog for action on target and runs it once
// confirmed.
export function openAction(action, target, opener) {
  const d = ensureDialog();
  const p = d.parts;
  const ov = overrideOf(target);
  const label = targetLabel(target);
  const needsReason = action !== "remove";
  const verb = action === "remove" ? (ov?.action === "drain" ? "Undrain" : "Remove the override of") : WORDS[action].verb;
  p.title.textContent = `${verb} ${label}?`;
  p.body.replaceChildren(...effect(action, target).map((t) => h("p", {}, t)),
    action === "remove" ? h("p", { class: "muted" }, "Removing an override takes no reason: the API records who removed it and when.") : null);
  p.reasonRow.hidden = !needsReason;
  p.reason.required = needsReason;
  p.reason.value = "";
  p.error.textContent = "";
  p.confirm.textContent = `${verb} ${label}`;
  p.confirm.disabled = false;
  p.form.onsubmit = async (e) => {
    e.preventDefault();
    if (needsReason && !p.reason.value.trim()) {
      p.error.textContent = "Give a reason.";
      p.reason.focus();
      return;
    }
    p.confirm.disabled = true;
    try {
      if (action === "remove") {
        const [kind, ...rest] = target.split("/");
        await api(`/overrides/${kind}/${rest.map(seg).join("/")}`, { method: "DELETE" });
      } else {
        await api("/overrides", { method: "POST", body: { target, action, reason: p.reason.value.trim() } });
      }
      d.close("done");
      await refresh(["overrides", "routing", "status", "verdicts"]);
    } catch (err) {
      p.error.textContent = `Refused: ${err.message}`;
      p.confirm.disabled = false;
    }
  };
  // Back to the button that opened the dialog, or to its successor
  // when a live update has redrawn the table meanwhile.
  const key = opener?.dataset.focusKey;
  d.onclose = () => {
    const back = opener?.isConnected ? opener : key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (back) back.focus();
  };
  d.showModal();
  (needsReason ? p.reason : p.confirm).focus();
}

// actionButtons are the buttons for a target, or nothing for a token
// that may not write. kind is only for the focus key.
export function actionButtons(target) {
  if (state.role !== "admin") return null;
  const ov = overrideOf(target);
  const label = targetLabel(target);
  const btn = (action, text) => h("button", {
    type: "button", class: action === "remove" ? "act secondary" : "act",
    dataset: { action, target, focusKey: `${action}:${target}` },
    "aria-label": `${text} ${label}`,
    onclick: (e) => openAction(action, target, e.currentTarget),
  }, text);
  const out = [];
  if (ov) out.push(btn("remove", ov.action === "drain" ? "Undrain" : `Clear ${ov.action.replace("_", " ")}`));
  for (const a of ["drain", "force_down", "force_up"]) if (ov?.action !== a) out.push(btn(a, WORDS[a].button));
  return h("span", { class: "actions" }, out);
}
