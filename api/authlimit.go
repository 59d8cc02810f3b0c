package api

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Defaults of Config.AuthFailures.
const (
	DefaultAuthBurst = 10          // failed authentications an address may make at once
	DefaultAuthPer   = time.Minute // and then one more per AuthPer/AuthBurst
	// authLimiterMax bounds the addresses remembered; beyond it, those
	// whose allowance is whole again are forgotten first.
	authLimiterMax = 10000
)

// AuthFailures limits failed authentications per source address: Burst
// at once, refilled at Burst per Per. An address that has used them all
// gets 429 with Retry-After on every request that carries a token until
// one is refilled — a correct token too, so that guessing learns nothing.
type AuthFailures struct {
	Burst int
	Per   time.Duration
}

// authLimiter is a token bucket of failures per source address.
type authLimiter struct {
	burst float64
	rate  float64 // failures refilled per second
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*authBucket
}

type authBucket struct {
	left float64   // failures still allowed
	at   time.Time // when left was computed
}

func newAuthLimiter(c AuthFailures, now func() time.Time) *authLimiter {
	if c.Burst <= 0 {
		c.Burst = DefaultAuthBurst
	}
	if c.Per <= 0 {
		c.Per = DefaultAuthPer
	}
	return &authLimiter{burst: float64(c.Burst), rate: float64(c.Burst) / c.Per.Seconds(), now: now, buckets: map[string]*authBucket{}}
}

// refill brings b up to now; the caller holds mu.
func (l *authLimiter) refill(b *authBucket, now time.Time) {
	b.left = math.Min(l.burst, b.left+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
}

// blocked reports whether addr has no failures left, and for how long.
func (l *authLimiter) blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		return 0, false
	}
	now := l.now()
	l.refill(b, now)
	if b.left >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.left) / l.rate * float64(time.Second)), true
}

// fail records one failed authentication from addr and reports whether
// it was the last one allowed.
func (l *authLimiter) fail(addr string) (last bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= authLimiterMax {
			l.forget(now)
		}
		b = &authBucket{left: l.burst, at: now}
		l.buckets[addr] = b
	}
	l.refill(b, now)
	b.left = math.Max(0, b.left-1)
	return b.left < 1
}

// forget drops the addresses whose allowance is whole again, or every
// address when none is; the caller holds mu.
func (l *authLimiter) forget(now time.Time) {
	for addr, b := range l.buckets {
		l.refill(b, now)
		if b.left >= l.burst {
			delete(l.buckets, addr)
		}
	}
	if len(l.buckets) >= authLimiterMax {
		clear(l.buckets)
	}
}

// sourceOf is the request's source address, without the port. Proxy
// headers are not trusted: a client could forge them to dodge the limit.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany answers 429 with Retry-After.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	s.problem(w, r, problemf(http.StatusTooManyRequests, typeTooMany,
		"too many failed authentications from %s: try again in %s", sourceOf(r), wait.Round(time.Second)))
}

// auditDenied records a refused request in the event log: who (the
// source address, and the token's name when it was valid), what, why.
// The secret never is. It is best effort: a failing store must not turn
// a 401 into a 500.
func (s *Server) auditDenied(r *http.Request, typ, actor, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		return store.AppendEvent(tx, &model.Event{Type: typ, Actor: actor,
			Object: "route/" + r.Method + " " + r.URL.Path, Detail: why + " (from " + sourceOf(r) + ")"})
	})
	if err != nil {
		s.log.Warn("api: recording a denied request failed", "err", err)
	}
}
