// Package api owns Meridian's HTTP surface: the REST admin API under
// /api/v1/ (chi), bearer-token access control, RFC 9457 problem
// responses, the OpenAPI 3.1 document, the server-sent events stream, the
// explain endpoint, the API's Prometheus metrics and /metrics, and the
// process health endpoints /healthz and /readyz.
//
// New(Config) returns a Server, an http.Handler; cmd runs it in an
// http.Server with the timeouts README.md recommends, registers
// Server.CloseStreams for shutdown and calls Server.Bootstrap once at
// start.
//
// Every write goes through one path (write.go): an If-Match check, the
// object's Validate and the whole-state check of the state file
// (Config.ValidateState), the reference check of a delete, store.Put or
// store.Delete with the revision condition, and an audit event, all in
// one store transaction.
//
// api goes through store's interface, never to bbolt or etcd directly.
// It must not import dnsserver, geo or checker: what it needs of them
// (zone-file parsing, the DNS build as validation, explain, readiness,
// the health engine behind the checker fleet's routes) cmd injects
// through Config. TestLayering checks it.
package api
