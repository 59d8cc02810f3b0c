// The page's copy of the server's state, and what is derived from it
// (a data center's displayed state, rerouted regions). Every view reads
// from here; refresh() reloads the parts named and then tells listeners.

import { api, listAll, APIError } from "./api.js";
import { learnServerTime } from "./dom.js";

export const state = {
  role: "",
  datacenters: [], // GET /datacenters
  regions: [], // GET /regions
  services: [], // GET /services
  status: null, // GET /status
  overrides: [], // GET /overrides
  verdicts: [], // GET /verdicts
  routing: null, // GET /routing: {services} or {unavailable: "why"}
  availability: null, // GET /availability
  errors: {}, // part -> message of its last failed load
  loadedAt: 0,
};

// loaders fetch a part and return a function that stores it, so that
// refresh can drop an answer overtaken by a newer load of the same part.
const loaders = {
  config: async () => {
    const [dcs, regions, services] = await Promise.all([listAll("/datacenters"), listAll("/regions"), listAll("/services")]);
    return () => {
      state.datacenters = dcs;
      state.regions = regions;
      state.services = services;
    };
  },
  status: async () => {
    const st = await api("/status");
    return () => {
      state.status = st;
      learnServerTime(st.generated_at);
    };
  },
  overrides: async () => {
    const ovs = await listAll("/overrides");
    return () => { state.overrides = ovs; };
  },
  verdicts: async () => {
    const vs = await listAll("/verdicts");
    return () => { state.verdicts = vs; };
  },
  routing: async () => {
    let r;
    try {
      r = await api("/routing");
    } catch (e) {
      // 404 (an older server without the route) or 501 (not wired):
      // say so, never make something up.
      if (!(e instanceof APIError && (e.status === 404 || e.status === 501))) throw e;
      r = { unavailable: `GET /api/v1/routing answered ${e.status} ${e.status === 404 ? "Not Found" : "Not Implemented"}` };
    }
    return () => { state.routing = r; };
  },
  availability: async () => {
    const a = await api("/availability");
    return () => { state.availability = a; };
  },
};

export const ALL = ["config", "status", "overrides", "verdicts", "routing"];

const listeners = new Set();
export function onChange(fn) {
  listeners.add(fn);
}

// refresh loads parts in parallel; a part that fails keeps its last
// value and records the error (shown in the banner).
const issued = {}; // part -> number of the latest load started

export async function refresh(parts) {
  const names = [...new Set(parts)];
  await Promise.all(names.map(async (p) => {
    const my = (issued[p] = (issued[p] || 0) + 1);
    try {
      const store = await loaders[p]();
      if (my !== issued[p]) return; // a newer load of this part is under way
      store();
      delete state.errors[p];
    } catch (e) {
      if (e instanceof APIError && e.status === 401) throw e;
      if (my === issued[p]) state.errors[p] = e.message || String(e);
    }
  }));
  state.loadedAt = Date.now();
  for (const fn of listeners) fn(names);
}

export function overrideOf(target) {
  return state.overrides.find((o) => o.target === target);
}

export function serviceKey(svc) {
  return `${svc.name}/${svc.type}`;
}

function statusOf(name) {
  return state.status?.datacenters?.find((d) => d.name === name);
}

// dcNames is every data center the page knows, from the store and from
// the status (which also names data centers only endpoints mention).
export function dcNames() {
  const names = new Set(state.datacenters.map((d) => d.name));
  for (const d of state.status?.datacenters || []) names.add(d.name);
  return [...names].sort();
}

