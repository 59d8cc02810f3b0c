package checker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// hostPort is the "host:port" of an httptest server.
func hostPort(s *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
}

func mustProbe(t *testing.T, c model.Check, target string, opts Options) Probe {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = model.Duration(time.Second)
	}
	p, err := New(c, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHTTPProbe(t *testing.T) {
	var mu sync.Mutex
	var gotHost, gotPath string
	var gotClose bool
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotHost, gotPath, gotClose = r.Host, r.URL.Path, r.Close
		mu.Unlock()
		fmt.Fprint(w, "status: all good")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/xload", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Load", "0.25") })
	mux.HandleFunc("/badxload", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Load", "7") })
	mux.HandleFunc("/jsonload", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"ok","load":0.75}`) })
	mux.HandleFunc("/jsonbadload", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"load":-1}`) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	target := hostPort(srv)

	tests := []struct {
		name     string
		check    model.Check
		up       bool
		errPart  string
		wantLoad float64 // -1: none
	}{
		{"ok", model.Check{Type: "http", Path: "/ok"}, true, "", -1},
		{"path without slash", model.Check{Type: "http", Path: "ok"}, true, "", -1},
		{"body match", model.Check{Type: "http", Path: "/ok", ExpectBody: "all good"}, true, "", -1},
		{"body mismatch", model.Check{Type: "http", Path: "/ok", ExpectBody: "degraded"}, false, `body does not contain "degraded"`, -1},
		{"bad status", model.Check{Type: "http", Path: "/fail"}, false, "status 500, want 200-399", -1},
		{"not found", model.Check{Type: "http", Path: "/nope"}, false, "status 404", -1},
		{"redirect not followed is up", model.Check{Type: "http", Path: "/redirect"}, true, "", -1},
		{"expected status list", model.Check{Type: "http", Path: "/teapot", ExpectStatus: []int{418}}, true, "", -1},
		{"status outside list", model.Check{Type: "http", Path: "/ok", ExpectStatus: []int{204, 418}}, false, "status 200, want 204, 418", -1},
		{"x-load", model.Check{Type: "http", Path: "/xload"}, true, "", 0.25},
		{"x-load out of range ignored", model.Check{Type: "http", Path: "/badxload"}, true, "", -1},
		{"json load", model.Check{Type: "http", Path: "/jsonload", ExpectBody: `"ok"`}, true, "", 0.75},
		{"json load out of range ignored", model.Check{Type: "http", Path: "/jsonbadload"}, true, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustProbe(t, tt.check, target, Options{}).Probe(context.Background())
			if r.Up != tt.up || !strings.Contains(r.Err, tt.errPart) || (tt.up && r.Err != "") {
				t.Fatalf("got %+v, want up=%v err containing %q", r, tt.up, tt.errPart)
			}
			if r.Latency <= 0 {
				t.Errorf("latency %v, want > 0", r.Latency)
			}
			switch {
			case tt.wantLoad < 0 && r.Load != nil:
				t.Errorf("load %v, want none", *r.Load)
			case tt.wantLoad >= 0 && (r.Load == nil || *r.Load != tt.wantLoad):
				t.Errorf("load %v, want %v", r.Load, tt.wantLoad)
			}
		})
	}

	// Host header, path, and keep-alives off (the request asks to close).
	r := mustProbe(t, model.Check{Type: "http", Path: "/ok", Host: "app.example.com"}, target, Options{}).Probe(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if !r.Up || gotHost != "app.example.com" || gotPath != "/ok" || !gotClose {
		t.Fatalf("result %+v; server saw host %q path %q close %v", r, gotHost, gotPath, gotClose)
	}
}

func TestHTTPProbeHangsPastTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p := mustProbe(t, model.Check{Type: "http", Timeout: model.Duration(200 * time.Millisecond)}, hostPort(srv), Options{})
	start := time.Now()
	r := p.Probe(context.Background())
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("probe took %v with a 200ms timeout", took)
	}
	if r.Up || !strings.Contains(r.Err, "timed out after 200ms") {
		t.Fatalf("got %+v, want a timeout", r)
	}
}

func TestHTTPProbeHugeBodyIsBounded(t *testing.T) {
	const size = 64 << 20 // 64 MiB, far more than the probe reads
	sent := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		copy(chunk, "healthy")
		var n int64
		for n < size {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		sent <- n
	}))
	defer srv.Close()
	target := hostPort(srv)

	r := mustProbe(t, model.Check{Type: "http", ExpectBody: "healthy", Timeout: model.Duration(5 * time.Second)}, target, Options{}).Probe(context.Background())
	if !r.Up {
		t.Fatalf("got %+v, want up", r)
	}
	if n := <-sent; n >= size {
		t.Errorf("server wrote all %d bytes: the probe read the whole body", n)
	}
	// A string only past the bound is not found.
	r = mustProbe(t, model.Check{Type: "http", ExpectBody: "healthy"}, target, Options{MaxBody: 4}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "first 4 bytes") {
		t.Fatalf("got %+v, want a mismatch within 4 bytes", r)
	}
	<-sent
}

