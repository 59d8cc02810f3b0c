package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ReadinessFunc reports why the process is not ready to serve, or nil when
// it is. An error that wraps ErrDegraded means it serves, but not fully.
type ReadinessFunc func() error

// ErrDegraded marks a readiness error of a process that still serves: a
// cluster node answering DNS from its last known state while the shared
// store is unreachable. /readyz then answers 200 with status "degraded"
// and the reason, so that load balancers keep sending it queries while
// operators and monitoring see what is wrong.
var ErrDegraded = errors.New("degraded")

// Degraded returns a readiness error that is ErrDegraded and reads as
// reason alone.
func Degraded(reason string) error { return degradedError(reason) }

type degradedError string

func (e degradedError) Error() string      { return string(e) }
func (degradedError) Is(target error) bool { return target == ErrDegraded }

// HealthHandler serves /healthz and /readyz alone, for a process that
// runs no API. A Server serves both itself, with the same answers.
//
// /healthz answers 200 while the process runs: a liveness probe.
// /readyz answers 200 with {"status":"ready"} when ready reports nil, else
// 503 with {"status":"not ready","reason":...}: a readiness probe for load
// balancers and orchestrators. A degraded process (see ErrDegraded)
// answers 200 with {"status":"degraded","reason":...}.
func HealthHandler(ready ReadinessFunc) http.Handler {
	h := healthHandlers(ready)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	return mux
}

type health struct{ ready ReadinessFunc }

func healthHandlers(ready ReadinessFunc) health { return health{ready} }

func (health) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h health) readyz(w http.ResponseWriter, r *http.Request) {
	err := h.ready()
	if errors.Is(err, ErrDegraded) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "degraded", "reason": err.Error()})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
