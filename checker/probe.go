package checker

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// Defaults applied by Defaults and New when a check leaves a field zero.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultRise     = 2
	DefaultFall     = 3
	// DefaultMaxBody bounds how much of an HTTP response body is read.
	DefaultMaxBody = 64 << 10
)

// Result is the outcome of one probe.
type Result struct {
	Up      bool
	Latency time.Duration // from the start of the probe to its end (or failure)
	Load    *float64      // load the target reported (0-1), when it did
	Err     string        // why the probe failed; empty when Up
}

// Probe runs one health probe. Probe must honour ctx and return within the
// check's timeout; it never returns an error, only a Result that is not Up.
// Implementations are safe for concurrent use.
type Probe interface {
	Probe(ctx context.Context) Result
}

// Options are probe settings that the state file's check has no key for.
type Options struct {
	// SkipVerify turns off TLS certificate verification for every https
	// probe (a check's skip_verify turns it off for that check only).
	SkipVerify bool
	// RootCAs verifies https targets instead of the system's roots (a
	// private CA); nil means the system's.
	RootCAs *x509.CertPool
	// MaxBody bounds the bytes of an HTTP body read; 0 means DefaultMaxBody.
	MaxBody int64
}

// Defaults returns c with every zero field that has a default filled in:
// interval, timeout (DefaultTimeout, but at most half the interval), rise,
// fall, quorum ("majority"), and the port for http (80), https (443) and
// dns (53). Expected status codes stay empty, which means 200-399.
func Defaults(c model.Check) model.Check {
	if c.Interval <= 0 {
		c.Interval = model.Duration(DefaultInterval)
	}
	if c.Timeout <= 0 {
		t := DefaultTimeout
		if half := c.Interval.D() / 2; t > half {
			t = half
		}
		c.Timeout = model.Duration(t)
	}
	if c.Rise <= 0 {
		c.Rise = DefaultRise
	}
	if c.Fall <= 0 {
		c.Fall = DefaultFall
	}
	if c.Quorum == "" {
		c.Quorum = QuorumMajority
	}
	if c.Port == 0 {
		switch c.Type {
		case "http":
			c.Port = 80
		case "https":
			c.Port = 443
		case "dns":
			c.Port = 53
		}
	}
	return c
}

// Target is the "host:port" an endpoint is probed at: its check_target when
// set, otherwise its address with the check's port (after Defaults). It
// fails when there is no port to use (a tcp check without one).
func Target(ep model.Endpoint, c model.Check) (string, error) {
	if ep.CheckTarget != "" {
		if _, _, err := net.SplitHostPort(ep.CheckTarget); err != nil {
			return "", fmt.Errorf("check_target %q is not host:port: %w", ep.CheckTarget, err)
		}
		return ep.CheckTarget, nil
	}
	c = Defaults(c)
	if c.Port == 0 {
		return "", fmt.Errorf("check of type %q needs a port or a check_target", c.Type)
	}
	return net.JoinHostPort(ep.Address, strconv.Itoa(c.Port)), nil
}

// New returns the probe for check c against target ("host:port"), with the
// check's defaults applied. An unknown type, a malformed target, an HTTP
// method other than GET, HEAD, POST, PUT and OPTIONS, and a dns check
// without a usable query are errors.
func New(c model.Check, target string, opts Options) (Probe, error) {
	c = Defaults(c)
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("target %q is not host:port: %w", target, err)
	}
	switch c.Type {
	case "http", "https":
		return newHTTP(c, target, opts)
	case "tcp":
		return &tcpProbe{target: target, timeout: c.Timeout.D()}, nil
	case "dns":
		return newDNS(c, target)
	default:
		return nil, fmt.Errorf("unknown check type %q", c.Type)
	}
}

// failure builds a down Result, naming a timeout as such.
func failure(ctx context.Context, start time.Time, timeout time.Duration, err error) Result {
	msg := err.Error()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("timed out after %s: %s", timeout, msg)
	}
	return Result{Latency: time.Since(start), Err: msg}
}

type tcpProbe struct {
	target  string
	timeout time.Duration
}

// Probe connects to the target and closes the connection at once.
func (p *tcpProbe) Probe(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		return failure(ctx, start, p.timeout, err)
	}
	lat := time.Since(start)
	conn.Close()
	return Result{Up: true, Latency: lat}
}