// selfSigned returns a certificate for name, and a pool that trusts it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func TestHTTPSProbe(t *testing.T) {
	cert, pool := selfSigned(t, "health.example")
	var mu sync.Mutex
	var sni []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Load", "0.5")
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are expected
	srv.TLS = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		sni = append(sni, h.ServerName)
		mu.Unlock()
		return &cert, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	target := hostPort(srv)
	lastSNI := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(sni) == 0 {
			return "<none>"
		}
		return sni[len(sni)-1]
	}

	// Trusted CA and matching Host: up, and the SNI is the Host.
	c := model.Check{Type: "https", Host: "health.example:443", ExpectBody: "ok"}
	r := mustProbe(t, c, target, Options{RootCAs: pool}).Probe(context.Background())
	if !r.Up || r.Load == nil || *r.Load != 0.5 {
		t.Fatalf("got %+v, want up with load 0.5", r)
	}
	if got := lastSNI(); got != "health.example" {
		t.Errorf("SNI %q, want health.example", got)
	}
	// The system roots do not trust a self-signed certificate.
	r = mustProbe(t, c, target, Options{}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "certificate") {
		t.Fatalf("got %+v, want a certificate error", r)
	}
	// A trusted certificate for another name fails too.
	r = mustProbe(t, model.Check{Type: "https", Host: "other.example"}, target, Options{RootCAs: pool}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "certificate") {
		t.Fatalf("got %+v, want a name mismatch", r)
	}
	if got := lastSNI(); got != "other.example" {
		t.Errorf("SNI %q, want other.example", got)
	}
	// Skip-verify accepts it, from the options or from the check.
	r = mustProbe(t, model.Check{Type: "https", Host: "other.example"}, target, Options{SkipVerify: true}).Probe(context.Background())
	if !r.Up {
		t.Fatalf("got %+v with skip-verify, want up", r)
	}
	r = mustProbe(t, model.Check{Type: "https", Host: "other.example", SkipVerify: true}, target, Options{}).Probe(context.Background())
	if !r.Up {
		t.Fatalf("got %+v with the check's skip_verify, want up", r)
	}
	// server_name beats the Host header's name, for SNI and verification.
	r = mustProbe(t, model.Check{Type: "https", Host: "other.example", ServerName: "health.example"}, target, Options{RootCAs: pool}).Probe(context.Background())
	if !r.Up {
		t.Fatalf("got %+v with server_name health.example, want up", r)
	}
	if got := lastSNI(); got != "health.example" {
		t.Errorf("SNI %q, want health.example (server_name)", got)
	}
	// Without a Host, server_name beats the target's host too.
	r = mustProbe(t, model.Check{Type: "https", ServerName: "other.example"}, target, Options{RootCAs: pool}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "certificate") {
		t.Fatalf("got %+v with server_name other.example, want a name mismatch", r)
	}
	if got := lastSNI(); got != "other.example" {
		t.Errorf("SNI %q, want other.example (server_name)", got)
	}
}

