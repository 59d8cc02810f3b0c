// The live event stream, GET /api/v1/stream, read with fetch() and a
// ReadableStream: EventSource cannot send the Authorization header, and
// the token must not go in the URL (it would reach logs). Reconnects with
// exponential backoff and jitter, resuming after the last event seen with
// Last-Event-ID, and treats 45 s of silence (three missed heartbeats) as
// a dead connection.

import { authHeaders } from "./api.js";

const SILENCE_MS = 45000;

// parseSSE feeds text chunks and calls onMessage({id, event, data}) for
// each complete message (the WHATWG event-stream rules: CR, LF or CRLF
// line ends; "field: value"; comments start with ":").
export function sseParser(onMessage, onComment) {
  let buf = "";
  let msg = { id: undefined, event: "", data: [] };
  return (chunk) => {
    buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      if (!m) break;
      // A lone CR at the very end may be half of a CRLF: wait for more.
      if (m[0] === "\r" && m.index === buf.length - 1) break;
      const line = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      if (line === "") {
        if (msg.data.length) onMessage({ id: msg.id, event: msg.event || "message", data: msg.data.join("\n") });
        msg = { id: msg.id, event: "", data: [] };
        continue;
      }
      if (line.startsWith(":")) {
        if (onComment) onComment(line.slice(1).trim());
        continue;
      }
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? "" : line.slice(i + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") msg.data.push(value);
      else if (field === "event") msg.event = value;
      else if (field === "id" && !value.includes("\0")) msg.id = value;
    }
  };
}

// startStream runs until stop() is called. onEvent(event object) for
// each event; onState(state, info): "connecting", "live" (info: {since}),
// "disconnected" (info: {retryAt, error}); onOpen() after each connect.
export function startStream({ onEvent, onState, onOpen, onUnauthorized }) {
  let stopped = false;
  let lastId = "";
  let backoff = 1000;
  let ctrl = null;
  let wake = null;

  const sleep = (ms) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    wake = () => { clearTimeout(t); resolve(); };
  });

  async function once() {
    ctrl = new AbortController();
    let watchdog = null;
    const kick = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ctrl.abort(new Error("no data for 45 s")), SILENCE_MS);
    };
    onState("connecting", {});
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (lastId) headers["Last-Event-ID"] = lastId;
    kick();
    try {
      const res = await fetch("/api/v1/stream", { headers, signal: ctrl.signal, cache: "no-store" });
      if (res.status === 401) {
        onUnauthorized();
        stopped = true;
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      backoff = 1000;
      onState("live", { since: Date.now() });
      onOpen();
      const parse = sseParser((m) => {
        if (m.id) lastId = m.id;
        let ev;
        try {
          ev = JSON.parse(m.data);
        } catch {
          return;
        }
        onEvent(ev);
      }, () => {});
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the server closed the stream");
        kick();
        parse(value);
        onState("live", {});
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  (async () => {
    while (!stopped) {
      let error = "";
      try {
        await once();
      } catch (e) {
        error = (e && e.message) || String(e);
      }
      if (stopped) break;
      const wait = Math.min(backoff, 30000) * (0.8 + Math.random() * 0.4);
      backoff = Math.min(backoff * 2, 30000);
      onState("disconnected", { retryAt: Date.now() + wait, error });
      await sleep(wait);
    }
  })();

  return {
    stop() {
      stopped = true;
      if (ctrl) ctrl.abort();
      if (wake) wake();
    },
    // retryNow skips the backoff wait (the "reconnect now" button).
    retryNow() {
      if (wake) wake();
    },
  };
}
