package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HTTPS on the API as real processes: certificates made here (ECDSA), a
// server verified with --ca, client certificates checked against
// http.tls.client_ca, a certificate rotated while serving, and the rule
// that plain HTTP stays on loopback unless http.insecure says otherwise.

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// writeCA writes the CA's certificate to dir/name and returns the path.
func (ca *testCA) writeCA(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	return path
}

// issue makes a leaf certificate with serial: for the server at
// 127.0.0.1 when server is true, else a client certificate. It returns
// the PEM certificate and key.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// writePair writes a certificate and key as dir/name.pem and
// dir/name-key.pem, each through a rename (as cert-manager and certbot
// replace files), and returns the paths.
func writePair(t *testing.T, dir, name string, certPEM, keyPEM []byte) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	for path, data := range map[string][]byte{cert: certPEM, key: keyPEM} {
		if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}

// tlsSetup is a directory with a CA, a server certificate for 127.0.0.1
// (serial 100), a client certificate from the CA, and a second CA with a
// client certificate of its own.
type tlsSetup struct {
	dir                       string
	ca, other                 *testCA
	caFile, otherFile         string
	clientCert, clientKey     string // from ca
	strangerCert, strangerKey string // from other
}

func newTLSSetup(t *testing.T) *tlsSetup {
	t.Helper()
	s := &tlsSetup{dir: t.TempDir(), ca: newTestCA(t, "meridian test CA"), other: newTestCA(t, "another CA")}
	s.caFile = s.ca.writeCA(t, s.dir, "ca.pem")
	s.otherFile = s.other.writeCA(t, s.dir, "other-ca.pem")
	c, k := s.ca.issue(t, "127.0.0.1", 100, true)
	writePair(t, s.dir, "server", c, k)
	c, k = s.ca.issue(t, "agent-1", 200, false)
	s.clientCert, s.clientKey = writePair(t, s.dir, "client", c, k)
	c, k = s.other.issue(t, "stranger", 300, false)
	s.strangerCert, s.strangerKey = writePair(t, s.dir, "stranger", c, k)
	return s
}

// serve starts `meridian serve` over HTTPS with config lines added under
// http.tls, with the admin token in the environment and no embedded
// checker.
func (s *tlsSetup) serve(t *testing.T, tlsExtra string) *proc {
	t.Helper()
	cfg := filepath.Join(s.dir, "meridian.yaml")
	writeFile(t, cfg, "http:\n  tls:\n    cert: server.pem\n    key: server-key.pem\n"+tlsExtra+"checker: {embedded: false}\n")
	return startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken},
		"--config", cfg, "--data-dir", filepath.Join(s.dir, "data"))
}