// dcView is how a data center is shown: status (up, degraded, down,
// drained: the map's data-status), the words for it, since when, and
// why (override or state-file flag).
export function dcView(name) {
  const dc = state.datacenters.find((d) => d.name === name) || { name };
  const st = statusOf(name);
  const ov = overrideOf(`datacenter/${name}`);
  const eps = st?.endpoints || [];
  const v = {
    name, dc, st, override: ov, region: dc.region || st?.region || "",
    status: st?.status || "up", label: "", since: "", endpoints: eps,
    counts: { up: st?.up || 0, down: st?.down || 0, unknown: st?.unknown || 0 },
  };
  if (ov?.action === "drain" || dc.drain) {
    v.status = "drained";
    v.label = ov ? "drained" : "drained (state file)";
    v.since = ov?.created_at || "";
    return v;
  }
  if (ov?.action === "force_down" || dc.force_down) {
    v.status = "down";
    v.label = ov ? "forced down" : "forced down (state file)";
    v.since = ov?.created_at || "";
    return v;
  }
  const times = (h) => eps.filter((e) => e.health === h && e.since).map((e) => e.since).sort();
  if (v.status === "down") {
    v.label = "down";
    v.since = times("down").at(-1) || ""; // down since its last endpoint went down
  } else if (v.status === "degraded") {
    v.label = "degraded";
    v.since = times("down")[0] || "";
  } else if (v.counts.up === 0 && v.counts.down === 0) {
    v.label = v.counts.unknown ? "up (no verdict yet)" : "up (not checked)";
  } else {
    v.label = "up";
  }
  if (ov?.action === "force_up") {
    v.status = "up";
    v.label = "forced up";
    v.since = ov.created_at;
  }
  return v;
}

// routes is the routing of every service, or [] when unavailable.
export function routes() {
  return state.routing?.services || [];
}

// rerouted: for a service's region route, the region's own data centers
// (of this service) that are not in the route because they are down or
// drained — the route has moved away from them. [] when it has not.
export function movedAway(svcRoute, regionRoute) {
  if (!regionRoute.region) return [];
  const svc = state.services.find((s) => serviceKey(s) === svcRoute.service);
  const own = new Set((svc?.endpoints || []).map((e) => e.datacenter)
    .filter((dc) => state.datacenters.find((d) => d.name === dc)?.region === regionRoute.region));
  return [...own].filter((dc) => !regionRoute.datacenters.includes(dc) && dcView(dc).status !== "up" && dcView(dc).status !== "degraded");
}

// reroutedRegions is the set of regions with at least one service moved
// away from its own data centers.
export function reroutedRegions() {
  const out = new Set();
  for (const s of routes()) for (const r of s.regions) if (movedAway(s, r).length) out.add(r.region);
  return out;
}

// regionCentre is the mean location of a region's data centers (as the
// server's routing places a region's clients), or null.
export function regionCentre(region) {
  const dcs = state.datacenters.filter((d) => d.region === region && d.location);
  if (!dcs.length) return null;
  const lat = dcs.reduce((a, d) => a + d.location.lat, 0) / dcs.length;
  const lon = dcs.reduce((a, d) => a + d.location.lon, 0) / dcs.length;
  return { lat, lon };
}

// policyWords says a service's policy chain in words.
export function policyWords(svc) {
  const presets = {
    all: ["healthy"], geo: ["healthy", "region", "nearest"], failover: ["healthy", "priority"],
    weighted: ["healthy", "weighted", "first 1"], sticky: ["healthy", "sticky", "first 1"],
    roundrobin: ["healthy", "roundrobin"], leastload: ["healthy", "leastload", "first 1"],
  };
  const p = svc.policy;
  let steps;
  if (p === null || p === undefined || p === "") steps = presets.all;
  else if (typeof p === "string") steps = presets[p] || [p];
  else steps = p.map((s) => typeof s === "string" ? s
    : s.first ? `first ${s.first}`
      : s.region ? `region {${Object.entries(s.region).map(([k, v]) => `${k}: ${v.join(", ")}`).join("; ")}}` : JSON.stringify(s));
  const name = typeof p === "string" && p ? `${p}: ` : "";
  let fb = "fail open";
  if (svc.fallback === "none") fb = "answer nothing";
  else if (svc.fallback && svc.fallback.backup) fb = `backup ${svc.fallback.backup.join(", ")}`;
  return `${name}${steps.join(" → ")}; when nothing is healthy: ${fb}`;
}
