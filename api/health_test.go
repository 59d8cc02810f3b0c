package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestHealthEndpoints(t *testing.T) {
	var notReady atomic.Pointer[error]
	startErr := errors.New("no snapshot loaded yet")
	notReady.Store(&startErr)
	srv := httptest.NewServer(HealthHandler(func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}))
	defer srv.Close()

	get := func(path string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}

	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || body["reason"] != startErr.Error() {
		t.Errorf("/readyz before ready = %d %v, want 503 with the reason", code, body)
	}
	degraded := Degraded("shared store unreachable: connection refused")
	notReady.Store(&degraded)
	if code, body := get("/readyz"); code != http.StatusOK || body["status"] != "degraded" || body["reason"] != degraded.Error() {
		t.Errorf("/readyz when degraded = %d %v, want 200 degraded with the reason", code, body)
	}
	notReady.Store(nil)
	if code, body := get("/readyz"); code != http.StatusOK || body["status"] != "ready" {
		t.Errorf("/readyz when ready = %d %v, want 200 ready", code, body)
	}
	resp, err := http.Post(srv.URL+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
}