// readyEntry is the server's "ready" log line.
func readyEntry(t *testing.T, p *proc) map[string]any {
	t.Helper()
	for _, line := range strings.Split(p.Logs(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == "ready" {
			return e
		}
	}
	t.Fatalf("no ready line:\n%s", p.Logs())
	return nil
}

// TestTLSVerifiesServer: over HTTPS the CLI works with --ca (or
// MERIDIAN_CA), and without it, or with another CA, stops at once with a
// clear message and exit 1; so does a checker agent given the wrong CA.
func TestTLSVerifiesServer(t *testing.T) {
	s := newTLSSetup(t)
	p := s.serve(t, "")
	if got := readyEntry(t, p)["http_scheme"]; got != "https" {
		t.Errorf("ready: http_scheme = %v, want https", got)
	}
	url := "https://" + p.http
	tok := "MERIDIAN_TOKEN=" + testAdminToken

	runCLI(t, []string{tok}, "get", "datacenters", "--server", url, "--ca", s.caFile).ok(t, "get --ca")
	runCLI(t, []string{tok, "MERIDIAN_SERVER=" + url, "MERIDIAN_CA=" + s.caFile}, "get", "datacenters").ok(t, "get with MERIDIAN_CA")

	for name, extra := range map[string][]string{"system roots": nil, "another CA": {"--ca", s.otherFile}} {
		r := runCLI(t, []string{tok}, append([]string{"get", "datacenters", "--server", url}, extra...)...)
		want := "meridian: " + url + ": the server's certificate is not trusted (x509: certificate signed by unknown authority); give its CA with --ca"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 1 and %q", name, r.code, r.stderr, want)
		}
	}

	r := runCLI(t, []string{tok}, "get", "datacenters", "--server", url, "--ca", filepath.Join(s.dir, "missing.pem"))
	if r.code != 2 || !strings.Contains(r.stderr, "--ca / MERIDIAN_CA:") {
		t.Errorf("a missing --ca file: exit %d, stderr:\n%s\nwant exit 2 naming --ca", r.code, r.stderr)
	}

	a := startCheckerAgent(t, url, testAdminToken, "far-1", "--ca", s.otherFile)
	if code := a.waitExit(t, 15*time.Second); code != 1 {
		t.Errorf("agent with the wrong CA: exit %d, want 1", code)
	}
	if want := "the server's certificate is not trusted (x509: certificate signed by unknown authority); give its CA with --ca"; !strings.Contains(a.Logs(), want) {
		t.Errorf("agent with the wrong CA: no clear message %q:\n%s", want, a.Logs())
	}
	p.stop(t)
}

