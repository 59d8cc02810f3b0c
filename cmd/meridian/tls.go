package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"
)

// TLS for the HTTP server (http.tls in the config) and for the API
// clients (--ca, --cert, --key). See cmd/README.md, "TLS".

// certCheckEvery bounds how often a handshake looks at the certificate
// files for a rotation.
const certCheckEvery = time.Second

// tlsEnabled reports whether the HTTP server serves HTTPS.
func (c *Config) tlsEnabled() bool { return c.HTTP.TLS.Cert != "" }

// validateTLS checks http.tls and refuses plain HTTP on an address other
// machines can reach unless http.insecure says so.
func (c *Config) validateTLS() error {
	t := &c.HTTP.TLS
	switch {
	case t.Cert != "" && t.Key == "":
		return c.errorf("http.tls.key", "missing: http.tls.cert needs its private key")
	case t.Key != "" && t.Cert == "":
		return c.errorf("http.tls.cert", "missing: http.tls.key needs its certificate")
	case t.ClientCA != "" && t.Cert == "":
		return c.errorf("http.tls.client_ca", "client certificates need TLS: set http.tls.cert and http.tls.key")
	}
	if t.Cert != "" {
		for _, f := range []struct{ key, path string }{{"http.tls.cert", t.Cert}, {"http.tls.key", t.Key}} {
			if _, err := os.ReadFile(f.path); err != nil {
				return c.errorf(f.key, "%v", err)
			}
		}
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			return c.errorf("http.tls.cert", "%s and %s do not load as a pair: %v", t.Cert, t.Key, err)
		}
	}
	if t.ClientCA != "" {
		if _, err := loadCAPool(t.ClientCA); err != nil {
			return c.errorf("http.tls.client_ca", "%v", err)
		}
	}
	if !c.tlsEnabled() && !c.HTTP.Insecure && !isLoopbackListen(c.HTTP.Listen) {
		return c.errorf("http.listen", "%q is not a loopback address and http.tls is not set: "+
			"serve the API over TLS (http.tls.cert and http.tls.key), or set http.insecure: true to accept plain HTTP", c.HTTP.Listen)
	}
	return nil
}

// isLoopbackListen reports whether the host of a host:port is a loopback
// address (127.0.0.0/8, ::1) or localhost. An empty host means every
// interface, which is not.
func isLoopbackListen(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadCAPool reads a PEM file of one or more CA certificates.
func loadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// listenHTTP opens the HTTP listener: TLS over it when http.tls is set,
// and a warning when plain HTTP is served on a non-loopback address
// because http.insecure allows it. scheme is "https" or "http".
func listenHTTP(cfg *Config, log *slog.Logger) (ln net.Listener, scheme string, err error) {
	var tcfg *tls.Config
	if cfg.tlsEnabled() {
		if tcfg, err = serverTLSConfig(cfg, log); err != nil {
			return nil, "", err
		}
	}
	if ln, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, "", err
	}
	if tcfg == nil {
		if !isLoopbackListen(cfg.HTTP.Listen) {
			log.Warn("serving the API over plain HTTP on a non-loopback address (http.insecure: true): tokens cross the network in clear text; set http.tls",
				"http", ln.Addr().String())
		}
		return ln, "http", nil
	}
	return tls.NewListener(ln, tcfg), "https", nil
}

// serverTLSConfig is TLS 1.2 or newer with the certificate from a
// certHolder, and client certificates verified when presented if
// http.tls.client_ca is set.
func serverTLSConfig(cfg *Config, log *slog.Logger) (*tls.Config, error) {
	t := cfg.HTTP.TLS
	h, err := newCertHolder(t.Cert, t.Key, log)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: h.get}
	if t.ClientCA != "" {
		pool, err := loadCAPool(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("http.tls.client_ca: %w", err)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// certHolder serves a certificate and its key from two files, and loads
// them again when either changes (modification time or size), looking at
// most once per certCheckEvery, on a handshake. A pair that does not load
// keeps the last good one and is logged once per change of the files.
type certHolder struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of the files when last loaded or tried
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertHolder(certFile, keyFile string, log *slog.Logger) (*certHolder, error) {
	h := &certHolder{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := h.stat()
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	h.cert, h.stamp, h.checked = &cert, stamp, time.Now()
	log.Info("TLS certificate loaded", "cert", certFile, "subject", cert.Leaf.Subject.String(),
		"serial", cert.Leaf.SerialNumber.String(), "not_after", cert.Leaf.NotAfter)
	return h, nil
}

func (h *certHolder) stat() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{h.certFile, h.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, err
		}
		s[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return s, nil
}

// get is tls.Config.GetCertificate.
func (h *certHolder) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.checked) >= certCheckEvery {
		h.checked = now
		h.reloadLocked()
	}
	return h.cert, nil
}

func (h *certHolder) reloadLocked() {
	stamp, err := h.stat()
	if err != nil {
		if stamp != h.stamp { // log once, not every second
			h.stamp = stamp
			h.log.Error("TLS certificate files unreadable; still serving the last good certificate", "err", err)
		}
		return
	}
	if stamp == h.stamp {
		return
	}
	h.stamp = stamp
	cert, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		h.log.Error("TLS certificate reload failed; still serving the last good certificate",
			"cert", h.certFile, "key", h.keyFile, "err", err)
		return
	}
	h.cert = &cert
	h.log.Info("TLS certificate reloaded", "cert", h.certFile, "subject", cert.Leaf.Subject.String(),
		"serial", cert.Leaf.SerialNumber.String(), "not_after", cert.Leaf.NotAfter)
}

// clientTLSConfig is the API clients' TLS: the server verified with the
// CAs in caFile instead of the system roots when it is set, and a client
// certificate presented when certFile and keyFile are.
func clientTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCAPool(caFile)
		if err != nil {
			return nil, usageErrorf("--ca / %s: %v", envCA, err)
		}
		c.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile == "":
		return nil, usageErrorf("--cert needs --key (or %s)", envKey)
	case keyFile != "" && certFile == "":
		return nil, usageErrorf("--key needs --cert (or %s)", envCert)
	case certFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usageErrorf("--cert / --key: %v", err)
		}
		// Always present it: Go's default skips a certificate whose
		// issuer the server did not list, which would hide a wrong
		// --cert behind a token that still works.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return c, nil
}

// untrustedError is a server whose certificate failed verification:
// exit 1, and the end of a checker agent, since retrying cannot help.
type untrustedError struct {
	server string
	err    error // the x509 error
}

func (e *untrustedError) Error() string {
	hint := "give its CA with --ca or " + envCA
	var he x509.HostnameError
	if errors.As(e.err, &he) {
		hint = "use a --server name or address the certificate is for"
	}
	return fmt.Sprintf("%s: the server's certificate is not trusted (%v); %s", e.server, e.err, hint)
}

func (e *untrustedError) Unwrap() error { return e.err }

// checkServerTrust makes one TLS handshake with an https server and
// returns an *untrustedError when its certificate does not verify. Any
// other failure (no answer, refused) returns nil: the request that
// follows reports it in the usual way, and an agent retries it.
func checkServerTrust(ctx context.Context, u *url.URL, c *tls.Config, timeout time.Duration) error {
	if u.Scheme != "https" {
		return nil
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c = c.Clone()
	c.ServerName = u.Hostname()
	conn, err := (&tls.Dialer{Config: c}).DialContext(ctx, "tcp", host)
	if err == nil {
		_ = conn.Close()
		return nil
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return &untrustedError{server: u.Scheme + "://" + u.Host, err: cve.Err}
	}
	return nil
}
