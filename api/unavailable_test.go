package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store"
)

// unreachable is a store whose writes fail as the etcd backend's do while
// etcd is out of reach; reads work, as they do from its local copy.
type unreachable struct{ store.Store }

func (unreachable) Update(context.Context, func(store.Tx) error) (int64, error) {
	return 0, fmt.Errorf("%w: etcd unreachable: context deadline exceeded", store.ErrUnavailable)
}

// TestWritesRefusedWhileStoreUnavailable: a write gets 503 with a
// Retry-After and a message that says reads go on; reads still answer.
func TestWritesRefusedWhileStoreUnavailable(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Store = unreachable{c.Store} })
	r := e.do(req{method: "PUT", path: "/api/v1/regions/eu", body: `{"countries":["DE"]}`}).want(503)
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	p := r.problem()
	if p.Type != typeUnavailable || !strings.Contains(p.Detail, "last known state") || !strings.Contains(p.Detail, "etcd unreachable") {
		t.Errorf("problem = %+v", p)
	}
	e.do(req{method: "GET", path: "/api/v1/regions"}).want(200)
}