// TestTLSClientCertificates: with http.tls.client_ca, a client
// certificate from another CA is refused at the handshake, one from the
// CA works (for the CLI and a checker agent), and none at all still works
// with a token, which stays required.
func TestTLSClientCertificates(t *testing.T) {
	s := newTLSSetup(t)
	p := s.serve(t, "    client_ca: ca.pem\n")
	url := "https://" + p.http
	tok := "MERIDIAN_TOKEN=" + testAdminToken
	get := []string{"get", "datacenters", "--server", url, "--ca", s.caFile}

	r := runCLI(t, []string{tok}, append(get, "--cert", s.strangerCert, "--key", s.strangerKey)...)
	t.Logf("a client certificate from another CA: exit %d: %s", r.code, r.stderr)
	if r.code != 3 || !strings.Contains(r.stderr, "remote error: tls:") {
		t.Errorf("a client certificate from another CA: exit %d, stderr:\n%s\nwant a TLS alert", r.code, r.stderr)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Logs(), "TLS handshake error"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log the refused handshake:\n%s", p.Logs())
		}
	}

	runCLI(t, []string{tok}, append(get, "--cert", s.clientCert, "--key", s.clientKey)...).ok(t, "get with the CA's client certificate")
	runCLI(t, []string{tok, "MERIDIAN_CERT=" + s.clientCert, "MERIDIAN_KEY=" + s.clientKey}, get...).ok(t, "get with MERIDIAN_CERT/KEY")
	runCLI(t, []string{tok}, get...).ok(t, "get without a client certificate")

	if r := runCLI(t, nil, append(get, "--cert", s.clientCert, "--key", s.clientKey)...); r.code != 2 || !strings.Contains(r.stderr, "no API token") {
		t.Errorf("a client certificate without a token: exit %d, stderr:\n%s\nwant exit 2, no API token", r.code, r.stderr)
	}
	if r := runCLI(t, []string{tok}, append(get, "--cert", s.clientCert)...); r.code != 2 || !strings.Contains(r.stderr, "--cert needs --key") {
		t.Errorf("--cert without --key: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	a := startCheckerAgent(t, url, testAdminToken, "far-1", "--ca", s.caFile, "--cert", s.clientCert, "--key", s.clientKey)
	a.waitLog(t, "check list updated", 0, 15*time.Second)
	a.stop(t)
	p.stop(t)
}

// servedSerial is the serial of the certificate the server at addr
// presents to a new connection, verified with roots.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSCertificateRotation: new certificate files are served to new
// connections without a restart; a pair that does not load keeps the
// last good one and is logged.
func TestTLSCertificateRotation(t *testing.T) {
	s := newTLSSetup(t)
	p := s.serve(t, "")
	roots := x509.NewCertPool()
	roots.AddCert(s.ca.cert)
	if got := servedSerial(t, p.http, roots); got != "100" {
		t.Fatalf("served serial %s, want 100", got)
	}

	waitSerial := func(want string) time.Duration {
		start := time.Now()
		for servedSerial(t, p.http, roots) != want {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("serial %s not served within 10s:\n%s", want, p.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	c, k := s.ca.issue(t, "127.0.0.1", 101, true)
	writePair(t, s.dir, "server", c, k)
	took := waitSerial("101")
	t.Logf("rotated certificate served after %v", took)
	// The log is read from the process's stderr by another goroutine: it
	// may trail the handshake a little.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Logs(), `"msg":"TLS certificate reloaded"`); {
		if time.Now().After(deadline) {
			t.Fatalf("the reload was not logged:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A certificate with another pair's key: refused, the last good one
	// is kept.
	c2, _ := s.ca.issue(t, "127.0.0.1", 102, true)
	writePair(t, s.dir, "server", c2, k)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Logs(), "TLS certificate reload failed"); {
		servedSerial(t, p.http, roots)
		if time.Now().After(deadline) {
			t.Fatalf("the bad pair was not reported:\n%s", p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := servedSerial(t, p.http, roots); got != "101" {
		t.Errorf("after a bad pair: serial %s, want the last good 101", got)
	}
	p.stop(t)
}

// TestTLSListenPolicy: plain HTTP on a non-loopback address needs
// http.insecure: true (and is logged as a warning); http.tls errors name
// the key and line.
func TestTLSListenPolicy(t *testing.T) {
	s := newTLSSetup(t)
	data := t.TempDir()
	conf := func(name, text string) string {
		path := filepath.Join(s.dir, name)
		writeFile(t, path, text)
		return path
	}

	_, err := tryStartServe(t, "--http-listen", "0.0.0.0:0", "--data-dir", data)
	if err == nil || !strings.Contains(err.Error(), `http.listen: "0.0.0.0:0" is not a loopback address`) ||
		!strings.Contains(err.Error(), "http.insecure: true") {
		t.Errorf("0.0.0.0:0 without TLS: %v, want a refusal naming http.listen and http.insecure", err)
	}

	insecure := conf("insecure.yaml", "http:\n  insecure: true\n")
	p := startServe(t, "--config", insecure, "--http-listen", "0.0.0.0:0", "--data-dir", data)
	if !strings.Contains(p.Logs(), `"level":"WARN","msg":"serving the API over plain HTTP on a non-loopback address`) {
		t.Errorf("no warning for plain HTTP on 0.0.0.0:\n%s", p.Logs())
	}
	if got := readyEntry(t, p)["http_scheme"]; got != "http" {
		t.Errorf("ready: http_scheme = %v, want http", got)
	}
	p.stop(t)

	tests := []struct{ name, config, want string }{
		{"cert without key", "http:\n  tls:\n    cert: server.pem\n", "bad1.yaml:3: http.tls.key: missing"},
		{"unreadable key", "http:\n  tls:\n    cert: server.pem\n    key: nope.pem\n", "bad2.yaml:4: http.tls.key: open "},
		{"pair does not load", "http:\n  tls:\n    cert: server.pem\n    key: client-key.pem\n", "bad3.yaml:3: http.tls.cert: "},
		{"client_ca not PEM", "http:\n  tls:\n    cert: server.pem\n    key: server-key.pem\n    client_ca: server-key.pem\n", "bad4.yaml:5: http.tls.client_ca: "},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := conf("bad"+string(rune('1'+i))+".yaml", tt.config+"data_dir: data\n")
			out, err := exec.Command(meridianBin, "serve", "--config", path).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("err %v, output:\n%s\nwant %q", err, out, tt.want)
			}
		})
	}
}