func TestHTTPProbeMethod(t *testing.T) {
	type seen struct {
		method string
		length int64
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.ContentLength}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	for _, tt := range []struct {
		method, want string
		up           bool
	}{
		{"", "GET", true},
		{"GET", "GET", true},
		{"HEAD", "HEAD", true},
		{"POST", "POST", true},
		{"OPTIONS", "OPTIONS", true},
		{"PUT", "PUT", false}, // the server answers 405
	} {
		r := mustProbe(t, model.Check{Type: "http", Method: tt.method}, hostPort(srv), Options{}).Probe(context.Background())
		s := <-got
		if s.method != tt.want || s.length > 0 {
			t.Errorf("method %q: server saw %s with %d body bytes, want %s without a body", tt.method, s.method, s.length, tt.want)
		}
		if r.Up != tt.up {
			t.Errorf("method %q: got %+v, want up=%v", tt.method, r, tt.up)
		}
	}
	// A HEAD response has no body to match.
	r := mustProbe(t, model.Check{Type: "http", Method: "HEAD", ExpectBody: "ok"}, hostPort(srv), Options{}).Probe(context.Background())
	<-got
	if r.Up || !strings.Contains(r.Err, "first 0 bytes") {
		t.Fatalf("HEAD with expect_body: got %+v, want a mismatch", r)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := mustProbe(t, model.Check{Type: "tcp"}, l.Addr().String(), Options{}).Probe(context.Background())
	if !r.Up || r.Err != "" || r.Latency <= 0 {
		t.Fatalf("got %+v, want up", r)
	}
	r = mustProbe(t, model.Check{Type: "tcp"}, closedPort(t), Options{}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "refused") {
		t.Fatalf("got %+v, want connection refused", r)
	}
	// A canceled parent context fails the probe without dialing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = mustProbe(t, model.Check{Type: "tcp"}, l.Addr().String(), Options{}).Probe(ctx)
	if r.Up || !strings.Contains(r.Err, "canceled") {
		t.Fatalf("got %+v, want canceled", r)
	}
}

func TestHTTPProbeClosedPort(t *testing.T) {
	r := mustProbe(t, model.Check{Type: "http"}, closedPort(t), Options{}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "refused") {
		t.Fatalf("got %+v, want connection refused", r)
	}
}

func TestNewAndTarget(t *testing.T) {
	for _, tt := range []struct {
		check   model.Check
		target  string
		errPart string
	}{
		{model.Check{Type: "dns"}, "127.0.0.1:53", "needs a query_name"},
		{model.Check{Type: "dns", QueryName: "a..example."}, "127.0.0.1:53", "query_name"},
		{model.Check{Type: "dns", QueryName: "example.", QueryType: "HINFO"}, "127.0.0.1:53", "query_type"},
		{model.Check{Type: "dns", QueryName: "example.", ExpectRcode: "YXDOMAIN"}, "127.0.0.1:53", "expect_rcode"},
		{model.Check{Type: "icmp"}, "127.0.0.1:1", "unknown check type"},
		{model.Check{Type: "http", Method: "DELETE"}, "127.0.0.1:80", `method "DELETE" is not one of GET, HEAD, POST, PUT, OPTIONS`},
		{model.Check{Type: "tcp"}, "127.0.0.1", "not host:port"},
	} {
		if _, err := New(tt.check, tt.target, Options{}); err == nil || !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("New(%+v, %q) = %v, want error containing %q", tt.check, tt.target, err, tt.errPart)
		}
	}
	for _, tt := range []struct {
		ep    model.Endpoint
		check model.Check
		want  string
		err   bool
	}{
		{model.Endpoint{Address: "192.0.2.1"}, model.Check{Type: "http"}, "192.0.2.1:80", false},
		{model.Endpoint{Address: "192.0.2.1"}, model.Check{Type: "https"}, "192.0.2.1:443", false},
		{model.Endpoint{Address: "2001:db8::1"}, model.Check{Type: "tcp", Port: 5432}, "[2001:db8::1]:5432", false},
		{model.Endpoint{Address: "192.0.2.1", CheckTarget: "10.0.0.1:8080"}, model.Check{Type: "http", Port: 81}, "10.0.0.1:8080", false},
		{model.Endpoint{Address: "192.0.2.1"}, model.Check{Type: "tcp"}, "", true},
		{model.Endpoint{Address: "192.0.2.1", CheckTarget: "10.0.0.1"}, model.Check{Type: "http"}, "", true},
	} {
		got, err := Target(tt.ep, tt.check)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("Target(%+v, %+v) = %q, %v; want %q, error %v", tt.ep, tt.check, got, err, tt.want, tt.err)
		}
	}
}

func TestDefaults(t *testing.T) {
	d := Defaults(model.Check{Type: "http"})
	if d.Interval.D() != DefaultInterval || d.Timeout.D() != DefaultTimeout || d.Rise != 2 || d.Fall != 3 || d.Quorum != "majority" || d.Port != 80 {
		t.Fatalf("defaults %+v", d)
	}
	// The default timeout stays under the interval.
	d = Defaults(model.Check{Type: "tcp", Interval: model.Duration(time.Second)})
	if d.Timeout.D() != 500*time.Millisecond || d.Port != 0 {
		t.Fatalf("defaults with a 1s interval: %+v", d)
	}
	// Set fields are kept.
	c := model.Check{Type: "https", Port: 8443, Interval: model.Duration(5 * time.Second), Timeout: model.Duration(3 * time.Second), Rise: 1, Fall: 5, Quorum: "2"}
	if d := Defaults(c); d.Port != c.Port || d.Interval != c.Interval || d.Timeout != c.Timeout || d.Rise != 1 || d.Fall != 5 || d.Quorum != "2" {
		t.Fatalf("Defaults changed set fields: %+v", d)
	}
}
