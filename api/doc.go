// Package api owns Meridian's HTTP surface. Today that is the process
// health endpoints, /healthz (the process is alive) and /readyz (it is
// serving DNS from a loaded snapshot). The REST admin API under /api/v1/,
// /metrics, the server-sent events stream and the explain endpoint come
// with later issues.
//
// api goes through store's interface, never to bbolt or etcd directly.
package api
